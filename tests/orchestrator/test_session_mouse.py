"""The mouse through a real session: a curses program that asks for the mouse gets xterm's bytes
(its on-screen button counts clicks, the wheel reaches it), vim scrolls with the wheel and moves its
cursor on a click, the shell prompt gets nothing, the pointer is on every frame, and mouse input is
recorded as asciicast input events."""

from __future__ import annotations

import base64
import shutil

import pytest
from curses_programs import BUTTON_PROGRAM

from orchestrator.session import Session
from renderer import pointer as pointer_sprite
from terminal.mouse import MouseError
from terminal.recording import read_cast


def rows(step):
    return [ln.rstrip() for ln in step.screen.lines]


@pytest.fixture()
def session(tmp_path):
    with Session(renderer="raster", reasoners=("shell",), record=str(tmp_path / "s.cast")) as s:
        yield s


def test_a_curses_program_gets_clicks_and_the_wheel(session, tmp_path):
    prog = base64.b64encode(BUTTON_PROGRAM.encode()).decode()
    session.run(f"echo {prog} | base64 -d > /tmp/button.py")
    step = session.run("python3 /tmp/button.py")
    assert rows(step)[:2] == ["[ +1 ]", "count 0"]
    assert session.terminal.mouse_mode.tracking != "off"
    step = session.mouse(2, 0)  # click the button
    assert rows(step)[1] == "count 1"
    step = session.mouse(3, 0, action="click")
    assert rows(step)[1] == "count 2"
    assert rows(step)[2] == "got click at 3,0"  # press and release arrive together
    step = session.mouse(10, 5, action="wheel_up")
    assert rows(step)[2] == "got wheel up at 10,5"
    step = session.mouse(40, 10, action="move")  # no button held: normal tracking is silent
    assert rows(step)[2] == "got wheel up at 10,5"
    # the pointer is an arrow (the program has the mouse), on the frame at its cell's centre
    assert step.screen.pointer is not None and step.screen.pointer.shape == "arrow"
    assert pointer_sprite.locate(step.frame_array) == step.screen.pointer
    assert step.trace["verify"]["pointer"]["raw"] == 1.0
    assert step.accuracy == {"raw": 1.0, "repaired": 1.0}
    session.key("q")
    session.save(tmp_path / "saved.cast")
    for path in (tmp_path / "s.cast", tmp_path / "saved.cast"):
        inputs = [e.data for e in read_cast(path).events if e.code == "i"]
        mouse = [d for d in inputs if d.startswith("\x1b[")]
        # a write per action: two clicks (press and release), the wheel; the move sent nothing
        assert len(mouse) == 3
        assert mouse[2] in ("\x1b[<64;11;6M", "\x1b[M`+&")  # SGR or X10-style, as ncurses asked


def test_the_shell_prompt_gets_nothing_and_the_pointer_is_an_ibeam(session):
    before = session.terminal.bytes_fed
    step = session.step({"mouse": {"col": 5, "row": 0, "button": "left", "action": "click"}})
    assert step.kind == "mouse" and step.screen.pointer.shape == "ibeam"
    assert session.terminal.bytes_fed == before
    assert pointer_sprite.locate(step.frame_array) == step.screen.pointer
    assert step.accuracy["raw"] == 1.0  # the text under the pointer still reads right
    step = session.mouse(5, 0, action="wheel_up")
    assert session.terminal.bytes_fed == before
    with pytest.raises(MouseError):
        session.mouse(5, 0, action="hover")


@pytest.mark.skipif(shutil.which("vim") is None, reason="vim is not installed")
def test_vim_scrolls_with_the_wheel_and_moves_its_cursor_on_a_click(session):
    session.run("seq -f 'line %g of the file' 1 200 > /tmp/lines.txt")
    step = session.run("vim -u NONE -N -i NONE -c 'set mouse=a' /tmp/lines.txt")
    assert rows(step)[0] == "line 1 of the file"
    step = session.mouse(0, 10, action="wheel_down")
    top = int(rows(step)[0].split()[1])
    assert top > 1  # the view scrolled
    step = session.mouse(8, 4)
    assert step.screen.cursor == (4, 8)
    assert rows(step)[4] == f"line {top + 4} of the file"
    session.key("escape")
    session.run(":q!")

"""Every terminal size a session accepts works; the ones it cannot work at fail at once, in one
printable line (readline scrolls a one-row line sideways and cuts the prompt's markers off)."""

from __future__ import annotations

import time

import pytest

from orchestrator.session import Session, SessionError
from reasoner.backends.shell import MIN_COLS, MIN_ROWS, printable


@pytest.mark.parametrize("cols,rows", [(MIN_COLS, MIN_ROWS), (5, 2), (3, 4), (80, 2)])
def test_small_sizes_run_commands(cols: int, rows: int) -> None:
    with Session(renderer="raster", cols=cols, rows=rows, command_timeout=10) as s:
        t = time.monotonic()
        s.run("echo hello world")
        s.run("cd /tmp")
        step = s.run("echo $PWD")
        assert time.monotonic() - t < 10
        assert step.route == "shell" and s.shell is not None and s.shell.at_prompt
        assert s.shell.cwd == "/tmp" and step.accuracy["repaired"] == 1.0


@pytest.mark.parametrize("cols,rows", [(5, 1), (1, 5), (80, 1)])
def test_a_size_the_shell_cannot_work_at_fails_at_once(cols: int, rows: int) -> None:
    t = time.monotonic()
    with pytest.raises(SessionError) as e:
        Session(renderer="raster", cols=cols, rows=rows)
    assert time.monotonic() - t < 5
    msg = str(e.value)
    assert "out of range" in msg and msg == printable(msg) and "\n" not in msg


def test_a_one_row_session_without_a_shell_works() -> None:
    with Session(renderer="raster", reasoners=["sympy"], cols=12, rows=1) as s:
        step = s.run("6*7")
        assert step.route == "sympy" and step.screen.lines[0].startswith(">")


def test_resizing_below_the_shell_minimum_changes_nothing() -> None:
    with Session(renderer="raster", cols=20, rows=4) as s:
        with pytest.raises(SessionError, match="out of range"):
            s.resize(20, 1)
        assert (s.terminal.cols, s.terminal.rows) == (20, 4)
        step = s.resize(MIN_COLS, MIN_ROWS)
        assert (step.screen.cols, step.screen.rows) == (MIN_COLS, MIN_ROWS)
        step = s.run("echo ok")
        assert step.route == "shell" and s.shell is not None and s.shell.at_prompt


def test_printable_drops_escape_sequences_and_control_bytes() -> None:
    raw = "\x1b[?2004huser@\x1b]0;title\x07hnc\x1b(B:~\x9b$ \x07ok\x1b"
    assert printable(raw) == "user@hnc:~$ ok"

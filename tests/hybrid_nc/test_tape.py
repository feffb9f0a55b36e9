"""VHS tapes: the parser (every command, errors with line numbers) and the runner over a real
Session (sandboxed shell + sympy, raster renderer)."""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hybrid_nc.tape import TapeCommand, TapeError, TapeRunner, _Settings, load_tape, parse_tape
from orchestrator.session import key_bytes

SESSION = {"renderer": "raster", "reasoners": ("shell", "sympy")}


def cmds(text: str) -> list[tuple]:
    return [(c.name, c.args, c.speed, c.repeat) for c in parse_tape(text, "t.tape")]


# -- parser -----------------------------------------------------------------------------------
def test_parses_every_command_kind() -> None:
    text = """# comment
Output out/demo.mp4
Set Width 1200
Set TypingSpeed 75ms
Set WaitPattern /\\$ $/
Type "echo hi" Sleep 300ms Enter
Type@20ms 'a b' `c`
Type ls Enter
Backspace 3
Left@100ms 2
Ctrl+C
Ctrl+Alt+Shift+x
Alt+Enter
Shift+Tab
Wait+Screen@5s /hel+o/
Wait
Sleep .5
Sleep 2m
Screenshot shot.png
Copy "clip"
Paste
Env NAME "a value"
Hide
Show
Require bash
Ctrl+[
"""
    assert cmds(text) == [
        ("Output", ("out/demo.mp4",), None, 1),
        ("Set", ("Width", "1200"), None, 1),
        ("Set", ("TypingSpeed", "0.075"), None, 1),
        ("Set", ("WaitPattern", "\\$ $"), None, 1),
        ("Type", ("echo hi",), None, 1),
        ("Sleep", (), 0.3, 1),
        ("Enter", (), None, 1),
        ("Type", ("a b c",), 0.02, 1),
        ("Type", ("ls",), None, 1),
        ("Enter", (), None, 1),
        ("Backspace", (), None, 3),
        ("Left", (), 0.1, 2),
        ("Ctrl", ("C",), None, 1),
        ("Ctrl", ("Alt", "Shift", "x"), None, 1),
        ("Alt", ("Enter",), None, 1),
        ("Shift", ("Tab",), None, 1),
        ("Wait", ("Screen", "hel+o"), 5.0, 1),
        ("Wait", ("Line",), None, 1),
        ("Sleep", (), 0.5, 1),
        ("Sleep", (), 120.0, 1),
        ("Screenshot", ("shot.png",), None, 1),
        ("Copy", ("clip",), None, 1),
        ("Paste", (), None, 1),
        ("Env", ("NAME", "a value"), None, 1),
        ("Hide", (), None, 1),
        ("Show", (), None, 1),
        ("Require", ("bash",), None, 1),
        ("Ctrl", ("[",), None, 1),
    ]


def test_commands_know_their_line() -> None:
    parsed = parse_tape("\n# x\nType 'a'\n\nEnter\n", "demo.tape")
    assert [c.where for c in parsed] == ["demo.tape:3", "demo.tape:5"]


@pytest.mark.parametrize(("text", "message"), [
    ("Type 'a'\nFoo 1", "t.tape:2: unknown command 'Foo'"),
    ("type 'x'", "did you mean 'Type'?"),
    ("Type 'abc", "unterminated string"),
    ("Wait /a(/", "invalid regular expression"),
    ("Sleep soon", "Sleep expects a time"),
    ("Ctrl+Alt", "needs a key after the modifiers"),
    ("Ctrl", "Ctrl expects +<key>"),
    ("ScrollUp 2", "ScrollUp is not supported"),
    ("Set Bogus 1", "unknown setting 'Bogus'"),
    ("Output clip.webm", "use .mp4, .gif"),
    ("Screenshot shot.jpg", "expects a .png path"),
    ("Type", "Type expects a string"),
    ("Wait+Foo", "Wait+ expects Line or Screen"),
    ("Enter 3x", "bad repeat count"),
    ("Env 1BAD 'x'", "Env expects a NAME"),
    ("\n\nSource nope.tape", "t.tape:3: cannot read sourced tape 'nope.tape'"),
])
def test_bad_tapes_give_one_line_errors(text: str, message: str) -> None:
    with pytest.raises(TapeError) as err:
        parse_tape(text, "t.tape", base=Path("/nonexistent"))
    assert message in str(err.value)
    assert "\n" not in str(err.value)
    assert str(err.value).startswith("t.tape:")


def test_source_expands_in_place_and_skips_outputs(tmp_path: Path) -> None:
    (tmp_path / "common.tape").write_text("Output skipped.gif\nType 'from common'\n")
    (tmp_path / "main.tape").write_text("Type 'a'\nSource common.tape\nEnter\n")
    parsed = load_tape(tmp_path / "main.tape")
    assert [(c.name, c.args) for c in parsed] == [
        ("Type", ("a",)), ("Type", ("from common",)), ("Enter", ())]
    assert parsed[1].where == "common.tape:2"


def test_source_cycles_are_refused(tmp_path: Path) -> None:
    (tmp_path / "a.tape").write_text("Source b.tape\n")
    (tmp_path / "b.tape").write_text("Source a.tape\n")
    with pytest.raises(TapeError, match="includes itself"):
        load_tape(tmp_path / "a.tape")


def test_missing_tape_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TapeError, match="does not exist"):
        load_tape(tmp_path / "none.tape")


def test_pixel_size_becomes_a_cell_grid() -> None:
    st = _Settings()  # VHS defaults: 1200x600 px, font 22, padding 60
    assert st.grid() == (81, 18)
    st.width, st.height, st.font_size, st.padding = 800, 400, 10, 0
    assert st.grid() == (133, 33)


def test_chords_become_the_bytes_a_terminal_sends() -> None:
    runner = TapeRunner([])
    want = {("Ctrl", ("C",)): b"\x03", ("Ctrl", ("Alt", "x")): b"\x1b\x18",
            ("Ctrl", ("Shift", "o")): b"\x0f", ("Alt", ("b",)): b"\x1bb",
            ("Alt", ("Enter",)): b"\x1b\r", ("Shift", ("Tab",)): b"\x1b[Z",
            ("Ctrl", ("[",)): b"\x1b"}
    for (name, args), data in want.items():
        assert key_bytes(runner._chord(TapeCommand(name, args))) == data, (name, args)
    with pytest.raises(TapeError, match="not a key a terminal can send"):
        runner._chord(TapeCommand("Ctrl", ("Left",), where="t.tape:4"))


# -- runner (real shell) ----------------------------------------------------------------------
def run(text: str, tmp_path: Path, **options: object):
    (tmp_path / "t.tape").write_text(text)
    runner = TapeRunner(load_tape(tmp_path / "t.tape"), out_dir=tmp_path, realtime=False,
                        session_options={**SESSION, **options})
    return runner.run()


def test_tape_drives_the_shell_and_writes_outputs(tmp_path: Path) -> None:
    result = run("""
Output out.txt
Output out.cast
Output out.gif
Output frames/
Set Width 700
Set Height 300
Type "echo tape-works" Enter
Wait+Screen /^tape-works$/
Screenshot shot.png
Hide
Type "echo hidden" Enter
Show
Type "calc 6*7" Enter
Wait+Screen /^42$/
""", tmp_path)
    cols, rows = result.screen.cols, result.screen.rows
    assert (cols, rows) == (_Settings(width=700, height=300).grid())
    text = result.screen.text
    assert "tape-works" in text and "hidden" in text and "42" in text
    shot = np.array(Image.open(tmp_path / "shot.png"))
    assert shot.shape == (rows * 16, cols * 8, 3)
    txt = (tmp_path / "out.txt").read_text()
    assert "tape-works" in txt and "42" in txt
    # typing frames are in the outputs while shown, left out while hidden
    assert re.search(r"\$ echo tape-wo$", txt, re.M)
    assert not re.search(r"\$ echo hidd$", txt, re.M)
    assert (tmp_path / "out.cast").read_text().startswith('{"version": 2')
    gif = Image.open(tmp_path / "out.gif")
    assert gif.size == (cols * 8, rows * 16) and gif.n_frames > 1
    pngs = sorted((tmp_path / "frames").glob("*.png"))
    assert len(pngs) == result.frames > 10
    assert result.report["summary"]["accuracy_repaired_mean"] == 1.0


def test_ctrl_c_after_sleep_interrupts_a_running_command(tmp_path: Path) -> None:
    t0 = time.monotonic()
    result = run('Type "sleep 100" Enter\nSleep 0.5\nCtrl+C\nWait\n', tmp_path)
    assert time.monotonic() - t0 < 15  # not the 30 s command timeout
    lines = [ln.rstrip() for ln in result.screen.lines if ln.strip()]
    assert lines[-3].endswith("sleep 100") and lines[-2] == "^C"
    assert lines[-1].endswith("$")


def test_wait_timeout_names_the_line(tmp_path: Path) -> None:
    with pytest.raises(TapeError, match=r"t.tape:2: Wait\+Screen timed out after 0.3s"):
        run("Type 'echo x' Enter\nWait+Screen@300ms /never-there/\n", tmp_path)


def test_require_checks_the_program(tmp_path: Path) -> None:
    with pytest.raises(TapeError, match="t.tape:1: Require: program 'no-such-prog-xyz'"):
        run("Require no-such-prog-xyz\n", tmp_path)


def test_env_theme_and_paste(tmp_path: Path) -> None:
    result = run("""Set Theme light
Set Theme "Catppuccin Mocha"
Env GREETING "hi there"
Type 'echo "$GREETING"' Enter
Copy "echo copied"
Paste
Enter
Wait+Screen /^copied$/
""", tmp_path)
    assert result.report["config"]["theme"] == "light"
    assert any("unknown theme 'Catppuccin Mocha'" in w for w in result.warnings)
    lines = [ln.rstrip() for ln in result.screen.lines]
    assert "hi there" in lines and "copied" in lines
    assert not any("export GREETING" in ln for ln in lines)  # set unseen, then cleared


def test_module_entry_point_reports_errors_in_one_line(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    from hybrid_nc.tape import main

    (tmp_path / "bad.tape").write_text('Type "ok"\nTpye "typo"\n')
    assert main([str(tmp_path / "bad.tape")]) == 1
    err = capsys.readouterr().err.strip()
    assert err == "tape: error: bad.tape:2: unknown command 'Tpye'"

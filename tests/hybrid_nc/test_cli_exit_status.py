"""One exit-status rule for every command: 2 for bad usage, 1 for a failure, one line each."""

from __future__ import annotations

from pathlib import Path

import pytest

from hybrid_nc.cli import main


def exit_status(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as e:  # argparse refuses before the command runs
        return int(e.code or 0)


@pytest.fixture()
def text(tmp_path: Path) -> Path:
    path = tmp_path / "t.txt"
    path.write_text("hi\n")
    return path


BAD_USAGE = [
    ["exec", "--renderer", "nonsense", "--", "true"],
    ["exec", "--steps", "0", "--", "true"],
    ["exec", "--renderer", "raster", "--steps", "2", "--", "true"],
    ["exec", "--renderer", "raster", "--look", "xterm", "--", "true"],
    ["exec", "--theme", "nope", "--", "true"],
    ["exec", "--cols", "0", "--", "true"],
    ["demo", "--renderer", "nonsense"],
    ["serve", "--renderer", "nonsense"],
    ["serve", "--port", "70000"],
    ["render", "--text", "{text}", "--out", "{tmp}/x.png", "--renderer", "nonsense"],
    ["render", "--text", "{text}", "--out", "{tmp}/x.png", "--cols", "0"],
    ["render", "--text", "{text}", "--out", "{tmp}/x.png", "--seed", "-1"],
    ["replay", "{tmp}/none.cast", "--fps", "0"],
    ["replay", "{tmp}/none.cast", "--renderer", "nonsense", "--out", "{tmp}/x.gif"],
    ["eval", "latency", "--renderer", "nonsense", "--casts", "{tmp}"],
    ["nosuchcommand"],
]


@pytest.mark.parametrize("argv", BAD_USAGE, ids=[" ".join(a[:3]) for a in BAD_USAGE])
def test_bad_usage_exits_2_in_one_line(argv: list[str], text: Path, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    argv = [a.format(text=text, tmp=tmp_path) for a in argv]
    assert exit_status(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err


FAILURES = [
    ["render", "--screen", "{tmp}/missing.json", "--out", "{tmp}/x.png"],
    ["render", "--text", "{text}", "--out", "{tmp}/no/dir/x.png"],
    ["replay", "{tmp}/missing.cast"],
]


@pytest.mark.parametrize("argv", FAILURES, ids=[" ".join(a[:2]) for a in FAILURES])
def test_failures_exit_1_in_one_line(argv: list[str], text: Path, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    argv = [a.format(text=text, tmp=tmp_path) for a in argv]
    assert exit_status(argv) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err

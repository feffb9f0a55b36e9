"""`hybrid-nc exec` at small sizes: what it accepts works, what it refuses is bad usage in one
line, and no error message carries raw control bytes."""

from __future__ import annotations

import time

import pytest

import hybrid_nc.commands.exec as exec_command
from hybrid_nc.cli import main


def exit_status(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as e:
        return int(e.code or 0)


@pytest.mark.parametrize("size", [["--rows", "1", "--cols", "5"], ["--cols", "1"],
                                  ["--rows", "501"], ["--cols", "1001"]])
def test_sizes_the_shell_cannot_work_at_are_bad_usage(size: list[str],
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    t = time.monotonic()
    assert exit_status(["exec", "--renderer", "raster", *size, "--", "echo hello world"]) == 2
    assert time.monotonic() - t < 5
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "out of range" in err and "\x1b" not in err, err


def test_the_smallest_accepted_size_works(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["exec", "--renderer", "raster", "--rows", "2", "--cols", "5", "--",
            "echo hello world", "echo $((6*7))"]
    assert exit_status(argv) == 0
    assert capsys.readouterr().out.splitlines() == ["hnc:~", "$"]


def test_one_row_without_the_shell_works(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["exec", "--renderer", "raster", "--reasoners", "sympy", "--rows", "1", "--cols",
            "12", "--", "6*7"]
    assert exit_status(argv) == 0
    assert capsys.readouterr().out.startswith(">")


def test_error_messages_carry_no_control_bytes(monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    def fail(args: object) -> int:
        raise RuntimeError("the shell said \x1b[?2004h\x07\x9b and stopped")

    monkeypatch.setattr(exec_command, "run", fail)
    assert exit_status(["exec", "--renderer", "raster", "--", "true"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.endswith("\n")
    assert err.rstrip("\n").isprintable(), repr(err)
    assert "\\x1b[?2004h" in err

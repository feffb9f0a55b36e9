"""hybrid_nc/commands/_progress.py: bars and tables for a person at a terminal, and clean plain
text (no bars, no escape codes) anywhere else."""

from __future__ import annotations

import io

import pytest

from hybrid_nc.commands import _progress


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


ROWS = [["printf '\\e[1;31mred [/b]'", "shell", 1.0], ["98+45", "sympy", 0.99]]


def test_not_a_terminal_gets_no_bar_and_a_plain_table() -> None:
    out = io.StringIO()
    with _progress.bar("work", 3, stream=out) as advance:
        for _ in range(3):
            advance(loss="0.1")
    assert out.getvalue() == ""
    _progress.summary("steps", ["line", "route", "raw"], ROWS, stream=out)
    text = out.getvalue()
    assert "\x1b" not in text
    assert "printf '\\e[1;31mred [/b]'" in text  # the user's brackets, not markup
    assert "0.9900" in text and "sympy" in text


def test_a_terminal_gets_a_bar_and_a_boxed_table(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TERM", raising=False)
    out = Tty()
    with _progress.bar("work", 2, unit="frame", stream=out) as advance:
        advance()
        advance()
    assert "\x1b[" in out.getvalue()  # drawn live, then cleared (transient)
    table = Tty()
    _progress.summary("steps", ["line", "route", "raw"], ROWS, stream=table)
    assert "─" in table.getvalue() and "\x1b[" in table.getvalue()


def test_dumb_terminal_and_quiet_get_no_bar(monkeypatch: pytest.MonkeyPatch) -> None:
    out = Tty()
    with _progress.bar("work", 1, stream=out, quiet=True) as advance:
        advance()
    monkeypatch.setenv("TERM", "dumb")
    with _progress.bar("work", 1, stream=out) as advance:
        advance()
    assert out.getvalue() == ""


def test_track_yields_every_item() -> None:
    assert list(_progress.track(iter(range(5)), "items", total=5)) == [0, 1, 2, 3, 4]

"""Fuzzing the terminal emulator (terminal/) with escape-sequence streams.

Program output is hostile input here: whatever bytes arrive, `Terminal.feed` must not raise or
hang, the screen must stay a well-formed grid, the result must not depend on how the bytes were
split into reads, and memory must stay bounded however long the stream."""

from __future__ import annotations

import time
import tracemalloc

import pytest
from fuzzing import STREAM, fuzz_settings, split
from hypothesis import example, given
from hypothesis import strategies as st

from terminal import Terminal
from terminal.screen import ScreenState, char_width

pytestmark = pytest.mark.timeout(600)
SIZES = st.tuples(st.integers(1, 100), st.integers(1, 40))


def check_screen(term: Terminal) -> ScreenState:
    """The invariants every snapshot keeps, whatever was fed."""
    snap = term.snapshot()
    cols, rows = term.cols, term.rows
    assert (snap.cols, snap.rows) == (cols, rows)
    assert len(snap.chars) == rows and all(len(r) == cols for r in snap.chars)
    assert snap.fg.shape == snap.bg.shape == snap.attrs.shape == (rows, cols)
    r, c = snap.cursor
    assert 0 <= r < rows and 0 <= c < cols, snap.cursor
    for row in snap.chars:
        for x, cell in enumerate(row):
            assert isinstance(cell, str)
            if cell == "":  # the right half of a wide character, right after its left half
                assert x > 0 and char_width(row[x - 1]) == 2, (x, row[max(0, x - 2):x + 2])
    assert len(snap.text.split("\n")) == rows
    assert all(0 <= d < rows for d in term.take_damage())
    assert all(isinstance(rep, str) for rep in term.replies)
    return snap


@fuzz_settings(300)
@given(data=STREAM, size=SIZES)
# found by this test: SL (CSI Pn SP @) cut a wide character in two and left its right half alone
@example(data="0\u2e80\u2e80\u2f00\x1b[3 @".encode(), size=(4, 1))
@example(data="\u4e2d\u4e2d\x1b[2G\x1b[1'}".encode(), size=(4, 1))
def test_any_stream_leaves_a_well_formed_screen(data: bytes, size: tuple[int, int]) -> None:
    term = Terminal(*size)
    t0 = time.monotonic()
    term.feed(data)
    assert time.monotonic() - t0 < 10  # a few KiB: anything slower is a hang in the making
    check_screen(term)


def assert_split_agrees(data: bytes, pieces: list[bytes], size: tuple[int, int]) -> None:
    """Feeding `data` at once and as `pieces` gives the same screen, cursor and replies."""
    whole = Terminal(*size)
    whole.feed(data)
    cut = Terminal(*size)
    for piece in pieces:
        cut.feed(piece)
    a, b = check_screen(whole), check_screen(cut)
    assert a.chars == b.chars
    assert a.cursor == b.cursor and a.cursor_visible == b.cursor_visible
    assert (a.fg == b.fg).all() and (a.bg == b.bg).all() and (a.attrs == b.attrs).all()
    assert whole.replies == cut.replies


@fuzz_settings(200)
@given(data=STREAM, size=SIZES, st_data=st.data())
def test_how_the_stream_is_split_does_not_matter(data: bytes, size: tuple[int, int],
                                                 st_data: st.DataObject) -> None:
    """A program's output arrives in reads of any size; the screen must come out the same."""
    assert_split_agrees(data, st_data.draw(split(data)), size)


# found by the test above: ESC % 0 (which names no encoding) switched to Latin-1 only when the
# read ended right after it; the encoding switches themselves, cut at every byte
@pytest.mark.parametrize("data", [b"\x1b%0\xc3\x80", b"\x1b%@\xc3\x80\x1b%G\xc3\x80",
                                  b"\x1b%8\xe4\xb8\xad\x1b%5\xc3\x80\x1b%@\xe4"])
def test_encoding_switches_cut_at_every_byte(data: bytes) -> None:
    for i in range(len(data) + 1):
        assert_split_agrees(data, [data[:i], data[i:]], (6, 1))


@fuzz_settings(100)
@given(ops=st.lists(st.one_of(STREAM, SIZES), max_size=12))
def test_resizes_between_streams(ops: list[bytes | tuple[int, int]]) -> None:
    term = Terminal(80, 24)
    for op in ops:
        if isinstance(op, tuple):
            term.resize(*op)
        else:
            term.feed(op)
        check_screen(term)


@fuzz_settings(100)
@given(data=STREAM)
def test_str_and_bytes_feeds_agree(data: bytes) -> None:
    """The session feeds bytes, replay feeds str: same screen for valid UTF-8."""
    text = data.decode("utf-8", "replace")
    a, b = Terminal(40, 10), Terminal(40, 10)
    a.feed(text.encode("utf-8"))
    b.feed(text)
    assert a.snapshot().chars == b.snapshot().chars


# ~100 KiB each: enough to show a blow-up (an emulator that is quadratic in a sequence's length,
# or keeps what it should drop), small enough for CI on a loaded machine
PATHOLOGICAL = {
    "unterminated OSC": b"\x1b]0;" + b"x" * 400_000,
    "unterminated DCS": b"\x1bP" + b"q" * 400_000,
    "endless CSI parameters": b"\x1b[" + b"1;" * 50_000 + b"m",
    "combining marks on one cell": b"e" + "\u0301".encode() * 50_000,
    "wide characters": "\u4e2d".encode() * 30_000,
    "repeat with huge counts": b"x\x1b[65535b" * 500,
    "insert and delete lines": b"\x1b[65535L\x1b[65535M\x1b[65535@\x1b[65535P" * 2_000,
    "scrolling forever": b"line\r\n" * 20_000,
    "cursor report flood": b"\x1b[6n" * 20_000,
    "alternate screen flapping": b"\x1b[?1049h\x1b[2J\x1b[?1049l" * 4_000,
    "invalid UTF-8": bytes(range(0x80, 0x100)) * 500,
    "title stack push": b"\x1b[22;0t" * 20_000,
    "tab stops everywhere": b"\x1bH\t" * 20_000,
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(PATHOLOGICAL))
def test_pathological_streams_stay_bounded(name: str) -> None:
    data = PATHOLOGICAL[name]
    term = Terminal(80, 24, scrollback=1000)
    tracemalloc.start()
    t0 = time.monotonic()
    for i in range(0, len(data), 16384):  # the shell backend's read size
        term.feed(data[i:i + 16384])
    took = time.monotonic() - t0
    _now, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    check_screen(term)
    assert took < 60, f"{name}: {took:.1f} s for {len(data)} bytes"
    assert peak < 64 << 20, f"{name}: peak {peak >> 20} MiB"
    assert len(term.scrollback) <= 1000
    assert len(term.replies) <= 20_000 and len(term.title) <= 65536

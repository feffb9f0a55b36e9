"""The symbolic terminal: colours, attributes, wide and combining characters, alternate screen,
scrollback, resize, damage, replies, titles, DEC graphics, the sequences pyte 0.8.2 gets wrong,
and fuzzing (random bytes and random escape sequences never raise and stay fast)."""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from terminal import Terminal, screen_from_bytes
from terminal.screen import (
    BLINK,
    BOLD,
    DEFAULT,
    INVERSE,
    ITALIC,
    STRIKE,
    TRUECOLOR,
    UNDERLINE,
    ScreenError,
)


def term(data: bytes | str = b"", cols: int = 20, rows: int = 5) -> Terminal:
    t = Terminal(cols, rows)
    t.feed(data)
    return t


# -- text, cursor, wrapping -----------------------------------------------------------------
def test_text_and_cursor() -> None:
    t = term(b"hello\r\nworld")
    assert t.lines[:2] == ["hello".ljust(20), "world".ljust(20)]
    assert t.cursor == (1, 5)
    assert t.text == "hello\nworld\n\n\n"


def test_autowrap_and_pending_wrap() -> None:
    t = term(b"x" * 20)
    assert t.cursor == (0, 19)  # pending wrap reads as the last column
    t.feed(b"y")
    assert t.lines[1].rstrip() == "y" and t.cursor == (1, 1)
    t = term(b"\x1b[?7l" + b"x" * 25 + b"Z")  # no autowrap: the last column is overwritten
    assert t.lines[0] == "x" * 19 + "Z" and t.lines[1].strip() == ""


def test_invalid_utf8_and_lone_surrogates_never_raise() -> None:
    t = term(b"a\xff\xfeb")
    assert t.lines[0].startswith("a\ufffd\ufffdb")
    t.feed("c\ud800d")  # a lone surrogate, e.g. from a JSON-decoded recording
    assert "c" in t.text and "d" in t.text


def test_bad_sizes_are_refused() -> None:
    for cols, rows in ((0, 0), (10000, 10000), (-1, 5)):
        with pytest.raises(ScreenError):
            Terminal(cols, rows)
    with pytest.raises(ScreenError):
        Terminal(10, 10).resize(0, 10)


# -- colours and attributes -----------------------------------------------------------------
@pytest.mark.parametrize("seq, fg, bg", [
    (b"\x1b[31;42m", 1, 2),
    (b"\x1b[91;102m", 9, 10),
    (b"\x1b[38;5;200;48;5;17m", 200, 17),
    (b"\x1b[38:5:200;48:5:17m", 200, 17),
    (b"\x1b[38;2;1;2;3;48;2;250;251;252m", TRUECOLOR | 0x010203, TRUECOLOR | 0xFAFBFC),
    (b"\x1b[38:2::1:2:3;48:2::250:251:252m", TRUECOLOR | 0x010203, TRUECOLOR | 0xFAFBFC),
    (b"\x1b[38:2:1:2:3m", TRUECOLOR | 0x010203, DEFAULT),
    (b"\x1b[31;42m\x1b[39;49m", DEFAULT, DEFAULT),
    (b"\x1b[31;42m\x1b[m", DEFAULT, DEFAULT),
])
def test_sgr_colours(seq: bytes, fg: int, bg: int) -> None:
    s = term(seq + b"X").snapshot()
    assert (int(s.fg[0, 0]), int(s.bg[0, 0])) == (fg, bg)
    assert s.chars[0][:2] == ["X", " "]  # no parameter leaked out as text


@pytest.mark.parametrize("seq, bits", [
    (b"\x1b[1m", BOLD), (b"\x1b[3m", ITALIC), (b"\x1b[4m", UNDERLINE), (b"\x1b[7m", INVERSE),
    (b"\x1b[9m", STRIKE), (b"\x1b[5m", BLINK), (b"\x1b[4:3m", UNDERLINE),
    (b"\x1b[1;3;4;7;9m\x1b[22;23;24;27;29m", 0), (b"\x1b[4m\x1b[4:0m", 0),
])
def test_sgr_attributes(seq: bytes, bits: int) -> None:
    assert int(term(seq + b"X").snapshot().attrs[0, 0]) == bits


def test_underline_styles_reach_the_pen() -> None:
    t = term(b"\x1b[4:3m")
    assert t.pen.underline == 3 and t.pen.attrs == UNDERLINE
    t.feed(b"\x1b[21m")
    assert t.pen.underline == 2
    t.feed(b"\x1b[24m")
    assert t.pen.underline == 0 and t.pen.attrs == 0


def test_erase_keeps_background_colour_only() -> None:
    s = term(b"\x1b[1;4;44mab\x1b[2J").snapshot()
    assert int(s.bg[3, 10]) == 4 and int(s.attrs[3, 10]) == 0 and s.chars[0][0] == " "


def test_reverse_video_mode_inverts_every_cell() -> None:
    t = term(b"ab\x1b[?5h")
    assert int(t.snapshot().attrs[2, 5]) == INVERSE
    t.feed(b"\x1b[?5l")
    assert int(t.snapshot().attrs[2, 5]) == 0


# -- wide and combining characters ----------------------------------------------------------
def test_wide_characters_take_two_cells() -> None:
    s = term("a中b😀".encode()).snapshot()
    assert s.chars[0][:6] == ["a", "中", "", "b", "😀", ""]
    assert s.lines[0].rstrip() == "a中b😀"


def test_overwriting_half_of_a_wide_character_blanks_the_other_half() -> None:
    s = term("中文\x1b[1;2HX".encode()).snapshot()  # the right half of 中
    assert s.chars[0][:4] == [" ", "X", "文", ""]
    s = term("中文\x1b[1;3HY".encode()).snapshot()  # the left half of 文
    assert s.chars[0][:4] == ["中", "", "Y", " "]


def test_wide_character_at_the_last_column_wraps() -> None:
    s = term(("x" * 19 + "中").encode()).snapshot()
    assert s.chars[0][18:] == ["x", " "] and s.chars[1][:2] == ["中", ""]


def test_combining_marks_join_their_base() -> None:
    s = term("e\u0301 中\u0301x".encode()).snapshot()
    assert s.chars[0][0] == "\u00e9"  # composed
    assert s.chars[0][2] == "中\u0301" and s.chars[0][3] == "" and s.chars[0][4] == "x"


# -- DEC special graphics ------------------------------------------------------------------
def test_dec_line_drawing() -> None:
    assert term(b"\x1b(0lqqk\x1b(Bq").lines[0].rstrip() == "┌──┐q"
    assert term(b"\x1b)0a\x0eqx\x0fq").lines[0].rstrip() == "a─│q"  # G1 through SO/SI


# -- screens, scrolling, resize -----------------------------------------------------------
def test_alternate_screen_keeps_the_main_one() -> None:
    t = term(b"main\x1b[?1049h")
    assert t.in_alternate_screen and t.text.strip() == ""
    t.feed(b"\x1b[3;3Halt")
    t.feed(b"\x1b[?1049l")
    assert not t.in_alternate_screen
    assert t.lines[0].rstrip() == "main" and t.cursor == (0, 4)


def test_scrollback_and_ed3() -> None:
    t = term(b"".join(b"line%d\r\n" % i for i in range(8)))
    assert t.scrollback == ["line0", "line1", "line2", "line3"]
    assert t.lines[0].rstrip() == "line4"
    t.feed(b"\x1b[?1049h\r\n\r\n\r\n\r\n\r\n\x1b[?1049l")  # the alt screen never scrolls back
    assert len(t.scrollback) == 4
    t.feed(b"\x1b[3J")
    assert t.scrollback == [] and t.lines[0].rstrip() == "line4"


def test_scroll_region_su_sd() -> None:
    t = term(b"1\r\n2\r\n3\r\n4\r\n5\x1b[2;4r\x1b[S")
    assert [ln.strip() for ln in t.lines] == ["1", "3", "4", "", "5"]
    t.feed(b"\x1b[2T")
    assert [ln.strip() for ln in t.lines] == ["1", "", "", "3", "5"]


def test_resize_keeps_the_cursor_line() -> None:
    t = term(b"".join(b"r%d\r\n" % i for i in range(4)) + b"prompt$ ", cols=20, rows=5)
    t.resize(20, 3)  # shrinking scrolls the top into the scrollback
    assert t.lines[-1].rstrip() == "prompt$" and t.cursor == (2, 8)
    assert t.scrollback[-2:] == ["r0", "r1"]
    t.resize(20, 5)  # growing pulls it back
    assert t.lines[0].rstrip() == "r0" and t.cursor == (4, 8)
    t.resize(4, 5)
    assert t.lines[4] == "prom" and t.cols == 4


def test_resize_shrink_drops_blank_lines_below_the_cursor_first() -> None:
    t = term(b"top\r\nhere", rows=6)
    t.resize(20, 3)
    assert t.lines[0].rstrip() == "top" and t.cursor == (1, 4) and t.scrollback == []


# -- damage --------------------------------------------------------------------------------
def test_damage_names_the_changed_rows() -> None:
    t = term(b"")
    t.take_damage()
    t.feed(b"\x1b[3;1Hx")
    assert t.take_damage() == {0, 2}  # the row written to, and the cursor's old row
    assert t.take_damage() == set()
    t.feed(b"\x1b[2;1H")
    assert t.take_damage() == {1, 2}  # the cursor moved between rows
    t.resize(10, 4)
    assert t.take_damage() == {0, 1, 2, 3}


# -- replies, titles, modes -----------------------------------------------------------------
@pytest.mark.parametrize("query, reply", [
    (b"\x1b[5;7H\x1b[6n", "\x1b[5;7R"),
    (b"\x1b[5n", "\x1b[0n"),
    (b"\x1b[c", "\x1b[?62;22c"),
    (b"\x1b[>c", "\x1b[>1;10;0c"),
    (b"\x1b[>q", "\x1bP>|hybrid-nc\x1b\\"),
    (b"\x1b[18t", "\x1b[8;5;20t"),
    (b"\x1b[?2004h\x1b[?2004$p", "\x1b[?2004;1$y"),
    (b"\x1b[1;31m\x1bP$qm\x1b\\", "\x1bP1$r1;31m\x1b\\"),
])
def test_replies(query: bytes, reply: str) -> None:
    assert term(query).replies == [reply]


def test_titles_with_bel_st_and_split_writes() -> None:
    t = term(b"\x1b]0;one\x07")
    assert t.title == "one"
    t.feed(b"\x1b]2;two\x1b\\after")
    assert t.title == "two" and t.lines[0].rstrip() == "after"
    t.feed(b"\x1b]2;thr")
    t.feed(b"ee\x07")
    assert t.title == "three"


def test_modes_for_the_pty_owner() -> None:
    t = term(b"\x1b[?1h\x1b[?2004h")
    assert t.mode(1) and t.mode(2004) and not t.mode(4, private=False)
    t.feed(b"\x1b[4h\x1b[?1l")
    assert t.mode(4, private=False) and not t.mode(1)


def test_save_restore_cursor_is_one_slot() -> None:
    t = term(b"\x1b[2;3H\x1b7\x1b[4;4H\x1b7\x1b[H\x1b8")
    assert t.cursor == (3, 3)
    t.feed(b"\x1b[H\x1b8")  # restoring does not pop
    assert t.cursor == (3, 3)


def test_selective_erase_spares_protected_cells() -> None:
    assert term(b'A\x1b[1"qB\x1b[0"qC\x1b[?2K').lines[0].rstrip() == " B"
    assert term(b'A\x1b[1"qB\x1b[0"qC\x1b[2K').lines[0].rstrip() == ""


def test_latin1_mode_and_8bit_controls() -> None:
    t = term(b"\x1b%@\xe9\x9b1;5Hx\x1b%G\xc3\xa9")  # ESC % @: bytes are Latin-1, 0x9B is CSI
    assert t.lines[0][:5] == "\u00e9   x" and t.lines[0][5] == "\u00e9"


# -- what pyte 0.8.2 gets wrong -------------------------------------------------------------
@pytest.mark.parametrize("seq", [
    b"\x1b[?1r", b"\x1b[?1;2r", b"\x1b[?1s", b"\x1b[>4;1m", b"\x1b[>1u", b"\x1b[=5u",
    b"\x1b[?u", b"\x1b[2 q", b"\x1b[0 q", b"\x1bP+q544e\x1b\\", b"\x1bPtmux;\x1b\x1b]0;x\x07\x1b\\",
    b"\x1b_Gf=100;AAAA\x1b\\", b"\x1b^privacy message\x1b\\", b"\x1bXsos string\x1b\\",
    b"\x1b]8;;http://example.com\x1b\\", b"\x1b]52;c;aGVsbG8=\x07", b"\x1b]4;1;?\x1b\\",
    b"\x1b[>0;1c", b"\x1b[?1049;2004h\x1b[?1049;2004l", b"\x1b[1 \x1b[m", b"\x1b[99999999999999x",
    b"\x1b[" + b"1;" * 5000 + b"m", b"\x1b]0;" + b"t" * 100000 + b"\x07",
])
def test_sequences_real_programs_emit_leave_no_trace(seq: bytes) -> None:
    t = term(b"ab" + seq + b"cd")
    assert t.lines[0].rstrip() == "abcd"
    assert t.snapshot().attrs[0, 2] == 0  # e.g. CSI > 4;1 m must not turn on bold/underline


def test_private_csi_r_does_not_touch_the_margins() -> None:
    t = term(b"\x1b[2;3r\x1b[?1;3r\x1b[5;1Hx\r\n")
    assert t.lines[4].rstrip() == "x"  # no scroll: the cursor is below the region


def test_rep_repeats_the_last_character() -> None:
    assert term(b"ab\x1b[3b").lines[0].rstrip() == "abbbb"
    assert term(b"a\x1b[Cb\x1b[D\x1b[2b").lines[0].rstrip() == "a b"  # only right after printing
    assert term("é\x1b[2b".encode()).lines[0].rstrip() == "ééé"


def test_sub_and_can_abort_a_sequence() -> None:
    assert term(b"a\x1b[31\x18b").lines[0].rstrip() == "ab"
    assert term(b"a\x1b]0;t\x1ab").lines[0].rstrip() == "ab"


def test_c0_controls_inside_a_csi_are_executed() -> None:
    assert term(b"abc\x1b[1\x08D!").lines[0].rstrip() == "a!c"  # BS inside, then CUB 1


def test_linux_console_palette_has_no_terminator() -> None:
    assert term(b"\x1b]P0123456after\x1b]Rok").lines[0].rstrip() == "afterok"


# -- never crash, bounded time, split writes ------------------------------------------------
_PIECES = st.sampled_from([
    "\x1b[", "\x1b]", "\x1bP", "\x1b_", "\x1b^", "\x1bX", "\x1b(0", "\x1b)B", "\x1b#8", "\x1b7",
    "\x1b8", "\x1bc", "\x1b%@", "\x1b%G", "\x9b", "\x9d", "\x90", "\x9c", "\x07", "\x18", "\x1a",
    "\x1b\\", "\r", "\n", "\b", "\t", "\x0e", "\x0f", "?", ">", "=", "<", ";", ":", " ", "!", "$",
    "'", '"', "0", "1", "9", "38", "48", "2", "5", "1049", "47", "6", "65535", "99999",
    "m", "H", "J", "K", "r", "h", "l", "n", "c", "q", "b", "S", "T", "@", "P", "X", "L", "M", "t",
    "}", "~", "A", "Z", "I", "u", "s", "a", "中", "😀", "\u0301", "\u200d", "é", "x",
])


@settings(max_examples=150, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400), st.integers(1, 40), st.integers(1, 12))
def test_fuzz_random_bytes(data: bytes, cols: int, rows: int) -> None:
    t = Terminal(cols, rows, scrollback=50)
    start = time.perf_counter()
    t.feed(data)
    s = t.snapshot()
    assert time.perf_counter() - start < 1.0
    assert s.cols == cols and s.rows == rows and len(s.chars) == rows
    assert 0 <= t.cursor[0] < rows and 0 <= t.cursor[1] < cols


@settings(max_examples=200, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_PIECES, max_size=120), st.integers(1, 30), st.integers(1, 10),
       st.lists(st.tuples(st.integers(1, 30), st.integers(1, 10)), max_size=2))
def test_fuzz_random_escape_sequences(pieces: list[str], cols: int, rows: int,
                                      resizes: list[tuple[int, int]]) -> None:
    t = Terminal(cols, rows, scrollback=20)
    data = "".join(pieces).encode("utf-8", "surrogatepass")
    start = time.perf_counter()
    half = len(data) // 2
    t.feed(data[:half])
    for c, r in resizes:
        t.resize(c, r)
    t.feed(data[half:])
    s = t.snapshot()
    t.take_damage()
    assert time.perf_counter() - start < 1.0
    assert len(s.chars) == t.rows and all(len(row) == t.cols for row in s.chars)
    assert 0 <= t.cursor[0] < t.rows and 0 <= t.cursor[1] < t.cols
    for row in s.chars:  # a wide character's right half always follows its left half
        for x, cell in enumerate(row):
            if cell == "" and x > 0:
                assert row[x - 1] != "", row


@settings(max_examples=60, deadline=3000)
@given(st.lists(_PIECES, min_size=1, max_size=80), st.data())
def test_split_writes_give_the_same_screen(pieces: list[str], data: st.DataObject) -> None:
    raw = "".join(pieces).encode("utf-8", "surrogatepass")
    cuts = sorted(data.draw(st.lists(st.integers(0, len(raw)), max_size=6)))
    whole = Terminal(16, 6)
    whole.feed(raw)
    split = Terminal(16, 6)
    last = 0
    for c in [*cuts, len(raw)]:
        split.feed(raw[last:c])
        last = c
    a, b = whole.snapshot(), split.snapshot()
    assert a.chars == b.chars and a.cursor == b.cursor
    assert (a.fg == b.fg).all() and (a.bg == b.bg).all() and (a.attrs == b.attrs).all()


def test_snapshot_is_a_copy_and_screen_from_bytes() -> None:
    t = term(b"abc")
    s = t.snapshot()
    s.chars[0][0] = "Z"
    assert t.lines[0].startswith("abc")
    assert screen_from_bytes(b"\x1b[2;2Hq", 5, 3).lines == ["     ", " q   ", "     "]

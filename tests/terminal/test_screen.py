"""ScreenState: construction, SCREEN.json round trips and bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from terminal.screen import (
    BOLD,
    DEFAULT,
    INVERSE,
    TRUECOLOR,
    UNDERLINE,
    ScreenError,
    ScreenState,
    char_width,
    check_size,
    split_cells,
)


def test_from_lines_sizes_from_text_and_places_cursor() -> None:
    s = ScreenState.from_lines(["hello", "wide 日本"])
    assert (s.cols, s.rows) == (9, 2)
    assert s.chars[1][5:] == ["日", "", "本", ""]
    assert s.cursor == (1, 8)
    assert s.text == "hello\nwide 日本"
    assert s.lines[0] == "hello    "


def test_tabs_expand_and_combining_marks_join() -> None:
    s = ScreenState.from_lines(["a\tb", "e\u0301x"], cols=10)
    assert s.chars[0][8] == "b"
    assert s.chars[1][:2] == ["é", "x"]


def test_split_cells_rejects_overflow() -> None:
    assert split_cells("ab", 4) == ["a", "b", " ", " "]
    with pytest.raises(ScreenError, match="5 cells wide, more than 4"):
        split_cells("abcde", 4)
    with pytest.raises(ScreenError, match="more than 3 rows"):
        ScreenState.from_lines(["a"] * 4, rows=3)


def test_char_widths() -> None:
    assert char_width("a") == 1 and char_width("日") == 2 and char_width("😀") == 2
    assert char_width("\u0301") == 0 and char_width("") == 0 and char_width("\x1b") == 1


@pytest.mark.parametrize("cols, rows", [(0, 0), (0, 5), (5, 0), (10000, 10000), (-1, 3)])
def test_absurd_sizes_are_rejected(cols: int, rows: int) -> None:
    with pytest.raises(ScreenError, match="out of range"):
        check_size(cols, rows)
    with pytest.raises(ScreenError):
        ScreenState.blank(cols, rows)


def test_json_round_trip_keeps_every_attribute(tmp_path: Path) -> None:
    s = ScreenState.from_lines(["plain", "styled text", "日本 wide"], cols=12, rows=4)
    s.fg[1, :6] = 1
    s.bg[1, 7:] = TRUECOLOR | 0xABCDEF
    s.attrs[1, :3] = BOLD | UNDERLINE
    s.attrs[2, 0:2] = INVERSE
    s.fg[3, 0] = 200
    s.cursor = (3, 5)
    s.cursor_visible = False
    s.title = "t"
    path = tmp_path / "s.json"
    s.save(path)
    back = ScreenState.load(path)
    assert back.chars == s.chars and back.cursor == (3, 5) and not back.cursor_visible
    assert back.title == "t"
    for a, b in ((back.fg, s.fg), (back.bg, s.bg), (back.attrs, s.attrs)):
        assert np.array_equal(a, b)
    assert all(back.same_cells(s, r) for r in range(s.rows))


@pytest.mark.parametrize("text, msg", [
    ("{", "not valid JSON"),
    ("[]", "must be an object"),
    ('{"cols": 4, "rows": 2}', "needs \"lines\""),
    ('{"lines": ["a"]}', "integer \"cols\" and \"rows\""),
    ('{"cols": 0, "rows": 0, "lines": []}', "out of range"),
    ('{"cols": 10000, "rows": 10000, "lines": []}', "out of range"),
    ('{"cols": 2, "rows": 1, "lines": ["abc"]}', "more than 2 columns"),
    ('{"cols": 4, "rows": 1, "lines": ["a"], "cursor": "x"}', "cursor"),
    ('{"cols": 4, "rows": 1, "lines": ["a"], "styles": [{"row": 5}]}', "outside the screen"),
    ('{"cols": 4, "rows": 1, "lines": ["a"], "styles": [{"row": 0, "fg": 300}]}', "out of range"),
    ('{"cols": 4, "rows": 1, "lines": ["a"], "styles": [{"row": 0, "bg": "red"}]}', "bad colour"),
])
def test_malformed_screen_json(text: str, msg: str) -> None:
    with pytest.raises(ScreenError, match=msg):
        ScreenState.from_json(text)


def test_json_cursor_is_clamped_and_colours_parse() -> None:
    s = ScreenState.from_json({"cols": 4, "rows": 2, "lines": ["ab"], "cursor": [9, 9],
                               "styles": [{"row": 0, "col": 0, "len": 2, "fg": "#102030",
                                           "bg": 4, "bold": True}]})
    assert s.cursor == (1, 3)
    assert s.fg[0, 0] == TRUECOLOR | 0x102030 and s.bg[0, 1] == 4 and s.attrs[0, 1] == BOLD
    assert s.fg[0, 2] == DEFAULT


def test_load_missing_file_is_a_screen_error(tmp_path: Path) -> None:
    with pytest.raises(ScreenError, match="cannot read"):
        ScreenState.load(tmp_path / "none.json")


def test_copy_is_deep() -> None:
    s = ScreenState.from_lines(["ab"])
    c = s.copy()
    c.chars[0][0] = "x"
    c.fg[0, 0] = 3
    assert s.chars[0][0] == "a" and s.fg[0, 0] == DEFAULT
    assert not c.same_cells(s, 0)

"""Selection: a drag selects a stream of cells, a double-click a word, a triple-click whole rows;
copying gives the exact text of the symbolic screen; the selection is drawn as inverse cells."""

from __future__ import annotations

import numpy as np

from renderer.raster import RasterRenderer
from terminal.screen import INVERSE, ScreenState
from terminal.selection import Selection, selected_mask, selection_text, show_selection, word_at


def screen() -> ScreenState:
    return ScreenState.from_lines([
        "user@hnc:~$ ls /usr/lib/python3",
        "a.txt  b.py   漢字 here",
        "",
        "x = foo(bar, 42)   ",
    ], 40, 5)


def test_drag_selects_a_stream_of_cells_and_copies_exact_text():
    s = screen()
    sel = Selection((0, 12), (1, 4))  # dragged from "ls" to "a.txt"'s "t"
    assert selection_text(s, sel) == "ls /usr/lib/python3\na.txt"
    backwards = Selection((1, 4), (0, 12))
    assert selection_text(s, backwards) == selection_text(s, sel)
    mask = selected_mask(s, sel)
    assert mask[0, 12:].all() and not mask[0, :12].any() and mask[1, :5].all()
    assert not mask[1, 5:].any()


def test_rows_lose_trailing_blanks_and_empty_rows_stay():
    s = screen()
    assert selection_text(s, Selection((1, 0), (3, 39))) == "a.txt  b.py   漢字 here\n\nx = foo(bar, 42)"


def test_wide_characters_come_whole():
    s = screen()
    col = s.chars[1].index("漢")
    assert selection_text(s, Selection((1, col + 1), (1, col + 2))) == "漢字"  # from a right half
    assert selection_text(s, Selection((1, col), (1, col))) == "漢"


def test_double_click_selects_a_word_paths_whole():
    s = screen()
    assert selection_text(s, Selection((0, 20), (0, 20), "word")) == "/usr/lib/python3"
    assert selection_text(s, Selection((0, 2), (0, 2), "word")) == "user@hnc:~"
    assert selection_text(s, Selection((3, 5), (3, 5), "word")) == "foo"
    assert selection_text(s, Selection((3, 7), (3, 7), "word")) == "("
    assert word_at(s, 3, 2) == (2, 2)  # "=" is a word character: alone between blanks
    assert selection_text(s, Selection((3, 4), (3, 13), "word")) == "foo(bar, 42"


def test_triple_click_selects_rows():
    s = screen()
    assert selection_text(s, Selection((1, 3), (1, 3), "line")) == "a.txt  b.py   漢字 here"
    assert selection_text(s, Selection((0, 30), (1, 0), "line")) == \
        "user@hnc:~$ ls /usr/lib/python3\na.txt  b.py   漢字 here"


def test_selection_is_drawn_as_inverse_cells():
    s = screen()
    sel = Selection((0, 0), (0, 3))
    shown = show_selection(s, sel)
    assert (shown.attrs[0, :4] & INVERSE).all() and not (shown.attrs[0, 4:] & INVERSE).any()
    assert not (s.attrs & INVERSE).any()  # the screen itself is untouched
    raster = RasterRenderer()
    frame = raster.render(shown).frame
    plain = RasterRenderer().render(s).frame
    assert not np.array_equal(frame[:16, :32], plain[:16, :32])
    assert np.array_equal(frame[:16, 32:], plain[:16, 32:])
    assert selection_text(shown, sel) == "user"  # copying reads cells, not pixels


def test_terminal_shows_the_selection_and_marks_its_rows_damaged():
    from terminal import Terminal

    t = Terminal(20, 4)
    t.feed(b"one two\r\nthree")
    t.take_damage()
    assert t.select(Selection((0, 4), (0, 4), "word")) == "two"
    assert t.take_damage() == {0}
    assert (t.snapshot().attrs[0, 4:7] & INVERSE).all()
    assert t.select(Selection((1, 0), (1, 0), "line")) == "three"
    assert t.take_damage() == {0, 1}  # the old selection's row is drawn plain again
    assert t.select(None) == "" and not (t.snapshot().attrs & INVERSE).any()

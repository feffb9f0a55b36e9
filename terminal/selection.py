"""Text selection on the symbolic screen: what a drag, a double-click or a triple-click selects,
the exact text a copy gives, and the screen with the selection shown as inverse cells.

The selection is made of cells, never of pixels: a renderer draws the selected cells inverted, and
copying reads the characters from the `ScreenState`, so the clipboard is exact however the frame
looks. Like xterm, a drag selects a stream of cells (to the end of each row and on from the start
of the next), copied text loses each row's trailing blanks and the rows are joined with newlines;
a double-click selects a word (a run of letters, digits and `-#%&+,./:=?@_~`, as VTE counts word
characters, so paths and URLs come whole; else a run of the same blank or symbol); a triple-click
selects whole rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from terminal.screen import INVERSE, ScreenState

Unit = Literal["cell", "word", "line"]
WORD_CHARS = frozenset("-#%&+,./:=?@_~")


@dataclass(frozen=True)
class Selection:
    """From the cell `anchor` (row, col) where the button went down to `head` where it is now,
    grown to whole words or rows by `unit` (a double- or triple-click)."""

    anchor: tuple[int, int]
    head: tuple[int, int]
    unit: Unit = "cell"

    def span(self, screen: ScreenState) -> tuple[tuple[int, int], tuple[int, int]]:
        """The first and last selected cells (inclusive), in reading order, grown to `unit`."""
        a, b = sorted((_clamp(screen, self.anchor), _clamp(screen, self.head)))
        if self.unit == "line":
            return (a[0], 0), (b[0], screen.cols - 1)
        if self.unit == "word":
            return (a[0], word_at(screen, *a)[0]), (b[0], word_at(screen, *b)[1])
        return a, b


def _clamp(screen: ScreenState, cell: tuple[int, int]) -> tuple[int, int]:
    r, c = cell
    r, c = min(max(r, 0), screen.rows - 1), min(max(c, 0), screen.cols - 1)
    while c > 0 and screen.chars[r][c] == "":  # the right half of a wide character
        c -= 1
    return r, c


def _kind(ch: str) -> str:
    if ch.isalnum() or ch in WORD_CHARS or (ch and ord(ch[0]) > 0x2000 and ch.isprintable()
                                            and not ch.isspace()):
        return "word"
    return "blank" if ch in ("", " ") or ch.isspace() else ch


def word_at(screen: ScreenState, row: int, col: int) -> tuple[int, int]:
    """The first and last column of the word under (row, col): word characters, else a run of
    blanks, else a run of the same symbol. The right half of a wide character goes with it."""
    row, col = _clamp(screen, (row, col))
    chars = screen.chars[row]
    kind = _kind(chars[col])

    def same(c: int) -> bool:
        return chars[c] == "" or _kind(chars[c]) == kind

    start = col
    while start > 0 and same(start - 1):
        start -= 1
    end = col
    while end + 1 < screen.cols and same(end + 1):
        end += 1
    return start, end


def selected_mask(screen: ScreenState, selection: Selection | None) -> np.ndarray:
    """(rows, cols) bool: the selected cells."""
    mask = np.zeros((screen.rows, screen.cols), bool)
    if selection is None:
        return mask
    (r0, c0), (r1, c1) = selection.span(screen)
    if r0 == r1:
        mask[r0, c0:c1 + 1] = True
    else:
        mask[r0, c0:] = True
        mask[r0 + 1:r1] = True
        mask[r1, :c1 + 1] = True
    return mask


def selection_text(screen: ScreenState, selection: Selection | None) -> str:
    """The text a copy gives: the selected characters of each row, the row's trailing blanks
    dropped, rows joined by newlines."""
    if selection is None:
        return ""
    (r0, c0), (r1, c1) = selection.span(screen)
    out = []
    for r in range(r0, r1 + 1):
        start = c0 if r == r0 else 0
        stop = c1 + 1 if r == r1 else screen.cols
        if stop < screen.cols and screen.chars[r][stop] == "":
            stop += 1  # a wide character whose left half is selected comes whole
        out.append("".join(screen.chars[r][start:stop]).rstrip())
    return "\n".join(out)


def show_selection(screen: ScreenState, selection: Selection | None) -> ScreenState:
    """A copy of `screen` with the selected cells inverted, as the renderer draws a selection."""
    out = screen.copy()
    if selection is not None:
        out.attrs ^= np.where(selected_mask(screen, selection), INVERSE, 0).astype(np.uint8)
    return out


__all__ = ["Selection", "WORD_CHARS", "selected_mask", "selection_text", "show_selection",
           "word_at"]

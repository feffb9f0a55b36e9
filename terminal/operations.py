"""Screen operations: pyte's screen model with what pyte 0.8.2 gets wrong for real programs fixed.

`VTScreen` keeps pyte's grid of `Cell`s (pyte's `Cell` plus DECSCA protection), cursor, modes and tab
stops, and implements the operations a VT500 parser calls: pending wrap, wide characters at the last
column and overwritten halves, combining marks after wide characters, erase with the background
colour only (BCE), ED 3 (clear scrollback), margins (CUU/CUD outside the region, origin mode), a
single DECSC slot per screen buffer, resize that keeps the cursor line (scrolling the top into the
scrollback, pulling it back when the screen grows), DEC special graphics in UTF-8 (G0-G3, SO/SI,
single shifts), REP, SU/SD, SL/SR, DECIC/DECDC, CHT/CBT, DECSTR, DECALN, the title stack, the
alternate screen (modes 47, 1047, 1049), a scrollback buffer, and colour kept as the int codes of
`terminal.screen` (pyte turns palette indices into hex and loses the theme).
"""

from __future__ import annotations

import logging
import unicodedata
from collections import deque
from typing import Any

import pyte
from pyte import modes as mo
from pyte.screens import Margins, StaticDefaultDict

from terminal.screen import (
    DEFAULT,
    TRUECOLOR,
)

from .cells import (
    ALT_MODES,
    CHARSETS,
    EXCLUSIVE_MODES,
    MAX_COMBINING,
    Cell,
    CellCache,
    Cursor,
    Line,
    SavedCursor,
    char_cells,
    colon_color,
    new_buffer,
    new_cell,
    semicolon_color,
)

log = logging.getLogger(__name__)


class VTScreen(pyte.Screen):
    """pyte.Screen with the screen operations real programs need done right (see module doc)."""

    # pyte declares these with its own Char; ours hold Cells (Char plus DECSCA protection)
    buffer: dict[int, Line]  # type: ignore[assignment]
    cursor: Cursor  # type: ignore[assignment]

    def __init__(self, columns: int, lines: int, scrollback: int = 10000) -> None:
        self.errors = 0
        self.history: deque[Line] = deque(maxlen=max(scrollback, 0) or None)
        self._cell_caches: dict[Cell, CellCache] = {}
        self.history_enabled = scrollback > 0
        self.replies: list[str] = []
        self.title_stack: list[str] = []
        self.underline_style = 0
        self.cursor_shape = 0
        self.decsca = 0
        self.last_char: str | None = None
        self.s8c1t = False
        self.in_alt = False
        self.charsets = ["B", "B", "B", "B"]
        self.gl = 0
        self.gr: int | None = None  # None: bytes 0xA0-0xFF are Latin-1 (or UTF-8 text)
        self.single_shift: int | None = None
        self.saved: dict[bool, SavedCursor | None] = {False: None, True: None}
        super().__init__(columns, lines)
        self._main = self.buffer
        self._alt = new_buffer(lambda: self.default_char)

    @property
    def default_char(self) -> Cell:  # type: ignore[override]
        return Cell(" ", DEFAULT, DEFAULT)

    def _blank(self) -> Cell:
        """An erased cell: a space with the current background colour (BCE), and nothing else
        (as xterm and alacritty; libvterm also keeps the foreground colour)."""
        return Cell(" ", DEFAULT, self.cursor.attrs.bg)

    def _blank_line(self) -> StaticDefaultDict[int, Cell]:
        return StaticDefaultDict(self._blank())

    def _region(self) -> tuple[int, int]:
        return self.margins if self.margins is not None else (0, self.lines - 1)

    def _col(self) -> int:
        """The cursor column, with a pending wrap (x == columns) read as the last column."""
        return min(self.cursor.x, self.columns - 1)

    def _row(self, y: int) -> list[Cell]:
        line = self.buffer[y]
        return [line[x] for x in range(self.columns)]

    def _set_row(self, y: int, cells: list[Cell]) -> None:
        line: Line = StaticDefaultDict(self.default_char)
        line.update(enumerate(cells[: self.columns]))
        self.buffer[y] = line
        self.dirty.add(y)

    def clamp(self) -> None:
        """Put the cursor back on the screen (after an aborted operation, a resize...)."""
        c = self.cursor
        c.x = min(max(c.x, 0), self.columns)
        c.y = min(max(c.y, 0), self.lines - 1)

    def reply(self, data: str) -> None:
        if self.s8c1t:  # 8-bit controls were asked for (S8C1T)
            data = data.replace("\x1b[", "\x9b").replace("\x1bP", "\x90").replace("\x1b\\", "\x9c")
        self.replies.append(data)

    # -- reset ---------------------------------------------------------------------------
    def reset(self) -> None:
        """RIS: everything back to power-on state, scrollback cleared (alacritty, VTE)."""
        if hasattr(self, "_main"):
            self.buffer = self._main
            self._alt.clear()
            self.history.clear()
        self.in_alt = False
        super().reset()
        self.mode = {mo.DECAWM, mo.DECTCEM}
        self.margins = None
        self.charsets = ["B", "B", "B", "B"]
        self.gl = 0
        self.gr = None
        self.single_shift = None
        self.saved = {False: None, True: None}
        self.underline_style = 0
        self.cursor_shape = 0
        self.last_char = None
        self.title_stack = []
        self.cursor = Cursor(0, 0, self.default_char)

    def soft_reset(self) -> None:
        """DECSTR: modes, margins, pen and charsets to defaults; the screen is kept."""
        self.mode.difference_update({mo.IRM, mo.DECOM, 1 << 5})
        self.mode.update({mo.DECAWM, mo.DECTCEM})
        self.cursor.hidden = False
        self.margins = None
        self.charsets = ["B", "B", "B", "B"]
        self.gl = 0
        self.cursor.attrs = self.default_char
        self.underline_style = 0
        self.saved[self.in_alt] = None

    # -- printing ------------------------------------------------------------------------
    def draw(self, data: str) -> None:
        """Print text at the cursor: charsets, autowrap, insert mode, wide and combining
        characters, and the half of a wide character that gets overwritten."""
        table = CHARSETS.get(self.charsets[self.gl])
        insert = mo.IRM in self.mode
        gr = self.gr
        if table is None and gr is None and self.single_shift is None and not insert \
                and data.isascii():
            self._draw_ascii(data)
            return
        cursor = self.cursor
        cols = self.columns
        autowrap = mo.DECAWM in self.mode
        line = self.buffer[cursor.y]
        self.dirty.add(cursor.y)
        rest = tuple(cursor.attrs)[1:]
        for ch in data:
            if gr is not None and "\xa0" <= ch <= "\xff":  # 8-bit text through GR (LS1R...)
                ch = chr(ord(ch) - 0x80)
                right = CHARSETS.get(self.charsets[gr])
                if right:
                    ch = right.get(ord(ch), ch)
            elif self.single_shift is not None:
                shifted = CHARSETS.get(self.charsets[self.single_shift])
                self.single_shift = None
                if shifted:
                    ch = shifted.get(ord(ch), ch)
            elif table:
                ch = table.get(ord(ch), ch)
            w = char_cells(ch) if ch >= "\u0300" else 1
            if w <= 0:
                if w == 0:
                    self._combine(ch)
                continue
            if cursor.x + w > cols:
                if autowrap:
                    cursor.x = 0
                    self.index()
                    line = self.buffer[cursor.y]
                    self.dirty.add(cursor.y)
                else:
                    cursor.x = max(cols - w, 0)
                if w > cols:
                    continue  # a wide character on a one-column screen cannot be shown
            x = cursor.x
            if insert:
                self._shift_right(line, x, w)
            self._split_wide(line, x, x + w)
            line[x] = new_cell(Cell, (ch, *rest))
            if w == 2:
                line[x + 1] = new_cell(Cell, ("", *rest))
            cursor.x = x + w
            self.last_char = ch

    def _split_wide(self, line: StaticDefaultDict[int, Cell], start: int, stop: int) -> None:
        """Cells start..stop-1 are about to be overwritten: blank the other half of a wide
        character cut at either edge."""
        if start > 0 and line[start].data == "":
            line[start - 1] = line[start - 1]._replace(data=" ")
        if stop < self.columns and line[stop].data == "":
            line[stop] = line[stop]._replace(data=" ")

    def _draw_ascii(self, data: str) -> None:
        """`draw` for printable ASCII without charsets or insert mode: whole runs at once."""
        cursor = self.cursor
        cols = self.columns
        rest = tuple(cursor.attrs)[1:]
        cells = self._cell_caches.get(cursor.attrs)
        if cells is None:
            if len(self._cell_caches) > 64:
                self._cell_caches.clear()
            cells = self._cell_caches[cursor.attrs] = CellCache(rest)
        i, n = 0, len(data)
        while i < n:
            if cursor.x >= cols:
                if mo.DECAWM not in self.mode:  # every further character lands on the last column
                    line = self.buffer[cursor.y]
                    self._split_wide(line, cols - 1, cols)
                    line[cols - 1] = new_cell(Cell, (data[-1], *rest))
                    self.dirty.add(cursor.y)
                    break
                cursor.x = 0
                self.index()
            x = cursor.x
            k = min(n - i, cols - x)
            line = self.buffer[cursor.y]
            self._split_wide(line, x, x + k)
            line.update(zip(range(x, x + k), map(cells.__getitem__, data[i:i + k]), strict=True))
            self.dirty.add(cursor.y)
            cursor.x = x + k
            i += k
        self.last_char = data[-1]

    def _combine(self, mark: str) -> None:
        """Attach a zero-width character to the cell before the cursor."""
        x, y = self.cursor.x - 1, self.cursor.y
        if x < 0:
            return
        line = self.buffer[y]
        if line[x].data == "" and x > 0:
            x -= 1  # the previous cell is the right half of a wide character
        cell = line[x]
        if len(unicodedata.normalize("NFD", cell.data)) >= MAX_COMBINING:
            return
        line[x] = cell._replace(data=unicodedata.normalize("NFC", cell.data + mark))
        if self.last_char is not None:  # REP repeats the whole character, marks included
            self.last_char += mark
        self.dirty.add(y)

    def repeat(self, count: int) -> None:
        """REP: print the last printed character `count` more times."""
        if self.last_char is None:
            return
        self.draw(self.last_char * min(count or 1, self.columns * self.lines))

    # -- scrolling -----------------------------------------------------------------------
    def _push_history(self, y: int) -> None:
        # the line object itself: callers move it out of the buffer right after
        if self.history_enabled and not self.in_alt:
            self.history.append(self.buffer[y])

    def scroll_up(self, count: int = 1, top: int | None = None, bottom: int | None = None) -> None:
        """Move the lines of the scrolling region up; the top ones go to the scrollback when the
        region starts at the first line of the main screen."""
        rtop, rbottom = self._region()
        top = rtop if top is None else top
        bottom = rbottom if bottom is None else bottom
        count = max(0, min(count, bottom - top + 1))
        if not count:
            return
        if top == 0:
            for y in range(count):
                self._push_history(y)
        buf = self.buffer
        for y in range(top, bottom + 1 - count):
            src = buf.pop(y + count, None)
            if src is None:
                buf.pop(y, None)
            else:
                buf[y] = src
        for y in range(bottom + 1 - count, bottom + 1):
            buf[y] = self._blank_line()
        self.dirty.update(range(top, bottom + 1))

    def scroll_down(self, count: int = 1, top: int | None = None, bottom: int | None = None) -> None:
        """Move the lines of the scrolling region down, blank lines coming in at the top."""
        rtop, rbottom = self._region()
        top = rtop if top is None else top
        bottom = rbottom if bottom is None else bottom
        count = max(0, min(count, bottom - top + 1))
        if not count:
            return
        buf = self.buffer
        for y in range(bottom, top + count - 1, -1):
            src = buf.pop(y - count, None)
            if src is None:
                buf.pop(y, None)
            else:
                buf[y] = src
        for y in range(top, top + count):
            buf[y] = self._blank_line()
        self.dirty.update(range(top, bottom + 1))

    def index(self) -> None:
        """IND: down one line, scrolling the region at its bottom margin."""
        top, bottom = self._region()
        self.cursor.x = self._col()  # moving off the line cancels a pending wrap
        if self.cursor.y == bottom:
            self.scroll_up(1)
        elif self.cursor.y < self.lines - 1:
            self.cursor.y += 1

    def reverse_index(self) -> None:
        """RI: up one line, scrolling the region down at its top margin."""
        top, bottom = self._region()
        self.cursor.x = self._col()
        if self.cursor.y == top:
            self.scroll_down(1)
        elif self.cursor.y > 0:
            self.cursor.y -= 1

    def linefeed(self) -> None:
        """LF/VT/FF: index, plus a carriage return in newline mode (LNM)."""
        self.index()
        if mo.LNM in self.mode:
            self.cursor.x = 0

    def next_line(self) -> None:
        """NEL."""
        self.index()
        self.cursor.x = 0

    def scroll_left(self, count: int | None = None) -> None:
        """SL (CSI Pn SP @): shift the region's lines left."""
        self._shift_columns(-(count or 1), 0)

    def scroll_right(self, count: int | None = None) -> None:
        """SR (CSI Pn SP A): shift the region's lines right."""
        self._shift_columns(count or 1, 0)

    def insert_columns(self, count: int | None = None) -> None:
        """DECIC: insert blank columns at the cursor column, in every line of the region."""
        self._shift_columns(count or 1, self._col())

    def delete_columns(self, count: int | None = None) -> None:
        """DECDC: delete columns at the cursor column, in every line of the region."""
        self._shift_columns(-(count or 1), self._col())

    def _shift_columns(self, delta: int, start: int) -> None:
        top, bottom = self._region()
        if not top <= self.cursor.y <= bottom:
            return
        blank = self._blank()
        n = min(abs(delta), self.columns - start)
        for y in range(top, bottom + 1):
            row = self._row(y)
            if delta > 0:
                row[start:] = [blank] * n + row[start:self.columns - n]
            else:
                row[start:] = row[start + n:] + [blank] * n
            # a wide character the shift cut in two leaves no half behind (as DCH does; found by
            # tests/fuzz/test_terminal_fuzz.py)
            for x in range(self.columns):
                data = row[x].data
                lone_right = data == "" and (x == 0 or char_cells(row[x - 1].data[:1] or " ") != 2)
                lone_left = bool(data) and char_cells(data[0]) == 2 and (
                    x + 1 == self.columns or row[x + 1].data != "")
                if lone_right or lone_left:
                    row[x] = blank
            self._set_row(y, row)

    # -- cursor movement -----------------------------------------------------------------
    def cursor_up(self, count: int | None = None) -> None:
        top, _ = self._region()
        limit = top if self.cursor.y >= top else 0
        self.cursor.y = max(self.cursor.y - (count or 1), limit)
        self.cursor.x = self._col()

    def cursor_down(self, count: int | None = None) -> None:
        _, bottom = self._region()
        limit = bottom if self.cursor.y <= bottom else self.lines - 1
        self.cursor.y = min(self.cursor.y + (count or 1), limit)
        self.cursor.x = self._col()

    def cursor_forward(self, count: int | None = None) -> None:
        self.cursor.x = min(self._col() + (count or 1), self.columns - 1)

    def cursor_back(self, count: int | None = None) -> None:
        self.cursor.x = max(self._col() - (count or 1), 0)

    def backspace(self) -> None:
        """BS; with reverse-wraparound (mode 45) and autowrap, column 0 goes to the end of the
        line above (from the top line to the bottom one, as xterm does)."""
        if self.cursor.x == 0 and (45 << 5) in self.mode and mo.DECAWM in self.mode:
            self.cursor.y = self.cursor.y - 1 if self.cursor.y > 0 else self.lines - 1
            self.cursor.x = self.columns - 1
            return
        self.cursor_back(1)

    def carriage_return(self) -> None:
        self.cursor.x = 0

    def cursor_position(self, line: int | None = None, column: int | None = None) -> None:
        """CUP/HVP: 1-based, relative to the scrolling region in origin mode."""
        row = (line or 1) - 1
        if mo.DECOM in self.mode:
            top, bottom = self._region()
            row = min(row + top, bottom)
        self.cursor.y = min(max(row, 0), self.lines - 1)
        self.cursor.x = min(max((column or 1) - 1, 0), self.columns - 1)

    def cursor_to_column(self, column: int | None = None) -> None:
        self.cursor.x = min(max((column or 1) - 1, 0), self.columns - 1)

    def cursor_to_line(self, line: int | None = None) -> None:
        row = (line or 1) - 1
        if mo.DECOM in self.mode:
            top, bottom = self._region()
            row = min(row + top, bottom)
        self.cursor.y = min(max(row, 0), self.lines - 1)
        self.cursor.x = self._col()

    def cursor_line_forward(self, count: int | None = None) -> None:
        """VPR (CSI Pn e): down without scrolling, stopping at the last line."""
        self.cursor.y = min(self.cursor.y + (count or 1), self.lines - 1)
        self.cursor.x = self._col()

    def tab(self, count: int | None = None) -> None:
        """HT / CHT: to the next tab stop (or the last column)."""
        if self.cursor.x >= self.columns:
            return  # xterm keeps a pending wrap: the next character goes to the next line
        x = self._col()
        for _ in range(min(count or 1, self.columns)):
            x = next((s for s in sorted(self.tabstops) if s > x), self.columns - 1)
        self.cursor.x = min(x, self.columns - 1)

    def back_tab(self, count: int | None = None) -> None:
        """CBT: to the previous tab stop (or the first column)."""
        x = self._col()
        for _ in range(min(count or 1, self.columns)):
            x = next((s for s in sorted(self.tabstops, reverse=True) if s < x), 0)
        self.cursor.x = x

    def clear_tab_stop(self, how: int = 0) -> None:
        if how == 0:
            self.tabstops.discard(self._col())
        elif how in (3, 5):
            self.tabstops = set()

    def set_tab_stop(self) -> None:
        self.tabstops.add(self._col())

    # -- saving the cursor ---------------------------------------------------------------
    def save_cursor(self, keep_wrap: bool = False) -> None:
        """DECSC: one slot per screen buffer; a second save overwrites the first. A pending
        wrap is not saved (xterm restores to the last column) unless `keep_wrap` (mode 1049,
        as alacritty does)."""
        c = self.cursor
        self.saved[self.in_alt] = SavedCursor(c.x if keep_wrap else self._col(), c.y, c.attrs, self.underline_style,
                                         list(self.charsets), self.gl, mo.DECOM in self.mode)

    def restore_cursor(self) -> None:
        """DECRC: back to the saved state (home and default attributes when nothing was saved)."""
        s = self.saved[self.in_alt]
        if s is None:
            self.mode.discard(mo.DECOM)
            self.cursor.x = self.cursor.y = 0
            self.cursor.attrs = self.default_char
            self.underline_style = 0
            self.charsets = ["B", "B", "B", "B"]
            self.gl = 0
            return
        self.cursor.x, self.cursor.y = min(s.x, self.columns), min(s.y, self.lines - 1)
        if self.cursor.x == self.columns and mo.DECAWM not in self.mode:
            self.cursor.x = self.columns - 1
        self.cursor.attrs = s.attrs
        self.underline_style = s.underline
        self.charsets = list(s.charsets)
        self.gl = s.gl
        if s.origin:
            self.mode.add(mo.DECOM)
        else:
            self.mode.discard(mo.DECOM)

    # -- editing -------------------------------------------------------------------------
    def _shift_right(self, line: StaticDefaultDict[int, Cell], x: int, n: int) -> None:
        blank = self._blank()
        cols = self.columns
        for i in range(cols - 1, x + n - 1, -1):
            line[i] = line[i - n]
        for i in range(x, min(x + n, cols)):
            line[i] = blank
        if cols - 1 >= x + n and char_cells(line[cols - 1].data[:1] or " ") == 2:
            line[cols - 1] = blank  # a wide character pushed half off the edge

    def insert_characters(self, count: int | None = None) -> None:
        """ICH: blanks at the cursor, the rest of the line moves right."""
        x = self._col()
        self._shift_right(self.buffer[self.cursor.y], x, min(count or 1, self.columns - x))
        self.cursor.x = x
        self.dirty.add(self.cursor.y)

    def delete_characters(self, count: int | None = None) -> None:
        """DCH: the rest of the line moves left, blanks come in at the right."""
        x = self._col()
        n = min(count or 1, self.columns - x)
        row = self._row(self.cursor.y)
        row[x:] = row[x + n:] + [self._blank()] * n
        if row[x].data == "":
            row[x] = self._blank()  # the left half of this wide character was deleted
        if x > 0 and row[x - 1].data and char_cells(row[x - 1].data[0]) == 2:
            row[x - 1] = self._blank()  # and here the right half
        self._set_row(self.cursor.y, row)
        self.cursor.x = x

    def erase_characters(self, count: int | None = None) -> None:
        """ECH: blank `count` cells from the cursor; nothing moves."""
        x = self._col()
        self._erase(self.cursor.y, x, min(x + (count or 1), self.columns))

    def _erase(self, y: int, start: int, stop: int, selective: bool = False) -> None:
        line = self.buffer[y]
        blank = self._blank()
        if selective:  # DECSED/DECSEL: cells protected by DECSCA stay
            for x in range(start, stop):
                if not line[x].protected:
                    line[x] = blank
        elif start == 0 and stop >= self.columns:
            self.buffer[y] = StaticDefaultDict(blank)
        else:
            for x in range(start, stop):
                line[x] = blank
            if start > 0 and line[start - 1].data and char_cells(line[start - 1].data[0]) == 2:
                line[start - 1] = blank  # its right half was erased
            if stop < self.columns and line[stop].data == "":
                line[stop] = blank  # its left half was erased
        self.dirty.add(y)

    def erase_in_line(self, how: int = 0, *args: Any, private: bool = False,
                      **kwargs: Any) -> None:
        """EL: 0 to the end, 1 from the start, 2 all; `private` (DECSEL) spares cells
        protected by DECSCA."""
        x = self._col()
        if how == 0:
            if self.cursor.x >= self.columns:
                return  # a pending wrap: the last character stays (alacritty, VTE; not xterm)
            self._erase(self.cursor.y, x, self.columns, private)
        elif how == 1:
            self._erase(self.cursor.y, 0, x + 1, private)
        elif how == 2:
            self._erase(self.cursor.y, 0, self.columns, private)

    def erase_in_display(self, how: int = 0, *args: Any, private: bool = False,
                         **kwargs: Any) -> None:
        """ED: 0 below, 1 above, 2 all; 3 clears the scrollback only (xterm); `private`
        (DECSED) spares cells protected by DECSCA."""
        y = self.cursor.y
        if how == 0:
            self.erase_in_line(0, private=private)
            for r in range(y + 1, self.lines):
                self._erase(r, 0, self.columns, private)
        elif how == 1:
            for r in range(y):
                self._erase(r, 0, self.columns, private)
            self.erase_in_line(1, private=private)
        elif how == 2:
            for r in range(self.lines):
                self._erase(r, 0, self.columns, private)
        elif how == 3:
            self.history.clear()

    def insert_lines(self, count: int | None = None) -> None:
        """IL: blank lines at the cursor line, pushing the region's lines down."""
        top, bottom = self._region()
        if top <= self.cursor.y <= bottom:
            self.scroll_down(count or 1, self.cursor.y, bottom)
            self.cursor.x = 0  # xterm homes the column (libvterm does not)

    def delete_lines(self, count: int | None = None) -> None:
        """DL: remove lines at the cursor line, pulling the region's lines up."""
        top, bottom = self._region()
        if top <= self.cursor.y <= bottom:
            y = self.cursor.y
            count = max(0, min(count or 1, bottom - y + 1))
            buf = self.buffer
            for r in range(y, bottom + 1 - count):
                src = buf.pop(r + count, None)
                if src is None:
                    buf.pop(r, None)
                else:
                    buf[r] = src
            for r in range(bottom + 1 - count, bottom + 1):
                buf[r] = self._blank_line()
            self.dirty.update(range(y, bottom + 1))
            self.cursor.x = 0

    def alignment_display(self) -> None:
        """DECALN: fill the screen with E (the cursor stays, as in alacritty and libvterm)."""
        for y in range(self.lines):
            line: Line = StaticDefaultDict(self.default_char)
            line.update((x, Cell("E", DEFAULT, DEFAULT)) for x in range(self.columns))
            self.buffer[y] = line
        self.dirty.update(range(self.lines))

    def set_margins(self, top: int | None = None, bottom: int | None = None, *args: Any,
                    **kwargs: Any) -> None:
        """DECSTBM: the scrolling region (1-based, inclusive); the cursor goes home."""
        t = (top or 1) - 1
        b = (bottom or self.lines) - 1
        b = min(b, self.lines - 1)
        if t >= b:
            return
        self.margins = None if (t == 0 and b == self.lines - 1) else Margins(t, b)
        self.cursor_position()

    # -- modes ---------------------------------------------------------------------------
    def set_mode(self, *modes: int, **kwargs: Any) -> None:
        self._modes(modes, bool(kwargs.get("private")), True)

    def reset_mode(self, *modes: int, **kwargs: Any) -> None:
        self._modes(modes, bool(kwargs.get("private")), False)

    def _modes(self, modes: tuple[int, ...], private: bool, on: bool) -> None:
        for m in modes:
            key = m << 5 if private else m
            if private and m in ALT_MODES:
                if on:
                    self.enter_alternate(m)
                else:
                    self.leave_alternate(m)
                continue
            if private and m == 1048:
                if on:
                    self.save_cursor()
                else:
                    self.restore_cursor()
                continue
            if private and m == 3:  # DECCOLM: no 132-column switch, but it clears and homes
                self.margins = None
                self.erase_in_display(2)
                self.cursor.x = self.cursor.y = 0
            if on:
                for group in EXCLUSIVE_MODES:  # one mouse protocol, one mouse encoding
                    if private and m in group:
                        self.mode.difference_update(g << 5 for g in group)
                self.mode.add(key)
            else:
                self.mode.discard(key)
            if private and m == 6:  # DECOM homes the cursor
                self.cursor_position()
            elif private and m == 25:
                self.cursor.hidden = not on
            elif private and m == 5:
                self.dirty.update(range(self.lines))
            elif private and m == 7 and not on and self.cursor.x >= self.columns:
                self.cursor.x = self.columns - 1

    def mode_state(self, mode: int, private: bool) -> int:
        """DECRQM answer: 1 set, 2 reset."""
        if private and mode in ALT_MODES:
            return 1 if self.in_alt else 2
        return 1 if (mode << 5 if private else mode) in self.mode else 2

    # -- alternate screen ----------------------------------------------------------------
    def enter_alternate(self, mode: int = 1049) -> None:
        """Switch to the alternate screen (1049 also saves the cursor and clears it)."""
        if self.in_alt:
            return
        if mode == 1049:
            self.save_cursor(keep_wrap=True)
        self.buffer = self._alt
        self.in_alt = True
        if mode in (1047, 1049):
            self._alt.clear()
        self.dirty.update(range(self.lines))

    def leave_alternate(self, mode: int = 1049) -> None:
        """Back to the main screen (1049 also restores the cursor saved on entry)."""
        if not self.in_alt:
            return
        if mode == 1047:
            self._alt.clear()
        self.buffer = self._main
        self.in_alt = False
        if mode == 1049:
            self.restore_cursor()
        self.dirty.update(range(self.lines))

    # -- resize --------------------------------------------------------------------------
    def resize(self, lines: int | None = None, columns: int | None = None) -> None:
        """Keep the cursor's line on screen: shrinking drops blank lines below the cursor first,
        then scrolls the top into the scrollback; growing pulls scrollback lines back."""
        lines = lines or self.lines
        columns = columns or self.columns
        if lines == self.lines and columns == self.columns:
            return
        old = self.lines
        if lines < old:
            self._shrink_rows(old, lines)
        elif lines > old and not self.in_alt:
            pull = min(lines - old, len(self.history))
            if pull:
                buf = self.buffer
                for y in range(old - 1, -1, -1):
                    src = buf.pop(y, None)
                    if src is not None:
                        buf[y + pull] = src
                for i in range(pull):
                    row = self.history.pop()
                    line: Line = StaticDefaultDict(row.default)
                    line.update((x, ch) for x, ch in row.items() if x < columns)
                    buf[pull - 1 - i] = line
                self.cursor.y += pull
        if columns < self.columns:
            for buf in (self._main, self._alt):
                for line in buf.values():
                    for x in [k for k in line if k >= columns]:
                        del line[x]
                    if columns and char_cells(line[columns - 1].data[:1] or " ") == 2:
                        line[columns - 1] = self.default_char
        for buf in (self._main, self._alt):
            for y in [k for k in buf if k >= lines]:
                del buf[y]
        if columns > self.columns:
            self.tabstops.update(range(self.columns + (8 - self.columns % 8) % 8, columns, 8))
        self.tabstops = {t for t in self.tabstops if t < columns}
        self.lines, self.columns = lines, columns
        self.margins = None
        self.cursor.x = min(self.cursor.x, columns - 1)
        self.cursor.y = min(max(self.cursor.y, 0), lines - 1)
        self.dirty.update(range(lines))

    def _shrink_rows(self, old: int, lines: int) -> None:
        excess = old - lines
        for buf, cursor_y, active in ((self._main, self.cursor.y, not self.in_alt),
                                      (self._alt, self.cursor.y, self.in_alt)):
            drop = excess
            for y in range(old - 1, cursor_y, -1):  # blank lines below the cursor go first
                if not drop or any(ch.data.strip() for ch in buf[y].values()):
                    break
                buf.pop(y, None)
                drop -= 1
            if drop:
                if active and buf is self._main:
                    for y in range(drop):
                        self._push_history(y)
                for y in range(old):
                    src = buf.pop(y + drop, None) if y + drop < old else None
                    if src is None:
                        buf.pop(y, None)
                    else:
                        buf[y] = src
            if active:
                self.cursor.y -= drop

    # -- SGR -----------------------------------------------------------------------------
    def select_graphic_rendition(self, *params: Any, **kwargs: Any) -> None:
        """SGR with both `;` and `:` forms: params are ints or lists of sub-parameters."""
        groups: list[list[int | None]] = [p if isinstance(p, list) else [p] for p in params]
        if not groups:
            groups = [[0]]
        cur = self.cursor.attrs
        fg, bg = cur.fg, cur.bg
        flags = {"bold": cur.bold, "italics": cur.italics, "blink": cur.blink,
                 "reverse": cur.reverse, "strikethrough": cur.strikethrough}
        ul = self.underline_style
        i = 0
        while i < len(groups):
            g = groups[i]
            a = g[0] or 0
            i += 1
            if a == 0:
                fg = bg = DEFAULT
                flags = dict.fromkeys(flags, False)
                ul = 0
            elif a == 1:
                flags["bold"] = True
            elif a == 3:
                flags["italics"] = True
            elif a == 4:
                ul = 1 if len(g) < 2 else min(g[1] or 0, 5)
            elif a == 21:
                ul = 2
            elif a in (5, 6):
                flags["blink"] = True
            elif a == 7:
                flags["reverse"] = True
            elif a == 9:
                flags["strikethrough"] = True
            elif a == 22:
                flags["bold"] = False
            elif a == 23:
                flags["italics"] = False
            elif a == 24:
                ul = 0
            elif a == 25:
                flags["blink"] = False
            elif a == 27:
                flags["reverse"] = False
            elif a == 29:
                flags["strikethrough"] = False
            elif 30 <= a <= 37:
                fg = a - 30
            elif 90 <= a <= 97:
                fg = a - 90 + 8
            elif 40 <= a <= 47:
                bg = a - 40
            elif 100 <= a <= 107:
                bg = a - 100 + 8
            elif a == 39:
                fg = DEFAULT
            elif a == 49:
                bg = DEFAULT
            elif a in (38, 48, 58):
                if len(g) > 1:
                    color = colon_color(g[1:])
                else:
                    color, i = semicolon_color(groups, i)
                if color is not None and a == 38:
                    fg = color
                elif color is not None and a == 48:
                    bg = color
        self.underline_style = ul
        self.cursor.attrs = cur._replace(fg=fg, bg=bg, underscore=ul > 0,
                                         **flags)  # type: ignore[arg-type]

    def sgr_report(self) -> str:
        """The current pen as SGR parameters (for DECRQSS)."""
        a = self.cursor.attrs
        parts = []
        if a.bold:
            parts.append("1")
        if a.italics:
            parts.append("3")
        if self.underline_style == 1:
            parts.append("4")
        elif self.underline_style > 1:
            parts.append(f"4:{self.underline_style}")
        if a.blink:
            parts.append("5")
        if a.reverse:
            parts.append("7")
        if a.strikethrough:
            parts.append("9")
        for code, base, bright, ext in ((a.fg, 30, 90, 38), (a.bg, 40, 100, 48)):
            if code == DEFAULT:
                continue
            if code >= TRUECOLOR:
                v = code & 0xFFFFFF
                parts.append(f"{ext}:2:{(v >> 16) & 255}:{(v >> 8) & 255}:{v & 255}")
            elif code < 8:
                parts.append(str(base + code))
            elif code < 16:
                parts.append(str(bright + code - 8))
            else:
                parts.append(f"{ext}:5:{code}")
        return ";".join(parts) or "0"

    # -- reports -------------------------------------------------------------------------
    def report_device_attributes(self, mode: int = 0, **kwargs: Any) -> None:
        """DA1: a VT220 with ANSI colour, like xterm."""
        if mode == 0:
            self.reply("\x1b[?62;22c")

    def report_device_status(self, mode: int = 0, private: bool = False, **kwargs: Any) -> None:
        """DSR 5 (status) and 6 (cursor position, DECXCPR with `?`)."""
        if mode == 5 and not private:
            self.reply("\x1b[0n")
        elif mode == 6:
            y = self.cursor.y + 1
            if mo.DECOM in self.mode:
                y -= self._region()[0]
            x = self._col() + 1
            self.reply(f"\x1b[?{y};{x}R" if private else f"\x1b[{y};{x}R")

    def write_process_input(self, data: str) -> None:
        self.reply(data)

    def bell(self, *args: Any) -> None:
        pass

    def debug(self, *args: Any, **kwargs: Any) -> None:
        pass  # unknown sequences are ignored, as real terminals do

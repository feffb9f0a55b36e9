"""The symbolic terminal: bytes in, an exact screen out (pyte's screen model underneath).

`Terminal` keeps pyte's screen model (a grid of `Cell`s, pyte's `Cell` plus DECSCA protection, a cursor, modes, tab
stops) and replaces what pyte 0.8.2 gets wrong for real programs:

* **the parser**: a VT500-style state machine (Paul Williams' DEC parser, as xterm, libvterm and
  alacritty implement it) with a regex fast path for plain text and well-formed sequences. It
  handles colon sub-parameters (``38:2::r:g:b``, ``4:3``), private markers (``CSI ? ... r``,
  ``CSI > ... c``), intermediates (``CSI SP q``, ``CSI ! p``, ``CSI $ p``), OSC strings ended by
  BEL or ST, DCS/SOS/PM/APC strings (swallowed; DECRQSS answered), C0 controls inside sequences,
  CAN/SUB aborts, 8-bit C1 controls, and sequences split across `feed` calls;
* **the screen operations** pyte gets wrong: pending wrap, wide characters at the last column and
  overwritten halves, combining marks after wide characters, erase with the background colour only
  (BCE), ED 3 (clear scrollback), margins (CUU/CUD outside the region, origin mode), a single
  DECSC slot per screen buffer, resize that keeps the cursor line (scrolling the top into the
  scrollback, pulling it back when the screen grows), DEC special graphics in UTF-8 (G0-G3,
  SO/SI, single shifts), REP, SU/SD, SL/SR, DECIC/DECDC, CHT/CBT, DECSTR, DECALN, title stack;
* **colour**: 16 theme colours, the 256 palette and 24-bit colour kept as the int codes of
  `renderer.screen` (pyte turns palette indices into hex and loses the theme);
* **the alternate screen** (modes 47, 1047, 1049) and a **scrollback** buffer;
* **damage tracking**: `take_damage()` gives the rows changed since the last call;
* **replies** the program expects (DSR/CPR, DA1/DA2/DA3, DECRQM, DECRQSS, XTVERSION, window size),
  queued in `replies` for whoever owns the pty.

It never raises on program output: any failure inside one sequence is counted in `errors` and the
parser carries on with the next byte.
"""

from __future__ import annotations

import codecs
import logging
import re
import unicodedata
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NamedTuple

import pyte
from pyte import modes as mo
from pyte.screens import Margins, StaticDefaultDict
from wcwidth import wcwidth as _wcwidth

from renderer.screen import (
    BLINK,
    BOLD,
    DEFAULT,
    INVERSE,
    ITALIC,
    STRIKE,
    TRUECOLOR,
    UNDERLINE,
    ScreenState,
    check_size,
)

log = logging.getLogger(__name__)

MAX_PARAM = 65535  # larger numeric parameters are clamped (xterm does the same)
MAX_PARAMS_LEN = 256  # longer parameter strings make the sequence invalid (ignored)
MAX_STRING = 65536  # OSC/DCS payload kept; the rest of a longer string is dropped
MAX_COMBINING = 6  # code points kept per cell, decomposed: a base and 5 marks (as libvterm)
ALT_MODES = (47, 1047, 1049)
_EXCLUSIVE_MODES = ((9, 1000, 1001, 1002, 1003), (1005, 1006, 1015))

# Character sets a G0-G3 slot can hold (ESC ( X and friends). "B" (ASCII) is the identity.
DEC_GRAPHICS = {
    0x5f: " ", 0x60: "\u25c6", 0x61: "\u2592", 0x62: "\u2409", 0x63: "\u240c", 0x64: "\u240d",
    0x65: "\u240a", 0x66: "\u00b0", 0x67: "\u00b1", 0x68: "\u2424", 0x69: "\u240b",
    0x6a: "\u2518", 0x6b: "\u2510", 0x6c: "\u250c", 0x6d: "\u2514", 0x6e: "\u253c",
    0x6f: "\u23ba", 0x70: "\u23bb", 0x71: "\u2500", 0x72: "\u23bc", 0x73: "\u23bd",
    0x74: "\u251c", 0x75: "\u2524", 0x76: "\u2534", 0x77: "\u252c", 0x78: "\u2502",
    0x79: "\u2264", 0x7a: "\u2265", 0x7b: "\u03c0", 0x7c: "\u2260", 0x7d: "\u00a3",
    0x7e: "\u00b7",
}
CHARSETS: dict[str, dict[int, str] | None] = {"B": None, "0": DEC_GRAPHICS, "A": {0x23: "\u00a3"}}

# fast paths: a run of printable text, and complete well-formed CSI / OSC / ESC sequences
_TEXT = re.compile(r"[^\x00-\x1f\x7f-\x9f]+")
_FAST_CSI = re.compile(r"\x1b\[([0-?]*)([ -/]*)([@-~])")
_FAST_OSC = re.compile(r"\x1b\](?![PR])([^\x00-\x1f\x7f-\x9f]*)(?:\x07|\x1b\\)")
_FAST_ESC = re.compile(r"\x1b(?:([ -/]+)([0-~])|([0-OQ-WYZ\\`-~]))")
_STRING_BODY = re.compile(r"[^\x00-\x1f\x7f-\x9f]+")
_DCS_HEADER = re.compile(r"([0-?]*)([ -/]*)([@-~])(.*)", re.S)
_ENCODING_SWITCH = re.compile(rb"(\x1b%[@G8])")
_MARKER = re.compile(r"[<=>?]")

GROUND, ESCAPE, CSI, OSC, STRING = range(5)


@lru_cache(maxsize=65536)
def _width(ch: str) -> int:
    return int(_wcwidth(ch))


_new_cell = tuple.__new__  # builds a Cell from a tuple without NamedTuple's slower paths


class Cell(NamedTuple):
    """One screen cell: pyte's `Char` fields (colours as int codes) plus `protected` (DECSCA)."""

    data: str
    fg: int = DEFAULT
    bg: int = DEFAULT
    bold: bool = False
    italics: bool = False
    underscore: bool = False
    strikethrough: bool = False
    reverse: bool = False
    blink: bool = False
    protected: bool = False


@dataclass(frozen=True)
class Pen:
    """The attributes the next printed character gets (SGR state)."""

    fg: int
    bg: int
    attrs: int
    underline: int  # 0 none, 1 single, 2 double, 3 curly, 4 dotted, 5 dashed


@dataclass
class _Saved:
    """What DECSC saves (one slot per screen buffer, as in xterm)."""

    x: int
    y: int
    attrs: Cell
    underline: int
    charsets: list[str]
    gl: int
    origin: bool


def _new_buffer(default: Callable[[], Cell]) -> defaultdict[int, StaticDefaultDict[int, Cell]]:
    return defaultdict(lambda: StaticDefaultDict(default()))


class _CellCache(dict[str, Cell]):
    """Cells of one pen by character: printing reuses them instead of building a tuple each."""

    __slots__ = ("rest",)

    def __init__(self, rest: tuple[Any, ...]) -> None:
        super().__init__()
        self.rest = rest

    def __missing__(self, ch: str) -> Cell:
        cell = self[ch] = _new_cell(Cell, (ch, *self.rest))
        return cell


class _Cursor:
    """pyte's cursor, holding a `Cell` as its pen."""

    __slots__ = ("x", "y", "attrs", "hidden")

    def __init__(self, x: int, y: int, attrs: Cell) -> None:
        self.x, self.y, self.attrs, self.hidden = x, y, attrs, False


Line = StaticDefaultDict[int, Cell]


class _Screen(pyte.Screen):
    """pyte.Screen with the screen operations real programs need done right (see module doc)."""

    # pyte declares these with its own Char; ours hold Cells (Char plus DECSCA protection)
    buffer: dict[int, Line]  # type: ignore[assignment]
    cursor: _Cursor  # type: ignore[assignment]

    def __init__(self, columns: int, lines: int, scrollback: int = 10000) -> None:
        self.errors = 0
        self.history: deque[Line] = deque(maxlen=max(scrollback, 0) or None)
        self._cell_caches: dict[Cell, _CellCache] = {}
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
        self.saved: dict[bool, _Saved | None] = {False: None, True: None}
        super().__init__(columns, lines)
        self._main = self.buffer
        self._alt = _new_buffer(lambda: self.default_char)

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
        self.cursor = _Cursor(0, 0, self.default_char)

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
            w = _width(ch) if ch >= "\u0300" else 1
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
            line[x] = _new_cell(Cell, (ch, *rest))
            if w == 2:
                line[x + 1] = _new_cell(Cell, ("", *rest))
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
            cells = self._cell_caches[cursor.attrs] = _CellCache(rest)
        i, n = 0, len(data)
        while i < n:
            if cursor.x >= cols:
                if mo.DECAWM not in self.mode:  # every further character lands on the last column
                    line = self.buffer[cursor.y]
                    self._split_wide(line, cols - 1, cols)
                    line[cols - 1] = _new_cell(Cell, (data[-1], *rest))
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
            # tests/fuzz/test_terminal_fuzz.py, issue 8)
            for x in range(self.columns):
                data = row[x].data
                lone_right = data == "" and (x == 0 or _width(row[x - 1].data[:1] or " ") != 2)
                lone_left = bool(data) and _width(data[0]) == 2 and (
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
        self.saved[self.in_alt] = _Saved(c.x if keep_wrap else self._col(), c.y, c.attrs, self.underline_style,
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
        if cols - 1 >= x + n and _width(line[cols - 1].data[:1] or " ") == 2:
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
        if x > 0 and row[x - 1].data and _width(row[x - 1].data[0]) == 2:
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
            if start > 0 and line[start - 1].data and _width(line[start - 1].data[0]) == 2:
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
                for group in _EXCLUSIVE_MODES:  # one mouse protocol, one mouse encoding
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
                    if columns and _width(line[columns - 1].data[:1] or " ") == 2:
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
                    color = _colon_color(g[1:])
                else:
                    color, i = _semicolon_color(groups, i)
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


def _colon_color(sub: list[int | None]) -> int | None:
    """`5:n`, `2::r:g:b` (colour space id) or `2:r:g:b` after a 38/48/58."""
    kind = sub[0]
    if kind == 5 and len(sub) > 1 and sub[1] is not None:
        return sub[1] if 0 <= sub[1] <= 255 else None
    if kind == 2:
        rgb = sub[2:5] if len(sub) >= 5 else sub[1:4]
        if len(rgb) == 3:
            r, g, b = (min(max(v or 0, 0), 255) for v in rgb)
            return TRUECOLOR | (r << 16) | (g << 8) | b
    return None


def _semicolon_color(groups: list[list[int | None]], i: int) -> tuple[int | None, int]:
    """`5;n` or `2;r;g;b` following a 38/48/58 as separate parameters."""
    if i >= len(groups):
        return None, i
    kind = groups[i][0]
    if kind == 5:
        if i + 1 < len(groups):
            n = groups[i + 1][0] or 0
            return (n if 0 <= n <= 255 else None), i + 2
        return None, len(groups)
    if kind == 2:
        if i + 3 < len(groups):
            r, g, b = (min(max(groups[j][0] or 0, 0), 255) for j in range(i + 1, i + 4))
            return TRUECOLOR | (r << 16) | (g << 8) | b, i + 4
        return None, len(groups)
    return None, i + 1


class _Parser:
    """Bytes -> screen operations: a VT500-series state machine with fast paths.

    States: GROUND (text and C0 controls), ESCAPE (after ESC, collecting intermediates), CSI,
    OSC and STRING (DCS, SOS, PM, APC). Incomplete sequences stay in the state between `feed`
    calls.
    """

    def __init__(self, screen: _Screen) -> None:
        self.screen = screen
        self.utf8 = True
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self.state = GROUND
        self._inter = ""  # ESC / CSI intermediates
        self._params = ""  # CSI parameter bytes
        self._ignore = False  # CSI too long or malformed: consume but do not dispatch
        self._string: list[str] = []  # OSC / DCS payload
        self._string_len = 0
        self._string_kind = ""  # "osc", "dcs" or "ignore"
        self._string_esc = False  # an ESC was seen inside a string (maybe ST)
        scr = screen
        # CSI finals that take one count or position (no private marker, no intermediate)
        self._simple: dict[str, Callable[[int], None]] = {
            "@": scr.insert_characters, "A": scr.cursor_up, "B": scr.cursor_down,
            "C": scr.cursor_forward, "D": scr.cursor_back, "E": scr.cursor_down1,
            "F": scr.cursor_up1, "G": scr.cursor_to_column, "I": scr.tab,
            "L": scr.insert_lines, "M": scr.delete_lines, "P": scr.delete_characters,
            "X": scr.erase_characters, "Z": scr.back_tab, "`": scr.cursor_to_column,
            "a": scr.cursor_forward, "d": scr.cursor_to_line, "e": scr.cursor_line_forward,
            "b": scr.repeat,
        }

    # -- input ---------------------------------------------------------------------------
    def feed(self, data: bytes) -> None:
        # ESC % G / ESC % @ switch the byte encoding: the bytes after one are decoded the new
        # way, so the input is cut right after each (one begun in the last chunk included)
        pending = b""
        if self.state == ESCAPE and self._inter in ("", "%"):
            pending = b"\x1b" + self._inter.encode()
        elif self.state in (OSC, STRING) and self._string_esc:
            pending = b"\x1b"
        buf = pending + data
        pos = len(pending)
        if b"%" in buf:
            for m in _ENCODING_SWITCH.finditer(buf):
                if m.end() > pos:
                    self._feed_part(buf[pos:m.end()])
                    pos = m.end()
        self._feed_part(buf[pos:])

    def _feed_part(self, part: bytes) -> None:
        if part:
            self.feed_text(self._decoder.decode(part) if self.utf8 else part.decode("latin-1"))

    def set_utf8(self, on: bool) -> None:
        if on != self.utf8:
            self.utf8 = on
            self._decoder.reset()

    def feed_text(self, text: str) -> None:
        scr = self.screen
        i, n = 0, len(text)
        while i < n:
            start = i
            try:
                if self.state == GROUND:
                    ch = text[i]
                    if ch >= " " and not ("\x7f" <= ch <= "\x9f"):
                        m = _TEXT.match(text, i)
                        assert m is not None
                        i = m.end()
                        scr.draw(m.group())
                        continue
                    if ch == "\x1b" and i + 1 < n:
                        nxt = text[i + 1]
                        if nxt == "[":
                            m = _FAST_CSI.match(text, i)
                            if m:
                                i = m.end()
                                self.csi_dispatch(m.group(1), m.group(2), m.group(3))
                                continue
                        elif nxt == "]":
                            m = _FAST_OSC.match(text, i)
                            if m:
                                i = m.end()
                                self.osc_dispatch(m.group(1))
                                continue
                        else:
                            m = _FAST_ESC.match(text, i)
                            if m:
                                i = m.end()
                                if m.group(3) is not None:
                                    self.esc_dispatch("", m.group(3))
                                else:
                                    self.esc_dispatch(m.group(1), m.group(2))
                                continue
                elif (self.state in (OSC, STRING) and not self._string_esc
                      and not self._maybe_linux_palette()):
                    m = _STRING_BODY.match(text, i)
                    if m:
                        i = m.end()
                        self._collect(m.group())
                        continue
                i += 1
                self.step(text[start])
            except Exception as e:  # one bad sequence must never take the session down
                scr.errors += 1
                log.debug("ignored a sequence at %r: %s", text[start:start + 16], e)
                self.state = GROUND
                scr.clamp()
                if i == start:
                    i += 1

    # -- the state machine, one character at a time --------------------------------------
    def step(self, ch: str) -> None:
        o = ord(ch)
        state = self.state
        if state in (OSC, STRING):
            self._string_step(ch, o)
            return
        if o == 0x1B:
            self.state, self._inter, self._ignore = ESCAPE, "", False
            return
        if o in (0x18, 0x1A):  # CAN, SUB abort a sequence
            self.state = GROUND
            return
        if 0x80 <= o <= 0x9F:
            self._c1(o)
            return
        if o < 0x20:
            self.execute(o)
            return
        if o == 0x7F:
            return
        if state == ESCAPE:
            if o < 0x30:
                self._add_intermediate(ch)
            elif not self._inter and ch in "[]PX^_":
                self._begin({"[": CSI, "]": OSC}.get(ch, STRING), ch)
            else:
                self.state = GROUND
                if not self._ignore:
                    self.esc_dispatch(self._inter, ch)
        elif state == CSI:
            if 0x30 <= o <= 0x3F:
                if self._inter:
                    self._ignore = True  # a parameter after an intermediate
                self._params += ch
                if len(self._params) > MAX_PARAMS_LEN:
                    self._ignore = True
                    self._params = ""
            elif o < 0x30:
                self._add_intermediate(ch)
            else:
                self.state = GROUND
                if not self._ignore:
                    self.csi_dispatch(self._params, self._inter, ch)
        else:  # GROUND: a printable character that missed the fast path
            self.screen.draw(ch)

    def _add_intermediate(self, ch: str) -> None:
        if len(self._inter) < 4:
            self._inter += ch
        else:
            self._ignore = True  # no real sequence has this many intermediates

    def _begin(self, state: int, kind: str) -> None:
        self.state = state
        self._inter = self._params = ""
        self._ignore = False
        self._string = []
        self._string_len = 0
        self._string_esc = False
        self._string_kind = {"]": "osc", "P": "dcs"}.get(kind, "ignore")

    def _c1(self, o: int) -> None:
        intro = {0x9B: (CSI, "["), 0x9D: (OSC, "]"), 0x90: (STRING, "P"), 0x98: (STRING, "X"),
                 0x9E: (STRING, "^"), 0x9F: (STRING, "_")}
        if o in intro:
            self._begin(*intro[o])
            return
        self.state = GROUND
        self.screen.last_char = None
        esc = {0x84: "D", 0x85: "E", 0x88: "H", 0x8D: "M", 0x8E: "N", 0x8F: "O"}.get(o)
        if esc:
            self.esc_dispatch("", esc)

    def _collect(self, text: str) -> None:
        if self._string_kind == "ignore":
            return
        if self._string_len < MAX_STRING:
            self._string.append(text[: MAX_STRING - self._string_len])
            self._string_len += len(text)
        if self._string_kind == "osc" and self._string_len <= 8 and self._linux_palette_done():
            self._finish_string()

    def _maybe_linux_palette(self) -> bool:
        # an OSC that may still turn out to be ESC ] P / ESC ] R goes one character at a time
        return (self.state == OSC and self._string_len < 8
                and (self._string_len == 0 or self._string[0][:1] in ("P", "R")))

    def _linux_palette_done(self) -> bool:
        # the Linux console's ESC ] P nrrggbb and ESC ] R have no terminator
        body = "".join(self._string)
        return body == "R" or (body[:1] == "P" and len(body) >= 8)

    def _string_step(self, ch: str, o: int) -> None:
        if self._string_esc:
            self._string_esc = False
            self._finish_string()
            if ch != "\\":  # ESC + something else: the string ends, a new sequence begins
                self.state, self._inter = ESCAPE, ""
                self.step(ch)
            return
        if o == 0x1B:
            self._string_esc = True
        elif o in (0x9C,) or (o == 0x07 and self.state == OSC):
            self._finish_string()
        elif o in (0x18, 0x1A):
            self.state = GROUND
        elif 0x80 <= o <= 0x9F:
            self.state = GROUND
            self._c1(o)
        else:
            self._collect(ch)

    def _finish_string(self) -> None:
        kind, body = self._string_kind, "".join(self._string)
        self.state = GROUND
        self._string = []
        self._string_len = 0
        if kind == "osc":
            self.osc_dispatch(body)
        elif kind == "dcs":
            self.dcs_dispatch(body)

    # -- dispatch ------------------------------------------------------------------------
    def execute(self, o: int) -> None:
        """A C0 control."""
        scr = self.screen
        scr.last_char = None
        if o == 0x08:
            scr.backspace()
        elif o == 0x09:
            scr.tab()
        elif o in (0x0A, 0x0B, 0x0C):
            scr.linefeed()
        elif o == 0x0D:
            scr.carriage_return()
        elif o == 0x0E:
            scr.gl = 1
        elif o == 0x0F:
            scr.gl = 0
        elif o == 0x07:
            scr.bell()

    def esc_dispatch(self, inter: str, final: str) -> None:
        scr = self.screen
        scr.last_char = None
        if not inter:
            action = {
                "7": scr.save_cursor, "8": scr.restore_cursor, "D": scr.index,
                "E": scr.next_line, "H": scr.set_tab_stop, "M": scr.reverse_index,
                "c": self._full_reset,
            }.get(final)
            if action:
                action()
            elif final == "Z":
                scr.report_device_attributes(0)
            elif final in "NO":
                scr.single_shift = 2 if final == "N" else 3
            elif final in "no":
                scr.gl = 2 if final == "n" else 3
            elif final in "~}|":
                scr.gr = "~}|".index(final) + 1
            return
        if inter == "#" and final == "8":
            scr.alignment_display()
        elif inter in "()*+" and len(inter) == 1:
            if final in CHARSETS:
                scr.charsets["()*+".index(inter)] = final
        elif inter == "%" and final in "@G8":  # other finals name no encoding: ignored, so
            self.set_utf8(final != "@")        # decoding agrees with feed()'s _ENCODING_SWITCH
        elif inter == " " and final in "FG":
            scr.s8c1t = final == "G"

    def _full_reset(self) -> None:
        self.screen.reset()

    def csi_dispatch(self, params: str, inter: str, final: str) -> None:
        scr = self.screen
        if final != "b":
            scr.last_char = None
        if len(params) > MAX_PARAMS_LEN or len(inter) > 4:
            return  # the state machine would have ignored it too
        marker = ""
        if params[:1] in "<=>?" and params:
            marker, params = params[0], params[1:]
        if _MARKER.search(params):
            return  # a private marker in the middle: not a valid sequence
        args = _parse_params(params)
        nums = [_num(a) for a in args] if ":" in params else args
        first = nums[0] if nums else 0
        if marker == "" and inter == "":
            self._csi_plain(final, args, nums)
        elif marker == "?" and inter == "":
            if final == "h":
                scr.set_mode(*nums, private=True)
            elif final == "l":
                scr.reset_mode(*nums, private=True)
            elif final == "J":
                scr.erase_in_display(first, private=True)
            elif final == "K":
                scr.erase_in_line(first, private=True)
            elif final == "n":
                scr.report_device_status(first, private=True)
        elif marker == ">" and inter == "":
            if final == "c" and first == 0:
                scr.reply("\x1b[>1;10;0c")  # DA2: a VT220, firmware 10
            elif final == "q" and first == 0:
                scr.reply("\x1bP>|hybrid-nc\x1b\\")  # XTVERSION
        elif marker == "=" and inter == "" and final == "c" and first == 0:
            scr.reply("\x1bP!|00000000\x1b\\")  # DA3
        elif inter == "$" and final == "p" and marker in ("", "?"):
            scr.reply(f"\x1b[{marker}{first};{scr.mode_state(first, marker == '?')}$y")
        elif marker == "" and inter == " ":
            if final == "q":
                scr.cursor_shape = first
            elif final == "@":
                scr.scroll_left(first)
            elif final == "A":
                scr.scroll_right(first)
        elif marker == "" and inter == "!" and final == "p":
            scr.soft_reset()
        elif marker == "" and inter == '"' and final == "q":  # DECSCA
            scr.decsca = first
            scr.cursor.attrs = scr.cursor.attrs._replace(protected=first == 1)
        elif marker == "" and inter == "'":
            if final == "}":
                scr.insert_columns(first)
            elif final == "~":
                scr.delete_columns(first)

    def _csi_plain(self, final: str, args: list[Any], nums: list[int]) -> None:
        scr = self.screen
        first = nums[0] if nums else 0
        simple = self._simple
        if final in simple:
            simple[final](first)
        elif final in "Hf":
            scr.cursor_position(*nums[:2])
        elif final == "J":
            scr.erase_in_display(first)
        elif final == "K":
            scr.erase_in_line(first)
        elif final == "S":
            scr.scroll_up(first or 1)
        elif final == "T" and len(nums) <= 1:  # with more parameters it is mouse tracking
            scr.scroll_down(first or 1)
        elif final == "g":
            scr.clear_tab_stop(first)
        elif final == "h":
            scr.set_mode(*nums)
        elif final == "l":
            scr.reset_mode(*nums)
        elif final == "m":
            scr.select_graphic_rendition(*args)
        elif final == "n":
            scr.report_device_status(first)
        elif final == "c" and first == 0:
            scr.report_device_attributes(0)
        elif final == "r":
            scr.set_margins(*nums[:2])
        elif final == "s":
            scr.save_cursor()
        elif final == "u":
            scr.restore_cursor()
        elif final == "t":
            self._window_op(first)

    def _window_op(self, op: int) -> None:
        scr = self.screen
        if op == 18:
            scr.reply(f"\x1b[8;{scr.lines};{scr.columns}t")
        elif op == 22:
            scr.title_stack = (scr.title_stack + [scr.title])[-10:]
        elif op == 23 and scr.title_stack:
            scr.title = scr.title_stack.pop()

    def osc_dispatch(self, body: str) -> None:
        scr = self.screen
        scr.last_char = None
        code, _, text = body.partition(";")
        if code in ("0", "2"):
            scr.title = text[:1024]
        if code in ("0", "1"):
            scr.icon_name = text[:1024]

    def dcs_dispatch(self, body: str) -> None:
        scr = self.screen
        scr.last_char = None
        m = _DCS_HEADER.match(body)
        if not m:
            return
        _params, inter, final, data = m.groups()
        if inter == "$" and final == "q":  # DECRQSS
            if data == "m":
                scr.reply(f"\x1bP1$r{scr.sgr_report()}m\x1b\\")
            elif data == "r":
                top, bottom = scr._region()
                scr.reply(f"\x1bP1$r{top + 1};{bottom + 1}r\x1b\\")
            elif data == " q":
                scr.reply(f"\x1bP1$r{scr.cursor_shape} q\x1b\\")
            elif data == '"q':
                scr.reply(f'\x1bP1$r{scr.decsca}"q\x1b\\')
            else:
                scr.reply("\x1bP0$r\x1b\\")
        elif inter == "+" and final == "q":  # XTGETTCAP: we answer "not known"
            scr.reply(f"\x1bP0+r{data}\x1b\\")


def _num(arg: Any) -> int:
    """A parameter as one number (the first sub-parameter of a `:` group)."""
    if isinstance(arg, list):
        return int(arg[0] or 0)
    return int(arg)


def _parse_params(params: str) -> list[Any]:
    """'1;38:2::1:2:3' -> [1, [38, 2, None, 1, 2, 3]]; empty parameters are 0."""
    if not params:
        return []
    if ":" not in params:
        return [min(int(p), MAX_PARAM) if p else 0 for p in params.split(";")]
    out: list[Any] = []
    for p in params.split(";"):
        if ":" in p:
            out.append([min(int(v), MAX_PARAM) if v else None for v in p.split(":")])
        else:
            out.append(min(int(p), MAX_PARAM) if p else 0)
    return out


class Terminal:
    """A terminal emulator holding the exact symbolic screen.

    Args:
        cols, rows: screen size in cells.
        scrollback: lines kept after they scroll off the top (0: none).

    Feed it program output with `feed`; read `snapshot()` (a `ScreenState`), `text`,
    `take_damage()`, `scrollback`, and `replies` (strings the program expects back on its input).
    """

    def __init__(self, cols: int = 80, rows: int = 24, scrollback: int = 10000) -> None:
        check_size(cols, rows)
        self._screen = _Screen(cols, rows, scrollback)
        self._parser = _Parser(self._screen)
        self._snap: ScreenState | None = None
        self._snap_reverse = False
        self._damage: set[int] = set(range(rows))  # rows changed since take_damage()
        self._stale: set[int] = set(range(rows))  # rows changed since snapshot()
        self._last_cursor: tuple[int, int] | None = None
        self.bytes_fed = 0

    # -- terminal operations -------------------------------------------------------------
    def feed(self, data: bytes | str) -> None:
        """Process program output (bytes are UTF-8; invalid bytes become U+FFFD)."""
        if isinstance(data, str):
            try:  # surrogateescape: bytes that were decoded with it come back unchanged
                raw = data.encode("utf-8", "surrogateescape")
            except UnicodeEncodeError:  # a lone surrogate (e.g. from JSON): shown as U+FFFD
                raw = data.encode("utf-8", "replace")
            data = raw
        self.bytes_fed += len(data)
        try:
            self._parser.feed(data)
        except Exception as e:  # defensive: the parser guards each sequence itself
            self._screen.errors += 1
            log.debug("parser error: %s", e)
            self._parser.state = GROUND

    def resize(self, cols: int, rows: int) -> None:
        """Change the screen size (the program should also get SIGWINCH)."""
        check_size(cols, rows)
        self._screen.resize(rows, cols)
        self._snap = None
        self._damage.update(range(rows))

    def reset(self) -> None:
        """A full reset (RIS), as if the program had sent ESC c."""
        self._screen.reset()
        self._snap = None
        self._damage.update(range(self.rows))

    # -- reading -------------------------------------------------------------------------
    @property
    def cols(self) -> int:
        """Screen width in cells."""
        return int(self._screen.columns)

    @property
    def rows(self) -> int:
        """Screen height in cells."""
        return int(self._screen.lines)

    @property
    def cursor(self) -> tuple[int, int]:
        """(row, col) of the cursor, clamped to the screen (a pending wrap reads as the last
        column)."""
        s = self._screen
        return min(s.cursor.y, s.lines - 1), min(s.cursor.x, s.columns - 1)

    @property
    def in_alternate_screen(self) -> bool:
        """True while a full-screen program has switched to the alternate screen."""
        return self._screen.in_alt

    @property
    def title(self) -> str:
        """The window title the program set (OSC 0/2)."""
        return str(self._screen.title)

    @property
    def errors(self) -> int:
        """Escape sequences that were ignored because handling them failed."""
        return int(self._screen.errors)

    @property
    def replies(self) -> list[str]:
        """Answers owed to the program (DSR/DA/...); the pty owner drains this list."""
        return self._screen.replies

    @property
    def pen(self) -> Pen:
        """The attributes the next printed character will get."""
        a = self._screen.cursor.attrs
        return Pen(a.fg if isinstance(a.fg, int) else DEFAULT,
                   a.bg if isinstance(a.bg, int) else DEFAULT,
                   _attr_bits(a), self._screen.underline_style)

    def mode(self, number: int, private: bool = True) -> bool:
        """Whether a terminal mode is set, e.g. `mode(1)` (DECCKM, application cursor keys),
        `mode(2004)` (bracketed paste), `mode(4, private=False)` (insert mode)."""
        return self._screen.mode_state(number, private) == 1

    @property
    def scrollback(self) -> list[str]:
        """Lines that scrolled off the top, oldest first."""
        return ["".join(line[x].data for x in range(max(line, default=-1) + 1)).rstrip()
                for line in self._screen.history]

    @property
    def text(self) -> str:
        """The screen's text (rows joined by newlines, trailing spaces stripped)."""
        return self.snapshot().text

    @property
    def lines(self) -> list[str]:
        """The screen's rows as display strings, full width."""
        return self.snapshot().lines

    def _collect(self) -> None:
        dirty = self._screen.dirty
        if dirty:
            self._damage |= dirty
            self._stale |= dirty
            dirty.clear()

    def take_damage(self) -> set[int]:
        """Rows changed since the last call (text, colours, or the cursor moving in or out)."""
        self._collect()
        rows, self._damage = self._damage, set()
        cur = self.cursor
        if cur != self._last_cursor:
            if self._last_cursor is not None:
                rows.add(self._last_cursor[0])
            rows.add(cur[0])
            self._last_cursor = cur
        return {r for r in rows if 0 <= r < self.rows}

    def snapshot(self) -> ScreenState:
        """The screen now, as a new `ScreenState` (cheap: only rows changed since the last
        snapshot are read from the screen model)."""
        self._collect()
        s = self._screen
        cols, rows = self.cols, self.rows
        reverse = mo.DECSCNM in s.mode  # reverse video shows as inverse on every cell
        snap = self._snap
        if snap is None or snap.cols != cols or snap.rows != rows or reverse != self._snap_reverse:
            snap = ScreenState.blank(cols, rows)
            todo: set[int] | range = range(rows)
        else:
            todo = self._stale
        flip = INVERSE if reverse else 0
        for y in todo:
            if y >= rows:
                continue
            line = s.buffer[y]
            chars = snap.chars[y]
            fgr, bgr, atr = snap.fg[y], snap.bg[y], snap.attrs[y]
            for x in range(cols):
                ch = line[x]
                chars[x] = ch.data
                fgr[x] = ch.fg if isinstance(ch.fg, int) else DEFAULT
                bgr[x] = ch.bg if isinstance(ch.bg, int) else DEFAULT
                atr[x] = _attr_bits(ch) ^ flip
        self._stale = set()
        self._snap_reverse = reverse
        snap.cursor = self.cursor
        snap.cursor_visible = not s.cursor.hidden
        snap.title = str(s.title)
        self._snap = snap
        return snap.copy()


def _attr_bits(ch: Cell) -> int:
    return ((BOLD if ch.bold else 0) | (ITALIC if ch.italics else 0)
            | (UNDERLINE if ch.underscore else 0) | (INVERSE if ch.reverse else 0)
            | (STRIKE if ch.strikethrough else 0) | (BLINK if ch.blink else 0))


def screen_from_bytes(data: bytes, cols: int = 80, rows: int = 24) -> ScreenState:
    """Convenience: the screen after feeding `data` to a fresh terminal."""
    term = Terminal(cols, rows)
    term.feed(data)
    return term.snapshot()


__all__ = ["Pen", "Terminal", "screen_from_bytes"]

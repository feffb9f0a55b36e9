"""The symbolic terminal: bytes in, an exact screen out.

`Terminal` is the facade over the parser (`terminal.parser`) and the screen operations
(`terminal.operations`): feed it program output, read the exact `ScreenState`, the rows changed
since the last look (damage), the scrollback, and the replies the program expects (DSR/CPR,
DA1/DA2/DA3, DECRQM, DECRQSS, XTVERSION, window size), queued in `replies` for whoever owns the pty.

It never raises on program output: any failure inside one sequence is counted in `errors` and the
parser carries on with the next byte.
"""

from __future__ import annotations

import logging

from pyte import modes as mo

from terminal.screen import (
    BLINK,
    BOLD,
    DEFAULT,
    INVERSE,
    ITALIC,
    STRIKE,
    UNDERLINE,
    Pointer,
    ScreenState,
    check_size,
)

from .cells import Cell, Pen
from .mouse import Mouse, MouseMode, focus_report
from .operations import VTScreen
from .parser import GROUND, VTParser
from .selection import Selection, selection_text, show_selection

log = logging.getLogger(__name__)


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
        self._screen = VTScreen(cols, rows, scrollback)
        self._parser = VTParser(self._screen)
        self._snap: ScreenState | None = None
        self._snap_reverse = False
        self._damage: set[int] = set(range(rows))  # rows changed since take_damage()
        self._stale: set[int] = set(range(rows))  # rows changed since snapshot()
        self._last_cursor: tuple[int, int] | None = None
        self._mouse = Mouse()
        self._selection: Selection | None = None
        self._cell_size = (16, 8)  # (h, w) pixels of the cells the pointer is drawn over
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

    def mouse_input(self, col: int, row: int, button: str = "left", action: str = "click", *,
                    cell_size: tuple[int, int] = (16, 8)) -> bytes:
        """A mouse action at the 0-based cell (col, row): press|release|click|move|wheel_up|
        wheel_down with button left|middle|right. Moves the pointer there (drawn with cells of
        `cell_size` (h, w) pixels) and returns the bytes xterm would send the program in the
        mouse mode it asked for: nothing when it asked for none (terminal.mouse)."""
        self._cell_size = cell_size
        return self._mouse.act(self.mouse_mode, col, row, button, action, cols=self.cols,
                               rows=self.rows)

    def select(self, selection: Selection | None) -> str:
        """Show `selection` (None: clear it) as inverse cells from the next snapshot on and return
        the exact text a copy of it gives (terminal.selection)."""
        before = self._selection
        self._selection = selection
        for sel in (before, selection):
            if sel is not None:
                (r0, _c0), (r1, _c1) = sel.span(self.snapshot())
                self._damage.update(range(r0, r1 + 1))
        return selection_text(self.snapshot(), selection)

    def focus_input(self, focused: bool) -> bytes:
        """What the program gets when the terminal gains or loses focus (mode 1004), if anything."""
        return focus_report(self.mouse_mode, focused)

    # -- reading -------------------------------------------------------------------------
    @property
    def mouse_mode(self) -> MouseMode:
        """The mouse reporting the program asked for: tracking (off, x10, normal, highlight,
        button, any), encoding (default, utf8, sgr, urxvt), focus events, alternate scroll."""
        return MouseMode.from_modes(self.mode, self.in_alternate_screen)

    @property
    def pointer(self) -> Pointer | None:
        """The mouse pointer (hotspot in pixels, shape), None until the mouse is used; its shape
        follows the mouse mode the program has now."""
        if self._mouse.cell is None:
            return None
        return self._mouse.pointer(self.mouse_mode, self._cell_size)

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
        snap.pointer = self.pointer
        self._snap = snap
        if self._selection is not None:
            return show_selection(snap, self._selection)
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

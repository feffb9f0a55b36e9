"""The symbolic terminal: bytes in, an exact screen out (pyte underneath).

`Terminal` wraps a pyte screen and stream (STYLE.md: wrap pyte, don't reimplement it) and adds what
real programs need and pyte 0.8.2 lacks or gets wrong:

* it never raises on output: every escape-sequence handler is guarded, and sequences pyte cannot
  parse (private-mode `CSI ? ... r`, cursor styles, ...) are ignored rather than fatal;
* full SGR colour: 16 theme colours, the 256 palette and 24-bit colour stored as the int codes of
  `renderer.screen` (pyte turns palette indices into hex and loses the theme);
* the alternate screen (modes 47, 1047, 1049) and a scrollback buffer;
* damage tracking: `take_damage()` gives the rows changed since the last call;
* replies the terminal owes the program (cursor position reports, device attributes), queued in
  `replies` for whoever owns the pty.
"""

from __future__ import annotations

import functools
import logging
from collections import deque
from collections.abc import Callable
from typing import Any

import pyte
from pyte import modes as mo
from pyte.screens import Char

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

ALT_MODES = {47, 1047, 1049}
_FG_BASE = {30: 0, 90: 8}
_BG_BASE = {40: 0, 100: 8}


def _guarded(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def inner(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(self, *args, **kwargs)
        except Exception as e:  # a bad sequence must never take the session down
            self.errors += 1
            log.debug("ignored %s%r: %s", name, args, e)
            return None

    return inner


class _Screen(pyte.Screen):
    """pyte.Screen with int colour codes, alternate screen, scrollback and no exceptions."""

    def __init__(self, columns: int, lines: int, scrollback: int = 10000) -> None:
        self.errors = 0
        self.history: deque[list[Char]] = deque(maxlen=scrollback)
        self.alternate: dict[str, Any] | None = None  # saved main screen while alt is active
        self.replies: list[str] = []
        super().__init__(columns, lines)

    @property
    def default_char(self) -> Char:
        reverse = mo.DECSCNM in self.mode
        return Char(data=" ", fg=DEFAULT, bg=DEFAULT, reverse=reverse)

    def reset(self) -> None:
        super().reset()
        if hasattr(self, "alternate"):
            self.alternate = None

    # -- things pyte raises on or gets wrong --------------------------------------------
    def set_margins(self, top: int | None = None, bottom: int | None = None,
                    *args: Any, **kwargs: Any) -> None:
        if kwargs.get("private"):
            return  # CSI ? Pm r is XTRESTORE (restore private modes), not DECSTBM
        super().set_margins(top, bottom)

    def select_graphic_rendition(self, *attrs: int, **kwargs: Any) -> None:
        if kwargs.get("private"):
            return
        cur = self.cursor.attrs
        if not attrs:
            attrs = (0,)
        fg, bg = cur.fg, cur.bg
        flags = {"bold": cur.bold, "italics": cur.italics, "underscore": cur.underscore,
                 "blink": cur.blink, "reverse": cur.reverse, "strikethrough": cur.strikethrough}
        todo = list(attrs)
        i = 0
        while i < len(todo):
            a = todo[i]
            i += 1
            if a == 0:
                fg = bg = DEFAULT
                flags = dict.fromkeys(flags, False)
            elif a == 1:
                flags["bold"] = True
            elif a == 3:
                flags["italics"] = True
            elif a in (4, 21):
                flags["underscore"] = True
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
                flags["underscore"] = False
            elif a == 25:
                flags["blink"] = False
            elif a == 27:
                flags["reverse"] = False
            elif a == 29:
                flags["strikethrough"] = False
            elif 30 <= a <= 37 or 90 <= a <= 97:
                fg = a - 30 if a < 90 else a - 90 + 8
            elif 40 <= a <= 47 or 100 <= a <= 107:
                bg = a - 40 if a < 100 else a - 100 + 8
            elif a == 39:
                fg = DEFAULT
            elif a == 49:
                bg = DEFAULT
            elif a in (38, 48, 58):
                color, i = _extended_color(todo, i)
                if color is not None and a == 38:
                    fg = color
                elif color is not None and a == 48:
                    bg = color
        self.cursor.attrs = cur._replace(fg=fg, bg=bg, **flags)

    def set_mode(self, *modes: int, **kwargs: Any) -> None:
        if kwargs.get("private"):
            if ALT_MODES & set(modes):
                self._enter_alternate(save_cursor=1049 in modes)
            modes = tuple(m for m in modes if m not in ALT_MODES and m != 3)  # no 132-col jumps
        if modes:
            super().set_mode(*modes, **kwargs)

    def reset_mode(self, *modes: int, **kwargs: Any) -> None:
        if kwargs.get("private"):
            if ALT_MODES & set(modes):
                self._leave_alternate(restore_cursor=1049 in modes)
            modes = tuple(m for m in modes if m not in ALT_MODES and m != 3)
        if modes:
            super().reset_mode(*modes, **kwargs)

    def write_process_input(self, data: str) -> None:
        self.replies.append(data)

    def report_device_attributes(self, mode: int = 0, **kwargs: bool) -> None:
        if mode == 0 and not kwargs.get("private") and not kwargs:
            self.write_process_input("\x1b[?62;22c")  # VT220 with ANSI colour, like xterm

    def debug(self, *args: Any, **kwargs: Any) -> None:
        pass  # unknown sequences are ignored, as real terminals do

    # -- alternate screen and scrollback -------------------------------------------------
    def _enter_alternate(self, save_cursor: bool) -> None:
        if self.alternate is not None:
            return
        self.alternate = {
            "buffer": {y: dict(line) for y, line in self.buffer.items()},
            "cursor": (self.cursor.x, self.cursor.y, self.cursor.attrs, self.cursor.hidden),
            "save_cursor": save_cursor,
        }
        self.buffer.clear()
        self.dirty.update(range(self.lines))

    def _leave_alternate(self, restore_cursor: bool) -> None:
        saved = self.alternate
        if saved is None:
            return
        self.alternate = None
        self.buffer.clear()
        for y, line in saved["buffer"].items():
            if y < self.lines:
                row = self.buffer[y]
                for x, ch in line.items():
                    if x < self.columns:
                        row[x] = ch
        if restore_cursor or saved["save_cursor"]:
            x, y, attrs, hidden = saved["cursor"]
            self.cursor.x, self.cursor.y = min(x, self.columns - 1), min(y, self.lines - 1)
            self.cursor.attrs = attrs
        self.dirty.update(range(self.lines))

    def index(self) -> None:
        top, bottom = self.margins or pyte.screens.Margins(0, self.lines - 1)
        if self.cursor.y == bottom and top == 0 and self.alternate is None:
            line = self.buffer[0]
            self.history.append([line[x] for x in range(self.columns)])
        super().index()
        if self.cursor.y == bottom:
            self.dirty.update(range(top, bottom + 1))

    def reverse_index(self) -> None:
        super().reverse_index()
        top, bottom = self.margins or pyte.screens.Margins(0, self.lines - 1)
        if self.cursor.y == top:
            self.dirty.update(range(top, bottom + 1))


def _extended_color(params: list[int], i: int) -> tuple[int | None, int]:
    """Parse `5;n` or `2;r;g;b` after a 38/48/58; returns (colour or None, next index)."""
    if i >= len(params):
        return None, i
    kind = params[i]
    if kind == 5 and i + 1 < len(params):
        n = params[i + 1]
        return (n if 0 <= n <= 255 else None), i + 2
    if kind == 2 and i + 3 < len(params):
        r, g, b = (min(max(v, 0), 255) for v in params[i + 1:i + 4])
        return TRUECOLOR | (r << 16) | (g << 8) | b, i + 4
    return None, i + 1


for _name in pyte.Stream.events:
    _fn = getattr(_Screen, _name, None)
    if _fn is not None:
        setattr(_Screen, _name, _guarded(_name, _fn))


class Terminal:
    """A terminal emulator holding the exact symbolic screen.

    Args:
        cols, rows: screen size in cells.
        scrollback: lines kept after they scroll off the top.

    Feed it program output with `feed`; read `snapshot()` (a `ScreenState`), `text`,
    `take_damage()`, `scrollback`, and `replies` (bytes the program expects back).
    """

    def __init__(self, cols: int = 80, rows: int = 24, scrollback: int = 10000) -> None:
        check_size(cols, rows)
        self._screen = _Screen(cols, rows, scrollback)
        self._stream = pyte.ByteStream(self._screen)
        self._snap: ScreenState | None = None
        self._last_cursor: tuple[int, int] | None = None
        self._damage: set[int] = set(range(rows))  # rows changed since take_damage()
        self._stale: set[int] = set(range(rows))  # rows changed since snapshot()
        self._last_cursor: tuple[int, int] | None = None
        self.bytes_fed = 0

    # -- terminal operations -------------------------------------------------------------
    def feed(self, data: bytes | str) -> None:
        """Process program output (bytes are decoded as UTF-8, invalid bytes become U+FFFD)."""
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        self.bytes_fed += len(data)
        try:
            self._stream.feed(data)
        except Exception as e:  # the parser itself failed: reset it, keep the screen
            self._screen.errors += 1
            log.debug("parser error: %s", e)
            self._stream._initialize_parser()  # type: ignore[attr-defined]

    def resize(self, cols: int, rows: int) -> None:
        """Change the screen size (the program should also get SIGWINCH)."""
        check_size(cols, rows)
        self._screen.resize(rows, cols)
        self._screen.cursor.x = min(self._screen.cursor.x, cols - 1)
        self._screen.cursor.y = min(self._screen.cursor.y, rows - 1)
        self._snap = None
        self._damage.update(range(rows))

    def reset(self) -> None:
        self._screen.reset()
        self._snap = None

    # -- reading -------------------------------------------------------------------------
    @property
    def cols(self) -> int:
        return int(self._screen.columns)

    @property
    def rows(self) -> int:
        return int(self._screen.lines)

    @property
    def cursor(self) -> tuple[int, int]:
        """(row, col) of the cursor, clamped to the screen."""
        s = self._screen
        return min(s.cursor.y, s.lines - 1), min(s.cursor.x, s.columns - 1)

    @property
    def in_alternate_screen(self) -> bool:
        return self._screen.alternate is not None

    @property
    def title(self) -> str:
        return str(self._screen.title)

    @property
    def errors(self) -> int:
        """Escape sequences that were ignored because they could not be handled."""
        return int(self._screen.errors)

    @property
    def replies(self) -> list[str]:
        """Answers owed to the program (DSR/DA); the pty owner drains this list."""
        return self._screen.replies

    @property
    def scrollback(self) -> list[str]:
        """Lines that scrolled off the top, oldest first."""
        return ["".join(ch.data for ch in line).rstrip() for line in self._screen.history]

    @property
    def text(self) -> str:
        return self.snapshot().text

    @property
    def lines(self) -> list[str]:
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
        snapshot are read from pyte)."""
        self._collect()
        s = self._screen
        cols, rows = self.cols, self.rows
        snap = self._snap
        if snap is None or snap.cols != cols or snap.rows != rows:
            snap = ScreenState.blank(cols, rows)
            todo: set[int] | range = range(rows)
        else:
            todo = self._stale
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
                atr[x] = ((BOLD if ch.bold else 0) | (ITALIC if ch.italics else 0)
                          | (UNDERLINE if ch.underscore else 0) | (INVERSE if ch.reverse else 0)
                          | (STRIKE if ch.strikethrough else 0) | (BLINK if ch.blink else 0))
        self._stale = set()
        snap.cursor = self.cursor
        snap.cursor_visible = not s.cursor.hidden
        snap.title = str(s.title)
        self._snap = snap
        return snap.copy()


def screen_from_bytes(data: bytes, cols: int = 80, rows: int = 24) -> ScreenState:
    """Convenience: the screen after feeding `data` to a fresh terminal."""
    term = Terminal(cols, rows)
    term.feed(data)
    return term.snapshot()


__all__ = ["Terminal", "screen_from_bytes"]

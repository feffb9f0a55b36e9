"""Cells, pens and character sets: the small parts the screen operations are built from.

A `Cell` is pyte's cell plus DECSCA protection; colours are the int codes of `terminal.screen`
(-1 default, 0-255 palette, TRUECOLOR|0xRRGGBB), parsed from SGR's colon and semicolon forms here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NamedTuple

from pyte.screens import StaticDefaultDict
from wcwidth import wcwidth as _wcwidth

from terminal.screen import (
    DEFAULT,
    TRUECOLOR,
)

MAX_COMBINING = 6  # code points kept per cell, decomposed: a base and 5 marks (as libvterm)
ALT_MODES = (47, 1047, 1049)
EXCLUSIVE_MODES = ((9, 1000, 1001, 1002, 1003), (1005, 1006, 1015))

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




@lru_cache(maxsize=65536)
def char_cells(ch: str) -> int:
    return int(_wcwidth(ch))


new_cell = tuple.__new__  # builds a Cell from a tuple without NamedTuple's slower paths


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
class SavedCursor:
    """What DECSC saves (one slot per screen buffer, as in xterm)."""

    x: int
    y: int
    attrs: Cell
    underline: int
    charsets: list[str]
    gl: int
    origin: bool


def new_buffer(default: Callable[[], Cell]) -> defaultdict[int, StaticDefaultDict[int, Cell]]:
    return defaultdict(lambda: StaticDefaultDict(default()))


class CellCache(dict[str, Cell]):
    """Cells of one pen by character: printing reuses them instead of building a tuple each."""

    __slots__ = ("rest",)

    def __init__(self, rest: tuple[Any, ...]) -> None:
        super().__init__()
        self.rest = rest

    def __missing__(self, ch: str) -> Cell:
        cell = self[ch] = new_cell(Cell, (ch, *self.rest))
        return cell


class Cursor:
    """pyte's cursor, holding a `Cell` as its pen."""

    __slots__ = ("x", "y", "attrs", "hidden")

    def __init__(self, x: int, y: int, attrs: Cell) -> None:
        self.x, self.y, self.attrs, self.hidden = x, y, attrs, False


Line = StaticDefaultDict[int, Cell]


def colon_color(sub: list[int | None]) -> int | None:
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


def semicolon_color(groups: list[list[int | None]], i: int) -> tuple[int | None, int]:
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

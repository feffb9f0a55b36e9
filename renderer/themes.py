"""Colour themes: default fg/bg, cursor, and the 16 theme colours of the 256-colour palette.

An asciicast header may carry its own theme ({"fg", "bg", "palette": "#..:#..:..."}); `Theme.from_asciicast`
turns it into one. Palette entries 16-255 are xterm's fixed cube and greys in every theme.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .screen import DEFAULT, TRUECOLOR

RGB = tuple[int, int, int]


def parse_hex(value: str) -> RGB:
    v = value.strip().lstrip("#")
    if len(v) == 3:
        v = "".join(c * 2 for c in v)
    if len(v) != 6:
        raise ValueError(f"bad colour {value!r}")
    n = int(v, 16)
    return (n >> 16) & 255, (n >> 8) & 255, n & 255


def xterm_256() -> list[RGB]:
    """xterm's palette entries 16-255: a 6x6x6 cube then 24 greys."""
    levels = [0, 95, 135, 175, 215, 255]
    cube = [(levels[r], levels[g], levels[b]) for r in range(6) for g in range(6) for b in range(6)]
    greys = [(8 + 10 * i,) * 3 for i in range(24)]
    return cube + greys  # type: ignore[return-value]


@dataclass(frozen=True)
class Theme:
    """Colours a screen is drawn in."""

    name: str
    fg: RGB
    bg: RGB
    palette: tuple[RGB, ...]  # 16 entries
    cursor: RGB | None = None  # None: the cell's colours inverted
    bold_is_bright: bool = False

    @classmethod
    def from_asciicast(cls, theme: dict[str, Any], name: str = "asciicast") -> Theme:
        """A theme from an asciicast header's "theme" object; raises ValueError if malformed."""
        pal = [parse_hex(c) for c in str(theme["palette"]).split(":") if c]
        if len(pal) not in (8, 16):
            raise ValueError(f"asciicast theme palette has {len(pal)} colours, expected 8 or 16")
        if len(pal) == 8:
            pal = pal + pal
        return cls(name, parse_hex(theme["fg"]), parse_hex(theme["bg"]), tuple(pal))

    def lut(self) -> np.ndarray:
        """(258, 3) uint8: palette 0-255, then default fg (256) and default bg (257)."""
        table = np.zeros((258, 3), np.uint8)
        table[:16] = self.palette
        table[16:256] = xterm_256()
        table[256] = self.fg
        table[257] = self.bg
        return table

    def resolve(self, codes: np.ndarray, is_fg: bool) -> np.ndarray:
        """Colour codes (any shape, int32) -> RGB uint8 (shape + (3,))."""
        lut = self.lut()
        idx = np.where(codes == DEFAULT, 256 if is_fg else 257, codes & 0xFF)
        out = lut[idx]
        true = codes >= TRUECOLOR
        if true.any():
            v = codes[true] & 0xFFFFFF
            out[true] = np.stack([(v >> 16) & 255, (v >> 8) & 255, v & 255], -1).astype(np.uint8)
        return out


_XTERM = ((0, 0, 0), (205, 0, 0), (0, 205, 0), (205, 205, 0), (0, 0, 238), (205, 0, 205),
          (0, 205, 205), (229, 229, 229), (127, 127, 127), (255, 0, 0), (0, 255, 0),
          (255, 255, 0), (92, 92, 255), (255, 0, 255), (0, 255, 255), (255, 255, 255))
_TANGO = ((46, 52, 54), (204, 0, 0), (78, 154, 6), (196, 160, 0), (52, 101, 164), (117, 80, 123),
          (6, 152, 154), (211, 215, 207), (85, 87, 83), (239, 41, 41), (138, 226, 52),
          (252, 233, 79), (114, 159, 207), (173, 127, 168), (52, 226, 226), (238, 238, 236))
_SOLARIZED = tuple(parse_hex(c) for c in (
    "073642 dc322f 859900 b58900 268bd2 d33682 2aa198 eee8d5 "
    "002b36 cb4b16 586e75 657b83 839496 6c71c4 93a1a1 fdf6e3").split())

THEMES: dict[str, Theme] = {
    "dark": Theme("dark", (204, 204, 204), (18, 18, 18), _TANGO),
    "xterm": Theme("xterm", (0, 0, 0), (255, 255, 255), _XTERM),
    "xterm-dark": Theme("xterm-dark", (229, 229, 229), (0, 0, 0), _XTERM),
    "solarized-dark": Theme("solarized-dark", (131, 148, 150), (0, 43, 54), _SOLARIZED),
    "light": Theme("light", (40, 40, 40), (250, 250, 245), _TANGO),
}
DEFAULT_THEME = "dark"


def get_theme(name: str | Theme | None) -> Theme:
    """A theme by name (see THEMES); a Theme passes through."""
    if isinstance(name, Theme):
        return name
    if name is None:
        return THEMES[DEFAULT_THEME]
    try:
        return THEMES[name]
    except KeyError:
        raise ValueError(f"unknown theme {name!r} (choose from {', '.join(THEMES)})") from None

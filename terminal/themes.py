"""Colour themes: default fg/bg, cursor, and the 16 theme colours of the 256-colour palette.

An asciicast header may carry its own theme ({"fg", "bg", "palette": "#..:#..:..."});
`Theme.from_asciicast` turns it into one, and `get_theme` also reads such an object from a JSON file
(`--theme my-theme.json`). Palette entries 16-255 are xterm's fixed cube and greys in every theme.
"""

from __future__ import annotations

import functools
import json
import numbers
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .screen import DEFAULT, TRUECOLOR

RGB = tuple[int, int, int]


class ThemeError(ValueError):
    """A theme that cannot be used: unknown name, malformed colours, unreadable file."""


def parse_hex(value: Any) -> RGB:
    """"#rrggbb" or "#rgb" -> (r, g, b); ThemeError otherwise."""
    if not isinstance(value, str):
        raise ThemeError(f"bad colour {value!r} (expected \"#rrggbb\")")
    v = value.strip().lstrip("#")
    if len(v) == 3:
        v = "".join(c * 2 for c in v)
    try:
        if len(v) != 6:
            raise ValueError
        n = int(v, 16)
    except ValueError:
        raise ThemeError(f"bad colour {value!r} (expected \"#rrggbb\")") from None
    return (n >> 16) & 255, (n >> 8) & 255, n & 255


def to_hex(rgb: RGB) -> str:
    """(r, g, b) -> "#rrggbb"."""
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def xterm_256() -> list[RGB]:
    """xterm's palette entries 16-255: a 6x6x6 cube then 24 greys."""
    levels = [0, 95, 135, 175, 215, 255]
    cube = [(levels[r], levels[g], levels[b]) for r in range(6) for g in range(6) for b in range(6)]
    greys = [(8 + 10 * i,) * 3 for i in range(24)]
    return cube + greys  # type: ignore[return-value]


@dataclass(frozen=True)
class Theme:
    """Colours a screen is drawn in.

    palette: the 16 theme colours (entries 0-15 of the 256 palette). cursor: the block cursor's
    colour (None: the cell's colours swapped). bold_is_bright: bold text in colours 0-7 uses 8-15.
    """

    name: str
    fg: RGB
    bg: RGB
    palette: tuple[RGB, ...]  # 16 entries
    cursor: RGB | None = None  # None: the cell's colours inverted
    bold_is_bright: bool = False

    def __post_init__(self) -> None:
        if len(self.palette) != 16:
            raise ThemeError(f"theme {self.name!r} has {len(self.palette)} palette colours, "
                             "expected 16")
        for rgb in (self.fg, self.bg, *self.palette, *([self.cursor] if self.cursor else [])):
            if len(rgb) != 3 or not all(isinstance(v, numbers.Integral) and 0 <= v <= 255 for v in rgb):
                raise ThemeError(f"theme {self.name!r} has a bad colour {rgb!r}")

    @classmethod
    def from_asciicast(cls, theme: Any, name: str = "asciicast") -> Theme:
        """A theme from an asciicast header's "theme" object ({"fg", "bg", "palette"}, the
        palette 8 or 16 colours joined by ":"); ThemeError if malformed."""
        if not isinstance(theme, dict):
            raise ThemeError("an asciicast theme must be an object with fg, bg and palette")
        missing = [k for k in ("fg", "bg", "palette") if k not in theme]
        if missing:
            raise ThemeError(f"asciicast theme lacks {', '.join(missing)}")
        if not isinstance(theme["palette"], str):
            raise ThemeError("asciicast theme palette must be a string of colours joined by ':'")
        pal = [parse_hex(c) for c in theme["palette"].split(":") if c.strip()]
        if len(pal) not in (8, 16):
            raise ThemeError(f"asciicast theme palette has {len(pal)} colours, expected 8 or 16")
        if len(pal) == 8:  # the bright half repeats the normal one, as asciinema-player does
            pal = pal + pal
        return cls(name, parse_hex(theme["fg"]), parse_hex(theme["bg"]), tuple(pal))

    def to_asciicast(self) -> dict[str, str]:
        """The asciicast header form of this theme."""
        return {"fg": to_hex(self.fg), "bg": to_hex(self.bg),
                "palette": ":".join(to_hex(c) for c in self.palette)}

    def lut(self) -> np.ndarray:
        """(258, 3) uint8: palette 0-255, then default fg (256) and default bg (257)."""
        return _lut(self).copy()

    def resolve(self, codes: np.ndarray, is_fg: bool) -> np.ndarray:
        """Colour codes (any shape, int32) -> RGB uint8 (shape + (3,))."""
        codes = np.asarray(codes)
        idx = np.where(codes == DEFAULT, 256 if is_fg else 257, codes & 0xFF)
        out = _lut(self)[idx]
        true = codes >= TRUECOLOR
        if true.any():
            v = codes[true] & 0xFFFFFF
            out[true] = np.stack([(v >> 16) & 255, (v >> 8) & 255, v & 255], -1).astype(np.uint8)
        return out


@functools.lru_cache(maxsize=64)
def _lut(theme: Theme) -> np.ndarray:
    table = np.zeros((258, 3), np.uint8)
    table[:16] = theme.palette
    table[16:256] = xterm_256()
    table[256] = theme.fg
    table[257] = theme.bg
    table.flags.writeable = False
    return table


def _hexes(text: str) -> tuple[RGB, ...]:
    return tuple(parse_hex(c) for c in text.split())


_XTERM = ((0, 0, 0), (205, 0, 0), (0, 205, 0), (205, 205, 0), (0, 0, 238), (205, 0, 205),
          (0, 205, 205), (229, 229, 229), (127, 127, 127), (255, 0, 0), (0, 255, 0),
          (255, 255, 0), (92, 92, 255), (255, 0, 255), (0, 255, 255), (255, 255, 255))
_TANGO = ((46, 52, 54), (204, 0, 0), (78, 154, 6), (196, 160, 0), (52, 101, 164), (117, 80, 123),
          (6, 152, 154), (211, 215, 207), (85, 87, 83), (239, 41, 41), (138, 226, 52),
          (252, 233, 79), (114, 159, 207), (173, 127, 168), (52, 226, 226), (238, 238, 236))
_SOLARIZED = _hexes("073642 dc322f 859900 b58900 268bd2 d33682 2aa198 eee8d5 "
                    "002b36 cb4b16 586e75 657b83 839496 6c71c4 93a1a1 fdf6e3")
_DRACULA = _hexes("21222c ff5555 50fa7b f1fa8c bd93f9 ff79c6 8be9fd f8f8f2 "
                  "6272a4 ff6e6e 69ff94 ffffa5 d6acff ff92df a4ffff ffffff")
_ASCIINEMA = _hexes("000000 dd3c69 4ebf22 ddaf3c 26b0d7 b954e1 54e1b9 d9d9d9 "
                    "4d4d4d dd3c69 4ebf22 ddaf3c 26b0d7 b954e1 54e1b9 ffffff")

THEMES: dict[str, Theme] = {
    "dark": Theme("dark", (204, 204, 204), (18, 18, 18), _TANGO),
    "light": Theme("light", (40, 40, 40), (250, 250, 245), _TANGO),
    "xterm": Theme("xterm", (0, 0, 0), (255, 255, 255), _XTERM),
    "xterm-dark": Theme("xterm-dark", (229, 229, 229), (0, 0, 0), _XTERM),
    "solarized-dark": Theme("solarized-dark", (131, 148, 150), (0, 43, 54), _SOLARIZED),
    "solarized-light": Theme("solarized-light", (101, 123, 131), (253, 246, 227), _SOLARIZED),
    "dracula": Theme("dracula", (248, 248, 242), (40, 42, 54), _DRACULA, cursor=(248, 248, 242)),
    "asciinema": Theme("asciinema", (204, 204, 204), (18, 19, 20), _ASCIINEMA),
}
DEFAULT_THEME = "dark"


def get_theme(name: str | Theme | dict[str, Any] | None) -> Theme:
    """A theme by name (see THEMES), from an asciicast-style theme object, or from a JSON file
    holding one ("path/to/theme.json"); a Theme passes through. ThemeError otherwise."""
    if isinstance(name, Theme):
        return name
    if name is None:
        return THEMES[DEFAULT_THEME]
    if isinstance(name, dict):
        return Theme.from_asciicast(name, str(name.get("name", "custom")))
    if name in THEMES:
        return THEMES[name]
    if name.endswith(".json"):
        try:
            data = json.loads(Path(name).read_text(encoding="utf-8"))
        except OSError as e:
            raise ThemeError(f"cannot read theme file {name}: {e.strerror or e}") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ThemeError(f"theme file {name} is not valid JSON: {e}") from None
        if isinstance(data, dict) and isinstance(data.get("theme"), dict):
            data = data["theme"]  # an asciicast header
        return Theme.from_asciicast(data, Path(name).stem)
    raise ThemeError(f"unknown theme {name!r} (choose from {', '.join(THEMES)}, "
                     "or give a .json file)")

"""Synthetic terminal rows for training: terminal-like text and characters from a broad set, in
every colour kind (default, 16 theme colours, 256 palette, truecolour), every attribute, the
cursor anywhere, on the built-in themes and random ones.

CJK, emoji, box drawing and powerline/private-use glyphs are never produced (`is_special`): the
renderer must draw them from their glyph masks alone, which is what the held-out "special" screens
test. Also here: random procedural glyph masks (strokes, polygons, dots) for the glyph-copy
augmentation - shapes that are no character at all, so the glyph encoder learns to copy a mask
rather than to recognise a character.
"""

from __future__ import annotations

import json
import string
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from terminal.screen import (
    BLINK,
    BOLD,
    DEFAULT,
    INVERSE,
    ITALIC,
    STRIKE,
    TRUECOLOR,
    UNDERLINE,
    ScreenState,
    char_width,
)
from terminal.themes import THEMES, Theme

# Unicode ranges sampled for "broad" characters (narrow, drawable, none of the held-out kinds)
BROAD_RANGES = [
    (0x21, 0x7E), (0xA1, 0xFF), (0x100, 0x17F), (0x180, 0x24F), (0x250, 0x2AF),
    (0x370, 0x3FF), (0x400, 0x4FF), (0x531, 0x556), (0x561, 0x587), (0x5D0, 0x5EA),
    (0x10A0, 0x10FF), (0x1E00, 0x1EFF), (0x2010, 0x2027), (0x2030, 0x205E), (0x20A0, 0x20BF),
    (0x2100, 0x214F), (0x2150, 0x218B), (0x2190, 0x21FF), (0x2200, 0x22FF), (0x2300, 0x23FF),
    (0x2580, 0x259F), (0x25A0, 0x25FF), (0x2800, 0x28FF), (0x2A00, 0x2AFF),
]


def is_special(ch: str) -> bool:
    """Characters kept out of training entirely: wide (CJK, most emoji), every CJK block
    (half-width kana too), emoji and dingbat blocks, box drawing, and private-use (powerline,
    nerd-font icons)."""
    if not ch:
        return False
    cp = ord(ch[0])
    return (char_width(ch) == 2 or 0x2500 <= cp <= 0x257F or 0xE000 <= cp <= 0xF8FF
            or 0x2E80 <= cp <= 0x9FFF or 0xAC00 <= cp <= 0xD7AF or 0xFF00 <= cp <= 0xFFEF
            or 0x2600 <= cp <= 0x27BF or 0x2B00 <= cp <= 0x2BFF or 0x1F000 <= cp <= 0x1FAFF
            or 0xFE00 <= cp <= 0xFE0F or cp >= 0xF0000
            or any(ord(x) >= 0x1F000 or 0xFE00 <= ord(x) <= 0xFE0F for x in ch[1:]))


def row_is_special(chars: list[str]) -> bool:
    """True when a row holds any held-out character."""
    return any(is_special(c) for c in chars if c and c != " ")


def theme_to_json(theme: Theme) -> str:
    """A theme as a string: a built-in theme's name, or the JSON of any other."""
    if theme.name in THEMES and THEMES[theme.name] == theme:
        return theme.name
    return json.dumps({"name": theme.name, "fg": list(theme.fg), "bg": list(theme.bg),
                       "palette": [list(c) for c in theme.palette],
                       "cursor": list(theme.cursor) if theme.cursor else None,
                       "bold_is_bright": theme.bold_is_bright})


def theme_from_json(text: str) -> Theme:
    """Inverse of theme_to_json."""
    if not text.startswith("{"):
        return THEMES[text]
    d = json.loads(text)
    cursor = tuple(d["cursor"]) if d.get("cursor") else None
    return Theme(d["name"], tuple(d["fg"]), tuple(d["bg"]),  # type: ignore[arg-type]
                 tuple(tuple(c) for c in d["palette"]), cursor,  # type: ignore[arg-type]
                 bool(d.get("bold_is_bright")))


class SyntheticRows:
    """Random single-row screens (with a previous version of the row), reproducible from a seed.

    Args:
        cols: row width in cells.
        seed: random seed.
    """

    WORDS_TEXT = ("total drwxr-xr-x root user staff README.md main.py src tests build dist config.json "
             "error warning info debug Traceback File line return import from def class self None "
             "True False make install pip python3 git commit push pull status diff log branch "
             "merge docker run exec ls cd cat grep sed awk echo export sudo apt-get update ssh "
             "http://localhost:8080 /usr/bin/env /home/user/project 0x7ffd 127.0.0.1 OK FAIL "
             "PASSED FAILED test_render.py::test_frame [100%] KiB MiB GiB Jan Feb Mar 12:04")

    def __init__(self, cols: int = 80, seed: int = 0) -> None:
        self.cols = cols
        self.rng = np.random.default_rng(seed)
        self.words = self.WORDS_TEXT.split(" ")
        pool: list[str] = []
        for a, b in BROAD_RANGES:
            pool.extend(chr(c) for c in range(a, b + 1))
        self.broad = [c for c in pool
                      if c.isprintable() and not is_special(c) and char_width(c) == 1]
        self.ascii = list(string.ascii_letters + string.digits + string.punctuation)

    # -- pieces --------------------------------------------------------------------------
    def theme(self) -> Theme:
        """A built-in theme (mostly the default) or a random one."""
        rng = self.rng
        if rng.random() < 0.75:
            names = ["dark", "dark", "dark", "xterm", "xterm-dark", "solarized-dark", "light"]
            return THEMES[names[int(rng.integers(len(names)))]]
        bg = tuple(int(v) for v in rng.integers(0, 256, 3))
        fg = tuple(int(v) for v in rng.integers(0, 256, 3))
        pal = tuple(tuple(int(v) for v in rng.integers(0, 256, 3)) for _ in range(16))
        return Theme("random", fg, bg, pal, None, bool(rng.random() < 0.3))  # type: ignore[arg-type]

    def colour(self, default_p: float) -> int:
        rng = self.rng
        if rng.random() < default_p:
            return DEFAULT
        u = rng.random()
        if u < 0.45:
            return int(rng.integers(16))
        if u < 0.7:
            return int(rng.integers(16, 256))
        return TRUECOLOR | int(rng.integers(0, 1 << 24))

    def attrs(self) -> int:
        rng = self.rng
        a = 0
        for bit, p in ((BOLD, 0.2), (ITALIC, 0.1), (UNDERLINE, 0.1), (INVERSE, 0.1),
                       (STRIKE, 0.05), (BLINK, 0.02)):
            if rng.random() < p:
                a |= bit
        return a

    def text(self) -> str:
        """Terminal-looking text or a run of broad characters."""
        rng = self.rng
        kind = rng.random()
        n = int(rng.integers(1, self.cols + 1))
        if kind < 0.35:
            words = [self.words[i] for i in rng.integers(len(self.words), size=max(1, n // 5))]
            s = " ".join(words)
        elif kind < 0.55:
            s = "".join(self.ascii[i] for i in rng.integers(len(self.ascii), size=n))
        elif kind < 0.8:
            s = "".join(self.broad[i] for i in rng.integers(len(self.broad), size=n))
        elif kind < 0.9:  # numbers and tables
            s = "  ".join(f"{rng.normal() * 10 ** rng.integers(0, 6):.{rng.integers(0, 4)}f}"
                          for _ in range(max(1, n // 9)))
        else:  # sparse: mostly blanks
            s = "".join(self.ascii[int(rng.integers(len(self.ascii)))] if rng.random() < 0.1
                        else " " for _ in range(n))
        return s[: self.cols]

    # -- rows ----------------------------------------------------------------------------
    def row(self) -> ScreenState:
        """One random single-row screen."""
        rng = self.rng
        screen = ScreenState.from_lines([self.text()], self.cols, 1)
        c = 0
        while c < self.cols:  # style runs
            n = int(rng.integers(1, 24))
            fg, bg, at = self.colour(0.5), self.colour(0.8), self.attrs()
            if rng.random() < 0.45:
                fg, bg, at = DEFAULT, DEFAULT, 0
            screen.fg[0, c:c + n], screen.bg[0, c:c + n], screen.attrs[0, c:c + n] = fg, bg, at
            c += n
        if rng.random() < 0.4:
            screen.cursor, screen.cursor_visible = (0, int(rng.integers(self.cols))), True
        else:
            screen.cursor_visible = False
        return screen

    def pair(self) -> tuple[ScreenState | None, ScreenState, str]:
        """(previous row or None, row, action): typing, an unchanged or unrelated previous row,
        or no previous frame."""
        rng = self.rng
        cur = self.row()
        u = rng.random()
        if u < 0.35:
            return None, cur, ""
        if u < 0.65:  # the row one keystroke earlier
            prev = cur.copy()
            line = cur.chars[0]
            last = max((i for i, ch in enumerate(line) if ch != " "), default=0)
            prev.chars[0] = line[:last] + [" "] * (self.cols - last)
            if cur.cursor_visible:
                prev.cursor = (0, max(0, cur.cursor[1] - 1))
            return prev, cur, line[last]
        if u < 0.8:
            return cur.copy(), cur, ""
        return self.row(), cur, ["Enter", "ls", "ctrl+c", "Up", ""][int(rng.integers(5))]


def random_glyph_bank(n: int, cell_h: int, cell_w: int, seed: int = 0,
                      textures: float = 0.0) -> np.ndarray:
    """`n` procedural glyph masks (n, cell_h, cell_w) in [0, 1]: random strokes, polygons,
    ellipses and dot patterns, antialiased or hard-edged, some drawn twice as wide and halved
    (like the two halves of a wide character); then `textures` x n more of `texture_masks`
    (the first n are the same whatever `textures` is)."""
    shapes = _shape_masks(n, cell_h, cell_w, seed)
    k = int(round(n * textures))
    return np.concatenate([shapes, texture_masks(k, cell_h, cell_w, seed)]) if k else shapes


def texture_masks(n: int, cell_h: int, cell_w: int, seed: int = 0) -> np.ndarray:
    """`n` pixel-level texture masks (n, cell_h, cell_w): checkerboards, dithers of 1/4 to
    3/4 ink, stripes and random pixel noise, at periods of 2-4 pixels and random phases, over
    the whole cell or a half of it. The strokes of `random_glyph_bank` are smooth; shade and
    dither characters (U+2591-2593, the Braille and sextant families, ASCII art) are not."""
    rng = np.random.default_rng([seed, 1])
    yy, xx = np.mgrid[0:cell_h, 0:cell_w]
    out = np.zeros((n, cell_h, cell_w), np.float32)
    for i in range(n):
        p = int(rng.integers(2, 5))
        dy, dx = int(rng.integers(p)), int(rng.integers(p))
        y, x = yy + dy, xx + dx
        kind = int(rng.integers(5))
        if kind == 0:  # checkerboard
            m = ((y // (p // 2 or 1) + x // (p // 2 or 1)) % 2 == 0)
        elif kind == 1:  # ordered dither: k of the p x p pixels inked
            order = rng.permutation(p * p)
            m = order[(y % p) * p + (x % p)] < int(rng.integers(1, p * p))
        elif kind == 2:  # stripes, horizontal or vertical
            m = ((y if rng.random() < 0.5 else x) % p) < int(rng.integers(1, p))
        elif kind == 3:  # diagonal stripes
            m = ((y + x * (1 if rng.random() < 0.5 else -1)) % p) == 0
        else:  # random pixels
            m = rng.random((cell_h, cell_w)) < rng.uniform(0.2, 0.8)
        mask = m.astype(np.float32)
        region = int(rng.integers(6))  # whole cell (most often) or one half
        if region == 1:
            mask[cell_h // 2:] = 0
        elif region == 2:
            mask[:cell_h // 2] = 0
        elif region == 3:
            mask[:, cell_w // 2:] = 0
        elif region == 4:
            mask[:, :cell_w // 2] = 0
        out[i] = mask
    return out


def _shape_masks(n: int, cell_h: int, cell_w: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = np.zeros((n, cell_h, cell_w), np.float32)
    i = 0
    while i < n:
        wide = rng.random() < 0.3
        w = cell_w * (2 if wide else 1)
        scale = 4
        img = Image.new("L", (w * scale, cell_h * scale), 0)
        d = ImageDraw.Draw(img)
        for _ in range(int(rng.integers(1, 5))):
            kind = rng.integers(4)
            pts = [(float(rng.uniform(-0.1, 1.1) * w * scale),
                    float(rng.uniform(-0.05, 1.05) * cell_h * scale)) for _ in range(4)]
            if kind == 0:
                d.line(pts[:2], fill=255, width=int(rng.integers(2, 10)))
            elif kind == 1:
                d.polygon(pts[: int(rng.integers(3, 5))], fill=255)
            elif kind == 2:
                x0, x1 = sorted((pts[0][0], pts[1][0]))
                y0, y1 = sorted((pts[0][1], pts[1][1]))
                d.ellipse([x0, y0, x1 + 2, y1 + 2], outline=255, width=int(rng.integers(2, 8)))
            else:
                for _ in range(int(rng.integers(2, 12))):
                    x, y = rng.uniform(0, w * scale), rng.uniform(0, cell_h * scale)
                    r = rng.uniform(1.5, 5)
                    d.ellipse([x - r, y - r, x + r, y + r], fill=255)
        small = np.asarray(img.resize((w, cell_h), Image.BOX), np.float32) / 255.0
        if rng.random() < 0.4:
            small = (small > 0.5).astype(np.float32)
        if rng.random() < 0.3:
            small = small * float(rng.uniform(0.4, 1.0))
        halves = [small[:, :cell_w], small[:, cell_w:]] if wide else [small]
        for h in halves:
            if i < n:
                out[i] = h
                i += 1
    return out


def record_dict(screen: ScreenState, prev: ScreenState | None, action: str, theme: Theme,
                source: str) -> dict[str, Any]:
    """The stored form of one training row (see renderer/training/dataset.py)."""
    return {"row": json.dumps(screen.to_json(), ensure_ascii=False),
            "prev": json.dumps(prev.to_json(), ensure_ascii=False) if prev is not None else "",
            "action": action, "theme": theme_to_json(theme), "source": source}

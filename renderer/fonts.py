"""Fonts and the glyph atlas: every character as an alpha mask exactly one cell (or half a wide
character) in size.

The atlas is shared by the reference rasterizer (which composites masks with colours), the cell-grid
OCR (which matches cells against masks) and the neural renderer (whose caption tokens carry the
glyph's shape, so characters never seen in training are still specified exactly).

Font chain (Debian packages): DejaVu Sans Mono (regular/bold/oblique/bold-oblique) for the main face,
then Noto Sans CJK, Symbola (monochrome emoji, dingbats, powerline-like symbols), Unifont and Unifont
Upper (nearly all of Unicode, designed for 8x16 / 16x16 cells). Block elements (U+2580-259F) are drawn
procedurally so they tile without seams, as real terminals do. A character no font has becomes a
hollow box - never an empty cell.
"""

from __future__ import annotations

import os
import threading
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .screen import BOLD, ITALIC, STRIKE, UNDERLINE, char_width

FONT_DIRS = ["/usr/share/fonts", "/usr/local/share/fonts", str(Path.home() / ".fonts")]

MAIN_FACES = {
    0: "DejaVuSansMono.ttf",
    BOLD: "DejaVuSansMono-Bold.ttf",
    ITALIC: "DejaVuSansMono-Oblique.ttf",
    BOLD | ITALIC: "DejaVuSansMono-BoldOblique.ttf",
}
FALLBACKS = ["NotoSansMono-Regular.ttf", "NotoSansCJK-Regular.ttc", "Symbola_hint.ttf",
             "Symbola.ttf", "unifont.otf", "unifont_upper.otf", "unifont_csur.otf"]

STYLE_BITS = BOLD | ITALIC | UNDERLINE | STRIKE


class FontError(RuntimeError):
    """A font file the configuration names cannot be found or loaded."""


@lru_cache(maxsize=64)
def find_font(name: str) -> str | None:
    """Absolute path of a font file, by file name or path; None when absent."""
    if os.path.isabs(name):
        return name if os.path.exists(name) else None
    for root in FONT_DIRS:
        for dirpath, _dirs, files in os.walk(root):
            if name in files:
                return os.path.join(dirpath, name)
    return None


@lru_cache(maxsize=64)
def _cmap(path: str) -> frozenset[int]:
    from fontTools.ttLib import TTFont  # matplotlib's dependency; only needed for fallbacks

    font = TTFont(path, fontNumber=0, lazy=True)
    return frozenset(font.getBestCmap() or {})


@dataclass(frozen=True)
class FontSpec:
    """Which fonts draw the cells, and how big a cell is (pixels)."""

    main: str = "DejaVuSansMono.ttf"
    size: float = 13.0
    cell_w: int = 8
    cell_h: int = 16
    baseline: int = 12  # pixel row of the baseline inside a cell
    fallbacks: tuple[str, ...] = tuple(FALLBACKS)
    bold_face: str | None = MAIN_FACES[BOLD]
    italic_face: str | None = MAIN_FACES[ITALIC]
    bold_italic_face: str | None = MAIN_FACES[BOLD | ITALIC]

    @classmethod
    def sized(cls, size: float) -> FontSpec:
        """A DejaVu Sans Mono spec with cell metrics derived from the font at `size` px."""
        path = find_font(cls.main)
        if path is None:
            raise FontError(f"font {cls.main} not found (apt-get install fonts-dejavu-core)")
        font = ImageFont.truetype(path, size)
        ascent, descent = font.getmetrics()
        cell_w = max(1, round(font.getlength("M")))
        cell_h = ascent + descent - 1
        return cls(size=size, cell_w=cell_w, cell_h=cell_h, baseline=ascent - 1)


@dataclass
class GlyphAtlas:
    """Alpha masks (float32 in [0, 1], shaped (cell_h, cell_w)) for (text, style, half) keys.

    `half` is 0 for a normal character, 1 and 2 for the left and right halves of a wide one.
    Index 0 is always the blank cell. Thread-safe: masks are appended under a lock.
    """

    spec: FontSpec = field(default_factory=FontSpec)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._index: dict[tuple[str, int, int], int] = {}
        self._masks: list[np.ndarray] = []
        self._stack: np.ndarray | None = None
        self._fonts: dict[tuple[str, float], ImageFont.FreeTypeFont] = {}
        main = find_font(self.spec.main)
        if main is None:
            raise FontError(f"font {self.spec.main} not found (apt-get install fonts-dejavu-core)")
        self._faces = {0: main}
        for bits, name in ((BOLD, self.spec.bold_face), (ITALIC, self.spec.italic_face),
                           (BOLD | ITALIC, self.spec.bold_italic_face)):
            path = find_font(name) if name else None
            if path:
                self._faces[bits] = path
        self._fallbacks = [p for p in (find_font(n) for n in self.spec.fallbacks) if p]
        self.index(" ", 0)

    # -- public --------------------------------------------------------------------------
    @property
    def cell(self) -> tuple[int, int]:
        return self.spec.cell_h, self.spec.cell_w

    def index(self, text: str, style: int = 0, half: int = 0) -> int:
        """Atlas index of a cell's mask, rasterizing it on first use."""
        key = (text, style & STYLE_BITS, half)
        idx = self._index.get(key)
        if idx is not None:
            return idx
        with self._lock:
            idx = self._index.get(key)
            if idx is None:
                if half:
                    left, right = self._draw_wide(text, key[1])
                    self._masks.extend([left, right])
                    self._index[(text, key[1], 1)] = len(self._masks) - 2
                    self._index[(text, key[1], 2)] = len(self._masks) - 1
                else:
                    self._masks.append(self._draw_narrow(text, key[1]))
                    self._index[key] = len(self._masks) - 1
                self._stack = None
                idx = self._index[key]
        return idx

    def cell_index(self, text: str, style: int, next_text: str | None) -> int:
        """Index for a screen cell: "" (a wide char's right half) is resolved by the caller."""
        if text and char_width(text) == 2:
            return self.index(text, style, 1)
        return self.index(text or " ", style, 0)

    @property
    def masks(self) -> np.ndarray:
        """All masks stacked: (N, cell_h, cell_w) float32."""
        if self._stack is None or len(self._stack) != len(self._masks):
            with self._lock:
                self._stack = np.stack(self._masks).astype(np.float32)
        return self._stack

    def mask(self, text: str, style: int = 0) -> np.ndarray:
        """The full mask of a character: (cell_h, cell_w * width)."""
        if char_width(text) == 2:
            return np.concatenate([self.masks[self.index(text, style, 1)],
                                   self.masks[self.index(text, style, 2)]], axis=1)
        return self.masks[self.index(text, style)]

    def keys(self) -> list[tuple[str, int, int]]:
        return list(self._index)

    def font_for(self, ch: str, style: int = 0) -> str | None:
        """Path of the font that draws `ch` (None: procedural or missing)."""
        cp = ord(ch[0])
        if 0x2580 <= cp <= 0x259F:
            return None
        face = self._faces.get(style & (BOLD | ITALIC)) or self._faces[0]
        for path in [face, self._faces[0], *self._fallbacks]:
            if cp in _cmap(path):
                return path
        return None

    # -- drawing -------------------------------------------------------------------------
    def _font(self, path: str, size: float) -> ImageFont.FreeTypeFont:
        key = (path, size)
        if key not in self._fonts:
            try:
                self._fonts[key] = ImageFont.truetype(path, size)
            except OSError as e:
                raise FontError(f"cannot load font {path}: {e}") from None
        return self._fonts[key]

    def _draw_narrow(self, text: str, style: int) -> np.ndarray:
        h, w = self.spec.cell_h, self.spec.cell_w
        mask = self._draw_text(text, style, w) if text.strip() else np.zeros((h, w), np.float32)
        return self._decorate(mask, style)

    def _draw_wide(self, text: str, style: int) -> tuple[np.ndarray, np.ndarray]:
        w = self.spec.cell_w
        mask = self._decorate(self._draw_text(text, style, 2 * w), style)
        return mask[:, :w].copy(), mask[:, w:].copy()

    def _draw_text(self, text: str, style: int, width: int) -> np.ndarray:
        h = self.spec.cell_h
        cp = ord(text[0])
        if 0x2580 <= cp <= 0x259F:
            return _block_element(cp, h, width)
        path = self.font_for(text[0], style)
        if path is None:
            return _missing_box(h, width)
        main_face = path in self._faces.values()
        font = self._font(path, self.spec.size)
        img = Image.new("L", (width, h), 0)
        draw = ImageDraw.Draw(img)
        if main_face:
            draw.text((0, self.spec.baseline), text, font=font, fill=255, anchor="ls")
        else:
            # Fallback fonts have other metrics: scale the glyph to fit the cell box, centred.
            size = self.spec.size
            if "unifont" in os.path.basename(path):
                size = 16.0 * h / 16.0  # unifont is a 16 px bitmap design
            font = self._font(path, size)
            bbox = font.getbbox(text, anchor="ls")
            gw, gh = bbox[2] - bbox[0], bbox[3] - bbox[1]
            if gw > width or gh > h:
                scale = min(width / max(gw, 1), h / max(gh, 1))
                size = max(4.0, size * scale)
                font = self._font(path, size)
                bbox = font.getbbox(text, anchor="ls")
                gw, gh = bbox[2] - bbox[0], bbox[3] - bbox[1]
            x = (width - gw) / 2 - bbox[0]
            y = self.spec.baseline
            if bbox[1] + y < 0 or bbox[3] + y > h:  # tall glyph: centre it vertically
                y = (h - gh) / 2 - bbox[1]
            draw.text((x, y), text, font=font, fill=255, anchor="ls")
        mask = np.asarray(img, np.float32) / 255.0
        if style & BOLD and path not in (self._faces.get(BOLD), self._faces.get(BOLD | ITALIC)):
            mask = np.maximum(mask, np.pad(mask, ((0, 0), (1, 0)))[:, :width])  # synthetic bold
        return mask

    def _decorate(self, mask: np.ndarray, style: int) -> np.ndarray:
        h = self.spec.cell_h
        if style & UNDERLINE:
            y = min(self.spec.baseline + 2, h - 1)
            mask = mask.copy()
            mask[y, :] = 1.0
        if style & STRIKE:
            y = max(self.spec.baseline - (self.spec.baseline * 3) // 8 - 1, 0)
            mask = mask.copy()
            mask[y, :] = 1.0
        return mask


def _block_element(cp: int, h: int, w: int) -> np.ndarray:
    """U+2580-259F drawn on the pixel grid so adjacent cells tile exactly."""
    m = np.zeros((h, w), np.float32)
    hh, hw = h // 2, w // 2
    if cp == 0x2580:
        m[:hh] = 1
    elif 0x2581 <= cp <= 0x2588:  # lower 1/8 .. full block
        n = round(h * (cp - 0x2580) / 8)
        m[h - n:] = 1
    elif 0x2589 <= cp <= 0x258F:  # left 7/8 .. 1/8
        n = round(w * (0x2590 - cp) / 8)
        m[:, :n] = 1
    elif cp == 0x2590:
        m[:, hw:] = 1
    elif cp in (0x2591, 0x2592, 0x2593):  # shades
        m[:] = {0x2591: 0.25, 0x2592: 0.5, 0x2593: 0.75}[cp]
    elif cp == 0x2594:
        m[: max(1, round(h / 8))] = 1
    elif cp == 0x2595:
        m[:, w - max(1, round(w / 8)):] = 1
    else:  # quadrants U+2596-259F: bits are UL, UR, LL, LR
        quads = {0x2596: 0b0010, 0x2597: 0b0001, 0x2598: 0b1000, 0x2599: 0b1011,
                 0x259A: 0b1001, 0x259B: 0b1110, 0x259C: 0b1101, 0x259D: 0b0100,
                 0x259E: 0b0110, 0x259F: 0b0111}[cp]
        if quads & 0b1000:
            m[:hh, :hw] = 1
        if quads & 0b0100:
            m[:hh, hw:] = 1
        if quads & 0b0010:
            m[hh:, :hw] = 1
        if quads & 0b0001:
            m[hh:, hw:] = 1
    return m


def _missing_box(h: int, w: int) -> np.ndarray:
    m = np.zeros((h, w), np.float32)
    m[2, 1:w - 1] = m[h - 3, 1:w - 1] = 1
    m[2:h - 2, 1] = m[2:h - 2, w - 2] = 1
    return m


def is_printable(ch: str) -> bool:
    return bool(ch) and unicodedata.category(ch[0]) not in ("Cc", "Cs")

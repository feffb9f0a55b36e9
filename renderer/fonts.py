"""Fonts and the glyph atlas: every character as an alpha mask exactly one cell (or half a wide
character) in size.

The atlas is shared by the reference rasterizer (which composites masks with colours), the cell-grid
OCR (which matches cells against masks) and the neural renderer (whose caption tokens carry the
glyph's shape, so characters never seen in training are still specified exactly).

Where a glyph comes from, first match wins:

1. **Procedural** (drawn on the pixel grid, as kitty, alacritty and wezterm do, so that lines and
   fills join across cells exactly at every cell size): box drawing U+2500-257F (light, heavy,
   double, dashed, arcs, diagonals), block elements U+2580-259F, Braille U+2800-28FF, powerline
   U+E0A0-E0A3 and U+E0B0-E0BF, sextants U+1FB00-1FB3B. Font glyphs for these are drawn for a
   different cell and come out clipped, offset or with seams.
2. The main face, DejaVu Sans Mono (regular, bold, oblique, bold-oblique).
3. Fallbacks (Debian packages): Noto Sans Mono, Noto Sans CJK (CJK), Symbola (monochrome emoji,
   dingbats, symbols), Unifont and Unifont Upper (nearly all of Unicode, an 8x16 / 16x16 bitmap
   design: last resort). Unifont CSUR is left out: its private-use glyphs are ConScript scripts that
   collide with the powerline and Nerd Font code points terminals actually see.
4. A hollow box for a character no font has - never an empty cell.

Emoji are monochrome masks by default (Symbola): the whole pipeline - the OCR's two-colour fit, the
neural renderer's mask tokens, themes - relies on a cell being one mask between two colours.
`FontSpec(color_emoji=True)` draws wide emoji from Noto Color Emoji instead; those glyphs also get an
RGBA layer (`GlyphAtlas.color`) that the rasterizer composites and the OCR matches (docs/glyphs.md).
"""

from __future__ import annotations

import functools
import os
import threading
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from terminal.screen import BOLD, ITALIC, STRIKE, UNDERLINE, char_width

FONT_DIRS = ["/usr/share/fonts", "/usr/local/share/fonts", str(Path.home() / ".fonts")]

MAIN_FACES = {
    0: "DejaVuSansMono.ttf",
    BOLD: "DejaVuSansMono-Bold.ttf",
    ITALIC: "DejaVuSansMono-Oblique.ttf",
    BOLD | ITALIC: "DejaVuSansMono-BoldOblique.ttf",
}
FALLBACKS = ["NotoSansMono-Regular.ttf", "NotoSansCJK-Regular.ttc", "Symbola_hint.ttf",
             "Symbola.ttf", "unifont.otf", "unifont_upper.otf"]
COLOR_EMOJI_FONT = "NotoColorEmoji.ttf"
APT_HINT = "apt-get install fonts-dejavu-core"

STYLE_BITS = BOLD | ITALIC | UNDERLINE | STRIKE


class FontError(RuntimeError):
    """A font file the configuration names cannot be found or loaded."""


@lru_cache(maxsize=64)
def find_font(name: str) -> str | None:
    """Absolute path of a font file, by file name or path; None when absent."""
    if os.path.isabs(name) or os.sep in name:
        return os.path.abspath(name) if os.path.isfile(name) else None
    for root in FONT_DIRS:
        for dirpath, _dirs, files in os.walk(root):
            if name in files:
                return os.path.join(dirpath, name)
    return None


@lru_cache(maxsize=64)
def _cmap(path: str) -> frozenset[int]:
    from fontTools.ttLib import TTFont  # matplotlib's dependency; only needed for fallbacks

    try:
        font = TTFont(path, fontNumber=0, lazy=True)
        return frozenset(font.getBestCmap() or {})
    except Exception as e:  # a corrupt or non-font file named in the configuration
        raise FontError(f"cannot read font {path}: {e}") from None


@dataclass(frozen=True)
class FontSpec:
    """Which fonts draw the cells, and how big a cell is (pixels).

    `size` is the main face's pixel size; `cell_w` x `cell_h` the cell; `baseline` the pixel row of
    the text baseline inside a cell. `FontSpec.sized(px)` derives the cell from the font.
    """

    main: str = "DejaVuSansMono.ttf"
    size: float = 13.0
    cell_w: int = 8
    cell_h: int = 16
    baseline: int = 12  # pixel row of the baseline inside a cell
    fallbacks: tuple[str, ...] = tuple(FALLBACKS)
    bold_face: str | None = MAIN_FACES[BOLD]
    italic_face: str | None = MAIN_FACES[ITALIC]
    bold_italic_face: str | None = MAIN_FACES[BOLD | ITALIC]
    color_emoji: bool = False

    def __post_init__(self) -> None:
        if not (2 <= self.cell_w <= 256 and 4 <= self.cell_h <= 512):
            raise FontError(f"cell size {self.cell_w}x{self.cell_h} px is out of range "
                            "(2..256 x 4..512)")
        if not 0 < self.size <= 512:
            raise FontError(f"font size {self.size} px is out of range (0..512]")
        if not 0 <= self.baseline < self.cell_h:
            raise FontError(f"baseline {self.baseline} is outside a {self.cell_h} px cell")

    @classmethod
    def sized(cls, size: float, **overrides: object) -> FontSpec:
        """A spec for the main face at `size` px, cell metrics taken from the font itself:
        width = the advance of "M", height = ascent + descent - 1 (DejaVu's line gap at 13 px
        gives the classic 8x16 cell), baseline = ascent - 1."""
        if not 4 <= size <= 200:
            raise FontError(f"font size {size} px is out of range (4..200)")
        main = str(overrides.get("main", cls.main))
        path = find_font(main)
        if path is None:
            raise FontError(f"font {main} not found ({APT_HINT})")
        try:
            font = ImageFont.truetype(path, size)
        except OSError as e:
            raise FontError(f"cannot load font {path}: {e}") from None
        ascent, descent = font.getmetrics()
        cell_w = max(2, round(font.getlength("M")))
        cell_h = ascent + descent - 1
        return cls(**{"size": float(size), "cell_w": cell_w, "cell_h": cell_h,
                      "baseline": ascent - 1, **overrides})  # type: ignore[arg-type]

    def with_(self, **changes: object) -> FontSpec:
        """A copy with some fields changed."""
        return replace(self, **changes)  # type: ignore[arg-type]


@dataclass
class GlyphAtlas:
    """Alpha masks (float32 in [0, 1], shaped (cell_h, cell_w)) for (text, style, half) keys.

    `half` is 0 for a normal character, 1 and 2 for the left and right halves of a wide one.
    Index 0 is always the blank cell. Masks are quantised to 1/255 steps so that the float masks
    and the uint8 masks the rasterizer composites with give the same pixels. Thread-safe: masks
    are appended under a lock. Raises FontError when a face the spec names is missing.
    """

    spec: FontSpec = field(default_factory=FontSpec)

    def __post_init__(self) -> None:
        self._lock = threading.RLock()
        self._index: dict[tuple[str, int, int], int] = {}
        h, w = self.spec.cell_h, self.spec.cell_w
        self._u8 = np.zeros((256, h, w), np.uint8)  # grows by doubling; views stay valid
        self._f32 = np.zeros((256, h, w), np.float32)
        self._n = 0
        self._color: dict[int, np.ndarray] = {}  # atlas index -> (h, w, 4) float32, premultiplied
        self._deco: dict[int, np.ndarray] = {}  # colour glyphs: underline / strike lines (h, w)
        self._fonts: dict[tuple[str, float], ImageFont.FreeTypeFont] = {}
        main = find_font(self.spec.main)
        if main is None:
            raise FontError(f"font {self.spec.main} not found ({APT_HINT})")
        self._faces = {0: main}
        for bits, name in ((BOLD, self.spec.bold_face), (ITALIC, self.spec.italic_face),
                           (BOLD | ITALIC, self.spec.bold_italic_face)):
            if not name:
                continue
            path = find_font(name)
            if path is None:
                raise FontError(f"font {name} not found ({APT_HINT})")
            self._faces[bits] = path
        self._font(main, self.spec.size)  # a corrupt main face fails here, not mid-frame
        found = [(n, find_font(n)) for n in self.spec.fallbacks]
        self._fallbacks = [p for _n, p in found if p]
        self.missing_fallbacks = [n for n, p in found if not p]
        self._emoji = find_font(COLOR_EMOJI_FONT) if self.spec.color_emoji else None
        if self.spec.color_emoji and self._emoji is None:
            raise FontError(f"font {COLOR_EMOJI_FONT} not found "
                            "(apt-get install fonts-noto-color-emoji)")
        self.index(" ", 0)

    # -- public --------------------------------------------------------------------------
    @property
    def cell(self) -> tuple[int, int]:
        """(cell_h, cell_w) in pixels."""
        return self.spec.cell_h, self.spec.cell_w

    def __len__(self) -> int:
        return self._n

    def index(self, text: str, style: int = 0, half: int = 0) -> int:
        """Atlas index of a cell's mask, rasterizing it on first use.

        half: 0 for a one-cell character, 1 / 2 for the left / right half of a wide one (both
        halves are made together)."""
        key = (text, style & STYLE_BITS, half)
        idx = self._index.get(key)
        if idx is not None:
            return idx
        with self._lock:
            idx = self._index.get(key)
            if idx is None:
                st = key[1]
                if half:
                    colour = self._draw_wide_color(text, st)
                    left, right = (colour[0], colour[1]) if colour else self._draw_wide(text, st)
                    i = self._append(left)
                    self._append(right)
                    self._index[(text, st, 1)] = i
                    self._index[(text, st, 2)] = i + 1
                    if colour:
                        for j, k in ((i, 2), (i + 1, 3)):
                            self._color[j], self._deco[j] = colour[k]
                else:
                    self._index[key] = self._append(self._draw_narrow(text, st))
                idx = self._index[key]
        return idx

    def cell_index(self, text: str, style: int, next_text: str | None = None) -> int:
        """Index for a screen cell: "" (a wide char's right half) is resolved by the caller."""
        if text and char_width(text) == 2:
            return self.index(text, style, 1)
        return self.index(text or " ", style, 0)

    def row_indices(self, chars: list[str], attrs: np.ndarray | list[int]) -> list[int]:
        """Atlas index of every cell of one screen row (its texts and attribute bits), exactly as
        the rasterizer draws it: "" is the right half of the wide character before it, a blank
        without decorations is index 0, a wide character that would overflow the last column is
        drawn as a blank."""
        index, known = self.index, self._index.get
        attrs = attrs.tolist() if isinstance(attrs, np.ndarray) else list(attrs)
        cols = len(chars)
        out = [0] * cols
        wide = None
        for c, text in enumerate(chars):
            a = attrs[c]
            if text == "":
                out[c] = index(wide, attrs[c - 1], 2) if wide else 0
                wide = None
                continue
            wide = None
            if text == " " and not a:
                continue
            if text >= "\u1100" and char_width(text) == 2:
                if c + 1 < cols:
                    out[c] = index(text, a, 1)
                    wide = text
                    continue
                text = " "
            i = known((text, a & STYLE_BITS, 0))  # the common case, without a call
            out[c] = index(text, a) if i is None else i
        return out

    @property
    def masks(self) -> np.ndarray:
        """All masks stacked: (N, cell_h, cell_w) float32, read-only."""
        view = self._f32[: self._n]
        view.flags.writeable = False
        return view

    @property
    def masks_u8(self) -> np.ndarray:
        """All masks as 0..255 coverage: (N, cell_h, cell_w) uint8, read-only."""
        view = self._u8[: self._n]
        view.flags.writeable = False
        return view

    def mask(self, text: str, style: int = 0) -> np.ndarray:
        """The full mask of a character: (cell_h, cell_w * width)."""
        if char_width(text) == 2:
            left, right = self.index(text, style, 1), self.index(text, style, 2)
            masks = self.masks  # after indexing: drawing a new glyph grows the stack
            return np.concatenate([masks[left], masks[right]], axis=1)
        i = self.index(text, style)
        return self.masks[i]

    def keys(self) -> list[tuple[str, int, int]]:
        """Every (text, style, half) drawn so far, in atlas order."""
        return list(self._index)

    @property
    def color(self) -> dict[int, np.ndarray]:
        """Colour glyphs (only with `FontSpec.color_emoji`): atlas index -> (cell_h, cell_w, 4)
        float32, RGB premultiplied by alpha, all in [0, 1]. Their entry in `masks` is the alpha."""
        return self._color

    def decoration(self, idx: int) -> np.ndarray:
        """A colour glyph's underline / strike-through lines (cell_h, cell_w) float32, drawn in
        the cell's foreground colour under the glyph (zeros for glyphs without)."""
        deco = self._deco.get(idx)
        return deco if deco is not None else np.zeros(self.cell, np.float32)

    def font_for(self, ch: str, style: int = 0) -> str | None:
        """Path of the font that draws `ch` (None: procedural or missing)."""
        cp = ord(ch[0])
        if procedural(cp):
            return None
        face = self._faces.get(style & (BOLD | ITALIC)) or self._faces[0]
        for path in [face, self._faces[0], *self._fallbacks]:
            if cp in _cmap(path):
                return path
        return None

    # -- drawing -------------------------------------------------------------------------
    def _append(self, mask: np.ndarray) -> int:
        if self._n == len(self._u8):
            self._u8 = np.concatenate([self._u8, np.zeros_like(self._u8)])
            self._f32 = np.concatenate([self._f32, np.zeros_like(self._f32)])
        u8 = np.rint(np.clip(mask, 0.0, 1.0) * 255.0).astype(np.uint8)
        self._u8[self._n] = u8
        self._f32[self._n] = u8.astype(np.float32) / 255.0
        self._n += 1
        return self._n - 1

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

    def _draw_wide_color(self, text: str, style: int) -> tuple | None:
        """A colour emoji's two halves: (left mask, right mask, (left RGBA, left decoration),
        (right RGBA, right decoration)); None when the character is not drawn in colour."""
        rgba = self._draw_color_emoji(text) if self._emoji else None
        if rgba is None:
            return None
        w = self.spec.cell_w
        deco = self._decorate(np.zeros(rgba.shape[:2], np.float32), style)
        mask = np.maximum(rgba[..., 3], deco)  # the silhouette, for mask-only consumers
        return (mask[:, :w].copy(), mask[:, w:].copy(),
                (rgba[:, :w].copy(), deco[:, :w].copy()), (rgba[:, w:].copy(), deco[:, w:].copy()))

    def _draw_text(self, text: str, style: int, width: int) -> np.ndarray:
        h = self.spec.cell_h
        cp = ord(text[0])
        if procedural(cp):
            return draw_procedural(cp, h, width, self._faces[BOLD] if BOLD in self._faces
                                   else self._faces[0])
        path = self.font_for(text[0], style)
        if path is None:
            return _missing_box(h, width)
        img = Image.new("L", (width, h), 0)
        draw = ImageDraw.Draw(img)
        if path in self._faces.values():
            font = self._font(path, self.spec.size)
            draw.text((0, self.spec.baseline), text, font=font, fill=255, anchor="ls")
        else:
            self._draw_fallback(draw, text, path, width)
        mask = np.asarray(img, np.float32) / 255.0
        if style & BOLD and path not in (self._faces.get(BOLD), self._faces.get(BOLD | ITALIC)):
            mask = np.maximum(mask, np.pad(mask, ((0, 0), (1, 0)))[:, :width])  # synthetic bold
        return mask

    def _draw_fallback(self, draw: ImageDraw.ImageDraw, text: str, path: str, width: int) -> None:
        """A glyph from a font with other metrics, fitted into its cell(s)."""
        h = self.spec.cell_h
        base = os.path.basename(path).lower()
        y = float(self.spec.baseline)
        if "unifont" in base:
            # An 8x16 / 16x16 bitmap design: at 16 px per cell height it is pixel-exact.
            size = float(h)
            y = round(h * 14 / 16)
        elif "symbola" in base and width > self.spec.cell_w:
            size = float(min(width, h))  # a wide emoji fills its two cells, like a CJK glyph
        else:
            size = self.spec.size
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
        if bbox[1] + y < 0 or bbox[3] + y > h:  # too tall for the baseline: centre vertically
            y = (h - gh) / 2 - bbox[1]
        draw.text((x, y), text, font=font, fill=255, anchor="ls")

    def _draw_color_emoji(self, text: str) -> np.ndarray | None:
        """(h, 2w, 4) premultiplied RGBA of a wide emoji from the colour font, or None."""
        cp = ord(text[0])
        if self._emoji is None or cp not in _cmap(self._emoji) or not _emoji_range(cp):
            return None
        h, w2 = self.spec.cell_h, 2 * self.spec.cell_w
        font = self._font(self._emoji, 109)  # CBDT bitmap strikes exist only at 109 px
        canvas = Image.new("RGBA", (160, 160), (0, 0, 0, 0))
        ImageDraw.Draw(canvas).text((80, 80), text, font=font, anchor="mm", embedded_color=True)
        bbox = canvas.getbbox()
        if bbox is None:
            return None
        glyph = canvas.crop(bbox)
        scale = min(w2 / glyph.width, h / glyph.height)
        gw, gh = max(1, round(glyph.width * scale)), max(1, round(glyph.height * scale))
        # premultiply before resampling so transparent pixels do not bleed black into the edges
        arr = np.asarray(glyph, np.float32) / 255.0
        arr[..., :3] *= arr[..., 3:]
        small = np.stack([np.asarray(Image.fromarray(arr[..., i]).resize((gw, gh), Image.Resampling.LANCZOS))
                          for i in range(4)], -1)
        out = np.zeros((h, w2, 4), np.float32)
        y0, x0 = (h - gh) // 2, (w2 - gw) // 2
        out[y0:y0 + gh, x0:x0 + gw] = small
        out = np.clip(out, 0.0, 1.0)
        out[..., :3] = np.minimum(out[..., :3], out[..., 3:])
        return np.rint(out * 255.0) / 255.0  # same quantisation as the masks

    def _decorate(self, mask: np.ndarray, style: int) -> np.ndarray:
        h = self.spec.cell_h
        thick = max(1, round(h / 16))
        if style & UNDERLINE:
            y = min(self.spec.baseline + 2, h - thick)
            mask = mask.copy()
            mask[y:y + thick, :] = 1.0
        if style & STRIKE:
            y = max(self.spec.baseline - (self.spec.baseline * 3) // 8 - 1, 0)
            mask = mask.copy()
            mask[y:y + thick, :] = 1.0
        return mask


# -- procedural glyphs --------------------------------------------------------------------
def procedural(cp: int) -> bool:
    """True for code points drawn on the pixel grid rather than taken from a font."""
    return (0x2500 <= cp <= 0x259F or 0x2800 <= cp <= 0x28FF or 0xE0A0 <= cp <= 0xE0A3
            or 0xE0B0 <= cp <= 0xE0BF or 0x1FB00 <= cp <= 0x1FB3B)


def draw_procedural(cp: int, h: int, w: int, label_font: str | None = None) -> np.ndarray:
    """The (h, w) float mask of a procedural code point (see `procedural`)."""
    if 0x2500 <= cp <= 0x257F:
        return _box_drawing(cp, h, w)
    if 0x2580 <= cp <= 0x259F:
        return _block_element(cp, h, w)
    if 0x2800 <= cp <= 0x28FF:
        return _braille(cp, h, w)
    if 0xE0B0 <= cp <= 0xE0BF:
        return _powerline(cp, h, w)
    if 0xE0A0 <= cp <= 0xE0A3:
        return _powerline_icon(cp, h, w, label_font)
    if 0x1FB00 <= cp <= 0x1FB3B:
        return _sextant(cp, h, w)
    raise ValueError(f"U+{cp:04X} is not drawn procedurally")


def _stroke(h: int, w: int) -> tuple[int, int]:
    """Light line thickness and how far a heavy line extends beyond it on each side."""
    t = max(1, round(min(w, h / 2) / 8))
    return t, t


LIGHT, HEAVY, DOUBLE = 1, 2, 3
_WEIGHTS = {"LIGHT": LIGHT, "SINGLE": LIGHT, "HEAVY": HEAVY, "DOUBLE": DOUBLE}
_DIRS = {"UP": ("up",), "DOWN": ("down",), "LEFT": ("left",), "RIGHT": ("right",),
         "HORIZONTAL": ("left", "right"), "VERTICAL": ("up", "down")}


@functools.cache
def box_arms(cp: int) -> tuple[dict[str, int], int]:
    """Arm weights {"up", "down", "left", "right": 0/LIGHT/HEAVY/DOUBLE} and dash count (0: solid)
    of a box-drawing line character, read from its Unicode name, e.g. "DOWN LIGHT AND RIGHT HEAVY".
    Arcs and diagonals (U+256D-2573) are not arm characters: ValueError."""
    if 0x256D <= cp <= 0x2573 or not 0x2500 <= cp <= 0x257F:
        raise ValueError(f"U+{cp:04X} is not a box-drawing line")
    words = unicodedata.name(chr(cp)).removeprefix("BOX DRAWINGS ").split()
    dashes = 0
    if "DASH" in words:
        i = words.index("DASH")
        dashes = {"DOUBLE": 2, "TRIPLE": 3, "QUADRUPLE": 4}[words[i - 1]]
        del words[i - 1:i + 1]
    arms = dict.fromkeys(("up", "down", "left", "right"), 0)
    weight = 0
    groups = " ".join(words).split(" AND ")
    for group in groups:
        tokens = group.split()
        group_weight = next((_WEIGHTS[t] for t in tokens if t in _WEIGHTS), weight)
        weight = group_weight
        for t in tokens:
            for d in _DIRS.get(t, ()):
                arms[d] = group_weight
    if not weight or not any(arms.values()):
        raise ValueError(f"cannot read box-drawing name of U+{cp:04X}")
    return arms, dashes


def _box_drawing(cp: int, h: int, w: int) -> np.ndarray:
    if 0x256D <= cp <= 0x2570:
        return _arc(cp, h, w)
    if 0x2571 <= cp <= 0x2573:
        t, _ = _stroke(h, w)
        lines: list[tuple[tuple[float, float], tuple[float, float]]] = []
        if cp in (0x2571, 0x2573):
            lines.append(((float(w), 0.0), (0.0, float(h))))
        if cp in (0x2572, 0x2573):
            lines.append(((0.0, 0.0), (float(w), float(h))))
        return _coverage(h, w, lambda x, y: _near_segments(x, y, lines, t * 0.5 + 0.25))
    arms, dashes = box_arms(cp)
    m = np.zeros((h, w), np.float32)
    t, e = _stroke(h, w)
    cx, cy = (w - t) // 2, (h - t) // 2  # start of the light band, across each axis

    def bands(weight: int, c0: int) -> list[tuple[int, int]]:
        if weight == LIGHT:
            return [(c0, c0 + t)]
        if weight == HEAVY:
            return [(c0 - e, c0 + t + e)]
        return [(c0 - t, c0), (c0 + t, c0 + 2 * t)]  # double: the light band is the gap

    if dashes:
        horizontal = arms["left"] > 0
        n, length = dashes, (w if horizontal else h)
        gap = max(1, round(length / n / 4))
        for lo, hi in bands(arms["left"] or arms["up"], cy if horizontal else cx):
            for i in range(n):
                a, b = round(i * length / n), round((i + 1) * length / n) - gap
                if horizontal:
                    m[lo:hi, a:b] = 1
                else:
                    m[a:b, lo:hi] = 1
        return m

    def reach(weight: int, toward: int, away: int, opposite: int) -> int:
        """How far a line of an arm runs past the start of the centre band (toward the far
        side). toward / away: weights of the perpendicular arms on this line's side and on the
        other side; opposite: the weight of the arm continuing this one straight through."""
        if DOUBLE in (toward, away):
            if weight == DOUBLE:
                # a double line stops on the perpendicular double line on its own side, else
                # turns the corner onto the far one
                return 0 if toward == DOUBLE else 2 * t
            if toward == DOUBLE and away == DOUBLE and not opposite:
                return 0  # a single line meeting a straight double line touches the near one
            return 2 * t
        if max(toward, away) == HEAVY:
            return t + e
        return t  # light perpendicular line, or none: end at the far side of the centre band

    pairs = {"left": ("up", "down", "right"), "right": ("up", "down", "left"),
             "up": ("left", "right", "down"), "down": ("left", "right", "up")}
    for side, (p0, p1, opp) in pairs.items():
        weight = arms[side]
        if not weight:
            continue
        horizontal = side in ("left", "right")
        c0, length = (cx, w) if horizontal else (cy, h)
        for k, (lo, hi) in enumerate(bands(weight, cy if horizontal else cx)):
            # a double arm's line 0 is on the p0 side (upper / left line), line 1 on the p1 side
            toward, away = (arms[p0], arms[p1]) if k == 0 or weight != DOUBLE else (arms[p1], arms[p0])
            r = reach(weight, toward, away, arms[opp])
            a, b = ((0, min(length, c0 + r)) if side in ("left", "up")
                    else (max(0, c0 + t - r), length))
            if horizontal:
                m[lo:hi, a:b] = 1
            else:
                m[a:b, lo:hi] = 1
    return m


def _coverage(h: int, w: int, inside: Callable[[np.ndarray, np.ndarray], np.ndarray],
              ss: int = 8) -> np.ndarray:
    """Antialiased mask: the share of ss x ss sample points per pixel for which `inside(x, y)`
    holds (x, y in pixel units, (0, 0) the cell's top-left corner)."""
    ys = (np.arange(h * ss, dtype=np.float64) + 0.5) / ss
    xs = (np.arange(w * ss, dtype=np.float64) + 0.5) / ss
    x, y = np.meshgrid(xs, ys)
    hit = inside(x, y).astype(np.float32)
    return hit.reshape(h, ss, w, ss).mean(axis=(1, 3))


def _near_segments(x: np.ndarray, y: np.ndarray, segments: list, radius: float) -> np.ndarray:
    """Points within `radius` of any of the segments ((x0, y0), (x1, y1))."""
    hit = np.zeros(x.shape, bool)
    for (x0, y0), (x1, y1) in segments:
        dx, dy = x1 - x0, y1 - y0
        u = np.clip(((x - x0) * dx + (y - y0) * dy) / (dx * dx + dy * dy), 0.0, 1.0)
        hit |= (x - x0 - u * dx) ** 2 + (y - y0 - u * dy) ** 2 <= radius * radius
    return hit


def _arc(cp: int, h: int, w: int) -> np.ndarray:
    """Rounded corners U+256D-2570: a quarter circle joining the light vertical and horizontal
    bands, which run straight (pixel-exact) to the cell edges so they meet ─ and │."""
    t, _ = _stroke(h, w)
    cx, cy = (w - t) // 2, (h - t) // 2
    x0, y0 = cx + t / 2, cy + t / 2  # centre lines of the bands
    # at least one pixel of straight band before each edge, so the ends are exactly ─ and │
    r = max(1.0, min(x0, w - x0, y0, h - y0) - 1.0)
    sx = +1 if cp in (0x256D, 0x2570) else -1  # the horizontal arm goes right (+1) or left
    sy = +1 if cp in (0x256D, 0x256E) else -1  # the vertical arm goes down (+1) or up
    ax, ay = x0 + sx * r, y0 + sy * r  # the circle's centre

    def inside(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        in_quadrant = (sx * (x - ax) <= 0) & (sy * (y - ay) <= 0)
        ring = np.abs(np.hypot(x - ax, y - ay) - r) <= t / 2
        vertical = (x >= cx) & (x < cx + t) & (sy * (y - ay) >= 0)
        horizontal = (y >= cy) & (y < cy + t) & (sx * (x - ax) >= 0)
        return (in_quadrant & ring) | vertical | horizontal

    return _coverage(h, w, inside)


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
    elif cp in (0x2591, 0x2592, 0x2593):  # shades: dot patterns, as fonts draw them
        y, x = np.mgrid[0:h, 0:w]
        light = (y % 2 == 0) & ((x + y // 2) % 2 == 0)  # 1 pixel in 4
        m[:] = {0x2591: light, 0x2592: (x + y) % 2 == 0, 0x2593: ~light}[cp]
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


def _braille(cp: int, h: int, w: int) -> np.ndarray:
    """U+2800-28FF: a 2 x 4 grid of square dots; bit i of (cp - 0x2800) is dot i + 1."""
    m = np.zeros((h, w), np.float32)
    bits = cp - 0x2800
    d = max(1, round(w / 4))  # dot size
    # dot number -> (column, row): dots 1-3 and 4-6 run down the columns, 7 and 8 are the bottom
    spots = [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2), (0, 3), (1, 3)]
    for i, (col, row) in enumerate(spots):
        if bits >> i & 1:
            x = round((2 * col + 1) * w / 4 - d / 2)
            y = round((2 * row + 1) * h / 8 - d / 2)
            m[y:y + d, x:x + d] = 1
    return m


def _sextant(cp: int, h: int, w: int) -> np.ndarray:
    """U+1FB00-1FB3B: a 2 x 3 grid of blocks. The 64 patterns minus the four that exist elsewhere
    (blank, full block, left half, right half) are numbered in order of their bit value."""
    patterns = [b for b in range(1, 63) if b not in (0b010101, 0b101010)]
    bits = patterns[cp - 0x1FB00]
    m = np.zeros((h, w), np.float32)
    ys = [0, round(h / 3), round(2 * h / 3), h]
    hw = w // 2
    for i in range(6):
        if bits >> i & 1:
            row, col = divmod(i, 2)
            m[ys[row]:ys[row + 1], (0, hw)[col]:(hw, w)[col]] = 1
    return m


def _powerline(cp: int, h: int, w: int) -> np.ndarray:
    """Powerline separators U+E0B0-E0BF (solid ones span the full cell so they butt against the
    neighbouring coloured cells, like the terminals that draw them themselves)."""
    t, _ = _stroke(h, w)
    half = h / 2
    thin = t * 0.5 + 0.25
    mirror = cp in (0xE0B2, 0xE0B3, 0xE0B6, 0xE0B7)
    base = {0xE0B2: 0xE0B0, 0xE0B3: 0xE0B1, 0xE0B6: 0xE0B4, 0xE0B7: 0xE0B5}.get(cp, cp)

    def inside(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        if mirror:
            x = w - x
        if base == 0xE0B0:  # solid right-pointing triangle
            return x <= w * (1 - np.abs(y - half) / half)
        if base == 0xE0B1:  # thin right-pointing chevron
            return _near_segments(x, y, [((0.0, 0.0), (w - thin, half)),
                                         ((w - thin, half), (0.0, h))], thin)
        if base == 0xE0B4:  # solid right half-circle
            return (x / w) ** 2 + ((y - half) / half) ** 2 <= 1
        if base == 0xE0B5:  # thin right half-circle
            r = np.hypot(x / w, (y - half) / half)
            return np.abs(r - (1 - thin / w)) <= thin / w * 1.2
        if base in (0xE0B9, 0xE0BF):  # backslash separator
            return _near_segments(x, y, [((0.0, 0.0), (w, h))], thin)
        if base in (0xE0BB, 0xE0BD):  # forward-slash separator
            return _near_segments(x, y, [((0.0, h), (w, 0.0))], thin)
        if base == 0xE0B8:  # lower-left triangle
            return y >= x * h / w
        if base == 0xE0BA:  # lower-right triangle
            return y >= h * (1 - x / w)
        if base == 0xE0BC:  # upper-left triangle
            return y <= h * (1 - x / w)
        return y <= x * h / w  # 0xE0BE, upper-right triangle

    return _coverage(h, w, inside)


def _powerline_icon(cp: int, h: int, w: int, label_font: str | None) -> np.ndarray:
    """Powerline icons U+E0A0 (branch), E0A1 (line number), E0A2 (padlock), E0A3 (column number),
    drawn at 8x supersampling so they look the same at every cell size."""
    ss = 8
    W, H = w * ss, h * ss
    img = Image.new("L", (W, H), 0)
    d = ImageDraw.Draw(img)
    lw = max(ss, round(W / 7))
    top, bottom = round(H * 0.2), round(H * 0.82)  # the icons sit in the cap-height band
    if cp == 0xE0A0:  # branch: a trunk between two commits, a side branch curving into it
        x_trunk, x_side = round(W * 0.28), round(W * 0.74)
        r = max(ss, round(W * 0.12))
        y_top, y_bottom, y_side = top + r, bottom - r, top + round((bottom - top) * 0.3)
        d.line([(x_trunk, y_top), (x_trunk, y_bottom)], fill=255, width=lw)
        for cx_, cy_ in ((x_trunk, y_top), (x_trunk, y_bottom), (x_side, y_side)):
            d.ellipse([cx_ - r, cy_ - r, cx_ + r, cy_ + r], fill=255)
        join = top + (bottom - top) * 0.72
        pts = [(x_side + (x_trunk - x_side) * s ** 2, y_side + (join - y_side) * s)
               for s in np.linspace(0, 1, 24)]
        d.line(pts, fill=255, width=lw, joint="curve")
    elif cp == 0xE0A2:  # padlock: a shackle over a body with a keyhole
        x0, x1 = round(W * 0.12), round(W * 0.88)
        body = round(H * 0.48)
        d.arc([round(W * 0.25), top, round(W * 0.75), body + (body - top) // 2], 180, 360,
              fill=255, width=lw)
        d.line([(round(W * 0.25) + lw // 2, (top + body) // 2 + lw),
                (round(W * 0.25) + lw // 2, body)], fill=255, width=lw)
        d.line([(round(W * 0.75) - lw // 2, (top + body) // 2 + lw),
                (round(W * 0.75) - lw // 2, body)], fill=255, width=lw)
        d.rectangle([x0, body, x1, bottom], fill=255)
        k = round(W * 0.1)
        d.rectangle([W // 2 - k, (body + bottom) // 2 - 2 * k, W // 2 + k, (body + bottom) // 2 + k],
                    fill=0)
    else:  # two stacked letters: "LN" (line number) or "CN" (column number)
        first = "L" if cp == 0xE0A1 else "C"
        if label_font is None:
            return _missing_box(h, w)
        font = ImageFont.truetype(label_font, round(H * 0.42))
        for letter, (x_, y_) in ((first, (W * 0.3, H * 0.5)), ("N", (W * 0.7, H * 0.86))):
            d.text((x_, y_), letter, font=font, fill=255, anchor="ms")
    arr = np.asarray(img, np.float32) / 255.0
    return arr.reshape(h, ss, w, ss).mean(axis=(1, 3))


def _emoji_range(cp: int) -> bool:
    return cp >= 0x1F000 or 0x2300 <= cp <= 0x2BFF


def _missing_box(h: int, w: int) -> np.ndarray:
    m = np.zeros((h, w), np.float32)
    m[2, 1:w - 1] = m[h - 3, 1:w - 1] = 1
    m[2:h - 2, 1] = m[2:h - 2, w - 2] = 1
    return m


def is_printable(ch: str) -> bool:
    """False for control characters and lone surrogates."""
    return bool(ch) and unicodedata.category(ch[0]) not in ("Cc", "Cs")

"""Calibration: where a real terminal's cells are, how it draws each glyph, which colours it shows.

Three kinds of calibration screen are shown to the terminal and captured:

* a checkerboard of inverse-video blanks: its edges give the exact cell size and grid offset
  (`measure_grid`), checked cell by cell so a wrong guess cannot pass;
* glyph sheets: every character we care about, in several styles, one per cell with blank
  neighbours; each cell's pixels, projected onto the line from background to foreground colour,
  give that terminal's own alpha mask for the glyph (`learn_templates`). A `TemplateAtlas` serves
  these masks to the cell-grid OCR, so captures are read with the terminal's own font rendering;
* a colour swatch: the 256 palette colours as backgrounds and the 16 theme colours as plain and
  bold text, read back into a `Theme` (`measure_theme`) plus facts a Theme cannot hold (does the
  terminal draw 24-bit colour exactly? does it use xterm's 256-colour cube?).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from terminal.screen import BOLD, ITALIC, STRIKE, UNDERLINE, char_width
from terminal.themes import Theme, xterm_256

from ..fonts import STYLE_BITS, FontSpec, GlyphAtlas
from .xserver import CaptureError

RIS = b"\x1bc"
HIDE_CURSOR = b"\x1b[?25l"


@dataclass(frozen=True)
class Grid:
    """Where the cell grid lies in a window capture (pixels)."""

    x0: int
    y0: int
    cell_w: int
    cell_h: int
    cols: int
    rows: int

    def crop(self, image: np.ndarray) -> np.ndarray:
        """The cell grid of a window capture: (rows * cell_h, cols * cell_w, 3)."""
        h, w = self.rows * self.cell_h, self.cols * self.cell_w
        if image.shape[0] < self.y0 + h or image.shape[1] < self.x0 + w:
            raise CaptureError(f"capture {image.shape[1]}x{image.shape[0]} is smaller than its "
                               f"{self.cols}x{self.rows} grid")
        return image[self.y0:self.y0 + h, self.x0:self.x0 + w]

    def to_json(self) -> dict[str, int]:
        return asdict(self)


# -- geometry ----------------------------------------------------------------------------------
def checker_bytes(cols: int, rows: int) -> bytes:
    """A checkerboard of inverse blanks starting inverse at the top-left cell, cursor hidden."""
    out = bytearray(RIS + HIDE_CURSOR)
    for r in range(rows):
        out += f"\x1b[{r + 1};1H".encode()
        for c in range(cols):
            out += b"\x1b[7m \x1b[27m" if (r + c) % 2 == 0 else b" "
    return bytes(out)


def _edges(on: np.ndarray, axis: int) -> np.ndarray:
    """Positions p where pixels p-1 and p differ along `axis`, scored by how often."""
    diff = np.diff(on.astype(np.int8), axis=axis) != 0
    return diff.sum(axis=1 - axis)  # index i: edge between i and i+1


def measure_grid(image: np.ndarray, cols: int, rows: int, theme: Theme) -> Grid:
    """Cell size and grid offset from a capture of `checker_bytes(cols, rows)`.

    Raises CaptureError unless every cell of the measured grid is exactly one of the two colours
    in the checkerboard pattern."""
    img = image.astype(np.int32)
    fg, bg = np.array(theme.fg), np.array(theme.bg)
    on = np.abs(img - fg).sum(-1) < np.abs(img - bg).sum(-1)  # (H, W) inverse-blank pixels
    grid = None
    xs = np.flatnonzero(_edges(on, 1) > 0)
    ys = np.flatnonzero(_edges(on, 0) > 0)
    if len(xs) >= 2 and len(ys) >= 2:
        x0, y0 = int(xs[0]) + 1, int(ys[0]) + 1
        cell_w = round((int(xs[-1]) + 1 - x0) / cols)
        cell_h = round((int(ys[-1]) + 1 - y0) / rows)
        if cell_w > 0 and cell_h > 0:
            grid = Grid(x0, y0, cell_w, cell_h, cols, rows)
    if grid is None:
        raise CaptureError("calibration failed: no checkerboard in the capture")
    cells = grid.crop(on).reshape(rows, grid.cell_h, cols, grid.cell_w)
    want = (np.add.outer(np.arange(rows), np.arange(cols)) % 2 == 0)
    uniform = cells.all(axis=(1, 3)) | ~cells.any(axis=(1, 3))
    if not (uniform.all() and np.array_equal(cells[:, 0, :, 0], want)):
        raise CaptureError(f"calibration failed: a {grid.cell_w}x{grid.cell_h} grid at "
                           f"({grid.x0}, {grid.y0}) does not fit the checkerboard")
    return grid


# -- glyph sheets ------------------------------------------------------------------------------
ASCII = [chr(c) for c in range(0x21, 0x7F)]
ASCII_STYLES = (0, BOLD, ITALIC, BOLD | ITALIC, UNDERLINE, BOLD | UNDERLINE,
                ITALIC | UNDERLINE, STRIKE)


@dataclass(frozen=True)
class Placement:
    """A character drawn at (row, col) in `style` on a glyph sheet."""

    row: int
    col: int
    text: str
    style: int


def _sgr(style: int) -> str:
    codes = [str(n) for bit, n in ((BOLD, 1), (ITALIC, 3), (UNDERLINE, 4), (STRIKE, 9))
             if style & bit]
    return f"\x1b[0;{';'.join(codes)}m" if codes else "\x1b[0m"


def glyph_sheets(entries: Iterable[tuple[str, int]], cols: int, rows: int
                 ) -> list[tuple[bytes, list[Placement]]]:
    """Lay (text, style) entries out on as many screens as needed, each glyph followed by a
    blank cell (so glyphs that spill over their cell do not touch the next one)."""
    sheets: list[tuple[bytes, list[Placement]]] = []
    placed: list[Placement] = []
    r = c = 0
    for text, style in entries:
        w = 2 if char_width(text) == 2 else 1
        if c + w > cols:
            r, c = r + 1, 0
        if r >= rows:
            sheets.append(_sheet_bytes(placed))
            placed, r, c = [], 0, 0
        placed.append(Placement(r, c, text, style))
        c += w + 1
    if placed:
        sheets.append(_sheet_bytes(placed))
    return sheets


def _sheet_bytes(placed: list[Placement]) -> tuple[bytes, list[Placement]]:
    out = [RIS.decode(), HIDE_CURSOR.decode()]
    for p in placed:
        out.append(f"\x1b[{p.row + 1};{p.col + 1}H{_sgr(p.style)}{p.text}")
    out.append("\x1b[0m")
    return "".join(out).encode("utf-8"), placed


def calibration_entries(extra_chars: Iterable[str] = ()) -> list[tuple[str, int]]:
    """ASCII in every style the OCR distinguishes, then the other characters in the plain face."""
    entries = [(ch, st) for st in ASCII_STYLES for ch in ASCII]
    entries += [(" ", st) for st in ASCII_STYLES if st & (UNDERLINE | STRIKE)]
    seen = {e for e in entries}
    for ch in extra_chars:
        if ch.strip() and char_width(ch) in (1, 2) and (ch, 0) not in seen:
            entries.append((ch, 0))
            seen.add((ch, 0))
    return entries


def learn_templates(crop: np.ndarray, grid: Grid, placed: list[Placement], theme: Theme
                    ) -> dict[tuple[str, int, int], np.ndarray]:
    """Alpha masks of the placed glyphs, keyed like GlyphAtlas: (text, style, half).

    alpha = (pixel - bg) . (fg - bg) / |fg - bg|^2, clipped to [0, 1]: exact for a terminal that
    blends glyph coverage linearly between the two colours, as Xft does."""
    fg = np.asarray(theme.fg, np.float32)
    bg = np.asarray(theme.bg, np.float32)
    d = fg - bg
    alpha = np.clip(((crop.astype(np.float32) - bg) @ d) / float(d @ d), 0.0, 1.0)
    h, w = grid.cell_h, grid.cell_w
    out: dict[tuple[str, int, int], np.ndarray] = {}
    for p in placed:
        y, x = p.row * h, p.col * w
        style = p.style & STYLE_BITS
        if char_width(p.text) == 2:
            mask = alpha[y:y + h, x:x + 2 * w]
            out[(p.text, style, 1)] = mask[:, :w].copy()
            out[(p.text, style, 2)] = mask[:, w:].copy()
        else:
            out[(p.text, style, 0)] = alpha[y:y + h, x:x + w].copy()
    return out


class TemplateAtlas(GlyphAtlas):
    """A GlyphAtlas whose masks come from a real terminal's captures where one was learned, and
    from our own font rendering (`spec`, tuned to that terminal) for every other character."""

    def __init__(self, spec: FontSpec, templates: dict[tuple[str, int, int], np.ndarray]) -> None:
        self.templates = templates
        super().__init__(spec)

    def _draw_narrow(self, text: str, style: int) -> np.ndarray:
        mask = self.templates.get((text, style & STYLE_BITS, 0))
        if mask is not None:
            return mask.astype(np.float32)
        if text.strip():
            plain = self.templates.get((text, style & (BOLD | ITALIC), 0))
            if plain is not None:  # e.g. an underlined CJK-free symbol: decorate the real glyph
                return self._decorate(plain.astype(np.float32), style)
        return super()._draw_narrow(text, style)

    def _draw_wide(self, text: str, style: int) -> tuple[np.ndarray, np.ndarray]:
        key = style & STYLE_BITS
        left = self.templates.get((text, key, 1))
        right = self.templates.get((text, key, 2))
        if left is not None and right is not None:
            return left.astype(np.float32), right.astype(np.float32)
        return super()._draw_wide(text, style)


def save_templates(path: str, templates: dict[tuple[str, int, int], np.ndarray]) -> None:
    """Templates as one .npz: masks (N, h, w) uint8 and their keys."""
    keys = list(templates)
    masks = np.stack([np.rint(templates[k] * 255).astype(np.uint8) for k in keys])
    np.savez_compressed(path, masks=masks, text=np.array([k[0] for k in keys]),
                        style=np.array([k[1] for k in keys]), half=np.array([k[2] for k in keys]))


def load_templates(path: str) -> dict[tuple[str, int, int], np.ndarray]:
    """Inverse of `save_templates`."""
    with np.load(path) as z:
        masks = z["masks"].astype(np.float32) / 255.0
        return {(str(t), int(s), int(h)): m
                for t, s, h, m in zip(z["text"], z["style"], z["half"], masks, strict=True)}


# -- colours -----------------------------------------------------------------------------------
TRUECOLOR_PROBES = ((255, 128, 0), (17, 34, 51), (200, 100, 150), (1, 254, 127), (123, 45, 67),
                    (250, 250, 10), (90, 10, 200), (33, 199, 99))


def swatch_bytes(cols: int) -> bytes:
    """Row-major: 256 palette backgrounds, then truecolour backgrounds, then the 16 colours as
    full-block text plain and bold, one cell each (cursor hidden)."""
    out = [RIS.decode(), HIDE_CURSOR.decode(), "\x1b[H"]
    cells = [f"\x1b[48;5;{i}m " for i in range(256)]
    cells += [f"\x1b[48;2;{r};{g};{b}m " for r, g, b in TRUECOLOR_PROBES]
    cells += [f"\x1b[0;38;5;{i}m\u2588" for i in range(16)]
    # bold brightens only the colours set with SGR 30-37 in xterm, so probe with those
    cells += [f"\x1b[0;1;{30 + i}m\u2588" for i in range(8)]
    cells += ["\x1b[0m ", "\x1b[0;7m "]  # default bg, default fg
    for i, cell in enumerate(cells):
        if i and i % cols == 0:
            out.append("\r\n")
        out.append("\x1b[0m" + cell)
    out.append("\x1b[0m")
    return "".join(out).encode("utf-8")


@dataclass
class ColourFacts:
    """What the swatch showed, beyond a Theme."""

    theme: Theme
    palette256_max_error: int  # max |channel| error of entries 16-255 against xterm's cube
    truecolor_max_error: int  # max |channel| error of the 24-bit probes
    bold_is_bright: bool

    def to_json(self) -> dict[str, Any]:
        t = self.theme
        return {"fg": list(t.fg), "bg": list(t.bg), "palette": [list(c) for c in t.palette],
                "bold_is_bright": self.bold_is_bright,
                "palette256_max_error": self.palette256_max_error,
                "truecolor_max_error": self.truecolor_max_error}

    @classmethod
    def from_json(cls, data: dict[str, Any], name: str) -> ColourFacts:
        theme = Theme(name, tuple(data["fg"]), tuple(data["bg"]),  # type: ignore[arg-type]
                      tuple(tuple(c) for c in data["palette"]),  # type: ignore[arg-type]
                      None, bool(data["bold_is_bright"]))
        return cls(theme, int(data["palette256_max_error"]), int(data["truecolor_max_error"]),
                   bool(data["bold_is_bright"]))


def measure_theme(crop: np.ndarray, grid: Grid, name: str) -> ColourFacts:
    """Read a capture of `swatch_bytes(grid.cols)` back into colours."""
    h, w = grid.cell_h, grid.cell_w

    def cell(i: int) -> tuple[int, int, int]:
        r, c = divmod(i, grid.cols)
        y, x = r * h + h // 2, c * w + w // 2
        return tuple(int(v) for v in crop[y, x])  # type: ignore[return-value]

    palette = [cell(i) for i in range(256)]
    n = 256
    probes = [cell(n + i) for i in range(len(TRUECOLOR_PROBES))]
    n += len(TRUECOLOR_PROBES)
    text16 = [cell(n + i) for i in range(16)]
    n += 16
    bold8 = [cell(n + i) for i in range(8)]
    n += 8
    bg, fg = cell(n), cell(n + 1)
    cube = np.array(xterm_256(), np.int32)
    pal_err = int(np.abs(np.array(palette[16:], np.int32) - cube).max())
    tc_err = int(np.abs(np.array(probes, np.int32) - np.array(TRUECOLOR_PROBES)).max())
    # bold text in colours 0-7: drawn in the bright colour (8-15) or the same one?
    votes = sum(1 for i in range(1, 8)
                if _dist(bold8[i], palette[i + 8]) < _dist(bold8[i], palette[i]))
    bold_bright = votes >= 4
    # text colours should equal the background palette; if not, text wins (it is what glyphs use)
    pal16 = tuple(text16[i] if _dist(text16[i], palette[i]) > 3 else palette[i] for i in range(16))
    theme = Theme(name, fg, bg, pal16, None, bold_bright)
    return ColourFacts(theme, pal_err, tc_err, bold_bright)


def _dist(a: tuple[int, ...], b: tuple[int, ...]) -> int:
    return int(sum(abs(x - y) for x, y in zip(a, b, strict=True)))

"""The reference rasterizer: exact, fast, and the ground truth every other renderer is judged by.

Each cell is one glyph mask from the atlas composited over its background:

    pixel = bg + alpha * (fg - bg)

done for all cells of the drawn rows at once with numpy. The last frame is kept, so a call that
names its damaged rows (or lets the rasterizer diff the screen) redraws only those rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from .base import RenderOutput
from .fonts import FontSpec, GlyphAtlas
from .screen import BOLD, INVERSE, TRUECOLOR, ScreenState, char_width
from .themes import Theme, get_theme

CursorStyle = Literal["block", "underline", "bar", "none"]


@dataclass(frozen=True)
class RasterConfig:
    """Everything that decides the rasterizer's pixels."""

    theme: str | Theme = "dark"
    font: FontSpec = FontSpec()
    cursor: CursorStyle = "block"


_ATLASES: dict[FontSpec, GlyphAtlas] = {}


def shared_atlas(spec: FontSpec) -> GlyphAtlas:
    """One glyph atlas per font spec per process (rasterizing glyphs is the slow part)."""
    if spec not in _ATLASES:
        _ATLASES[spec] = GlyphAtlas(spec)
    return _ATLASES[spec]


class RasterRenderer:
    """Screen -> RGB frame by glyph lookup. Deterministic; `seed`, `caption`, `action` are ignored."""

    name = "raster"

    def __init__(self, config: RasterConfig | None = None, **overrides: Any) -> None:
        if config is None:
            config = RasterConfig(**overrides)
        self.config = config
        self.theme = get_theme(config.theme)
        self.atlas = shared_atlas(config.font)
        self.reset()

    @property
    def cell_size(self) -> tuple[int, int]:
        return self.atlas.cell

    def reset(self) -> None:
        self._frame: np.ndarray | None = None
        self._screen: ScreenState | None = None

    def set_theme(self, theme: str | Theme) -> None:
        self.theme = get_theme(theme)
        self.reset()

    def frame_size(self, cols: int, rows: int) -> tuple[int, int]:
        """(width, height) of a frame in pixels."""
        h, w = self.atlas.cell
        return cols * w, rows * h

    # -- the work ------------------------------------------------------------------------
    def render(self, screen: ScreenState, *, damage: Iterable[int] | None = None,
               caption: Any = None, action: Any = None, seed: int | None = None) -> RenderOutput:
        prev = self._screen
        h, w = self.atlas.cell
        shape = (screen.rows * h, screen.cols * w, 3)
        if self._frame is None or self._frame.shape != shape or prev is None:
            rows = list(range(screen.rows))
            self._frame = np.empty(shape, np.uint8)
        else:
            rows = sorted(set(damage) if damage is not None else
                          {r for r in range(screen.rows) if not screen.same_cells(prev, r)})
            # the cursor is drawn into its cell: its old and new rows change too
            if prev.cursor != screen.cursor or prev.cursor_visible != screen.cursor_visible:
                rows = sorted(set(rows) | {prev.cursor[0], screen.cursor[0]})
            rows = [r for r in rows if 0 <= r < screen.rows]
        if rows:
            for start, stop in _runs(rows):
                self._frame[start * h:stop * h] = self.draw_rows(screen, range(start, stop))
        self._screen = screen.copy()
        return RenderOutput(self._frame.copy(), rows, {"renderer": self.name})

    def draw_rows(self, screen: ScreenState, rows: Iterable[int]) -> np.ndarray:
        """Pixels of some whole rows, stacked: (len(rows) * cell_h, cols * cell_w, 3) uint8."""
        rows = list(rows)
        fg, bg, alpha = self.cell_layers(screen, rows)
        # (R, C, 1, 1, 3) colours over (R, C, h, w, 1) masks
        out = bg[:, :, None, None, :] + alpha[..., None] * (fg - bg)[:, :, None, None, :]
        n, cols, h, w, _ = out.shape
        out = np.rint(out).astype(np.uint8)
        return out.transpose(0, 2, 1, 3, 4).reshape(n * h, cols * w, 3)

    def cell_layers(self, screen: ScreenState, rows: list[int]
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per-cell fg, bg (R, C, 3) float32 and glyph alpha (R, C, h, w) float32 for `rows`."""
        idx = self.glyph_indices(screen, rows)
        fg_codes = screen.fg[rows]
        attrs = screen.attrs[rows]
        if self.theme.bold_is_bright:
            dim = (attrs & BOLD != 0) & (fg_codes >= 0) & (fg_codes < 8) & (fg_codes < TRUECOLOR)
            fg_codes = np.where(dim, fg_codes + 8, fg_codes)
        fg = self.theme.resolve(fg_codes, True).astype(np.float32)
        bg = self.theme.resolve(screen.bg[rows], False).astype(np.float32)
        inverse = (attrs & INVERSE) != 0
        cr, cc = screen.cursor
        cursor_here = (screen.cursor_visible and self.config.cursor != "none" and cr in rows
                       and 0 <= cc < screen.cols)
        if cursor_here and self.config.cursor == "block":
            inverse = inverse.copy()
            ri = rows.index(cr)
            inverse[ri, cc] = ~inverse[ri, cc]
            if screen.chars[cr][cc] and char_width(screen.chars[cr][cc]) == 2 and cc + 1 < screen.cols:
                inverse[ri, cc + 1] = ~inverse[ri, cc + 1]
        if inverse.any():
            fg, bg = np.where(inverse[..., None], bg, fg), np.where(inverse[..., None], fg, bg)
        alpha = self.atlas.masks[idx]
        if cursor_here and self.config.cursor in ("underline", "bar"):
            alpha = alpha.copy()
            ri = rows.index(cr)
            if self.config.cursor == "underline":
                alpha[ri, cc, -2:, :] = 1.0
            else:
                alpha[ri, cc, :, :2] = 1.0
            if self.theme.cursor is not None:
                fg[ri, cc] = self.theme.cursor
        elif cursor_here and self.theme.cursor is not None:
            bg[rows.index(cr), cc] = self.theme.cursor
        return fg, bg, alpha

    def glyph_indices(self, screen: ScreenState, rows: list[int]) -> np.ndarray:
        """Atlas index of every cell of `rows`: (R, C) int64."""
        index = self.atlas.index
        out = np.zeros((len(rows), screen.cols), np.int64)
        for i, r in enumerate(rows):
            chars = screen.chars[r]
            attrs = screen.attrs[r]
            wide = None
            for c, text in enumerate(chars):
                if text == "":
                    out[i, c] = index(wide, int(attrs[c - 1]), 2) if wide else 0
                    wide = None
                    continue
                if text == " " and not attrs[c]:
                    wide = None
                    continue  # index 0 is the blank cell
                if ord(text[0]) >= 0x1100 and char_width(text) == 2:
                    if c + 1 < screen.cols:
                        out[i, c] = index(text, int(attrs[c]), 1)
                        wide = text
                        continue
                    text = " "
                out[i, c] = index(text, int(attrs[c]))
                wide = None
        return out


def _runs(rows: list[int]) -> list[tuple[int, int]]:
    """Consecutive runs of sorted row numbers as (start, stop) pairs."""
    runs: list[tuple[int, int]] = []
    for r in rows:
        if runs and runs[-1][1] == r:
            runs[-1] = (runs[-1][0], r + 1)
        else:
            runs.append((r, r + 1))
    return runs

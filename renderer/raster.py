"""The reference rasterizer: exact, fast, and the ground truth every other renderer is judged by.

Each cell is one glyph mask from the atlas composited over its background:

    pixel = rint(bg + alpha * (fg - bg))          alpha = k / 255, k = 0..255

Because alpha takes only 256 values, the blend of one (fg, bg) pair is a 256-entry colour table:
a frame is drawn by finding the distinct colour pairs of the drawn rows (a terminal has few), making
their tables, and one gather `table[pair, alpha]` straight into the frame's memory layout. Rows are
also cached by content (characters, colours, attributes, cursor), so scrolling output and repeated
rows cost a copy. The last frame is kept: a call that names its damaged rows (or lets the
rasterizer diff the screen) redraws only those rows.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

from terminal.screen import BOLD, INVERSE, ScreenState, char_width
from terminal.themes import Theme, get_theme

from . import pointer as pointer_sprite
from .base import RenderOutput
from .captions import Caption, Tier, make_caption
from .fonts import FontSpec, GlyphAtlas

CursorStyle = Literal["block", "underline", "bar", "hollow", "none"]
CURSOR_STYLES = ("block", "underline", "bar", "hollow", "none")


@dataclass(frozen=True)
class RasterConfig:
    """Everything that decides the rasterizer's pixels (and the row cache's size)."""

    theme: str | Theme = "dark"
    font: FontSpec = FontSpec()
    cursor: CursorStyle = "block"
    row_cache: int = 256  # rows kept by content (~30 KB each at 80x24); 0: no cache

    def __post_init__(self) -> None:
        if self.cursor not in CURSOR_STYLES:
            raise ValueError(f"unknown cursor style {self.cursor!r} "
                             f"(choose from {', '.join(CURSOR_STYLES)})")


_ATLASES: dict[FontSpec, GlyphAtlas] = {}


def shared_atlas(spec: FontSpec) -> GlyphAtlas:
    """One glyph atlas per font spec per process (rasterizing glyphs is the slow part)."""
    if spec not in _ATLASES:
        _ATLASES[spec] = GlyphAtlas(spec)
    return _ATLASES[spec]


@runtime_checkable
class RasterSource(Protocol):
    """A renderer that knows the reference its frames are checked against: the rasterizer with
    its own font, theme and cursor (a look's cells are not the default 8x16)."""

    def make_raster(self) -> RasterRenderer: ...


class RasterRenderer:
    """Screen -> RGB frame by glyph lookup. Deterministic; `seed`, `caption`, `action` are ignored
    (its caption is the plain text one, for the report: drawing needs nothing but the screen).

    Args:
        config: a RasterConfig; or give its fields as keyword arguments
            (`RasterRenderer(theme="light", cursor="bar")`).
    """

    name = "raster"

    def __init__(self, config: RasterConfig | None = None, **overrides: Any) -> None:
        if config is None:
            config = RasterConfig(**overrides)
        elif overrides:
            raise TypeError("give either a RasterConfig or keyword overrides, not both")
        self.config = config
        self.theme = get_theme(config.theme)
        self.atlas = shared_atlas(config.font)
        self._rows: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self._gather: np.ndarray | None = None
        self.reset()

    @property
    def cell_size(self) -> tuple[int, int]:
        """(cell_h, cell_w) in pixels."""
        return self.atlas.cell

    def reset(self) -> None:
        """Forget the last frame: the next `render` draws every row."""
        self._frame: np.ndarray | None = None
        self._screen: ScreenState | None = None

    def make_raster(self) -> RasterRenderer:
        """Another rasterizer drawing the same pixels, with a last frame of its own."""
        return RasterRenderer(replace(self.config, theme=self.theme))

    def set_theme(self, theme: str | Theme) -> None:
        """Draw in another theme from now on (the next frame is drawn in full)."""
        self.theme = get_theme(theme)
        self._rows.clear()
        self.reset()

    def frame_size(self, cols: int, rows: int) -> tuple[int, int]:
        """(width, height) of a frame in pixels."""
        h, w = self.atlas.cell
        return cols * w, rows * h

    def caption(self, screen: ScreenState, *, damage: Iterable[int] | None = None,
                tier: Tier | None = None, action: str = "", route: str | None = None) -> Caption:
        """The plain text caption of `tier` (default: detailed) in this renderer's theme."""
        return make_caption(tier or "detailed", screen, damage, action, route, self.theme.name)

    # -- the work ------------------------------------------------------------------------
    def render(self, screen: ScreenState, *, damage: Iterable[int] | None = None,
               caption: Caption | None = None, action: Any = None,
               seed: int | None = None) -> RenderOutput:
        """Draw `screen`. damage: rows known to have changed since the previous call (None: the
        rasterizer compares with the previous screen itself). The cursor's old and new rows are
        always redrawn, and so are the rows under the mouse pointer when it moves. Returns the
        frame (H, W, 3) uint8 and the rows drawn."""
        prev = self._screen
        h, w = self.atlas.cell
        shape = (screen.rows * h, screen.cols * w, 3)
        if self._frame is None or self._frame.shape != shape or prev is None:
            rows = list(range(screen.rows))
            self._frame = np.empty(shape, np.uint8)
        else:
            changed = (set(damage) if damage is not None else
                       {r for r in range(screen.rows) if not screen.same_cells(prev, r)})
            # the cursor is drawn into its cell: its old and new rows change too
            if (prev.cursor != screen.cursor or prev.cursor_visible != screen.cursor_visible):
                changed |= {prev.cursor[0], screen.cursor[0]}
            if prev.pointer != screen.pointer:  # drawn over cells, like the cursor
                changed |= (pointer_sprite.rows_under(prev.pointer, h, screen.rows)
                            | pointer_sprite.rows_under(screen.pointer, h, screen.rows))
            rows = sorted(r for r in changed if 0 <= r < screen.rows)
        if rows:
            for start, stop in _runs(rows):
                self._frame[start * h:stop * h] = self.draw_rows(screen, range(start, stop))
        self._screen = screen.copy()
        return RenderOutput(self._frame.copy(), rows, {"renderer": self.name})

    def draw_rows(self, screen: ScreenState, rows: Iterable[int]) -> np.ndarray:
        """Pixels of some whole rows, stacked: (len(rows) * cell_h, cols * cell_w, 3) uint8."""
        rows = list(rows)
        h, w = self.atlas.cell
        out = np.empty((len(rows), h, screen.cols * w, 3), np.uint8)
        cursor = self._cursor_cell(screen)
        todo: list[int] = []
        keys: list[tuple | None] = []
        for i, r in enumerate(rows):
            key = self._row_key(screen, r, cursor) if self.config.row_cache else None
            keys.append(key)
            hit = self._rows.get(key) if key is not None else None
            if hit is not None and key is not None:
                self._rows.move_to_end(key)
                out[i] = hit
            else:
                todo.append(i)
        if todo:
            drawn = self._compose([rows[i] for i in todo], screen, cursor)
            out[todo] = drawn
            if self.config.row_cache:
                for j, i in enumerate(todo):
                    self._rows[keys[i]] = drawn[j]  # type: ignore[index]
                while len(self._rows) > self.config.row_cache:
                    self._rows.popitem(last=False)
        if screen.pointer is not None:  # over the cached rows, never into the cache
            for i, r in enumerate(rows):
                pointer_sprite.draw(out[i], screen.pointer, origin_y=r * h)
        return out.reshape(len(rows) * h, screen.cols * w, 3)

    def cell_layers(self, screen: ScreenState, rows: list[int]
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per-cell fg, bg (R, C, 3) float32 and glyph alpha (R, C, h, w) float32 for `rows`:
        the pixels of those rows are rint(bg + alpha * (fg - bg)). Approximations: a thin
        cursor's cell gets the cursor colour as its fg; colour glyphs appear as their alpha."""
        rows = list(rows)
        idx, fg, bg, paint = self._layers(screen, rows, self._cursor_cell(screen))
        alpha = self.atlas.masks[idx]
        if paint is not None:
            ri, c0, n, mask, colour = paint
            alpha = alpha.copy()
            h, w = self.atlas.cell
            cells = mask.reshape(h, n, w).transpose(1, 0, 2)
            alpha[ri, c0:c0 + n] = np.maximum(alpha[ri, c0:c0 + n], cells)
            fg[ri, c0:c0 + n] = colour
        return fg.astype(np.float32), bg.astype(np.float32), alpha

    def glyph_indices(self, screen: ScreenState, rows: list[int]) -> np.ndarray:
        """Atlas index of every cell of `rows`: (R, C) int64."""
        out = np.zeros((len(rows), screen.cols), np.int64)
        for i, r in enumerate(rows):
            out[i] = self.atlas.row_indices(screen.chars[r], screen.attrs[r])
        return out

    # -- helpers -------------------------------------------------------------------------
    def _cursor_cell(self, screen: ScreenState) -> tuple[int, int, int] | None:
        """(row, first col, n cells) the cursor covers, or None when it is not drawn."""
        if not screen.cursor_visible or self.config.cursor == "none":
            return None
        r, c = screen.cursor
        if not 0 <= r < screen.rows:
            return None
        c = min(max(c, 0), screen.cols - 1)  # a pending wrap leaves the cursor one past the end
        if c > 0 and screen.chars[r][c] == "":
            c -= 1  # on the right half of a wide character: the cursor covers the character
        text = screen.chars[r][c]
        n = 2 if text >= "\u1100" and char_width(text) == 2 and c + 1 < screen.cols else 1
        return r, c, n

    def _row_key(self, screen: ScreenState, r: int, cursor: tuple[int, int, int] | None
                 ) -> tuple:
        cur = cursor[1:] if cursor is not None and cursor[0] == r else None
        return (screen.cols, tuple(screen.chars[r]), screen.fg[r].tobytes(),
                screen.bg[r].tobytes(), screen.attrs[r].tobytes(), cur)

    def _layers(self, screen: ScreenState, rows: list[int], cursor: tuple[int, int, int] | None
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple | None]:
        """Glyph indices (R, C), fg and bg (R, C, 3) uint8 after inverse video, bold-is-bright and
        a block cursor; and a thin cursor to paint over the composite: (row index in `rows`,
        first col, n cells, coverage (h, n * w) float32, RGB) or None."""
        idx = self.glyph_indices(screen, rows)
        fg_codes = screen.fg[rows]
        attrs = screen.attrs[rows]
        if self.theme.bold_is_bright:
            dim = ((attrs & BOLD) != 0) & (fg_codes >= 0) & (fg_codes < 8)
            fg_codes = np.where(dim, fg_codes + 8, fg_codes)
        fg = self.theme.resolve(fg_codes, True)
        bg = self.theme.resolve(screen.bg[rows], False)
        inverse = (attrs & INVERSE) != 0
        style = self.config.cursor
        here = cursor is not None and cursor[0] in rows
        ri = c0 = n = 0
        if here:
            assert cursor is not None
            ri, c0, n = rows.index(cursor[0]), cursor[1], cursor[2]
            if style == "block":
                inverse = inverse.copy()
                inverse[ri, c0:c0 + n] = ~inverse[ri, c0:c0 + n]
        if inverse.any():
            fg, bg = np.where(inverse[..., None], bg, fg), np.where(inverse[..., None], fg, bg)
        paint = None
        if here and style == "block":
            if self.theme.cursor is not None:
                bg[ri, c0:c0 + n] = self.theme.cursor
        elif here:
            h, w = self.atlas.cell
            thick = max(1, round(w / 8))
            mask = np.zeros((h, n * w), np.float32)
            if style == "underline":
                mask[h - 2 * thick:, :] = 1
            elif style == "bar":
                mask[:, :2 * thick] = 1
            else:  # hollow: the outline of the cell(s), as an unfocused terminal draws it
                mask[:thick, :] = mask[h - thick:, :] = 1
                mask[:, :thick] = mask[:, n * w - thick:] = 1
            colour = (np.array(self.theme.cursor, np.uint8) if self.theme.cursor is not None
                      else fg[ri, c0].copy())
            paint = (ri, c0, n, mask, colour)
        return idx, fg, bg, paint

    def _compose(self, rows: list[int], screen: ScreenState,
                 cursor: tuple[int, int, int] | None) -> np.ndarray:
        """(R, h, cols * w, 3) uint8 pixels of `rows`, drawn from scratch."""
        idx, fg, bg, paint = self._layers(screen, rows, cursor)
        h, w = self.atlas.cell
        n, cols = idx.shape
        # 1. the distinct (fg, bg) pairs and one 256-entry blend table per pair
        fg64 = fg.astype(np.int64)
        bg64 = bg.astype(np.int64)
        pair_key = ((fg64[..., 0] << 16 | fg64[..., 1] << 8 | fg64[..., 2]) << 24
                    | bg64[..., 0] << 16 | bg64[..., 1] << 8 | bg64[..., 2])
        _, first, inv = np.unique(pair_key.ravel(), return_index=True, return_inverse=True)
        pf = fg.reshape(-1, 3)[first].astype(np.int16)  # (P, 3)
        pb = bg.reshape(-1, 3)[first].astype(np.int16)
        npairs = len(first)
        steps = _BLEND_T[:, pf - pb + 255]  # (256, P, 3): round(k * (fg - bg) / 255)
        table = (pb[None] + steps).astype(np.uint8).reshape(-1, 3)  # row k * P + pair
        # 2. one gather, written in the frame's (R, h, C, w) layout
        alpha = self.atlas.masks_u8[idx]  # (R, C, h, w)
        pair = inv.reshape(n, cols).astype(np.int32)
        gather = self._scratch((n, h, cols, w))  # reused: fresh pages cost as much as the math
        np.multiply(alpha.transpose(0, 2, 1, 3), np.int32(npairs), out=gather)
        gather += pair[:, None, :, None]
        out = np.take(table, gather, axis=0)  # (R, h, C, w, 3)
        # 3. colour glyphs (colour emoji): their own colours over the cell's background
        if self.atlas.color:
            self._compose_color(out, idx, fg, bg)
        out = out.reshape(n, h, cols * w, 3)
        # 4. a thin cursor, painted over whatever the cell holds
        if paint is not None:
            ri, c0, m, mask, colour = paint
            region = out[ri, :, c0 * w:(c0 + m) * w].astype(np.float32)
            blend = region + mask[..., None] * (colour.astype(np.float32) - region)
            out[ri, :, c0 * w:(c0 + m) * w] = np.rint(blend).astype(np.uint8)
        return out

    def _scratch(self, shape: tuple[int, ...]) -> np.ndarray:
        """An int32 work array of `shape`, reused between calls (not thread-safe, like the
        renderer itself)."""
        size = int(np.prod(shape))
        if self._gather is None or self._gather.size < size:
            self._gather = np.empty(size, np.int32)
        return self._gather[:size].reshape(shape)

    def _compose_color(self, out: np.ndarray, idx: np.ndarray, fg: np.ndarray,
                       bg: np.ndarray) -> None:
        colour = self.atlas.color
        for r, c in zip(*np.nonzero(np.isin(idx, list(colour))), strict=True):
            i = int(idx[r, c])
            rgba = colour[i]
            deco = self.atlas.decoration(i)[..., None]
            f, b = fg[r, c].astype(np.float32), bg[r, c].astype(np.float32)
            under = b + deco * (f - b)  # the cell's background, underline / strike in fg
            out[r, :, c] = np.rint(under * (1.0 - rgba[..., 3:]) + rgba[..., :3] * 255.0
                                   ).astype(np.uint8)


def _blend_steps() -> np.ndarray:
    """(511, 256) int16: round(k * d / 255) for d = -255..255, k = 0..255. The exact value never
    lies on a .5 tie (2kd would have to be an odd multiple of 255), so this equals the float
    formula rint(bg + k / 255 * (fg - bg)) - bg that `cell_layers` documents."""
    d = np.arange(-255, 256, dtype=np.int64)[:, None]
    k = np.arange(256, dtype=np.int64)[None, :]
    q = (2 * k * np.abs(d) + 255) // 510
    return (np.sign(d) * q).astype(np.int16)


_BLEND_T = np.ascontiguousarray(_blend_steps().T)  # (256, 511): alpha level, then fg - bg


def _runs(rows: list[int]) -> list[tuple[int, int]]:
    """Consecutive runs of sorted row numbers as (start, stop) pairs."""
    runs: list[tuple[int, int]] = []
    for r in rows:
        if runs and runs[-1][1] == r:
            runs[-1] = (runs[-1][0], r + 1)
        else:
            runs.append((r, r + 1))
    return runs


__all__ = ["CURSOR_STYLES", "RasterConfig", "RasterRenderer", "shared_atlas"]

"""Two-colour projection: the sampler's last move, putting every drawn pixel back on its cell's palette.

A terminal cell is its background with a glyph over it in the foreground colour, so every pixel the
reference draws is

    pixel = bg + alpha * (fg - bg)          alpha in [0, 1]

and the caption already tells the renderer each cell's effective fg and bg (after inverse video,
bold-is-bright and the block cursor). What a one-step sampler leaves behind - a level or two of
noise on flat backgrounds, grey speckle beside box drawing and CJK, a faint tint - is mostly off
that segment or a tiny alpha near 0 or 1. After the last denoising step each pixel is therefore
replaced by its orthogonal projection onto the segment:

    alpha = clamp(dot(p - bg, fg - bg) / |fg - bg|^2, 0, 1)
    alpha -> 0 or 1 within `snap` levels of either end      (flat ground and solid ink stay flat)
    pixel = rint(bg + alpha * (fg - bg))

The raster's own pixels come back unchanged where their alpha is 0, 1 or outside the snap bands
(exactly for grey pairs; a coloured pair may move by one level, as its 8-bit rounding does not
determine alpha exactly).

Cells where that model does not hold, or cannot be used, are left as drawn: pairs of nearly equal
colours (|fg - bg| < `min_contrast` levels: there a level of noise is a large change of alpha, and
the model draws such glyphs with more contrast than the pair has, which is what a reader still
sees; clamping it to the segment erases the glyph), colour glyphs (colour emoji have their own
colours), cells whose caption withholds the colours (the caption ablation's regular, semantic and
withheld native rows: the projection must not tell the renderer what its caption did not), and
whatever a renderer marks itself (a look exempts the cursor: a real terminal draws it its own way).
A cell whose fg equals its bg is pure background. The mouse pointer is composited after the
renderer's frame, so it never reaches the projection.

The projection is a function of the model's output and the caption alone: no noise, no state, so it
keeps a seed's frames bit-identical, and the renderer and the diffusers pipeline (which share
`neural.denoise_rows`) apply it identically.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

DEFAULT_SNAP = 8.0  # 8-bit levels of the channel that changes most along the segment
DEFAULT_MIN_CONTRAST = 48.0  # Euclidean RGB distance, 0-255 levels


@dataclass(frozen=True)
class PaletteConfig:
    """How drawn cells are put back on their palette.

    enabled: False draws the model's pixels untouched (the ablation).
    snap: pixels within `snap` levels of bg or fg (along the segment, in the channel that
        changes most) become exactly bg or fg: the sampler's noise is a few levels whatever the
        pair, so the band is in levels, not a fraction of |fg - bg| (which would flatten a
        high-contrast pair's antialiasing and leave a low-contrast pair's noise).
    min_contrast: cells whose |fg - bg| is below this (RGB levels) are left as drawn.
    anchor: "ends" snaps to bg and fg only; "glyph" also to the caption's own glyph alpha, for
        a model whose output is a correction of that glyph's composite (a look corrects its
        terminal's glyph lookup: a correction smaller than the band is noise, and dropping it
        gives back the lookup exactly).
    """

    enabled: bool = True
    snap: float = DEFAULT_SNAP
    min_contrast: float = DEFAULT_MIN_CONTRAST
    anchor: Literal["ends", "glyph"] = "ends"

    def __post_init__(self) -> None:
        if self.anchor not in ("ends", "glyph"):
            raise ValueError(f"anchor must be 'ends' or 'glyph', not {self.anchor!r}")
        if not 0.0 <= self.snap <= 64.0:
            raise ValueError(f"snap must be in [0, 64] levels, got {self.snap!r}")

    @classmethod
    def of(cls, value: bool | PaletteConfig) -> PaletteConfig:
        """A PaletteConfig from itself or a bool (True: the defaults; False: off)."""
        return value if isinstance(value, PaletteConfig) else cls(enabled=bool(value))


def told_colours(colours: np.ndarray) -> np.ndarray:
    """(R, C) bool: cells whose caption carries their colours. A restricted caption blanks a cell
    to exactly 0 (mid grey), which no theme colour encodes (x / 127.5 - 1 == 0 needs x = 127.5)."""
    return np.any(colours != 0.0, axis=-1)


def colour_glyph_cells(atlas: object, indices: np.ndarray) -> np.ndarray:
    """(R, C) bool: cells whose atlas glyph is a colour glyph (not two-colour)."""
    colour = getattr(atlas, "color", None) or {}
    if not colour:
        return np.zeros(indices.shape, bool)
    return np.isin(indices, np.fromiter(colour, np.int64, len(colour)))


def projectable(colours: np.ndarray, two_colour: np.ndarray | None) -> np.ndarray:
    """(R, C) bool: the cells the projection applies to (see the module docstring)."""
    told = told_colours(colours)
    return told if two_colour is None else told & two_colour


def contrasted(fg: np.ndarray, bg: np.ndarray, min_contrast: float = DEFAULT_MIN_CONTRAST
               ) -> np.ndarray:
    """(R, C) bool: cells whose colours differ by at least `min_contrast` levels, or not at all
    (a cell with fg == bg is pure background, whatever its glyph)."""
    dist = np.linalg.norm(np.asarray(fg, np.float32) - np.asarray(bg, np.float32), axis=-1)
    return (dist >= min_contrast) | (dist == 0)


def project(x: torch.Tensor, fg: np.ndarray, bg: np.ndarray, where: np.ndarray,
            snap: float = DEFAULT_SNAP, anchor: np.ndarray | None = None) -> torch.Tensor:
    """Project drawn patches onto their cells' bg -> fg segments.

    x: (R, C, P) float in [-1, 1], P = cell_h * cell_w * 3 in (h, w, RGB) order (the model's
    output); fg, bg: (R, C, 3) effective colours, 0-255; where: (R, C) bool, the cells to project;
    anchor: None, or (R, C, h*w) alphas in [0, 1] a pixel snaps to when it lies within `snap`
    levels of them (before the ends: the anchor is the nearer claim).
    Returns a new (R, C, P) tensor in [-1, 1] whose projected cells hold whole 8-bit values.
    """
    if not where.any():
        return x
    r, c, p = x.shape
    n = p // 3
    f = torch.from_numpy(np.ascontiguousarray(fg, np.float32))  # (R, C, 3)
    b = torch.from_numpy(np.ascontiguousarray(bg, np.float32))
    d = f - b
    norm = (d * d).sum(-1)  # (R, C)
    dn = d / norm.clamp_min(1.0)[..., None]
    # alpha = (127.5 (x + 1) - bg) . d / |d|^2 as one batched product: this runs on every frame
    alpha = torch.matmul(x.reshape(r, c, n, 3).float(), (127.5 * dn)[..., None])[..., 0]
    alpha += ((127.5 - b) * dn).sum(-1, keepdim=True)  # (R, C, N)
    alpha.clamp_(0.0, 1.0)
    span = d.abs().amax(-1, keepdim=True)  # (R, C, 1): levels of the largest channel
    band = (snap / span.clamp_min(1.0)).clamp_(max=0.5)  # as a fraction of the segment
    if anchor is None:
        alpha.masked_fill_(alpha < band, 0.0)
        alpha.masked_fill_(alpha > 1.0 - band, 1.0)
    else:
        a0 = torch.from_numpy(np.ascontiguousarray(anchor, np.float32)).reshape(r, c, n)
        near = (alpha - a0).abs() < band
        alpha.masked_fill_(~near & (alpha < band), 0.0)
        alpha.masked_fill_(~near & (alpha > 1.0 - band), 1.0)
        alpha = torch.where(near, a0, alpha)
    alpha.masked_fill_((norm == 0)[..., None], 0.0)  # fg == bg: background only
    onto = torch.addcmul(b[:, :, None], alpha[..., None], d[:, :, None])  # (R, C, N, 3)
    out = onto.round_().div_(127.5).sub_(1.0).reshape(r, c, p).to(x.dtype)
    if where.all():
        return out
    keep = torch.from_numpy(np.asarray(where, bool))[:, :, None]
    return torch.where(keep, out, x)

__all__ = ["DEFAULT_MIN_CONTRAST", "DEFAULT_SNAP", "PaletteConfig", "colour_glyph_cells",
           "contrasted", "project", "projectable", "told_colours"]

"""Tuning our reference rasterizer to a real terminal: the fair baseline for a learned "look".

The cell size is not a choice (it is measured from the terminal), nor are the colours (measured
from its swatch). What remains is the font rendering: the pixel size the glyphs are drawn at and
the baseline row inside the cell. `tune_font` searches both, coarse then fine, and keeps the pair
with the highest PSNR over the calibration captures.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from terminal.screen import ScreenState
from terminal.themes import Theme

from ..fonts import FontSpec
from ..raster import RasterConfig, RasterRenderer
from .metrics import psnr_from_mse


@dataclass
class TuneResult:
    """The chosen font settings, their PSNR on the calibration captures, and every candidate."""

    spec: FontSpec
    psnr: float
    table: list[dict[str, float]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"font": spec_to_json(self.spec), "psnr": round(self.psnr, 3),
                "candidates": len(self.table),
                "top": sorted(self.table, key=lambda t: -t["psnr"])[:10]}


def spec_to_json(spec: FontSpec) -> dict[str, Any]:
    """The FontSpec fields that matter for reproducing a rasterizer."""
    return {"main": spec.main, "size": spec.size, "cell_w": spec.cell_w, "cell_h": spec.cell_h,
            "baseline": spec.baseline}


def spec_from_json(data: dict[str, Any]) -> FontSpec:
    """Inverse of `spec_to_json` (the fallback chain and bold/italic faces stay the defaults)."""
    return FontSpec(main=str(data["main"]), size=float(data["size"]), cell_w=int(data["cell_w"]),
                    cell_h=int(data["cell_h"]), baseline=int(data["baseline"]))


def raster_for(spec: FontSpec, theme: Theme, row_cache: int = 512) -> RasterRenderer:
    """Our reference rasterizer with the given font and theme (block cursor, as the terminals)."""
    return RasterRenderer(RasterConfig(theme=theme, font=spec, cursor="block",
                                       row_cache=row_cache))


def _score(spec: FontSpec, theme: Theme, samples: list[tuple[np.ndarray, ScreenState]]) -> float:
    raster = raster_for(spec, theme, row_cache=0)  # a hundred candidates: no row caches kept
    total, n = 0.0, 0
    for crop, screen in samples:
        frame = raster.render(screen).frame
        raster.reset()
        total += float(np.sum((frame.astype(np.float64) - crop.astype(np.float64)) ** 2))
        n += frame.size
    return psnr_from_mse(total / max(n, 1))


def tune_font(samples: list[tuple[np.ndarray, ScreenState]], theme: Theme, cell_w: int,
              cell_h: int, main: str = "DejaVuSansMono.ttf",
              sizes: list[float] | None = None, fine: bool = True) -> TuneResult:
    """Best (size, baseline) for our rasterizer on `samples` of (capture crop, screen).

    Args:
        samples: calibration captures cropped to the cell grid, with their symbolic screens.
        theme: the measured theme of the terminal.
        cell_w, cell_h: the terminal's measured cell size (fixed).
        sizes: coarse pixel sizes to try (default 10 to 16 in steps of 0.5).
        fine: then try eighth-pixel sizes and neighbouring baselines around the best.
    """
    base = FontSpec(main=main, cell_w=cell_w, cell_h=cell_h)
    coarse = sizes if sizes is not None else [10.0 + 0.5 * i for i in range(13)]
    baselines = list(range(max(1, cell_h - 8), cell_h))
    table: list[dict[str, float]] = []
    tried: dict[tuple[float, int], float] = {}

    def trial(size: float, baseline: int) -> float:
        key = (round(size, 4), baseline)
        if key not in tried:
            tried[key] = _score(replace(base, size=size, baseline=baseline), theme, samples)
            table.append({"size": key[0], "baseline": baseline, "psnr": round(tried[key], 3)})
        return tried[key]

    # 1. coarse: every size with every baseline
    for size in coarse:
        for b in baselines:
            trial(size, b)
    best_size, best_base = max(tried, key=tried.__getitem__)
    # 2. fine: eighth-pixel sizes around the best, baselines next to the best
    for k in range(-4, 5) if fine else ():
        for b in (best_base - 1, best_base, best_base + 1):
            if 1 <= b < cell_h:
                trial(best_size + k / 8, b)
    size, baseline = max(tried, key=tried.__getitem__)
    spec = replace(base, size=size, baseline=baseline)
    return TuneResult(spec, tried[(size, baseline)], table)

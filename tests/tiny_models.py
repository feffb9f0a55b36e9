"""Tiny CellDiT models the renderer tests build locally (no checkpoint; tests/ is on sys.path)."""

from __future__ import annotations

import torch

from renderer.models.cell_dit import CellDiT

TINY = {"width": 16, "depth": 1, "heads": 2, "mlp_ratio": 1.0, "window": 1}


def tiny(randomize: bool = True, **kw: object) -> CellDiT:
    """A tiny CellDiT (seed 0); `randomize` also fills the zero-initialised layers, so that the
    untrained model draws something seed-dependent (a fresh DiT outputs exactly zero)."""
    torch.manual_seed(0)
    model = CellDiT(**{**TINY, **kw})
    if randomize:
        with torch.no_grad():
            for p in model.parameters():
                p.add_(torch.randn_like(p) * 0.2)
    return model

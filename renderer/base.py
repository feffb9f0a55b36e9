"""The Renderer protocol: a symbolic screen in, an RGB frame out.

Renderers are stateful per session: they keep the last frame (and, for neural ones, a latent/pixel
cache) so that only damaged rows are redrawn. `reset()` forgets that state.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from terminal.screen import ScreenState


@dataclass
class RenderOutput:
    """One drawn frame.

    frame: (H, W, 3) uint8. rows: the screen rows that were (re)drawn this call.
    info: renderer-specific facts for the trace (steps, seed, fallbacks, timings).
    """

    frame: np.ndarray
    rows: list[int]
    info: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Renderer(Protocol):
    """What the orchestrator needs from a renderer."""

    name: str

    @property
    def cell_size(self) -> tuple[int, int]:
        """(cell_h, cell_w) in pixels."""
        ...

    def render(self, screen: ScreenState, *, damage: Iterable[int] | None = None,
               caption: Any = None, action: Any = None, seed: int | None = None) -> RenderOutput:
        """Draw `screen`. `damage`: rows known to have changed (None: work it out)."""
        ...

    def reset(self) -> None:
        """Forget cached frames; the next render draws every row."""
        ...

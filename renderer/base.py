"""The Renderer protocol: a symbolic screen in, an RGB frame out.

Renderers are stateful per session: they keep the last frame (and, for neural ones, a latent/pixel
cache) so that only damaged rows are redrawn. `reset()` forgets that state.

A renderer owns its caption: the orchestrator asks it for the caption of a screen (`caption`, at a
tier) and hands that caption back to `render`, so what the report shows is what the renderer was
conditioned on. A renderer that subclasses `Renderer` inherits the plain text caption.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from terminal.screen import ScreenState

from .captions import Caption, Tier, make_caption


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

    def caption(self, screen: ScreenState, *, damage: Iterable[int] | None = None,
                tier: Tier | None = None, action: str = "", route: str | None = None) -> Caption:
        """The caption this renderer is conditioned on for `screen` (its `.text` is what the
        report shows). tier: None for the renderer's own (a model's is the one it was trained
        with); damage: the changed rows; action/route: what caused the frame and who answered."""
        return make_caption(tier or "detailed", screen, damage, action, route, theme=None)

    def render(self, screen: ScreenState, *, damage: Iterable[int] | None = None,
               caption: Caption | None = None, action: Any = None,
               seed: int | None = None) -> RenderOutput:
        """Draw `screen`. `damage`: rows known to have changed (None: work it out); `caption`:
        what `caption()` returned for this screen (None: the renderer makes its own)."""
        ...

    def reset(self) -> None:
        """Forget cached frames; the next render draws every row."""
        ...


@runtime_checkable
class RowRepair(Protocol):
    """A renderer whose wrong rows can be drawn again (verify & repair): with more steps, another
    seed, stronger guidance; `steps` and `seed` are what it draws with by default."""

    steps: int
    seed: int

    def render_rows(self, screen: ScreenState, rows: Iterable[int], *, steps: int | None = None,
                    seed: int | None = None, guidance: float | None = None) -> np.ndarray:
        """The pixels of `rows` only, stacked: (len(rows) * cell_h, W, 3) uint8."""
        ...


@runtime_checkable
class FrameCache(Protocol):
    """A renderer that draws on its last frame: repaired pixels go back into it, so the next
    frame starts from what the user saw."""

    def patch_frame(self, frame: np.ndarray) -> None:
        """Replace the cached last frame with `frame` (same size)."""
        ...

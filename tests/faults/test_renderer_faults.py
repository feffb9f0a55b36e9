"""Renderer faults: a renderer that raises, returns NaN (float frame, or says so in info), or a real
neural model whose weights went non-finite. That frame falls back to the reference raster, the
step's trace says why, and the session goes on (the next frame comes from the renderer again)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pytest
import torch

from orchestrator.session import Session
from renderer.base import Renderer, RenderOutput
from renderer.models.cell_dit import CellDiT
from renderer.neural import NeuralRenderer
from renderer.raster import RasterRenderer
from terminal.screen import ScreenState

pytestmark = pytest.mark.timeout(120)


class FaultyRenderer(Renderer):
    """The reference raster, except on the calls planned to fail:
    "raise" raises RuntimeError, "nan" returns a float32 frame holding a NaN, "flag" returns a
    good-looking uint8 frame with info["nan"] = True (what NeuralRenderer reports), "inf" a
    float frame with +inf."""

    name = "faulty"

    def __init__(self) -> None:
        self.inner = RasterRenderer()
        self.plan: dict[int, str] = {}
        self.calls = 0
        self.resets = 0

    @property
    def cell_size(self) -> tuple[int, int]:
        """The raster's cell size."""
        return self.inner.cell_size

    def reset(self) -> None:
        """Count resets (the session resets a renderer after its failure)."""
        self.resets += 1
        self.inner.reset()

    def render(self, screen: ScreenState, *, damage: Iterable[int] | None = None,
               caption: Any = None, action: Any = None, seed: int | None = None) -> RenderOutput:
        """The raster's frame, or the planned failure for this call."""
        self.calls += 1
        mode = self.plan.get(self.calls)
        if mode == "raise":
            raise RuntimeError("GPU fell off the bus")
        out = self.inner.render(screen, damage=damage)
        if mode in ("nan", "inf"):
            frame = out.frame.astype(np.float32)
            frame[0, 0, 0] = np.nan if mode == "nan" else np.inf
            return RenderOutput(frame, out.rows, dict(out.info))
        if mode == "flag":
            return RenderOutput(out.frame, out.rows, {**out.info, "nan": True})
        return out


def _truth(screen: ScreenState) -> np.ndarray:
    return RasterRenderer().render(screen).frame


@pytest.fixture
def faulty() -> FaultyRenderer:
    """A FaultyRenderer with nothing planned yet."""
    return FaultyRenderer()


@pytest.mark.parametrize(("mode", "why"), [("raise", "RuntimeError: GPU fell off the bus"),
                                           ("nan", "renderer returned NaN"),
                                           ("inf", "renderer returned NaN"),
                                           ("flag", "renderer returned NaN")])
def test_a_failing_frame_falls_back_to_the_raster(faulty: FaultyRenderer, mode: str,
                                                  why: str) -> None:
    with Session(renderer=faulty, reasoners=("sympy",)) as s:
        faulty.plan = {faulty.calls + 1: mode}
        resets = faulty.resets
        step = s.run("98+45")
        assert "143" in step.screen.text
        fallback = step.trace["render"].get("fallback", "")
        assert fallback.startswith("raster (") and why in fallback
        assert step.frame_array.dtype == np.uint8
        assert np.array_equal(step.frame_array, _truth(step.screen))  # the exact raster frame
        assert step.accuracy == {"raw": 1.0, "repaired": 1.0}
        assert faulty.resets == resets + 1  # its cache is dropped: the next frame is drawn whole
        # the trace reaches the report, so a run's report.json shows the fallback too
        assert s.report()["steps"][-1]["trace"]["render"]["fallback"] == fallback
        # the session goes on, and the renderer draws the next frame again
        step = s.run("2**10")
        assert "1024" in step.screen.text and "fallback" not in step.trace["render"]
        assert step.trace["render"]["renderer"] == "raster"


def test_fallbacks_mid_typing_keep_every_frame_exact(faulty: FaultyRenderer) -> None:
    with Session(renderer=faulty, reasoners=("sympy",)) as s:
        start = faulty.calls
        faulty.plan = {start + i: m for i, m in enumerate(["raise", "nan", "flag", "raise"], 2)}
        steps = s.type("6*7")
        steps.append(s.key("Enter"))
        assert [("fallback" in st.trace["render"]) for st in steps] == [False, True, True, True]
        for st in steps:
            assert np.array_equal(st.frame_array, _truth(st.screen))
        assert "42" in s.screen.text


def _nan_model() -> CellDiT:
    torch.manual_seed(0)
    model = CellDiT(width=16, depth=1, heads=2, mlp_ratio=1.0, window=1)
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(float("nan"))
    return model


def test_a_neural_model_gone_nan_is_caught(tmp_path: Any) -> None:
    """The real NeuralRenderer with non-finite weights: it reports info["nan"], and the session
    shows the raster frame instead, saying so."""
    renderer = NeuralRenderer(_nan_model(), threads=1)
    with Session(renderer=renderer, reasoners=("sympy",)) as s:
        step = s.run("1+2")
        assert "3" in step.screen.text
        assert step.trace["render"]["fallback"] == "raster (ValueError: renderer returned NaN)"
        assert np.array_equal(step.frame_array, _truth(step.screen))
        assert np.isfinite(step.frame_array).all()
        s.export(tmp_path / "nan.gif")  # the fallback frames are ordinary frames downstream
        assert (tmp_path / "nan.gif").stat().st_size > 0

"""Session.configure: settings changed live, through the renderer registry, drawn in full."""

from __future__ import annotations

import numpy as np
import pytest

from orchestrator.session import Session
from renderer.raster import RasterRenderer
from renderer.registry import RendererOptions

pytestmark = pytest.mark.timeout(120)


def test_theme_and_seed_redraw_the_whole_screen() -> None:
    with Session(renderer="raster", reasoners=("sympy",), cols=20, rows=4) as s:
        s.run("calc 6*7")
        step = s.configure(theme="light", seed=3)
        assert step.kind == "configure" and s.config.seed == 3 and s.config.theme == "light"
        # every row drawn again in the new theme: the frame is the light raster of the screen
        assert np.array_equal(step.frame_array,
                              RasterRenderer(theme="light").render(s.screen).frame)
        assert "42" in step.screen.text and step.accuracy["repaired"] == 1.0


def test_steps_rebuild_the_neural_renderer_and_survive_a_round_trip() -> None:
    with Session(renderer="raster", reasoners=("sympy",), cols=20, rows=4) as s:
        with pytest.raises(ValueError, match="raster renderer does not take steps"):
            s.configure(steps=2)
        assert s.config.renderer_options == RendererOptions()  # a refused change changes nothing
        s.configure(renderer="neural", steps=2)
        assert s.renderer.name == "neural" and s.renderer.steps == 2
        s.configure(renderer="raster")  # the raster is not given steps, the session keeps them
        assert s.renderer.name == "raster"
        s.configure(renderer="neural")
        assert s.renderer.steps == 2


def test_a_renderer_that_cannot_be_made_leaves_the_session_as_it_was() -> None:
    with Session(renderer="raster", reasoners=("sympy",), cols=20, rows=4) as s:
        with pytest.raises(Exception, match="nonsense"):
            s.configure(renderer="nonsense")
        assert s.config.renderer == "raster" and s.renderer.name == "raster"
        assert s.run("calc 1+1").accuracy["repaired"] == 1.0


def test_renderer_options_are_typed() -> None:
    with Session(renderer="raster", reasoners=("sympy",), cols=10, rows=2,
                 renderer_options={"steps": 3, "precision": "float32"}) as s:
        assert s.config.renderer_options == RendererOptions(steps=3,
                                                            extra=(("precision", "float32"),))

"""The renderer registry: built-ins, in-process registration, entry-point plugins, contracts."""

from __future__ import annotations

import numpy as np
import pytest

from renderer import registry
from renderer.base import Renderer, RenderOutput
from renderer.neural import CheckpointError
from renderer.raster import RasterRenderer
from renderer.registry import RendererError
from terminal.screen import ScreenState


class DummyRenderer(Renderer):
    """A minimal third-party renderer: a flat colour per frame (its caption is the inherited
    plain text one)."""

    name = "dummy"

    def __init__(self, colour: int = 7) -> None:
        self.colour = colour

    @property
    def cell_size(self) -> tuple[int, int]:
        return (16, 8)

    def render(self, screen, *, damage=None, caption=None, action=None, seed=None):
        frame = np.full((screen.rows * 16, screen.cols * 8, 3), self.colour, np.uint8)
        return RenderOutput(frame, list(range(screen.rows)))

    def reset(self) -> None:
        pass


class _EntryPoint:
    def __init__(self, name: str, obj: object = None, error: Exception | None = None) -> None:
        self.name, self._obj, self._error = name, obj, error

    def load(self) -> object:
        if self._error:
            raise self._error
        return self._obj


def test_builtins_are_listed_and_raster_is_created() -> None:
    assert {"raster", "neural", "wan"} <= set(registry.available())
    r = registry.create("raster", theme="light")
    assert isinstance(r, RasterRenderer) and r.theme.name == "light"


def test_unknown_name_and_bad_options_are_one_line_errors() -> None:
    with pytest.raises(RendererError, match="unknown renderer 'nope'.*raster") as e:
        registry.create("nope")
    assert "\n" not in str(e.value)
    with pytest.raises(RendererError, match="raster"):
        registry.create("raster", bogus_option=1)


def test_entry_point_plugin_is_found_and_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    class Broken:
        name = "broken"

    eps = [_EntryPoint("dummy", DummyRenderer), _EntryPoint("broken", Broken),
           _EntryPoint("crashy", error=ImportError("no module named crashy_pkg"))]
    monkeypatch.setattr(registry, "entry_points",
                        lambda group: eps if group == registry.ENTRY_POINT_GROUP else [])
    assert {"dummy", "broken", "crashy"} <= set(registry.available())
    r = registry.create("dummy", colour=9)
    out = r.render(ScreenState.blank(4, 2))
    assert out.frame.shape == (32, 32, 3) and out.frame[0, 0, 0] == 9
    with pytest.raises(RendererError, match="does not implement the Renderer protocol.*caption"):
        registry.create("broken")
    with pytest.raises(RendererError, match="failed to load: no module named crashy_pkg"):
        registry.create("crashy")


def test_register_in_process_shadows_and_unregisters() -> None:
    registry.register("raster", lambda **kw: DummyRenderer(**kw))
    try:
        assert isinstance(registry.create("raster"), DummyRenderer)
    finally:
        registry.unregister("raster")
    assert isinstance(registry.create("raster"), RasterRenderer)
    with pytest.raises(RendererError, match="not callable"):
        registry.register("x", 42)  # type: ignore[arg-type]


def test_neural_without_a_checkpoint_says_how_to_train_one(tmp_path) -> None:
    with pytest.raises(CheckpointError, match="hybrid-nc train"):
        registry.create("neural", checkpoint=tmp_path / "none")


def test_neural_default_checkpoint_is_shipped_and_draws() -> None:
    r = registry.create("neural")
    screen = ScreenState.from_lines(["hello"], 10, 2)
    out = r.render(screen, seed=0)
    assert out.frame.shape == (32, 80, 3) and not out.info.get("nan")


def test_options_are_typed_and_checked_against_the_renderer() -> None:
    from renderer.registry import RendererOptions, RendererUsageError

    opts = RendererOptions(theme="light", steps=2)
    assert opts.merged(steps=None, seed=4).kwargs() == {"theme": "light", "seed": 4, "steps": 2}
    assert RendererOptions.of({"look": "xterm", "cursor": "bar"}) == RendererOptions(
        look="xterm", extra=(("cursor", "bar"),))
    with pytest.raises(RendererUsageError, match="steps must be at least 1"):
        RendererOptions(steps=0)
    with pytest.raises(RendererUsageError, match="'raster' does not take steps"):
        registry.create("raster", opts)
    assert registry.takes("neural", "steps") and not registry.takes("raster", "look")
    # what a session carries over to a renderer that does not take it is left out, not an error
    assert registry.applicable("raster", opts) == RendererOptions(theme="light")
    r = registry.create("raster", registry.applicable("raster", opts), seed=7)  # no seed needed
    assert isinstance(r, RasterRenderer) and r.theme.name == "light"
    neural = registry.create("neural", opts, seed=5)
    assert (neural.steps, neural.seed) == (2, 5)

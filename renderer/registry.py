"""Renderer registry: names -> factories.

Built-ins are "module:attribute" strings imported only when used (the neural renderer pulls in
torch and diffusers; the Wan adapter much more), third-party renderers come from the entry-point
group `hybrid_nc.renderers` (objects: factories `(**options) -> Renderer`), and tests or notebooks
can `register` one in-process. Every created renderer is checked against the Renderer protocol
before it is handed out, so a broken plugin fails at creation with one clear line.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

ENTRY_POINT_GROUP = "hybrid_nc.renderers"

Factory = Callable[..., Any]

BUILTINS: dict[str, str] = {
    "raster": "renderer.raster:RasterRenderer",
    "neural": "renderer.neural:create",
    "wan": "renderer.wan:WanRenderer",
}

_EXTRA: dict[str, Factory] = {}


class RendererError(RuntimeError):
    """An unknown renderer name, a plugin that fails to load, or one that breaks the protocol."""


def register(name: str, factory: Factory) -> None:
    """Register a renderer factory in-process (tests, notebooks); it shadows a built-in."""
    if not callable(factory):
        raise RendererError(f"renderer factory for {name!r} is not callable")
    _EXTRA[name] = factory


def unregister(name: str) -> None:
    """Forget an in-process registration (no error if absent)."""
    _EXTRA.pop(name, None)


def available() -> list[str]:
    """Names of every renderer that can be asked for: built-ins, registered, entry points."""
    names = set(BUILTINS) | set(_EXTRA)
    names |= {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)}
    return sorted(names)


def _factory(name: str) -> Factory:
    if name in _EXTRA:
        return _EXTRA[name]
    if name in BUILTINS:
        module, attr = BUILTINS[name].split(":")
        try:
            mod = importlib.import_module(module)
        except ImportError as e:
            raise RendererError(f"renderer {name!r} is not available: {e}") from None
        try:
            return getattr(mod, attr)  # type: ignore[no-any-return]
        except AttributeError:
            raise RendererError(f"renderer {name!r}: {module} has no {attr}") from None
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == name:
            try:
                return ep.load()  # type: ignore[no-any-return]
            except Exception as e:
                raise RendererError(f"renderer plugin {name!r} failed to load: {e}") from None
    raise RendererError(f"unknown renderer {name!r} (available: {', '.join(available())})")


def check_renderer(obj: Any, name: str) -> None:
    """Fail early and clearly when an object does not implement renderer.base.Renderer."""
    missing = [m for m in ("render", "reset") if not callable(getattr(obj, m, None))]
    if not isinstance(getattr(obj, "name", None), str):
        missing.append("a str `name`")
    try:
        cell = obj.cell_size
        ok = (isinstance(cell, tuple) and len(cell) == 2
              and all(isinstance(v, int) and v > 0 for v in cell))
    except Exception:
        ok = False
    if not ok:
        missing.append("`cell_size` (cell_h, cell_w)")
    if missing:
        raise RendererError(f"renderer {name!r} does not implement the Renderer protocol: "
                            f"missing {', '.join(missing)}")


def create(name: str, **options: Any) -> Any:
    """Create a renderer by name (options go to its factory), checking its contract.

    Options a factory does not take (e.g. `steps` for the raster) are a one-line error.
    """
    factory = _factory(name)
    try:
        obj = factory(**options)
    except TypeError as e:
        if "argument" in str(e):
            raise RendererError(f"renderer {name!r}: {e}") from None
        raise
    check_renderer(obj, name)
    return obj

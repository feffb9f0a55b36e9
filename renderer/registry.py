"""Renderer registry: names -> factories.

Built-ins are "module:attribute" strings imported only when used (the neural renderer pulls in
torch and diffusers; the Wan adapter much more), third-party renderers come from the entry-point
group `hybrid_nc.renderers` (objects: factories `(**options) -> Renderer`), and tests or notebooks
can `register` one in-process. Every created renderer is checked against the Renderer protocol
before it is handed out, so a broken plugin fails at creation with one clear line.

`create(name, options)` is the one way a renderer is made (the CLI, sessions, the web server,
evaluation, benchmarks): the settings every renderer may share travel as a frozen
`RendererOptions`, so a session can carry them from one renderer to the next.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from terminal.themes import Theme

ENTRY_POINT_GROUP = "hybrid_nc.renderers"

Factory = Callable[..., Any]

BUILTINS: dict[str, str] = {
    "raster": "renderer.raster:RasterRenderer",
    "neural": "renderer.looks:create",
    "wan": "renderer.wan:WanRenderer",
}

_EXTRA: dict[str, Factory] = {}


class RendererError(RuntimeError):
    """An unknown renderer name, a plugin that fails to load, or one that breaks the protocol."""


class RendererUsageError(RendererError, ValueError):
    """Asked for wrongly: an unknown name, or an option the renderer does not take."""


SHARED = ("theme", "seed", "steps", "look", "model")

# the shared options each built-in takes (third-party factories are asked through their signature)
_BUILTIN_TAKES: dict[str, frozenset[str]] = {
    "raster": frozenset({"theme"}),
    "neural": frozenset(SHARED),
    "wan": frozenset({"theme", "seed", "model"}),
}
# built-ins that take only these renderer-specific options (the others pass theirs to a config
# that names what it does not know)
_BUILTIN_EXTRA: dict[str, frozenset[str]] = {"raster": frozenset({"font", "cursor", "row_cache"})}


@dataclass(frozen=True)
class RendererOptions:
    """What a renderer is made with; None leaves the renderer's own default.

    theme: colour theme (a name, or a Theme). seed: the default sampling seed (a session also
    gives one per frame; a deterministic renderer is not given it). steps: denoising steps per frame (renderers that sample). look: draw like a real
    terminal (the neural renderer, renderer/looks.py). model: a model or checkpoint directory.
    extra: renderer-specific (name, value) pairs (font, cursor, precision, ...).
    """

    theme: str | Theme | None = None
    seed: int | None = None
    steps: int | None = None
    look: str | None = None
    model: str | None = None
    extra: tuple[tuple[str, Any], ...] = ()

    def __post_init__(self) -> None:
        for name in ("seed", "steps"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, int) or isinstance(v, bool)):
                raise RendererUsageError(f"{name} must be an integer, got {v!r}")
        if self.steps is not None and self.steps < 1:
            raise RendererUsageError(f"steps must be at least 1, got {self.steps}")
        if self.seed is not None and self.seed < 0:
            raise RendererUsageError(f"seed must be >= 0, got {self.seed}")

    @classmethod
    def of(cls, value: RendererOptions | Mapping[str, Any] | Any = None) -> RendererOptions:
        """From a RendererOptions, a mapping or (name, value) pairs; unknown names go to extra."""
        if isinstance(value, RendererOptions):
            return value
        items = dict(value.items() if isinstance(value, Mapping) else (value or ()))
        shared = {k: items.pop(k) for k in SHARED if k in items}
        return cls(**shared, extra=tuple(items.items()))

    def merged(self, **changes: Any) -> RendererOptions:
        """A copy with the changes that are not None (extra names are merged into extra)."""
        extra = dict(self.extra)
        shared = {}
        for k, v in changes.items():
            if v is None:
                continue
            if k in SHARED:
                shared[k] = v
            else:
                extra[k] = v
        return replace(self, **shared, extra=tuple(extra.items()))

    def kwargs(self) -> dict[str, Any]:
        """The options that are set, as factory keyword arguments."""
        out = {k: getattr(self, k) for k in SHARED if getattr(self, k) is not None}
        out.update(self.extra)
        return out


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
    raise RendererUsageError(f"unknown renderer {name!r} (available: {', '.join(available())})")


def takes(name: str, option: str) -> bool:
    """Whether renderer `name` takes `option` (a factory with **kwargs takes anything)."""
    if name in BUILTINS and name not in _EXTRA:
        if option in SHARED:
            return option in _BUILTIN_TAKES.get(name, frozenset())
        return name not in _BUILTIN_EXTRA or option in _BUILTIN_EXTRA[name]
    try:
        params = inspect.signature(_factory(name)).parameters.values()
    except (TypeError, ValueError):
        return True
    return any(p.kind is p.VAR_KEYWORD or p.name == option for p in params)


def applicable(name: str, options: RendererOptions) -> RendererOptions:
    """`options` less those renderer `name` does not take: what a session carries from one
    renderer to the next (a look or steps kept for the way back from the raster)."""
    drop: dict[str, Any] = {k: None for k in SHARED
                            if getattr(options, k) is not None and not takes(name, k)}
    extra = tuple((k, v) for k, v in options.extra if takes(name, k))
    if extra != options.extra:
        drop["extra"] = extra
    return replace(options, **drop) if drop else options


def check_renderer(obj: Any, name: str) -> None:
    """Fail early and clearly when an object does not implement renderer.base.Renderer."""
    missing = [m for m in ("caption", "render", "reset") if not callable(getattr(obj, m, None))]
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


def create(name: str, options: RendererOptions | None = None, /, *,
           theme: str | Theme | None = None,
           seed: int | None = None, steps: int | None = None, look: str | None = None,
           model: str | None = None, **extra: Any) -> Any:
    """Create a renderer by name, checking its contract: the one way renderers are made.

    Args:
        name: "raster", "neural", "wan", a registered name or an entry-point plugin.
        options: a RendererOptions; the keyword arguments that are given replace its fields
            (extra keywords, e.g. `font`, `cursor`, `precision`, go to the factory as they are).

    A shared option the renderer does not take (`steps` for the raster) or an unknown name is a
    one-line RendererUsageError; a seed is simply not given to a renderer that does not sample.
    """
    opts = (options or RendererOptions()).merged(theme=theme, seed=seed, steps=steps, look=look,
                                                 model=model, **extra)
    factory = _factory(name)
    if opts.seed is not None and not takes(name, "seed"):
        opts = replace(opts, seed=None)
    for k, v in opts.kwargs().items():
        if not takes(name, k):
            raise RendererUsageError(f"renderer {name!r} does not take {k} (given {k}={v!r})")
    try:
        obj = factory(**opts.kwargs())
    except TypeError as e:
        if "argument" in str(e):
            raise RendererUsageError(f"renderer {name!r}: {e}") from None
        raise
    check_renderer(obj, name)
    return obj

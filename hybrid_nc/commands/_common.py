"""Options shared by the commands: the drawing flags every command that renders takes
(--renderer, --model, --look, --steps, --seed, --theme, --cols/--rows), the session flags of the
commands that open a Session (exec, demo, serve), and the one exit-status rule: UsageError (and the
renderer registry's RendererUsageError) is bad usage, exit 2; any other error is a failure, exit 1.
"""

from __future__ import annotations

import argparse
from typing import Any

from renderer.registry import RendererOptions


class UsageError(ValueError):
    """Flags that do not go together or name nothing that exists: exit status 2."""


def positive_int(text: str) -> int:
    """An argparse type: an integer >= 1 (else bad usage, exit 2)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def seed_int(text: str) -> int:
    """An argparse type: a seed, an integer >= 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"a seed is >= 0, got {value}")
    return value


def add_render_args(p: Any, size_help: str = "terminal") -> None:
    """The flags of every command that draws."""
    p.add_argument("--renderer", default=None,
                   help="renderer name: neural (default), raster (the exact reference), or a "
                   "registered one")
    p.add_argument("--model", metavar="DIR",
                   help="model directory for renderers that load one (e.g. --renderer wan)")
    add_look_arg(p)
    p.add_argument("--steps", type=positive_int,
                   help="denoising steps per frame (renderers that sample; default the model's)")
    p.add_argument("--seed", type=seed_int, help="sampling seed (same seed, same frames)")
    p.add_argument("--theme", help="colour theme (dark, light, xterm, xterm-dark, solarized-dark)")
    p.add_argument("--cols", type=positive_int, help=f"{size_help} width in cells (default 80)")
    p.add_argument("--rows", type=positive_int, help=f"{size_help} height in cells (default 24)")


def add_session_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("session")
    add_render_args(g)
    g.add_argument("--reasoners", help="comma-separated reasoners, e.g. shell,sympy,llm")
    g.add_argument("--llm-url", help="OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1 "
                   "(or HYBRID_NC_LLM_URL)")
    g.add_argument("--llm-model", help="model name served there (or HYBRID_NC_LLM_MODEL)")
    g.add_argument("--command-timeout", type=float, help="seconds before a command is interrupted")
    g.add_argument("--no-verify", action="store_true", help="skip read-back verification and repair")
    g.add_argument("--unsafe-no-sandbox", action="store_true", default=None,
                   help="run the shell WITHOUT a sandbox when bubblewrap is unavailable (dangerous)")


def renderer_name(args: argparse.Namespace) -> str:
    """--renderer, else HYBRID_NC_RENDERER or the config file, else neural (DESIGN.md)."""
    from orchestrator.config import session_value

    return str(session_value("renderer", args.renderer) or "neural")


def renderer_options(args: argparse.Namespace, name: str, **extra: Any) -> RendererOptions:
    """The drawing flags as RendererOptions for renderer `name`, checked against it: a flag the
    renderer does not take, or an unknown name, is bad usage."""
    from renderer import registry

    if name not in registry.available():
        raise UsageError(f"unknown renderer {name!r} (available: "
                         f"{', '.join(registry.available())})")
    if args.look:
        check_look(args.look, name)
    options = RendererOptions(steps=args.steps, look=args.look, model=args.model).merged(**extra)
    for flag in ("steps", "model"):
        if getattr(options, flag) is not None and not registry.takes(name, flag):
            raise UsageError(f"--{flag} does not apply to --renderer {name}")
    return options


def session_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """Session overrides from the parsed flags, merged with env and the config file."""
    from orchestrator.config import session_overrides

    cli = {
        "renderer": args.renderer, "theme": args.theme, "seed": args.seed, "cols": args.cols,
        "rows": args.rows, "command_timeout": args.command_timeout,
        "unsafe_no_sandbox": args.unsafe_no_sandbox, "llm_url": args.llm_url,
        "llm_model": args.llm_model,
        "reasoners": [r.strip() for r in args.reasoners.split(",") if r.strip()]
        if args.reasoners else None,
    }
    check_theme(args.theme)
    out = session_overrides(cli)
    check_session_size(out)
    if args.no_verify:
        out["verify"] = False
    out["renderer_options"] = renderer_options(args, str(out.get("renderer") or "neural"))
    return out


def check_session_size(overrides: dict[str, Any]) -> None:
    """A size the session cannot run at is bad usage: the emulator's range, and with the shell
    at least what readline can edit a line in."""
    from orchestrator.session import SessionConfig
    from reasoner.backends.shell import MIN_COLS, MIN_ROWS
    from terminal.screen import MAX_COLS, MAX_ROWS

    default = SessionConfig()
    cols, rows = overrides.get("cols") or default.cols, overrides.get("rows") or default.rows
    low_cols, low_rows = (MIN_COLS, MIN_ROWS) if "shell" in (
        overrides.get("reasoners") or default.reasoners) else (1, 1)
    if not (low_cols <= cols <= MAX_COLS and low_rows <= rows <= MAX_ROWS):
        raise UsageError(f"--cols {cols} --rows {rows} is out of range ({low_cols}..{MAX_COLS} "
                         f"columns, {low_rows}..{MAX_ROWS} rows"
                         + (" with the shell)" if low_rows > 1 else ")"))


def add_look_arg(p: Any) -> None:
    """--look NAME: the neural renderer drawing like a real terminal (renderer/looks.py)."""
    p.add_argument("--look", metavar="NAME",
                   help="with --renderer neural: draw like a real terminal, from a look trained "
                   "on its captures (xterm) or a look folder")


def check_theme(theme: str | None) -> None:
    """An unknown theme name is bad usage (a .json file is read, and judged, later)."""
    from terminal.themes import THEMES

    if theme is not None and theme not in THEMES and not theme.endswith(".json"):
        raise UsageError(f"unknown theme {theme!r} (choose from {', '.join(THEMES)}, "
                         "or give a .json file)")


def check_look(look: str, renderer: str | None) -> None:
    """A look belongs to the neural renderer: say so in one line for any other."""
    if renderer not in (None, "neural"):
        raise UsageError(f"--look {look} applies to --renderer neural, not {renderer!r}")

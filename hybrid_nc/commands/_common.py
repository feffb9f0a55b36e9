"""Options shared by the commands that open a Session (exec, demo, serve)."""

from __future__ import annotations

import argparse
from typing import Any


def add_session_args(p: argparse.ArgumentParser, renderer_default: str | None = None) -> None:
    g = p.add_argument_group("session")
    g.add_argument("--renderer", default=renderer_default,
                   help="renderer name: neural (default), raster (the reference), or a registered one")
    g.add_argument("--model", metavar="DIR",
                   help="model directory for renderers that load one (e.g. --renderer wan)")
    add_look_arg(g)
    g.add_argument("--theme", help="colour theme (dark, light, xterm, xterm-dark, solarized-dark)")
    g.add_argument("--seed", type=int, help="sampling seed (same seed, same frames)")
    g.add_argument("--cols", type=int, help="terminal width in cells (default 80)")
    g.add_argument("--rows", type=int, help="terminal height in cells (default 24)")
    g.add_argument("--reasoners", help="comma-separated reasoners, e.g. shell,sympy,llm")
    g.add_argument("--llm-url", help="OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1 "
                   "(or HYBRID_NC_LLM_URL)")
    g.add_argument("--llm-model", help="model name served there (or HYBRID_NC_LLM_MODEL)")
    g.add_argument("--command-timeout", type=float, help="seconds before a command is interrupted")
    g.add_argument("--no-verify", action="store_true", help="skip read-back verification and repair")
    g.add_argument("--unsafe-no-sandbox", action="store_true", default=None,
                   help="run the shell WITHOUT a sandbox when bubblewrap is unavailable (dangerous)")


def session_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """SessionConfig overrides from the parsed flags, merged with env and the config file."""
    from hybrid_nc.config import session_overrides

    cli = {
        "renderer": args.renderer, "theme": args.theme, "seed": args.seed, "cols": args.cols,
        "rows": args.rows, "command_timeout": args.command_timeout,
        "unsafe_no_sandbox": args.unsafe_no_sandbox, "llm_url": args.llm_url,
        "llm_model": args.llm_model,
        "reasoners": [r.strip() for r in args.reasoners.split(",") if r.strip()]
        if args.reasoners else None,
    }
    out = session_overrides(cli)
    if args.no_verify:
        out["verify"] = False
    options = []
    if args.model:
        options.append(("model", args.model))
    if args.look:
        check_look(args.look, out.get("renderer", "neural"))
        options.append(("look", args.look))
    if options:
        out["renderer_options"] = tuple(options)
    return out


def add_look_arg(p: Any) -> None:
    """--look NAME: the neural renderer drawing like a real terminal (renderer/looks.py)."""
    p.add_argument("--look", metavar="NAME",
                   help="with --renderer neural: draw like a real terminal, from a look trained "
                   "on its captures (xterm) or a look folder")


def check_look(look: str, renderer: str | None) -> None:
    """A look belongs to the neural renderer: say so in one line for any other."""
    if renderer not in (None, "neural"):
        raise ValueError(f"--look {look} applies to --renderer neural, not {renderer!r}")


def default_renderer(args: argparse.Namespace) -> None:
    """render/replay draw with the exact raster unless told otherwise; --look alone means the
    neural renderer, since a look belongs to it."""
    if args.renderer is None:
        args.renderer = "neural" if args.look else "raster"

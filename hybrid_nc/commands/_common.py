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
    if args.model:
        out["renderer_options"] = (("model", args.model),)
    return out

"""`hybrid-nc`: a thin command line over the public API (DESIGN.md lists the contract).

Each subcommand lives in `hybrid_nc/commands/<name>.py` with `add_parser(subparsers)` and
`run(args) -> int`. Errors become one line on stderr, never a traceback (set HYBRID_NC_DEBUG=1 to
see one): bad usage (a flag argparse refuses, a `UsageError`, an unknown renderer or an option it
does not take) exits 2, any other failure 1.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

COMMANDS = ["demo", "exec", "render", "replay", "serve", "eval", "train", "capture", "dataset", "llm"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="hybrid-nc", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"hybrid-nc {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"hybrid_nc.commands.{name}")
        except ModuleNotFoundError as e:
            if e.name == f"hybrid_nc.commands.{name}":
                continue  # not built yet
            raise
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        print("hybrid-nc: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1
    except Exception as e:
        if os.environ.get("HYBRID_NC_DEBUG"):
            raise
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        # a message may quote program output: its control bytes would act on the user's terminal
        msg = "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in msg)
        if _is_usage(e):
            print(f"hybrid-nc {args.command}: error: {msg} (see --help)", file=sys.stderr)
            return 2
        print(f"hybrid-nc {args.command}: error: {msg}", file=sys.stderr)
        return 1


def _is_usage(e: Exception) -> bool:
    from renderer.registry import RendererUsageError

    from .commands._common import UsageError

    return isinstance(e, UsageError | RendererUsageError)


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("hybrid-nc")
    except Exception:
        return "0+unknown"


if __name__ == "__main__":
    sys.exit(main())

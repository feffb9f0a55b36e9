"""`hybrid-nc llm prepare|serve|status`: the embedded model (SmolLM2-135M-Instruct on vLLM).

    hybrid-nc llm prepare        convert the model once into the cache (a second run reuses it)
    hybrid-nc llm serve          keep a vLLM server for it running; sessions on this machine use it
    hybrid-nc llm status         what answers the LLM's lines here, and what is missing
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from reasoner.backends.llm import LLMSettings


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("llm", help="the embedded LLM: prepare the model, serve it, show status",
                       description=__doc__.splitlines()[0])
    p.add_argument("action", choices=["prepare", "serve", "status"])
    p.add_argument("--port", type=int, default=None,
                   help="serve: port on 127.0.0.1 (default: a free one)")
    p.set_defaults(run=run)


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    from orchestrator.config import llm_settings
    from reasoner.backends import llm_embedded

    settings = llm_settings()
    if args.action == "prepare":
        path = llm_embedded.prepare(settings, _progress)
        print(path)
        return 0
    if args.action == "serve":
        if args.port is not None and not 0 < args.port < 65536:
            raise ValueError(f"--port {args.port} is not a port number")
        return llm_embedded.serve_forever(settings, _progress, port=args.port)
    return _status(settings)


def _status(settings: LLMSettings) -> int:
    from reasoner.backends import llm_embedded as emb

    if not settings.embedded:
        print(f"llm: configured server {settings.url or '(in-process engine)'}"
              f"{', model ' + settings.model if settings.model else ''}")
        return 0
    running = emb.running_server(settings.cache_dir)
    problem = emb.problem(settings)
    print(f"llm: embedded model {emb.MODEL_NAME}")
    print(f"  vLLM environment: {settings.vllm_venv}"
          f" ({'present' if emb.venv_python(settings.vllm_venv).exists() else 'missing'})")
    print(f"  model folder:     {emb.model_dir(settings.cache_dir)}"
          f" ({'prepared' if emb.is_prepared(settings.cache_dir) else 'not prepared yet'})")
    print(f"  server:           {running or 'started by each session on first use'}")
    if problem:
        print(f"  unavailable:      {problem}")
        return 1
    return 0

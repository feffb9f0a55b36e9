"""`hybrid-nc serve`: the web terminal at http://HOST:PORT/ (one session per browser tab)."""

from __future__ import annotations

import argparse
import contextlib
import sys

from ._common import UsageError, add_session_args, session_kwargs


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="the web terminal: frames on a canvas, the symbolic screen beside",
                       description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1; any other needs a token)")
    p.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 picks a free one)")
    p.add_argument("--token", help="access token (default: none on loopback, a random one "
                   "printed at start otherwise)")
    p.add_argument("--max-sessions", type=int, default=16, help="browser tabs at once (default 16)")
    p.add_argument("--idle-timeout", type=float, default=1800.0,
                   help="seconds without input before a tab's session closes (default 1800)")
    p.add_argument("--max-queue", type=int, default=512,
                   help="input messages a tab may have waiting (default 512)")
    add_session_args(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import socket

    import uvicorn

    from hybrid_nc.web import ServeConfig, TerminalService, create_app

    for name in ("max_sessions", "max_queue"):
        if getattr(args, name) < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be at least 1")
    if args.idle_timeout <= 0:
        raise UsageError("--idle-timeout must be positive")
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port {args.port} is not a port number")
    options = session_kwargs(args)
    config = ServeConfig(host=args.host, port=args.port, token=args.token,
                         max_sessions=args.max_sessions, idle_timeout=args.idle_timeout,
                         max_queue=args.max_queue, session_options=tuple(options.items()))
    service = TerminalService(config)
    # bind here so a busy port is a one-line error and --port 0 can report the port it got
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((args.host, args.port))
    except OSError as e:
        sock.close()
        raise OSError(f"cannot listen on {args.host}:{args.port}: {e.strerror}") from None
    port = sock.getsockname()[1]
    print("hybrid-nc serve: loading the renderer ...", file=sys.stderr, flush=True)
    problem = service.warm_up()
    if problem:
        print(f"hybrid-nc serve: warning: {problem}; pages will show the raster renderer",
              file=sys.stderr, flush=True)
    host = f"[{args.host}]" if ":" in args.host else args.host
    url = f"http://{host}:{port}/" + (f"?token={service.token}" if service.token else "")
    print(f"hybrid-nc serve: open {url}", flush=True)
    if service.token and not args.token:
        print(f"hybrid-nc serve: access token {service.token} (bound to {args.host}, not loopback)",
              file=sys.stderr, flush=True)
    server = uvicorn.Server(uvicorn.Config(create_app(service), log_level="warning",
                                           ws_max_size=4 * 2**20, timeout_graceful_shutdown=5))
    # the app's lifespan closes every tab on the way out; uvicorn re-raises the Ctrl+C it shut
    # down for, which is the normal way to stop a server
    with contextlib.suppress(KeyboardInterrupt):
        server.run(sockets=[sock])
    print("hybrid-nc serve: stopped", file=sys.stderr, flush=True)
    return 0

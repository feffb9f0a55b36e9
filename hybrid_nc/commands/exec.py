"""`hybrid-nc exec -- LINE [LINE ...]`: run lines as if typed, print the final screen."""

from __future__ import annotations

import argparse
import json
import sys

from ._common import add_session_args, session_kwargs


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("exec", help="run lines through the orchestrator and print the screen",
                       description="Runs each LINE as if typed and followed by Enter; prints the "
                       "final screen text (or JSON with --json).")
    add_session_args(p)
    p.add_argument("--json", action="store_true",
                   help="print screen lines, cursor, route per line, timings and accuracy as JSON")
    p.add_argument("--frame", metavar="OUT.png", help="save the final rendered frame")
    p.add_argument("lines", nargs="+", metavar="LINE")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from hybrid_nc import Session
    from renderer.media import save_png

    with Session(**session_kwargs(args)) as s:
        steps = [s.run(line) for line in args.lines]
        final = steps[-1]
        if args.frame:
            save_png(final.frame_array, args.frame)
        if args.json:
            out = {
                "cols": final.screen.cols, "rows": final.screen.rows,
                "lines": [ln.rstrip() for ln in final.screen.lines],
                "cursor": list(final.screen.cursor),
                "renderer": s.report()["renderer"],
                "steps": [{"line": st.action, "route": st.route, "reason": st.reason,
                           "timings": {k: round(v, 3) for k, v in st.timings.items()},
                           "accuracy": st.accuracy} for st in steps],
            }
            json.dump(out, sys.stdout, ensure_ascii=False, indent=1)
            sys.stdout.write("\n")
        else:
            text = final.screen.text.rstrip("\n")
            sys.stdout.write(text + "\n")
    return 0

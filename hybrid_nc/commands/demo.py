"""`hybrid-nc demo`: a scripted tour of the hybrid terminal on the embedded defaults.

Writes DIR/session.cast (asciicast v2), DIR/session.mp4 and DIR/report.json (DESIGN.md format).
The video is paced for a viewer: waits (the shell starting, a model thinking) are cut to the idle
time limit, and each step of the tour stays on screen long enough to read.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from orchestrator.recorder import IDLE_TIME_LIMIT

from ._common import add_session_args, session_kwargs
from ._progress import bar, summary
from .replay import _seconds

# seconds a tour step's result stays in the video, and a typed key (four keys a second: a
# steady typist, and one video frame each at the default 4 frames/s)
READ_HOLD = 2.0
TYPE_HOLD = 0.25

# (kind, value, what the viewer should notice)
TOUR: list[tuple[str, Any, str]] = [
    ("run", "echo 'Hello from a sandboxed shell: héllo, 世界, ✓'", "a real shell, Unicode text"),
    ("run", "cd ~ && printf 'alpha\\nbeta\\ngamma\\n' > notes.txt && ls -l --color=always",
     "files persist in the session's private work directory"),
    ("run", "python3 -c 'print(98+45, 2**64)'", "python3 arithmetic, exact"),
    ("run", "98+45", "a bare expression goes to sympy"),
    ("run", "integrate(x**2, x)", "symbolic maths"),
    ("run", "calc solve(x**2 - 4, x)", "`calc ` forces the sympy route"),
    ("run", "ask what is the capital of France?", "the embedded model answers, served by vLLM"),
    ("run", "ask Sam has 5 pens and buys 4 more. How many pens does he have?",
     "a word problem: the model writes the expression, sympy computes it"),
    ("run", "cat does-not-exist.txt", "an error, shown exactly"),
    ("run", "printf '\\e[1;31mbold red\\e[0m \\e[42;30m green background \\e[0m "
     "\\e[4munderlined\\e[0m \\e[7minverse\\e[0m\\n'", "colours and attributes"),
    ("type", "python3", "typing, one frame per key"),
    ("key", "Enter", "an interactive REPL"),
    ("type", "7 * 6", ""),
    ("key", "Enter", ""),
    ("key", "ctrl+d", "leave the REPL"),
    ("run", "vi notes.txt", "a full-screen program"),
    ("type", "Godelta", ""),
    ("key", "Escape", ""),
    ("type", ":wq", ""),
    ("key", "Enter", "saved"),
    ("run", "cat notes.txt", "the edit is on disk"),
]


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="a scripted tour; writes session.cast, session.mp4, report.json",
                       description=__doc__.splitlines()[0])
    add_session_args(p)
    p.add_argument("--out", default="hybrid-nc-demo", metavar="DIR",
                   help="output directory (default: ./hybrid-nc-demo)")
    p.add_argument("--fps", type=float, default=4.0, help="frames per second of session.mp4")
    p.add_argument("--idle-time-limit", type=_seconds, default=IDLE_TIME_LIMIT,
                   metavar="SECONDS", help="cut longer pauses to this in session.mp4, and tell "
                   f"players of session.cast to (default {IDLE_TIME_LIMIT:g}; 0: real time)")
    p.add_argument("--hold", type=_seconds, default=READ_HOLD, metavar="SECONDS",
                   help=f"least time each step stays on screen in session.mp4 (default "
                   f"{READ_HOLD:g})")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from hybrid_nc import Session

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    steps_report: list[dict[str, Any]] = []
    holds: dict[int, float] = {}  # step index -> seconds on screen in the video
    table: list[list[Any]] = []
    with Session(**session_kwargs(args)) as s, bar("demo", len(TOUR), unit="step") as advance:
        print(f"hybrid-nc demo: renderer={s.report()['renderer']}, "
              f"reasoners={','.join(s.config.reasoners)}", file=sys.stderr)
        for kind, value, note in TOUR:
            if value.startswith("ask ") and "llm" not in s.reasoners:
                print(f"  {value[:48]:<48} skipped: no LLM in this session", file=sys.stderr)
                advance()
                continue
            if kind == "run":
                steps = [s.run(value)]
            elif kind == "type":
                steps = s.type(value)
            else:
                steps = [s.key(value)]
            last = steps[-1]
            for step in steps:
                holds[step.index] = TYPE_HOLD if kind == "type" else args.hold
            advance()
            acc = last.accuracy
            if note and last.route == "llm":  # which model answered, and what sympy computed
                trace = last.trace
                note += f" [{trace.get('model')}"
                if "result" in trace:
                    note += f": {trace['expression']} = {trace['result']} by sympy"
                if trace.get("llm_error"):
                    note += f": {trace['llm_error']}"
                note += "]"
            if note:
                table.append([value[:48], last.route or "-", acc.get("raw"), acc.get("repaired"),
                              f"{last.timings.get('render', 0):.0f}", note])
        report = s.report()
        steps_report = report["steps"]
        s.save(out / "session.cast", idle_time_limit=args.idle_time_limit)
        s.export(out / "session.mp4", fps=args.fps, idle_time_limit=args.idle_time_limit,
                 holds=holds)
        final_text = s.screen.text
    report["wall_s"] = round(time.monotonic() - t0, 2)
    tmp = out / "report.json.tmp"
    tmp.write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    tmp.replace(out / "report.json")
    print(final_text.rstrip("\n"))
    summary("hybrid-nc demo", ["step", "route", "raw", "repaired", "render ms", "what to see"],
            table)
    raw = report["summary"]["accuracy_raw_mean"]
    rep = report["summary"]["accuracy_repaired_mean"]
    accuracy = ("not verified" if raw is None else
                f"mean char accuracy raw {raw:.4f}, repaired {rep:.4f}")
    print(f"hybrid-nc demo: {len(steps_report)} frames, {accuracy}; wrote {out}/session.cast, "
          "session.mp4, report.json", file=sys.stderr)
    return 0

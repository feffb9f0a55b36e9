"""Arithmetic on the symbolic screen: every expression of ../shared/data/arith, three ways.

1. `python3 -c 'print(EXPR)'` typed into the sandboxed shell;
2. EXPR typed into a `python3` REPL running in the sandboxed shell;
3. EXPR typed at the prompt and answered by the sympy calculator, shown the way the session loop
   does it: peek_line() -> SympyReasoner.answer() -> discard_line() -> "\\r\\n" + answer +
   "\\r\\n" fed to the emulator -> fresh_prompt().

Every time the answer is read back from the *symbolic screen* (terminal.Terminal fed
by ShellBackend.read()), never from the raw bytes. Items: the 620 calculator annotations of GSM8K
test[:200] (`exact_result`) and the 200 SVAMP equations (`answer`), all verified.

Judging: "exact" = the number on the screen is the verified value exactly (as decimals; for
sympy's "3/2 = 1.5" the decimal after "="); python floats are also judged "to 12 significant
digits", since python3 prints binary floats (6*0.1 -> 0.6000000000000001).

    python benchmarks/bench_arith_symbolic.py [--limit N]

Writes benchmarks/results/arith_symbolic.md.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hybrid_nc.evaluation.common import SHARED_DATA  # noqa: E402
from reasoner.backends.shell import ShellBackend  # noqa: E402
from reasoner.backends.sympy_calc import SympyReasoner  # noqa: E402
from reasoner.base import Context  # noqa: E402
from terminal import Terminal  # noqa: E402

DATA = SHARED_DATA / "arith"
COLS, ROWS = 120, 30


def items() -> list[tuple[str, str, str]]:
    """(source, expression, verified answer) for every item."""
    out = []
    with open(DATA / "gsm8k_test_first200_calc_expressions.jsonl") as f:
        for line in f:
            row = json.loads(line)
            out.append(("gsm8k-calc", row["expression"], row["exact_result"]))
    with open(DATA / "svamp_200.jsonl") as f:
        for line in f:
            row = json.loads(line)
            out.append(("svamp", row["expression"], row["answer"]))
    return out


def python_prints(exprs: list[str]) -> list[str]:
    """What python3 itself prints for each expression (one host python3 run, no sandbox, no
    terminal): the screen of the python routes must show exactly this."""
    script = "".join(f"print({e})\n" for e in exprs)
    proc = subprocess.run(["python3", "-c", script], capture_output=True, text=True, check=True)
    return proc.stdout.splitlines()


def number(text: str) -> Decimal | None:
    """The value an answer line shows: a plain number, or the decimal after '=' / '≈'."""
    text = text.strip()
    for sep in ("=", "≈"):
        if sep in text:
            text = text.rsplit(sep, 1)[1].strip()
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def judge(shown: str, truth: str) -> tuple[bool, bool]:
    """(exactly right, right to 12 significant digits)."""
    value, want = number(shown), Decimal(truth)
    if value is None:
        return False, False
    if value == want:
        return True, True
    close = abs(value - want) <= abs(want) * Decimal("1e-12") + Decimal("1e-12")
    return False, close


class Screen:
    """A sandboxed shell and the terminal its output feeds."""

    def __init__(self) -> None:
        self.sh = ShellBackend(command_timeout=20)
        self.sh.start(COLS, ROWS)
        self.term = Terminal(COLS, ROWS)
        self.settle(lambda: self.sh.at_prompt)

    def settle(self, done: Callable[[], bool], limit: float = 20.0) -> None:
        """Feed output until `done()` holds and a short read finds nothing more."""
        end = time.monotonic() + limit
        while time.monotonic() < end:
            data = self.sh.read(0.02 if done() else 0.5)
            if data:
                self.term.feed(data)
            elif done():
                return
        raise RuntimeError("the shell did not answer in time")

    def at_repl_prompt(self) -> bool:
        row, col = self.term.cursor
        return col == 4 and self.term.lines[row].rstrip() == ">>>"

    def line_above_cursor(self) -> str:
        row = self.term.cursor[0]
        return self.term.lines[row - 1].rstrip() if row > 0 else ""

    def close(self) -> None:
        self.sh.close()


def via_python_c(scr: Screen, expr: str) -> str:
    scr.sh.write(f"python3 -c 'print({expr})'\r".encode())
    scr.settle(lambda: scr.sh.at_prompt)
    return scr.line_above_cursor()


def via_repl(scr: Screen, expr: str) -> str:
    scr.sh.write(expr.encode() + b"\r")

    def answered() -> bool:  # a fresh ">>> " two rows below the typed line
        row = scr.term.cursor[0]
        return scr.at_repl_prompt() and row >= 2 and \
            scr.term.lines[row - 2].rstrip() == f">>> {expr}".rstrip()

    scr.settle(answered)
    return scr.line_above_cursor()


def via_sympy(scr: Screen, calc: SympyReasoner, expr: str) -> str:
    sh = scr.sh
    sh.write(expr.encode())
    scr.settle(lambda: scr.term.lines[scr.term.cursor[0]].rstrip().endswith(expr.strip()))
    line = sh.peek_line()
    reply = calc.answer(line, Context(cols=COLS, rows=ROWS))
    sh.discard_line()
    scr.term.feed(b"\r\n" + reply.text.replace("\n", "\r\n").encode() + b"\r\n")
    scr.term.feed(sh.fresh_prompt())
    return scr.line_above_cursor()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=0, help="only the first N items")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" /
                                             "arith_symbolic.md"))
    args = parser.parse_args()
    data = items()
    if args.limit:
        data = data[:args.limit]

    results: dict[str, list[tuple[str, str, str, bool, bool]]] = {}
    timings: dict[str, float] = {}
    own = python_prints([e for _, e, _ in data])
    faithful: dict[str, int] = {}

    scr = Screen()
    t0 = time.monotonic()
    shown = [via_python_c(scr, e) for _, e, _ in data]
    timings["python3 -c"] = time.monotonic() - t0
    results["python3 -c"] = [(src, e, want, *judge(text, want))
                             for (src, e, want), text in zip(data, shown, strict=True)]
    faithful["python3 -c"] = sum(a == b for a, b in zip(shown, own, strict=True))
    scr.sh.write(b"python3 -q\r")
    scr.settle(scr.at_repl_prompt)
    t0 = time.monotonic()
    shown = [via_repl(scr, e) for _, e, _ in data]
    timings["python3 REPL"] = time.monotonic() - t0
    results["python3 REPL"] = [(src, e, want, *judge(text, want))
                               for (src, e, want), text in zip(data, shown, strict=True)]
    faithful["python3 REPL"] = sum(a == b for a, b in zip(shown, own, strict=True))
    scr.close()

    scr = Screen()
    calc = SympyReasoner(timeout=10)
    calc.answer("1+1", Context())  # start the worker before timing
    t0 = time.monotonic()
    results["sympy (loop path)"] = [(src, e, want, *judge(via_sympy(scr, calc, e), want))
                                    for src, e, want in data]
    timings["sympy (loop path)"] = time.monotonic() - t0
    calc.close()
    scr.close()

    rows = []
    misses: list[str] = []
    for route, res in results.items():
        for src in ("gsm8k-calc", "svamp"):
            part = [r for r in res if r[0] == src]
            if not part:
                continue
            exact = sum(r[3] for r in part)
            close = sum(r[4] for r in part)
            rows.append(f"| {route} | {src} | {len(part)} | {exact}/{len(part)} "
                        f"({100 * exact / len(part):.1f}%) | {close}/{len(part)} "
                        f"({100 * close / len(part):.1f}%) | "
                        f"{1000 * timings[route] / len(res):.1f} |")
        misses += [f"- {route}: `{r[1]}` (verified {r[2]})" for r in res if not r[3]]
    total = {route: sum(r[3] for r in res) for route, res in results.items()}
    text = "\n".join([
        "## Arithmetic on the symbolic screen (shell, python3, sympy)",
        "",
        f"Measured by `python benchmarks/bench_arith_symbolic.py"
        f"{f' --limit {args.limit}' if args.limit else ''}`: every expression typed into the "
        f"sandboxed shell ({COLS}x{ROWS}) and the answer read back from the Terminal's text.",
        "",
        "| route | items | n | exact | to 12 significant digits | ms/item |",
        "|---|---|---:|---:|---:|---:|",
        *rows,
        "",
        "Exactly right on the screen: " + ", ".join(
            f"{route} {total[route]}/{len(data)}" for route in results) + ". "
        "Screen line identical to what python3 itself prints for the expression: " + ", ".join(
            f"{route} {n}/{len(data)}" for route, n in faithful.items()) + ".",
        "Not exactly right (python prints binary floats; the screen shows what python3 "
        "printed):" if misses else "Every item exactly right on every route.",
        *misses,
        "",
    ])
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()

"""The same arithmetic answered by two reasoners - the shell's python3 and sympy - side by side.

Each answer is read twice: from the symbolic screen, and back from the rendered frame's pixels
with the cell OCR (the paper's arithmetic probe reads the frame). python3 prints floats; sympy
prints exact values ("7/3 ≈ 2.333333333"), so the answers agree when their values do.

    python examples/compare_reasoners.py -n 12 --renderer raster
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from fractions import Fraction

import sympy

from hybrid_nc import Session
from renderer.ocr import CellOCR


def make_items(n: int, seed: int) -> list[str]:
    """`n` arithmetic expressions, the same for a given seed."""
    rng = random.Random(seed)
    forms = ["{a} + {b}", "{a} * {b}", "{a} - {b} * {c}", "{a} / {c}", "({a} + {b}) * {c}",
             "{a} ** 3", "{a} // {c}", "{a} % {c}", "{a}{d} * {b}{d}", "2 ** {c}{c}"]
    items = []
    for i in range(n):
        a, b, c = rng.randint(10, 999), rng.randint(10, 999), rng.randint(2, 9)
        items.append(forms[i % len(forms)].format(a=a, b=b, c=c, d=rng.randint(100, 999)))
    return items


def answer_lines(lines: list[str], cursor_row: int) -> str:
    """The output between the command's line (row 0, after `clear`) and the new prompt."""
    return " ".join(ln.strip() for ln in lines[1:cursor_row] if ln.strip())


def value(text: str) -> Fraction | None:
    """An answer's value: python3's int/float, or sympy's exact part ("7/3 ≈ 2.33", "1/4 = 0.25")."""
    text = text.split("≈")[0].split("=")[0].strip()
    try:
        v = sympy.Rational(sympy.sympify(text))
    except (sympy.SympifyError, TypeError, ValueError):
        return None
    return Fraction(int(v.p), int(v.q))


def agree(x: Fraction | None, y: Fraction | None) -> bool:
    if x is None or y is None:
        return False
    return x == y or abs(x - y) <= Fraction(1, 10 ** 9) * max(1, abs(y))


def ask(s: Session, ocr: CellOCR, line: str) -> tuple[str, str, float]:
    """Run `line` on a cleared screen: (answer on the screen, answer read from the frame,
    wall-clock ms from Enter to the drawn, verified frame)."""
    s.run("clear")
    t0 = time.perf_counter()
    step = s.run(line)
    ms = (time.perf_counter() - t0) * 1000
    row = step.screen.cursor[0]
    seen = ocr.read(step.frame_array, step.screen.cols, step.screen.rows).lines
    return answer_lines(step.screen.lines, row), answer_lines(seen, row), ms


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-n", type=int, default=10, help="how many expressions")
    p.add_argument("--seed", type=int, default=0, help="which expressions")
    p.add_argument("--renderer", default="neural", help="neural (default) or raster")
    args = p.parse_args()

    rows, agreed, read_ok = [], 0, 0
    with Session(renderer=args.renderer, cols=110, rows=8) as s:
        ocr = CellOCR(getattr(s.renderer, "atlas", None) or s.renderer.raster.atlas)
        for expr in make_items(args.n, args.seed):
            py, py_seen, py_ms = ask(s, ocr, f"python3 -c 'print({expr})'")
            sy, sy_seen, sy_ms = ask(s, ocr, f"calc {expr}")
            ok = agree(value(py), value(sy))
            seen = py_seen == py and sy_seen == sy
            agreed += ok
            read_ok += seen
            rows.append((expr, py, sy, ok, seen, py_ms, sy_ms))

    w = max(len(r[0]) for r in rows)
    print(f"{'expression':{w}}  {'python3 (shell)':28} {'sympy':40} agree  frame  ms (py/sympy)")
    for expr, py, sy, ok, seen, py_ms, sy_ms in rows:
        print(f"{expr:{w}}  {py[:28]:28} {sy[:40]:40} {'yes' if ok else 'NO':5}  "
              f"{'read' if seen else 'MISREAD':7} {py_ms:.0f}/{sy_ms:.0f}")
    print(f"{agreed}/{len(rows)} agree; {read_ok}/{len(rows)} pairs read back right from the "
          f"rendered frames ({args.renderer})")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:  # a missing checkpoint, no sandbox, ...: one line, not a traceback
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        sys.exit(f"{sys.argv[0]}: error: {msg}")

"""`hybrid-nc eval arith`: the paper's arithmetic probe, with the answer read back from the
*rendered frame*.

Items: a seeded generator in the style of the paper's (1-3 digit operands; + - * / % **; nested
in parentheses) plus expressions from ../shared/data/arith (GSM8K calculator annotations, SVAMP).
Each item is typed into a real Session — `python3 -c 'print(EXPR)'` through the sandboxed shell,
or `calc EXPR` through the sympy route — starting from a cleared screen that the renderer is shown
first (the start image of a video model). The answer rows of the frame drawn after Enter are read
with the cell-grid OCR *without* a hint (a hint would hand the judge the right answer) and compared
with the exact value: Python's own result for python3 (its float for `/`), the exact rational for
sympy.

Modes:
  native      a renderer variant that never sees the reasoner's output: the caption of every row
              the reasoner wrote is withheld (hybrid_nc/evaluation/variants.py, "native"), so the
              model must draw the answer itself from the previous frame and the action - the
              paper's pure neural computer. Trained with the same budget as the other variants.
  reprompted  the full system: the renderer is told the answer (the detailed caption). Scored on
              the raw frame (no repair) and after verify & repair.
"""

from __future__ import annotations

import ast
import json
import operator
import re
import time
from fractions import Fraction
from typing import Any

import numpy as np

from .common import (
    SHARED_DATA,
    EvalError,
    make_renderer,
    md_table,
    progress,
    proportion_estimate,
    provenance,
)

PAPER = [("NC (the paper's neural computer)", 0.04), ("Wan2.1", 0.00), ("Veo3.1", 0.02),
         ("Sora2", 0.71), ("NC reprompted", 0.83)]
MAX_ABS = 10**12  # answers longer than this wrap or overflow a row; regenerated
MAX_EXPR = 36  # characters: the typed command must fit one row beside the prompt
COLS, ROWS = 80, 6  # the probe's terminal: cleared before each item, so a few rows suffice
_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
        ast.Div: operator.truediv, ast.Mod: operator.mod, ast.Pow: operator.pow}


# -- items ------------------------------------------------------------------------------------
def exact_value(expr: str) -> Fraction:
    """The exact value of an arithmetic expression (ints, decimals, + - * / % **, unary -)."""
    def ev(node: ast.AST) -> Fraction:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return Fraction(str(node.value))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            v = ev(node.operand)
            return -v if isinstance(node.op, ast.USub) else v
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            a, b = ev(node.left), ev(node.right)
            if isinstance(node.op, ast.Pow):
                if b.denominator != 1 or abs(b) > 64:
                    raise ValueError("only small integer powers")
                return a ** int(b)
            return Fraction(_OPS[type(node.op)](a, b))
        raise ValueError(f"not plain arithmetic: {ast.dump(node)[:40]}")

    return ev(ast.parse(expr, mode="eval"))


def python_value(expr: str) -> Fraction:
    """What `python3 -c 'print(EXPR)'` prints, as an exact number (floats stay floats)."""
    v = eval(compile(ast.parse(expr, mode="eval"), "<arith>", "eval"), {"__builtins__": {}}, {})
    return Fraction(repr(v)) if isinstance(v, float) else Fraction(v)


class ExprGenerator:
    """Seeded arithmetic in the style of the paper's probe: 1-3 digit operands, + - * / % **,
    nested up to `depth` levels in parentheses. Exponents stay 0-3 and answers below 1e12 so an
    answer fits one row."""

    OPS = ("+", "-", "*", "/", "%", "**")

    def __init__(self, seed: int = 0, depth: int = 2) -> None:
        self.rng = np.random.default_rng(seed)
        self.depth = depth

    def operand(self) -> str:
        digits = int(self.rng.integers(1, 4))
        return str(int(self.rng.integers(10 ** (digits - 1) if digits > 1 else 1, 10 ** digits)))

    def expr(self, depth: int) -> str:
        rng = self.rng
        op = self.OPS[int(rng.integers(len(self.OPS)))]
        if op == "**":  # a small base to a small power
            base = str(int(rng.integers(2, 100)))
            return f"{base}**{int(rng.integers(0, 4))}"

        def side() -> str:
            if depth > 0 and rng.random() < 0.45:
                return f"({self.expr(depth - 1)})"
            return self.operand()

        return f"{side()} {op} {side()}"

    def __call__(self) -> str:
        while True:
            e = self.expr(int(self.rng.integers(0, self.depth + 1)))
            try:
                v = exact_value(e)
                python_value(e)
            except (ZeroDivisionError, ValueError, OverflowError):
                continue
            if abs(v) < MAX_ABS and len(e) <= MAX_EXPR:
                return e


def shared_items(limit: int, seed: int) -> list[dict[str, Any]]:
    """Expressions from ../shared/data/arith (GSM8K calculator annotations and SVAMP) whose
    exact value agrees with the file's verified answer."""
    if limit <= 0:  # a probe of generated items only needs no external data
        return []
    out: list[dict[str, Any]] = []
    files = [("gsm8k_test_first200_calc_expressions.jsonl", "exact_result"),
             ("svamp_200.jsonl", "answer")]
    for name, key in files:
        path = SHARED_DATA / "arith" / name
        if not path.is_file():
            raise EvalError(f"arithmetic data {path} is missing (../shared/data/arith)")
        for line in path.read_text().splitlines():
            if not line.strip():
                continue
            rec = json.loads(line)
            expr = " ".join(str(rec.get("expression", "")).split())
            try:
                v = exact_value(expr)
                python_value(expr)
                want = Fraction(str(rec[key]).replace(",", ""))
            except (ValueError, ZeroDivisionError, SyntaxError, KeyError, OverflowError):
                continue
            if v == want and abs(v) < MAX_ABS and len(expr) <= MAX_EXPR:
                out.append({"source": name.split("_")[0], "id": rec.get("id"), "expr": expr})
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(out))
    return [out[i] for i in order[:limit]]


def make_items(n_generated: int, n_shared: int, seed: int) -> list[dict[str, Any]]:
    """The probe's items: generated ones, then shared ones."""
    gen = ExprGenerator(seed)
    items = [{"source": "generated", "id": f"gen-{i}", "expr": gen()} for i in range(n_generated)]
    return items + shared_items(n_shared, seed)


# -- reading the answer back ------------------------------------------------------------------
_NUM = re.compile(r"^-?\d+(\.\d+)?(e[-+]?\d+)?(/\d+)?$")


def parse_answer(text: str) -> Fraction | None:
    """The number an answer starts with, as printed by python3 or the sympy route
    ("7/3 ≈ 2.333" -> 7/3); None when it starts with no number. Only the first word counts, so
    stray marks a renderer leaves further along the row do not spoil a right answer."""
    words = text.split()
    t = words[0] if words else ""
    if not t or not _NUM.match(t):
        return None
    try:
        if "e" in t:
            return Fraction(repr(float(t)))
        return Fraction(t)
    except (ValueError, ZeroDivisionError):
        return None


def answer_rows(lines: list[str], command: str) -> list[int]:
    """Rows of a screen between the typed command's row and the next prompt (the answer)."""
    hits = [i for i, ln in enumerate(lines) if command in ln]
    if not hits:
        return []
    start = hits[-1] + 1
    last = max((i for i, ln in enumerate(lines) if ln.strip()), default=start)
    return list(range(start, last))  # the last non-empty row is the new prompt


def read_answer(frame: np.ndarray, screen: Any, command: str, ocr: Any) -> tuple[str, str]:
    """(answer as read from the frame, answer on the symbolic screen). `ocr`: the cell-grid
    OCR or a TesseractReader (the paper's judge); either reads the whole frame, unhinted."""
    rows = answer_rows(screen.lines, command)
    if not rows:
        return "", ""
    read = ocr.read(frame, screen.cols, screen.rows)  # no hint: the judge must not be told
    got = "".join(read.lines[r].rstrip() if r < len(read.lines) else "" for r in rows)
    truth = "".join(screen.lines[r].rstrip() for r in rows)
    return got, truth


# -- running -----------------------------------------------------------------------------------
def _command(route: str, expr: str) -> str:
    return f"python3 -c 'print({expr})'" if route == "python3" else f"calc {expr}"


def _expected(route: str, expr: str) -> Fraction:
    return python_value(expr) if route == "python3" else exact_value(expr)


def probe(renderer_name: str, items: list[dict[str, Any]], routes: list[str], *, repair: bool,
          seed: int, quiet: bool, label: str, steps: int | None = None,
          tess: Any = None) -> list[dict[str, Any]]:
    """Type every item into one Session drawn by `renderer_name`; one record per (item, route)
    with the answers read from the raw frame and (with `repair`) the repaired frame, by the
    cell-grid OCR and (with `tess`, a TesseractReader) by Tesseract too."""
    from hybrid_nc import Session
    from orchestrator.verify import verify_and_repair
    from renderer.ocr import CellOCR
    from renderer.raster import RasterConfig, RasterRenderer

    renderer = make_renderer(renderer_name, "dark", seed, steps)
    raster = RasterRenderer(RasterConfig(theme="dark"))
    ocr = CellOCR(raster.atlas)
    out: list[dict[str, Any]] = []
    # verify off: the raw frame comes back, and repair is applied here (as the session would);
    # frames drawn inline (no overlap), since the probe shows the renderer a frame between steps
    with Session(renderer=renderer, verify=False, seed=seed, command_timeout=10.0,
                 cols=COLS, rows=ROWS, overlap=False) as s:
        todo = [(it, r) for it in items for r in routes]
        for item, route in progress(todo, len(todo), label, quiet):
            cmd = _command(route, item["expr"])
            # a clean start: cleared screen, shown to the renderer as its first frame
            s.run("clear")
            if hasattr(renderer, "reset"):
                renderer.reset()
            renderer.render(s.screen, damage=None, action=None, seed=seed)
            t = time.perf_counter()
            step = s.run(cmd)
            ms = (time.perf_counter() - t) * 1000
            want = _expected(route, item["expr"])
            raw_read, truth = read_answer(step.frame_array, step.screen, cmd, ocr)
            rec: dict[str, Any] = {
                "id": item["id"], "source": item["source"], "expr": item["expr"], "route": route,
                "expected": str(want) if want.denominator == 1 or route == "sympy"
                else repr(float(want)), "screen_answer": truth,
                "reasoner_right": parse_answer(truth) == want,
                "raw_read": raw_read, "raw_right": parse_answer(raw_read) == want,
                "command_ms": ms}
            if tess is not None:
                got, _ = read_answer(step.frame_array, step.screen, cmd, tess)
                rec.update(raw_tess_read=got, raw_tess_right=parse_answer(got) == want)
            if repair:
                rows = list(step.trace.get("render", {}).get("rows", range(step.screen.rows)))
                fixed, report = verify_and_repair(renderer, step.screen, step.frame_array, rows,
                                                  raster=raster, ocr=ocr)
                rep_read, _ = read_answer(fixed, step.screen, cmd, ocr)
                rec.update(repaired_read=rep_read, repaired_right=parse_answer(rep_read) == want,
                           raw_char_acc=float(report.raw), repaired_char_acc=float(report.repaired))
                if tess is not None:
                    got, _ = read_answer(fixed, step.screen, cmd, tess)
                    rec.update(repaired_tess_read=got,
                               repaired_tess_right=parse_answer(got) == want)
            out.append(rec)
    return out


def run_arith(*, n_generated: int, n_shared: int, seed: int, routes: list[str],
              native: str = "ablation:native", reprompted: list[str] | None = None,
              quiet: bool = False, steps: int | None = None,
              tesseract: bool = False) -> dict[str, Any]:
    """The probe in both modes. `reprompted`: renderers of the full system (default: the shipped
    neural one and the ablation variant with the same budget as the native one); `steps`:
    sampling steps of every renderer (None: each one's own); `tesseract`: read every answer
    with Tesseract as well (the paper's judge; about a second a frame)."""
    t0 = time.perf_counter()
    for r in routes:
        if r not in ("python3", "sympy"):
            raise EvalError(f"unknown route {r!r} (python3, sympy)")
    tess = _tesseract() if tesseract else None
    items = make_items(n_generated, n_shared, seed)
    reprompted = reprompted if reprompted is not None else ["raster", "neural",
                                                            "ablation:detailed"]
    runs: list[dict[str, Any]] = []
    records: dict[str, list[dict[str, Any]]] = {}
    recs = probe(native, items, routes, repair=False, seed=seed, quiet=quiet, label="native",
                 steps=steps, tess=tess)
    records[f"native:{native}"] = recs
    runs.append(_summary("native", native, recs, "raw_right"))
    for name in reprompted:
        exact = name == "raster"  # the exact frame: what each judge reads at best
        recs = probe(name, items, routes, repair=not exact, seed=seed, quiet=quiet,
                     label=f"reprompted {name}", steps=steps, tess=tess)
        records[f"reprompted:{name}"] = recs
        if exact:
            runs.append(_summary("the judges' ceiling: exact frame", name, recs, "raw_right"))
            continue
        runs.append(_summary("reprompted, raw frame", name, recs, "raw_right"))
        runs.append(_summary("reprompted + verify & repair", name, recs, "repaired_right"))
    return {"subcommand": "arith", "provenance": provenance({"seed": seed}),
            "settings": {"n_generated": n_generated, "n_shared": n_shared, "routes": routes,
                         "items": len(items), "native": native, "reprompted": reprompted,
                         "sampling_steps": steps, "tesseract": tesseract},
            "paper": dict(PAPER), "runs": runs, "records": records,
            "wall_s": round(time.perf_counter() - t0, 1)}


def _tesseract() -> Any:
    from renderer.raster import RasterConfig, RasterRenderer
    from renderer.tesseract import TesseractError, TesseractReader

    try:
        return TesseractReader(RasterRenderer(RasterConfig(theme="dark")).atlas.cell)
    except TesseractError as e:
        raise EvalError(f"{e} (or pass --no-tesseract)") from None


def _summary(mode: str, renderer: str, recs: list[dict[str, Any]], key: str) -> dict[str, Any]:
    out: dict[str, Any] = {"mode": mode, "renderer": renderer}
    for route in sorted({r["route"] for r in recs}) + ["all"]:
        sel = [r for r in recs if route == "all" or r["route"] == route]
        k = sum(bool(r[key]) for r in sel)
        out[route] = proportion_estimate(k, len(sel)).to_json()
    # the same frames read by the paper's judge (key "raw_right" -> "raw_tess_right")
    tkey = key.replace("_right", "_tess_right")
    if recs and all(tkey in r for r in recs):
        out["tesseract"] = proportion_estimate(sum(bool(r[tkey]) for r in recs),
                                               len(recs)).to_json()
    out["reasoner_right"] = sum(r["reasoner_right"] for r in recs) / max(len(recs), 1)
    return out


def markdown(result: dict[str, Any]) -> str:
    """The probe's table, the paper's figures beside ours."""
    s = result["settings"]

    def pct(e: dict[str, Any]) -> str:
        if e["value"] is None:
            return "—"
        lo, hi = e["ci95"]
        return f"{100 * e['value']:.0f}% [{100 * lo:.0f}, {100 * hi:.0f}] (n={e['n']})"

    rows = [[name, "paper", f"{100 * v:.0f}% (Tesseract)", "", "", ""] for name, v in PAPER]
    for run in result["runs"]:
        per = [pct(run[r]) if r in run else "—" for r in ("python3", "sympy")]
        tess = pct(run["tesseract"]) if "tesseract" in run else "—"
        rows.append([f"ours: {run['mode']}", run["renderer"], tess, pct(run["all"]), *per])
    lines = [
        "## Arithmetic probe: the answer read back from the rendered frame",
        "",
        f"Command: `{result['provenance']['command']}` — {s['items']} items "
        f"({s['n_generated']} generated, 1-3 digit operands, + - * / % **, nested; "
        f"{s['items'] - s['n_generated']} from ../shared/data/arith), each typed as "
        "`python3 -c 'print(EXPR)'` and/or `calc EXPR` into a real Session from a cleared "
        "screen; the answer rows read with no hint, by Tesseract (the paper's judge, "
        "renderer/tesseract.py; full runs) and by the cell-grid OCR, and compared with "
        "the exact value. Wilson 95% intervals. "
        f"Wall time {result['wall_s']} s.",
        "",
        md_table(["system", "renderer", "Tesseract (all)", "cell OCR (all)",
                  "cell OCR: python3 -c", "cell OCR: sympy (calc)"], rows),
        "",
        "`native`: the renderer never sees what the reasoner wrote (captions of those rows "
        "withheld), so it must draw the answer itself, as the paper's NC does; `reprompted`: "
        "the full system, the answer in the caption; `raster`: the exact frame, so its row is "
        "what each judge reads at best (its ceiling). "
        "`ablation:*` variants share one small "
        "training budget (renderer/checkpoints/ablations/README.md); `neural` is the shipped "
        "checkpoint.",
        "",
        "Where the designs differ: our reprompted renderer is told the answer glyph by glyph in "
        "the cells it belongs in (cell-aligned captions), where the paper's reprompted NC reads "
        "it in a text prompt and must draw it; and our native variant is a 0.25 M-parameter "
        "per-row model trained for minutes on a CPU, where the paper's NC is Wan2.1 fine-tuned "
        "for ~15k H100-hours. Both gaps favour our reprompted figure and disfavour our native "
        "one: what carries over is the gap between the two modes, not the absolute figures.",
    ]
    return "\n".join(lines)

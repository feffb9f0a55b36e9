"""The sympy calculator: exact answers to math lines, printed the way a calculator REPL would.

    98+45            -> 143
    7/3              -> 7/3 ≈ 2.333333333
    3/2              -> 3/2 = 1.5
    1.20+0.30        -> 1.5          (decimal input: decimals are exact here, shown as decimals)
    sqrt(8)          -> 2*sqrt(2) ≈ 2.828427125
    2^10             -> 1024         (`^` is power, as on calculators; there is no XOR)
    10 % 3           -> 1            (`%` is the remainder)
    integrate(x**2, x)  -> x**3/3
    solve(x**2-4, x)    -> [-2, 2]
    9**9**9          -> ≈ 4.281247732e+369693099   (too large to compute exactly)

Safety: the line is never given to `eval` (sympy's own `parse_expr` evals Python code). It is
tokenized, lightly rewritten (`^` -> `**`, implicit multiplication `2x`, `×`/`÷`/`π`/`√`),
parsed with `ast`, and the syntax tree is interpreted here: numbers, whitelisted function and
constant names, other names as symbols, arithmetic, comparisons, tuples and lists. Anything else
(attributes, subscripts, keywords, strings, lambdas...) is refused with a one-line error.
Work is bounded three ways: a length limit on the line, digit guards (a power or factorial whose
exact value would have more than `exact_digits` digits becomes a 15-digit float and the answer is
marked approximate) and a wall-clock timeout: evaluation runs in a worker process that is killed
and replaced when it takes longer than `timeout` seconds.
"""

from __future__ import annotations

import ast
import base64
import contextlib
import io
import math
import os
import pickle
import re
import select
import subprocess
import sys
import threading
import time
import tokenize
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reasoner.base import Context, ReasonerError, Reply

MAX_LINE = 2000
EXACT_DIGITS = 100_000  # larger exact integers are not computed: a float stands in
DISPLAY_DIGITS = 1000  # larger exact integers are shown in scientific notation
APPROX_DIGITS = 10  # significant digits of the "≈" decimal
MAX_EXPONENT = 10**15  # numbers with more decimal digits than this are refused


class CalcError(ValueError):
    """A line the calculator cannot evaluate; str() is the one-line message for the screen."""


# -- the interpreter (runs in the worker process) --------------------------------------------
@dataclass
class _Eval:
    """State of one evaluation: the sympy module and whether a guard replaced an exact value."""

    sp: Any
    exact_digits: int
    approximate: bool = False
    decimal_input: bool = False


def _functions(sp: Any) -> dict[str, Any]:
    """Names a line may call. Each is a sympy function or a small wrapper."""
    f: dict[str, Any] = {
        "sqrt": sp.sqrt, "cbrt": sp.cbrt, "root": sp.root, "exp": sp.exp, "log": sp.log,
        "ln": sp.log, "log10": lambda x: sp.log(x, 10), "log2": lambda x: sp.log(x, 2),
        "sin": sp.sin, "cos": sp.cos, "tan": sp.tan, "cot": sp.cot, "sec": sp.sec,
        "csc": sp.csc, "asin": sp.asin, "acos": sp.acos, "atan": sp.atan, "atan2": sp.atan2,
        "sinh": sp.sinh, "cosh": sp.cosh, "tanh": sp.tanh, "asinh": sp.asinh,
        "acosh": sp.acosh, "atanh": sp.atanh, "abs": sp.Abs, "Abs": sp.Abs, "floor": sp.floor,
        "ceil": sp.ceiling, "ceiling": sp.ceiling, "sign": sp.sign, "re": sp.re, "im": sp.im,
        "conjugate": sp.conjugate, "arg": sp.arg, "gamma": sp.gamma, "gcd": sp.gcd,
        "lcm": sp.lcm, "isprime": sp.isprime, "factorint": sp.factorint, "prime": sp.prime,
        "primefactors": sp.primefactors, "divisors": sp.divisors, "Mod": sp.Mod,
        "mod": sp.Mod, "max": sp.Max, "Max": sp.Max, "min": sp.Min, "Min": sp.Min,
        "diff": sp.diff, "integrate": sp.integrate, "limit": sp.limit, "series": sp.series,
        "summation": sp.summation, "Sum": sp.summation, "product": sp.product,
        "solve": sp.solve, "solveset": sp.solveset, "expand": sp.expand, "factor": sp.factor,
        "simplify": sp.simplify, "together": sp.together, "apart": sp.apart,
        "cancel": sp.cancel, "collect": sp.collect, "trigsimp": sp.trigsimp,
        "nsimplify": sp.nsimplify, "Rational": sp.Rational, "Eq": sp.Eq, "Matrix": sp.Matrix,
        "det": lambda m: sp.Matrix(m).det(), "N": sp.N, "evalf": sp.N,
        "round": lambda x, n=0: sp.sympify(x).round(int(n)) if n else sp.sympify(x).round(),
    }
    return f


FUNCTION_NAMES = frozenset({
    "sqrt", "cbrt", "root", "exp", "log", "ln", "log10", "log2", "sin", "cos", "tan", "cot",
    "sec", "csc", "asin", "acos", "atan", "atan2", "sinh", "cosh", "tanh", "asinh", "acosh",
    "atanh", "abs", "Abs", "floor", "ceil", "ceiling", "sign", "re", "im", "conjugate", "arg",
    "gamma", "gcd", "lcm", "isprime", "factorint", "prime", "primefactors", "divisors", "Mod",
    "mod", "max", "Max", "min", "Min", "diff", "integrate", "limit", "series", "summation",
    "Sum", "product", "solve", "solveset", "expand", "factor", "simplify", "together", "apart",
    "cancel", "collect", "trigsimp", "nsimplify", "Rational", "Eq", "Matrix", "det", "N",
    "evalf", "round", "factorial", "binomial"})
CONSTANT_NAMES = frozenset({"pi", "e", "E", "I", "oo", "inf", "infinity", "phi", "tau"})


def _constants(sp: Any) -> dict[str, Any]:
    return {"pi": sp.pi, "e": sp.E, "E": sp.E, "I": sp.I, "oo": sp.oo, "inf": sp.oo,
            "infinity": sp.oo, "phi": sp.GoldenRatio, "tau": 2 * sp.pi}


_COMPARE = {ast.Lt: "Lt", ast.Gt: "Gt", ast.LtE: "Le", ast.GtE: "Ge", ast.Eq: "Eq",
            ast.NotEq: "Ne"}


def _digits(base: Any, exp: Any) -> float:
    """Decimal digits of base**exp for a rational base and an integer-ish exponent."""
    p, q = abs(int(base.p)), abs(int(base.q))
    big = max(p, q)
    if big <= 1:
        return 1.0
    return float(abs(exp)) * math.log10(big)


class _Interpreter:
    """Evaluates a checked Python expression tree with sympy, without eval()."""

    def __init__(self, state: _Eval, source: str) -> None:
        self.s = state
        self.sp = state.sp
        self.src = source
        self.funcs = _functions(self.sp)
        self.consts = _constants(self.sp)
        self.depth = 0

    def run(self, node: ast.AST) -> Any:
        self.depth += 1
        if self.depth > 200:
            raise CalcError("expression too deeply nested")
        try:
            return self._node(node)
        finally:
            self.depth -= 1

    def _node(self, node: ast.AST) -> Any:
        sp = self.sp
        if isinstance(node, ast.Expression):
            return self.run(node.body)
        if isinstance(node, ast.Constant):
            return self._number(node)
        if isinstance(node, ast.Name):
            if node.id in self.consts:
                return self.consts[node.id]
            if node.id in self.funcs:
                raise CalcError(f"{node.id} is a function: write {node.id}(...)")
            if node.id.startswith("_") or len(node.id) > 30:
                raise CalcError(f"name not allowed: {node.id}")
            return sp.Symbol(node.id)
        if isinstance(node, ast.UnaryOp):
            val = self.run(node.operand)
            if isinstance(node.op, ast.USub):
                return -val
            if isinstance(node.op, ast.UAdd):
                return val
            raise CalcError("operator not supported here")
        if isinstance(node, ast.BinOp):
            return self._binop(node)
        if isinstance(node, ast.Compare):
            left = self.run(node.left)
            result = None
            for op, right_node in zip(node.ops, node.comparators, strict=True):
                name = _COMPARE.get(type(op))
                if name is None:
                    raise CalcError("comparison not supported")
                right = self.run(right_node)
                rel = getattr(sp, name)(left, right)
                result = rel if result is None else sp.And(result, rel)
                left = right
            return result
        if isinstance(node, ast.Call):
            return self._call(node)
        if isinstance(node, (ast.Tuple, ast.List)):
            items = [self.run(e) for e in node.elts]
            return tuple(items) if isinstance(node, ast.Tuple) else list(items)
        raise CalcError(f"not a math expression ({type(node).__name__.lower()} not allowed)")

    def _number(self, node: ast.Constant) -> Any:
        sp = self.sp
        value = node.value
        if isinstance(value, bool) or not isinstance(value, (int, float, complex)):
            raise CalcError("only numbers, names and operators are allowed")
        if isinstance(value, complex):
            return sp.I * self._exact(ast.get_source_segment(self.src, node) or "0", imag=True)
        if isinstance(value, int):
            return sp.Integer(value)
        return self._exact(ast.get_source_segment(self.src, node) or repr(value))

    def _exact(self, text: str, imag: bool = False) -> Any:
        """A decimal literal as the exact rational it denotes (0.1 is 1/10, not a float)."""
        text = text.replace("_", "")
        if imag:
            text = text.rstrip("jJ") or "1"
        mant, _, exp = text.lower().partition("e")
        if exp and abs(int(exp)) > self.s.exact_digits:
            raise CalcError("number too large")
        if "." in mant:
            self.s.decimal_input = True
        return self.sp.Rational(text)

    def _binop(self, node: ast.BinOp) -> Any:
        sp = self.sp
        left = self.run(node.left)
        right = self.run(node.right)
        op = node.op
        if isinstance(op, ast.Add):
            return left + right
        if isinstance(op, ast.Sub):
            return left - right
        if isinstance(op, ast.Mult):
            if isinstance(left, sp.Integer) and isinstance(right, sp.Integer) and \
                    _digits(left, 1) + _digits(right, 1) > self.s.exact_digits:
                self.s.approximate = True
                return sp.Float(left, 15) * sp.Float(right, 15)
            return left * right
        if isinstance(op, ast.Div):
            if right == 0:
                raise CalcError("division by zero")
            return left / right
        if isinstance(op, ast.FloorDiv):
            if right == 0:
                raise CalcError("division by zero")
            return sp.floor(left / right)
        if isinstance(op, ast.Mod):
            if right == 0:
                raise CalcError("division by zero")
            return sp.Mod(left, right)
        if isinstance(op, ast.Pow):
            return self._pow(left, right)
        raise CalcError("operator not supported (use + - * / ** ^ % //)")

    def _pow(self, base: Any, exp: Any) -> Any:
        sp = self.sp
        if base == 0 and exp.is_number and exp.is_negative:
            raise CalcError("division by zero")
        if base.is_number and exp.is_number and base.is_real and exp.is_real \
                and base != 0 and abs(base) != 1:
            import mpmath

            # decimal digits of the result, computed in mpmath so nothing overflows
            size = mpmath.mpf(sp.N(exp, 15)) * mpmath.log10(abs(mpmath.mpf(sp.N(base, 15))))
            if abs(size) > MAX_EXPONENT:
                raise CalcError("number too large (more than 10**15 digits)")
            if abs(size) > self.s.exact_digits and isinstance(base, sp.Rational) \
                    and isinstance(exp, sp.Rational):
                # too large to compute exactly: a float with an unbounded exponent stands in
                self.s.approximate = True
                return sp.Float(sp.Pow(base, exp, evaluate=False).evalf(15), 15)
        return base**exp

    def _call(self, node: ast.Call) -> Any:
        if not isinstance(node.func, ast.Name):
            raise CalcError("only plain function calls like sqrt(2) are allowed")
        name = node.func.id
        if node.keywords:
            raise CalcError(f"{name}(): keyword arguments are not supported")
        if any(isinstance(a, ast.Starred) for a in node.args):
            raise CalcError(f"{name}(): * arguments are not supported")
        fn: Callable[..., Any] | None = self.funcs.get(name)
        if fn is None:
            raise CalcError(f"unknown function: {name}")
        args = [self.run(a) for a in node.args]
        return fn(*args)


def _factorial(state: _Eval) -> Callable[[Any], Any]:
    sp = state.sp

    def factorial(n: Any) -> Any:
        if n.is_Integer and n > 0 and float(sp.log(sp.factorial(n, evaluate=False)
                                                   .evalf(15), 10)) > state.exact_digits:
            state.approximate = True
            return sp.Float(sp.factorial(n, evaluate=False).evalf(15), 15)
        return sp.factorial(n)

    return factorial


def _binomial(state: _Eval) -> Callable[[Any, Any], Any]:
    sp = state.sp

    def binomial(n: Any, k: Any) -> Any:
        if n.is_Integer and k.is_Integer and n > 0 and \
                float(sp.log(sp.binomial(n, k, evaluate=False).evalf(15) + 1, 10)) \
                > state.exact_digits:
            state.approximate = True
            return sp.Float(sp.binomial(n, k, evaluate=False).evalf(15), 15)
        return sp.binomial(n, k)

    return binomial


# -- preprocessing -------------------------------------------------------------------------------
_UNICODE = {"×": "*", "·": "*", "÷": "/", "−": "-", "–": "-", "π": "pi", "²": "**2",
            "³": "**3", "∞": "oo"}


def _rewrite(line: str) -> str:
    """Calculator notation to Python syntax: `^` -> `**`, unicode operators, `√9` -> `sqrt(9)`,
    implicit multiplication (`2x`, `2(x+1)`, `(a)(b)`, `2pi`)."""
    line = _ROOT.sub(lambda m: f"sqrt({m.group(1)})", line).replace("√", "sqrt")
    for a, b in _UNICODE.items():
        line = line.replace(a, b)
    line = line.replace("^", "**")
    try:
        toks = list(tokenize.generate_tokens(io.StringIO(line).readline))
    except tokenize.TokenError:
        raise CalcError("syntax error: unbalanced parentheses") from None
    except (IndentationError, SyntaxError) as e:
        raise CalcError(f"syntax error: {e.msg}") from None
    out: list[str] = []
    prev: tokenize.TokenInfo | None = None
    for tok in toks:
        if tok.type in (tokenize.NEWLINE, tokenize.NL, tokenize.ENDMARKER, tokenize.INDENT,
                        tokenize.DEDENT, tokenize.COMMENT):
            continue
        if tok.type == tokenize.ERRORTOKEN:
            if not tok.string.strip():
                continue
            raise CalcError(f"unexpected character: {tok.string!r}")
        if prev is not None and _implicit_product(prev, tok):
            out.append("*")
        out.append(tok.string)
        prev = tok
    return " ".join(out)


def _implicit_product(prev: tokenize.TokenInfo, tok: tokenize.TokenInfo) -> bool:
    """Calculator-style multiplication without `*`: `2x`, `2pi`, `2(x+1)`, `(a)(b)`, `(a)x`.
    Only after a number or `)`, and a name only when it is one letter or a known constant, so
    words (`how do I`) and program names (`2to3`) never become products."""
    if prev.type != tokenize.NUMBER and prev.string != ")":
        return False
    if tok.string == "(":
        return True
    return tok.type == tokenize.NAME and (len(tok.string) == 1 or tok.string in CONSTANT_NAMES)


_ROOT = re.compile(r"√\s*([0-9][0-9.]*|[A-Za-z_][A-Za-z_0-9]*)")
_MATH_NODES = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Call, ast.Name, ast.Constant,
               ast.Tuple, ast.List, ast.Load, ast.operator, ast.unaryop)


def looks_like_math(line: str) -> bool:
    """True when `line` is something the calculator would evaluate: it parses as an expression
    of numbers, names, operators and calls of known functions, and holds at least one number,
    known constant or function call (so a bare word such as `ls` or `x` does not count).
    Pure Python and cheap: the router calls it for every line."""
    text = line.strip()
    if not text or len(text) > MAX_LINE:
        return False
    try:
        tree = ast.parse(_rewrite(text), mode="eval")
    except (CalcError, SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    evidence = False
    for node in ast.walk(tree):
        if not isinstance(node, _MATH_NODES):
            return False
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, (int, float, complex)):
                return False
            evidence = True
        elif isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTION_NAMES \
                    or node.keywords:
                return False
            evidence = True
        elif isinstance(node, ast.Name) and node.id in CONSTANT_NAMES:
            evidence = True
    return evidence


# -- formatting ------------------------------------------------------------------------------------
def _format(state: _Eval, value: Any, display_digits: int) -> str:
    sp = state.sp
    if isinstance(value, (list, tuple, dict, set, sp.MatrixBase)):
        return sp.sstr(value)
    if isinstance(value, bool) or not isinstance(value, sp.Basic):
        return str(value)
    if value is sp.zoo:
        return "complex infinity (division by zero)"
    if value is sp.nan:
        return "undefined (nan)"
    if state.approximate and value.is_number:
        return "≈ " + _sci(sp, value)
    if value.is_Integer:
        digits = len(str(abs(int(value))))
        if digits > display_digits:
            return f"≈ {_sci(sp, value)}   ({digits} digits)"
        return str(value)
    if value.is_Rational:
        q = int(value.q)
        while q % 2 == 0:
            q //= 2
        while q % 5 == 0:
            q //= 5
        if q == 1:  # a terminating decimal: exact as a decimal
            dec = _decimal(value)
            return dec if state.decimal_input else f"{sp.sstr(value)} = {dec}"
        return f"{sp.sstr(value)} ≈ {_approx(sp, value)}"
    if value.is_Float:  # only N()/evalf() make floats: show the precision asked for
        return sp.sstr(value)
    if value.is_number and value.is_real:
        return f"{sp.sstr(value)} ≈ {_approx(sp, value)}"
    return sp.sstr(value)


def _decimal(value: Any) -> str:
    """Exact decimal text of a rational whose denominator divides a power of ten."""
    p, q = int(value.p), int(value.q)
    scale = 0
    while q != 1 and 10**scale % q:
        scale += 1
    n = p * (10**scale // q)
    sign = "-" if n < 0 else ""
    digits = str(abs(n)).rjust(scale + 1, "0")
    whole, frac = digits[:len(digits) - scale] if scale else digits, digits[len(digits) - scale:]
    return f"{sign}{whole}.{frac}" if scale else f"{sign}{whole}"


def _approx(sp: Any, value: Any) -> str:
    v = sp.N(value, APPROX_DIGITS)
    if v.is_real and v.is_Float:
        text = sp.sstr(v, full_prec=False)
        return text
    return sp.sstr(v)


def _sci(sp: Any, value: Any) -> str:
    v = sp.N(value, APPROX_DIGITS)
    if not v.is_Float:
        return sp.sstr(v)
    mpf = v._mpf_  # mpmath (sign, man, exp, bc) with an exponent of any size
    import mpmath

    return mpmath.nstr(mpmath.mpf(mpf), APPROX_DIGITS, min_fixed=0, max_fixed=0)


# -- one evaluation ----------------------------------------------------------------------------------
def evaluate_here(expr: str, exact_digits: int = EXACT_DIGITS,
                  display_digits: int = DISPLAY_DIGITS) -> tuple[str, Any]:
    """Evaluate in this process (no timeout): (text for the screen, sympy value).
    Raises CalcError with a one-line message."""
    import sympy as sp

    text = expr.strip()
    if not text:
        raise CalcError("nothing to calculate")
    if len(text) > MAX_LINE:
        raise CalcError(f"expression too long ({len(text)} characters, limit {MAX_LINE})")
    source = _rewrite(text)
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as e:
        raise CalcError(f"syntax error: {e.msg}") from None
    except (RecursionError, MemoryError, ValueError):
        raise CalcError("expression too complex") from None
    state = _Eval(sp=sp, exact_digits=exact_digits)
    interp = _Interpreter(state, source)
    interp.funcs["factorial"] = _factorial(state)
    interp.funcs["binomial"] = _binomial(state)
    try:
        value = interp.run(tree)
    except CalcError:
        raise
    except ZeroDivisionError:
        raise CalcError("division by zero") from None
    except RecursionError:
        raise CalcError("expression too complex") from None
    except (TypeError, ValueError, AttributeError, NotImplementedError, ArithmeticError,
            sp.SympifyError, sp.PolynomialError) as e:
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CalcError(msg[:200]) from None
    if isinstance(value, (list, tuple, dict, set, bool, sp.Basic, sp.MatrixBase)):
        return _format(state, value, display_digits), value
    raise CalcError("not a math expression")


# -- the worker process ------------------------------------------------------------------------------
def _worker_main() -> None:  # pragma: no cover - runs in the child, exercised through SympyReasoner
    """Serve evaluations: one base64 pickle per line in, one per line out."""
    import resource

    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
    import sympy  # noqa: F401  (import before reporting ready)

    out = sys.stdout.buffer
    out.write(b"ready\n")
    out.flush()
    for raw in sys.stdin.buffer:
        req = pickle.loads(base64.b64decode(raw))
        try:
            text, value = evaluate_here(req["expr"], req["exact_digits"], req["display_digits"])
            resp: dict[str, Any] = {"text": text, "value": value, "error": None}
        except CalcError as e:
            resp = {"text": None, "value": None, "error": str(e)}
        except MemoryError:
            resp = {"text": None, "value": None, "error": "out of memory"}
        except Exception as e:  # sympy internals: still one line, never a crash
            msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            resp = {"text": None, "value": None, "error": msg[:200]}
        try:
            data = pickle.dumps(resp)
        except Exception:
            resp["value"] = None
            data = pickle.dumps(resp)
        out.write(base64.b64encode(data) + b"\n")
        out.flush()


class _Worker:
    """A persistent `python -m reasoner.backends.sympy_calc --worker` process."""

    def __init__(self) -> None:
        root = str(Path(__file__).resolve().parents[2])
        env = dict(os.environ)
        env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH")
                                    else "")
        env["OMP_NUM_THREADS"] = "1"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "reasoner.backends.sympy_calc", "--worker"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env,
            start_new_session=True)
        self.ready = False
        self._buf = b""

    def _line(self, deadline: float) -> bytes | None:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buf:
            wait = deadline - time.monotonic()
            if wait <= 0:
                return None
            r, _, _ = select.select([fd], [], [], wait)
            if not r:
                return None
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                raise ReasonerError("the calculator process ended unexpectedly")
            self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        return line

    def ask(self, req: dict[str, Any], timeout: float, start_timeout: float) -> dict[str, Any] | None:
        """The worker's answer, or None when it took longer than `timeout` (worker killed)."""
        if not self.ready:
            line = self._line(time.monotonic() + start_timeout)
            if line != b"ready":
                self.kill()
                raise ReasonerError("the calculator process did not start")
            self.ready = True
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(base64.b64encode(pickle.dumps(req)) + b"\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise ReasonerError("the calculator process ended unexpectedly") from None
        line = self._line(time.monotonic() + timeout)
        if line is None:
            self.kill()
            return None
        return pickle.loads(base64.b64decode(line))  # type: ignore[no-any-return]

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            self.proc.kill()
        with contextlib.suppress(Exception):
            self.proc.wait(timeout=5)
        for stream in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(Exception):
                if stream is not None:
                    stream.close()


class SympyReasoner:
    """The calculator line reasoner (registry name "sympy").

    Args:
        timeout: seconds one evaluation may take before it is stopped.
        exact_digits: largest exact integer (in digits) computed; beyond it, floats.
        display_digits: longest integer shown in full; beyond it, scientific notation.
        start_timeout: seconds allowed for the worker process to start (import sympy).

    `answer(line, context)` returns a Reply whose text is the result line (or a one-line error
    with error=True) and whose trace holds {"expression", "result"}; `evaluate(expr)` gives
    (text, sympy value) for other backends (the LLM's calculator tool) and raises CalcError.
    """

    name = "sympy"

    def __init__(self, *, timeout: float = 5.0, exact_digits: int = EXACT_DIGITS,
                 display_digits: int = DISPLAY_DIGITS, start_timeout: float = 60.0) -> None:
        if timeout <= 0:
            raise ValueError(f"timeout must be > 0 seconds, got {timeout!r}")
        self.timeout = float(timeout)
        self.exact_digits = int(exact_digits)
        self.display_digits = int(display_digits)
        self.start_timeout = float(start_timeout)
        self._lock = threading.Lock()
        self._worker: _Worker | None = _Worker()  # start now: importing sympy takes a moment

    def evaluate(self, expr: str) -> tuple[str, Any]:
        """(text, value) for one expression; raises CalcError (one line) on bad input or when
        the evaluation runs out of time."""
        req = {"expr": expr, "exact_digits": self.exact_digits,
               "display_digits": self.display_digits}
        with self._lock:
            if self._worker is None or not self._worker.alive():
                if self._worker is not None:
                    self._worker.kill()
                self._worker = _Worker()
            resp = self._worker.ask(req, self.timeout, self.start_timeout)
            if resp is None:
                self._worker = _Worker()  # the slow one was killed; warm up its successor
                raise CalcError(f"calculation took longer than {self.timeout:g} s - stopped")
        if resp["error"] is not None:
            raise CalcError(resp["error"])
        return resp["text"], resp["value"]

    def answer(self, line: str, context: Context) -> Reply:
        """Evaluate a math line (a leading `calc ` is ignored) and format the answer."""
        expr = line.strip()
        if expr.startswith("calc ") or expr == "calc":
            expr = expr[4:].strip()
        try:
            text, _value = self.evaluate(expr)
        except CalcError as e:
            return Reply(text=f"calc: {e}", trace={"expression": expr, "error": str(e)},
                         error=True)
        return Reply(text=text, trace={"expression": expr, "result": text})

    def close(self) -> None:
        """Stop the worker process."""
        with self._lock:
            if self._worker is not None:
                self._worker.kill()
                self._worker = None

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()


_shared: SympyReasoner | None = None
_shared_lock = threading.Lock()


def evaluate(expr: str) -> tuple[str, Any]:
    """The calculator as a function (for the LLM backend's tool calls): (text, sympy value).
    Uses one shared worker with the default limits; raises CalcError with a one-line message."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = SympyReasoner()
        calc = _shared
    return calc.evaluate(expr)


calc = evaluate

if __name__ == "__main__" and sys.argv[1:] == ["--worker"]:
    _worker_main()

"""Arithmetic as people type it reaches a reasoner that can parse it: a property test through a
real session (sandboxed shell + sympy, raster renderer) checks that the screen shows the exact
value, whatever the spacing, nesting, `^`/`**`, unary minus, decimals and fractions."""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from orchestrator.router import Router, bash_parses
from orchestrator.session import Session

pytestmark = pytest.mark.timeout(300)


@st.composite
def _number(draw: st.DrawFn) -> tuple[str, Fraction]:
    whole = draw(st.integers(0, 99))
    if draw(st.booleans()):
        return str(whole), Fraction(whole)
    frac = draw(st.sampled_from(["5", "25", "1", "75", "125"]))
    text = f"{whole}.{frac}"
    return text, Fraction(text)


def _group(text: str, value: Fraction, outer: bool) -> tuple[str, Fraction, bool]:
    return (f"({text})" if outer else text), value, outer


@st.composite
def _expr(draw: st.DrawFn, depth: int = 3) -> tuple[str, Fraction, bool]:
    """(text, exact value, whether the text is a number alone, safe as any operand)."""
    if depth == 0 or draw(st.integers(0, 3)) == 0:
        text, value = draw(_number())
        return text, value, True
    sp = draw(st.sampled_from(["", " "]))
    kind = draw(st.sampled_from(["+", "-", "*", "/", "^", "**", "neg"]))
    if kind == "neg":
        text, value, atom = draw(_expr(depth - 1))
        return (f"-{text}" if atom else f"-({text})"), -value, False
    if kind in ("^", "**"):
        base, bval, atom = draw(_expr(depth - 1))
        exp = draw(st.integers(0, 3))
        base = base if atom and not base.startswith("-") else f"({base})"
        return f"{base}{sp}{kind}{sp}{exp}", bval ** exp, False
    left, lval, latom = draw(_expr(depth - 1))
    right, rval, ratom = draw(_expr(depth - 1))
    left = left if latom else f"({left})"
    right = right if ratom and not right.startswith("-") else f"({right})"
    if kind == "/":
        assume(rval != 0)
    value = {"+": lval + rval, "-": lval - rval, "*": lval * rval}.get(kind)
    return f"{left}{sp}{kind}{sp}{right}", (lval / rval if value is None else value), False


@st.composite
def arithmetic(draw: st.DrawFn) -> tuple[str, Fraction]:
    """A line of arithmetic, sometimes wrapped in parentheses once or twice more (nesting at
    the very start is what bash mistakes for its `((` arithmetic command)."""
    text, value, _ = draw(_expr())
    for _ in range(draw(st.integers(0, 2))):
        text = f"({text})"
    return text, value


def _decimal(value: Fraction) -> str | None:
    """Exact decimal text of `value`, or None when it does not terminate."""
    q, scale = value.denominator, 0
    while q != 1 and 10**scale % q:
        scale += 1
        if scale > 60:
            return None
    n = abs(value.numerator) * (10**scale // value.denominator)
    digits = str(n).rjust(scale + 1, "0")
    sign = "-" if value < 0 else ""
    return f"{sign}{digits[:-scale]}.{digits[-scale:]}" if scale else f"{sign}{digits}"


def _shows_exactly(answer: str, value: Fraction) -> bool:
    if value.denominator == 1:
        return answer == str(value.numerator)
    dec = _decimal(value)
    return (answer.startswith(f"{value.numerator}/{value.denominator} ")
            or (dec is not None and (answer == dec or answer.endswith(f" = {dec}"))))


@pytest.fixture(scope="module")
def session() -> Iterator[Session]:
    with Session(renderer="raster", reasoners=("shell", "sympy"), verify=False) as s:
        yield s


def test_nested_parentheses_are_not_bash_arithmetic() -> None:
    r = Router()
    for line in ("((1+2)*3)", "((1 + 2) ^ 2)", "((2+3)) * 4", "((1+2))"):
        assert r.route(line).name == "sympy", line
    assert r.route("(( x++ ))").name == "shell"  # real shell arithmetic stays with the shell


def test_a_syntax_guess_bash_cannot_parse_goes_to_the_calculator() -> None:
    assert not bash_parses("~(2+3)") and bash_parses("echo hi") and bash_parses("~5")
    route = Router().route("~(2+3)")  # `~` looks like a home directory to the guess
    assert route.name == "sympy", route
    assert Router().route("~5").name == "shell"  # bash parses it: the guess stands


@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(arithmetic())
@example(("((1+2)*3)", Fraction(9)))
@example(("((2 + 3) ^ 2) / 4", Fraction(25, 4)))
@example(("-(1.5 ** 2)", Fraction(-9, 4)))
def test_the_screen_shows_the_exact_value(session: Session,
                                          case: tuple[str, Fraction]) -> None:
    line, value = case
    step = session.run(line)
    rows = [ln.rstrip() for ln in step.screen.text.splitlines() if ln.strip()]
    answer = rows[-2].strip()  # then the fresh prompt
    assert step.route == "sympy", (line, step.route, step.reason, answer)
    assert _shows_exactly(answer, value), (line, value, answer)

"""The sympy calculator: exact answers, calculator-style printing, safe parsing, bounded work."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import sympy

from reasoner.backends import sympy_calc
from reasoner.backends.sympy_calc import (
    CONSTANT_NAMES,
    FUNCTION_NAMES,
    CalcError,
    SympyReasoner,
    evaluate,
    evaluate_here,
    looks_like_math,
)
from reasoner.base import Context, Reasoner, create

ANSWERS = [
    ("98+45", "143"),
    ("2**100", "1267650600228229401496703205376"),
    ("sqrt(8)", "2*sqrt(2) ≈ 2.828427125"),
    ("7/3", "7/3 ≈ 2.333333333"),
    ("3/2", "3/2 = 1.5"),
    ("1/3+1/6", "1/2 = 0.5"),
    ("10 % 3", "1"),
    ("2^10", "1024"),  # ^ is power, as on calculators
    ("integrate(x**2, x)", "x**3/3"),
    ("solve(x**2-4, x)", "[-2, 2]"),
    ("diff(sin(x), x)", "cos(x)"),
    ("factor(x**2-1)", "(x - 1)*(x + 1)"),
    ("expand((x+1)**2)", "x**2 + 2*x + 1"),
    ("1.20+0.30", "1.5"),  # decimal input: exact decimals
    ("6*0.1", "0.6"),
    ("0.1+0.2", "0.3"),
    ("( 76.0 - 25.0 )", "51"),
    ("2/2", "1"),
    ("1/3.0", "1/3 ≈ 0.3333333333"),
    ("-7/2", "-7/2 = -3.5"),
    ("10 // 3", "3"),
    ("2x+3x", "5*x"),  # implicit multiplication
    ("2(3+4)", "14"),
    ("(3+4)(5)", "35"),
    ("(3+4)*5", "35"),
    ("√9", "3"),
    ("π", "pi ≈ 3.141592654"),
    ("2 × 3 ÷ 4", "3/2 = 1.5"),
    ("e**2", "exp(2) ≈ 7.389056099"),
    ("sin(pi/6)", "1/2 = 0.5"),
    ("N(pi, 20)", "3.1415926535897932385"),
    ("sqrt(-4)", "2*I"),
    ("factorial(20)", "2432902008176640000"),
    ("gcd(12, 18)", "6"),
    ("limit(sin(x)/x, x, 0)", "1"),
    ("summation(k, (k, 1, 100))", "5050"),
    ("log(100, 10)", "2"),
    ("1e3", "1000"),
    ("5 > 3", "True"),
    ("2**10000", "≈ 1.995063117e+3010   (3011 digits)"),
    ("9**9**9", "≈ 4.281247732e+369693099"),  # never computed exactly
    ("9**9**9 + 1", "≈ 4.281247732e+369693099"),
    ("factorial(100000)", "≈ 2.824229408e+456573"),
]

ERRORS = [
    ("", "nothing to calculate"),
    ("1/0", "division by zero"),
    ("10 % 0", "division by zero"),
    ("0**-1", "division by zero"),
    ("__import__('os').system('id')", "only plain function calls"),
    ("__import__('os')", "unknown function: __import__"),
    ("().__class__", "attribute not allowed"),
    ("x.real", "attribute not allowed"),
    ("a[0]", "subscript not allowed"),
    ("'text'", "only numbers, names and operators"),
    ("lambda: 1", "lambda not allowed"),
    ("open('/etc/passwd')", "unknown function: open"),
    ("sqrt(x, evaluate=False)", "keyword arguments"),
    ("sin", "sin is a function"),
    ("x = 5", "syntax error"),
    ("(1 + 2", "unbalanced parentheses"),
    ("1 +", "syntax error"),
    ("$HOME", "unexpected character"),
    ("9**9**9**9", "number too large"),
    ("1" * 2001, "expression too long"),
    ("(" * 300 + "1" + ")" * 300, "too"),
]


@pytest.mark.parametrize(("expr", "text"), ANSWERS)
def test_answers_are_exact_and_calculator_style(expr: str, text: str) -> None:
    assert evaluate_here(expr)[0] == text


@pytest.mark.parametrize(("expr", "message"), ERRORS)
def test_bad_input_is_a_one_line_error(expr: str, message: str) -> None:
    with pytest.raises(CalcError) as err:
        evaluate_here(expr)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_values_are_sympy_objects() -> None:
    text, value = evaluate_here("7/3")
    assert value == sympy.Rational(7, 3)
    assert evaluate_here("solve(x**2-4, x)")[1] == [-2, 2]


def test_no_eval_anywhere() -> None:
    """The interpreter never hands text to eval: a name that would be a builtin is a symbol."""
    assert evaluate_here("eval + exec")[0] == "eval + exec"
    for name in ("__builtins__", "_x + 1"):
        with pytest.raises(CalcError, match="name not allowed"):
            evaluate_here(name)


def test_name_tables_match_the_interpreter() -> None:
    funcs = set(sympy_calc._functions(sympy)) | {"factorial", "binomial"}
    assert funcs == FUNCTION_NAMES
    assert set(sympy_calc._constants(sympy)) == CONSTANT_NAMES


@pytest.mark.parametrize("line", ["98+45", "2**100", "sqrt(8)", "(3+4)*5", "7/3", "-5+3", "pi",
                                  "2x+1", "integrate(x**2, x)", "1e3", "10 % 3", "2^10"])
def test_looks_like_math(line: str) -> None:
    assert looks_like_math(line)


@pytest.mark.parametrize("line", ["ls", "x", "a-b", "(ls)", "(cd /tmp)", "how do I list files",
                                  "2to3", "echo", "", "foo(1)", "x.y", "'1+1'", "1 2"])
def test_does_not_look_like_math(line: str) -> None:
    assert not looks_like_math(line)


@pytest.fixture(scope="module")
def calc() -> Iterator[SympyReasoner]:
    r = SympyReasoner(timeout=3)
    yield r
    r.close()


def test_reasoner_answers_with_trace(calc: SympyReasoner) -> None:
    assert isinstance(calc, Reasoner) and calc.name == "sympy"
    reply = calc.answer("98+45", Context())
    assert reply.text == "143" and not reply.error
    assert reply.trace == {"expression": "98+45", "result": "143"}
    reply = calc.answer("calc 7/3", Context())  # a forcing prefix left in is ignored
    assert reply.text == "7/3 ≈ 2.333333333"
    reply = calc.answer("1/0", Context())
    assert reply.error and reply.text == "calc: division by zero"
    assert reply.trace["error"] == "division by zero"


def test_slow_calculation_is_stopped_and_the_next_one_works(calc: SympyReasoner) -> None:
    t0 = time.monotonic()
    reply = calc.answer("factorint(2**401 - 1)", Context())
    assert time.monotonic() - t0 < 6
    assert reply.error and reply.text == "calc: calculation took longer than 3 s - stopped"
    assert calc.answer("2+2", Context()).text == "4"


def test_module_level_evaluate_for_the_llm() -> None:
    assert evaluate("2**64") == ("18446744073709551616", 2**64)
    with pytest.raises(CalcError):
        evaluate("import os")


def test_registry_creates_the_calculator() -> None:
    calc = create("sympy", timeout=2)
    try:
        assert isinstance(calc, SympyReasoner) and calc.timeout == 2
        assert calc.answer("2^10", Context()).text == "1024"
    finally:
        calc.close()

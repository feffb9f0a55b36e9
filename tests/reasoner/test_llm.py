"""Unit tests of reasoner/backends/llm.py: settings, the streaming JSON reader, text hygiene and the
client's behaviour against a scripted OpenAI-compatible endpoint (slow, junk, refusing, cut off).

The real vLLM server is exercised in test_llm_vllm.py; here a tiny HTTP server on 127.0.0.1 speaks
just enough of the chat-completions protocol (SSE over chunked HTTP/1.1, like uvicorn) to produce
each failure on demand, in milliseconds.
"""

from __future__ import annotations

import json
import re
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reasoner.backends.llm import (
    EXPRESSION_PATTERN,
    SIMULATED_MARK,
    JSONFieldStream,
    LLMReasoner,
    LLMSettings,
    clean_expression,
    clean_text,
    question_numbers,
    reply_schema,
)
from reasoner.base import Context, ReasonerError, create

CTX = Context(cols=40, rows=6)


# -- a scripted OpenAI-compatible endpoint ----------------------------------------------------------
class FakeOpenAI:
    """Serves /v1/models and streaming /v1/chat/completions as the `script` says.

    script keys: content (the JSON text to stream), chunk (characters per event), delay (seconds
    before answering), status (HTTP error code), junk (raw 200 body instead of SSE), cut (close the
    connection after this many events), finish ("stop"/"length"), fail_first (answer 503 that many
    times first).
    """

    def __init__(self) -> None:
        self.script: dict[str, Any] = {}
        self.requests: list[dict[str, Any]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, body: bytes, ctype: str = "application/json") -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                ids = fake.script.get("models", ["fake-model"])
                self._send(200, json.dumps({"object": "list", "data": [
                    {"id": i, "object": "model", "created": 0, "owned_by": "t"} for i in ids
                ]}).encode())

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                fake.requests.append(json.loads(self.rfile.read(length)))
                s = fake.script
                time.sleep(s.get("delay", 0))
                if s.get("fail_first", 0) > 0:
                    s["fail_first"] -= 1
                    self._send(503, b'{"error": {"message": "warming up"}}')
                    return
                if "status" in s:
                    self._send(s["status"], json.dumps(
                        {"error": {"message": s.get("message", "nope")}}).encode())
                    return
                if "junk" in s:
                    self._send(200, s["junk"].encode(), "text/plain")
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                content, size = s.get("content", ""), s.get("chunk", 3)
                pieces = [content[i:i + size] for i in range(0, len(content), size)]
                for n, piece in enumerate(pieces):
                    if n == s.get("cut"):
                        self.wfile.flush()
                        self.connection.shutdown(socket.SHUT_RDWR)  # no terminating chunk
                        return
                    self._event({"choices": [{"index": 0, "delta": {"content": piece},
                                              "finish_reason": None}]})
                    time.sleep(s.get("gap", 0))
                self._event({"choices": [{"index": 0, "delta": {},
                                          "finish_reason": s.get("finish", "stop")}]})
                self._event({"choices": [], "usage": {"prompt_tokens": 5,
                                                      "completion_tokens": len(pieces),
                                                      "total_tokens": 5 + len(pieces)}})
                self._chunk(b"data: [DONE]\n\n")
                self._chunk(b"")

            def _event(self, body: dict[str, Any]) -> None:
                body = {"id": "c1", "object": "chat.completion.chunk", "created": 0,
                        "model": fake.script.get("models", ["fake-model"])[0], **body}
                self._chunk(f"data: {json.dumps(body)}\n\n".encode())

            def _chunk(self, data: bytes) -> None:
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        # clients that give up (timeouts) break the pipe: expected here, not worth a traceback
        self.server.handle_error = lambda *args: None  # type: ignore[method-assign]
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def reply(self, **obj: Any) -> None:
        """Script a well-formed structured reply."""
        self.script = {"content": json.dumps(obj)}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def fake():
    server = FakeOpenAI()
    yield server
    server.close()


@pytest.fixture()
def llm(fake):
    fake.script, fake.requests[:] = {}, []
    reasoner = LLMReasoner(url=fake.url, model="fake-model", timeout=5, retries=0, backoff=0)
    yield reasoner
    reasoner.close()


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def one_line_error(reply: Any) -> str:
    assert reply.error, reply
    last = reply.text.splitlines()[-1]
    assert last.startswith("[llm] ") and "Traceback" not in reply.text
    return last


# -- settings ---------------------------------------------------------------------------------------
def test_the_reasoner_takes_explicit_settings_and_reads_no_environment(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Flags, environment and the config file are orchestrator/config.py's job."""
    cfg = tmp_path / "config.toml"
    cfg.write_text('[llm]\nurl = "http://file:1/v1"\n')
    monkeypatch.setenv("HYBRID_NC_CONFIG", str(cfg))
    monkeypatch.setenv("HYBRID_NC_LLM_URL", "http://env:2/v1")
    assert LLMReasoner().settings == LLMSettings()
    assert LLMSettings().url is None and LLMSettings().embedded     # no URL: the embedded model
    r = LLMReasoner(LLMSettings(url="http://a:1/v1", timeout=3), model="m", retries=None)
    assert (r.settings.url, r.settings.model, r.settings.timeout) == ("http://a:1/v1", "m", 3)
    assert not r.settings.embedded and r.unavailable() is None  # a server is not probed here


@pytest.mark.parametrize(("fields", "expected"), [
    ({"engine": "cloud"}, "engine must be one of server, inprocess"),
    ({"url": "localhost:8000"}, "url must look like http://HOST:PORT/v1"),
    ({"timeout": 0}, "timeout must be > 0"),
    ({"start_timeout": -1}, "start_timeout must be > 0"),
])
def test_bad_settings_are_one_line_errors(fields: dict[str, Any], expected: str) -> None:
    with pytest.raises(ReasonerError) as info:
        LLMReasoner(**fields)
    assert expected in str(info.value) and "\n" not in str(info.value)


def test_registry_creates_the_llm_reasoner(fake) -> None:
    r = create("llm", url=fake.url)
    assert isinstance(r, LLMReasoner) and r.name == "llm"
    r.close()


# -- the streaming JSON reader ----------------------------------------------------------------------
def feed_in_pieces(text: str, cuts: list[int]) -> tuple[JSONFieldStream, dict[str, str]]:
    reader, got = JSONFieldStream(), {}
    bounds = sorted({0, len(text), *[c % (len(text) + 1) for c in cuts]})
    for a, b in zip(bounds, bounds[1:], strict=False):
        for key, piece in reader.feed(text[a:b]):
            got[key] = got.get(key, "") + piece
    return reader, got


def test_field_stream_decodes_escapes_and_skips_other_values() -> None:
    text = ('{ "n": 12, "kind" : "answer", "nested": {"a": ["}", "\\"x"]}, '
            '"text": "a\\"b\\\\c\\n\\u00e9\\ud83d\\ude00\\/", "ok": true, "expression": "1+2"}')
    reader, got = feed_in_pieces(text, list(range(0, len(text), 1)))
    assert got == {"kind": "answer", "text": 'a"b\\c\né😀/', "expression": "1+2"}
    assert reader.complete == {"kind", "text", "expression"}
    assert reader.values == got


def test_field_stream_shows_text_before_the_object_is_complete() -> None:
    reader = JSONFieldStream()
    assert reader.feed('{"kind":"answer","text":"Hel') == [("kind", "answer"), ("text", "Hel")]
    assert reader.feed('lo') == [("text", "lo")]
    assert "text" not in reader.complete
    assert reader.feed('"}') == [] and "text" in reader.complete


@settings(max_examples=150, deadline=None)
@given(obj=st.dictionaries(st.text(max_size=6), st.one_of(st.text(max_size=30), st.integers(),
                                                            st.none(), st.lists(st.text(max_size=4))),
                           max_size=5),
       ascii_only=st.booleans(), cuts=st.lists(st.integers(0, 400), max_size=12))
def test_field_stream_matches_json_loads(obj: dict[str, Any], ascii_only: bool,
                                         cuts: list[int]) -> None:
    text = json.dumps(obj, ensure_ascii=ascii_only)
    _, got = feed_in_pieces(text, cuts)
    assert got == {k: v for k, v in obj.items() if isinstance(v, str) and v}


# -- text hygiene and the expression language -------------------------------------------------------
def test_clean_text_removes_escapes_but_keeps_text() -> None:
    dirty = "ok\x1b[2J\x1b]0;pwned\x07\r\n\tline \u202eevil\u202c 漢字 😀\x9b1m"
    assert clean_text(dirty) == "ok[2J]0;pwned\n\tline evil 漢字 😀1m"


@pytest.mark.parametrize(("raw", "clean"), [
    ("98 + 45", "98 + 45"), ("$1,200 x 3 =", "1200*3"), ("2^3", "2**3"),
    ("20% * 50", "(20/100) * 50"), ("10 % 3", "10 % 3"), ("12 ÷ 4 × 2", "12 / 4 * 2"),
    ("1,2", "1,2"),
])
def test_clean_expression(raw: str, clean: str) -> None:
    assert clean_expression(raw) == clean


@pytest.mark.parametrize("expr", ["98 + 45", "(16 - 3 - 4) * 2", "((1+2)*3)/4", "-3.5*2", "0.5",
                                  ""])
def test_expression_pattern_accepts_arithmetic(expr: str) -> None:
    assert re.fullmatch(EXPRESSION_PATTERN, expr)


@pytest.mark.parametrize("expr", ["2**3", "abc", "012", "(1+2", "1 +", "(((1)))", "1e5"])
def test_expression_pattern_rejects_the_rest(expr: str) -> None:
    assert not re.fullmatch(EXPRESSION_PATTERN, expr)


def test_reply_schema_is_a_valid_json_schema() -> None:
    import jsonschema

    schema = reply_schema(100)
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate({"kind": "answer", "text": "hi", "expression": ""}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"kind": "answer", "text": "x" * 101, "expression": ""}, schema)


def test_expressions_given_upper_bound_is_exact(shared_data: Path) -> None:
    """The calculator half of the word-problem path: the datasets' own expressions through
    clean_expression + sympy give exactly the verified answers (all 620 GSM8K calculator
    annotations, all 200 SVAMP equations). Any accuracy below this is the model's."""
    from fractions import Fraction

    from reasoner.backends.sympy_calc import evaluate

    arith = shared_data / "arith"
    cases = [(r["expression"], r["exact_result"]) for r in map(json.loads, (
        arith / "gsm8k_test_first200_calc_expressions.jsonl").read_text().splitlines())]
    cases += [(r["expression"], r["answer"]) for r in map(json.loads, (
        arith / "svamp_200.jsonl").read_text().splitlines())]
    assert len(cases) == 820
    wrong = []
    for expr, gold in cases:
        _, value = evaluate(clean_expression(expr))
        if not (value.is_Rational and Fraction(int(value.p), int(value.q)) == Fraction(gold)):
            wrong.append((expr, value, gold))
    assert wrong == []


# -- talking to a server ----------------------------------------------------------------------------
def test_answer_streams_and_sends_a_structured_outputs_request(fake, llm) -> None:
    fake.reply(kind="answer", text="pyte is a terminal emulator\nin Python.", expression="")
    pieces = list(llm.stream("what is pyte?", CTX))
    assert len(pieces) > 3                                    # shown as it arrived
    reply = llm.last_reply
    assert "".join(pieces) == reply.text == "pyte is a terminal emulator\nin Python."
    assert not reply.error and reply.trace["kind"] == "answer"
    assert reply.trace["model"] == "fake-model" and reply.trace["completion_tokens"] > 3
    body = fake.requests[-1]
    assert body["messages"][-1] == {"role": "user", "content": "what is pyte?"}
    assert body["stream"] is True and body["model"] == "fake-model"
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["schema"] == reply_schema(40 * 4)
    assert not any(k.startswith("guided_") for k in body)     # removed in vLLM 0.12


def test_the_model_is_asked_of_the_server_when_not_configured(fake) -> None:
    fake.script = {"models": ["served-one", "other"]}
    r = LLMReasoner(url=fake.url, retries=0)
    fake.script["content"] = json.dumps({"kind": "answer", "text": "hi", "expression": ""})
    assert r.answer("hello", CTX).text == "hi"
    assert fake.requests[-1]["model"] == "served-one" and r.last_reply.trace["model"] == "served-one"


def test_word_problem_goes_to_sympy(fake, llm) -> None:
    fake.reply(kind="expression", text="apples in all", expression="98 + 45")
    reply = llm.answer("Tom has 98 apples and gets 45 more. How many now?", CTX)
    assert not reply.error, reply.text
    assert reply.text == "apples in all\n98 + 45 = 143"
    assert reply.trace["expression"] == "98 + 45" and reply.trace["result"] == "143"
    assert reply.trace["model"] == "fake-model"
    # exact arithmetic, not the model's: a fraction stays exact
    fake.reply(kind="expression", text="", expression="(16 - 3 - 4) * 2 / 7")
    reply = llm.answer("eggs", CTX)
    assert reply.text == "(16 - 3 - 4) * 2 / 7 = 18/7 ≈ 2.571428571", reply.text


def test_a_word_problem_may_only_combine_the_questions_numbers(fake, llm) -> None:
    question = "Dan had $ 1,200 and spent 3.5 dollars on 12 pens. How much is left?"
    assert question_numbers(question) == ["1200", "3.5", "12"]
    fake.reply(kind="expression", text="left", expression="1200 - 3.5")
    reply = llm.answer(question, CTX)
    assert reply.text == "left\n1200 - 3.5 = 1196.5" and reply.trace["word_problem"] is True
    schema = fake.requests[-1]["response_format"]["json_schema"]["schema"]
    assert schema == reply_schema(160, ["1200", "3.5", "12"])
    assert schema["properties"]["kind"]["enum"] == ["expression"]
    pattern = re.compile(schema["properties"]["expression"]["pattern"])
    for ok in ("1200 - 3.5", "(1200 - 3.5) / 12", "12*12+3.5"):
        assert pattern.match(ok), ok
    for bad in ("1200", "1200 - 7", "3.5 + 1", "2 * 12", "1200 -"):  # one operator, no new numbers
        assert not pattern.match(bad), bad
    label = re.compile(schema["properties"]["text"]["pattern"])
    assert label.match("dollars left") and not label.match("1200 - 3.5 = 1196.5")
    # a question with fewer than two numbers may be answered in words
    assert reply_schema(160, ["7"])["properties"]["kind"]["enum"] == ["answer", "expression"]
    # the worked examples go first, as earlier turns; the question last
    messages = fake.requests[-1]["messages"]
    assert messages[0]["role"] == "system" and messages[-1]["content"] == question
    assert any(m["role"] == "assistant" and '"expression"' in m["content"] for m in messages)
    assert json.loads(reply.trace["reply"])["expression"] == "1200 - 3.5"   # the raw reply


def test_unevaluable_expression_is_an_error_line(fake, llm) -> None:
    fake.reply(kind="expression", text="", expression="5/0 +")
    reply = llm.answer("divide", CTX)
    assert one_line_error(reply).startswith("[llm] sympy cannot evaluate '5/0 +'")


def test_model_text_cannot_inject_terminal_escapes(fake, llm) -> None:
    fake.reply(kind="answer", text="safe\u001b[2J\u001b]52;c;Zm9v\u0007 text", expression="")
    reply = llm.answer("hi", CTX)
    assert "\x1b" not in reply.text and "\x07" not in reply.text and reply.text.startswith("safe")


def test_unreachable_server_is_one_line_and_the_next_call_works(fake, llm) -> None:
    url = closed_port_url()
    down = LLMReasoner(url=url, model="m", retries=1, backoff=0.05)
    t0 = time.perf_counter()
    reply = down.answer("hello", CTX)
    assert reply.text == f"[llm] server at {url} unreachable" and reply.error
    assert time.perf_counter() - t0 < 5
    # the session goes on: another reasoner instance (and the same one) still answer
    fake.reply(kind="answer", text="still here", expression="")
    assert llm.answer("hello", CTX).text == "still here"
    assert "unreachable" in down.answer("again", CTX).text


def test_slow_server_times_out_with_one_line(fake) -> None:
    fake.script = {"delay": 1.5, "content": '{"kind":"answer","text":"late","expression":""}'}
    r = LLMReasoner(url=fake.url, model="m", timeout=0.3, retries=0)
    t0 = time.perf_counter()
    reply = r.answer("hello", CTX)
    assert reply.text == f"[llm] server at {fake.url} did not answer within 0.3 s"
    assert time.perf_counter() - t0 < 1.4


def test_retries_with_backoff_until_the_server_answers(fake) -> None:
    fake.script = {"fail_first": 2, "content": '{"kind":"answer","text":"ok","expression":""}'}
    fake.requests.clear()
    r = LLMReasoner(url=fake.url, model="m", retries=2, backoff=0.1)
    t0 = time.perf_counter()
    assert r.answer("hello", CTX).text == "ok"
    assert len(fake.requests) == 3 and time.perf_counter() - t0 >= 0.1 + 0.2
    fake.script = {"fail_first": 5}
    reply = LLMReasoner(url=fake.url, model="m", retries=1, backoff=0).answer("x", CTX)
    assert one_line_error(reply) == f"[llm] server at {fake.url} answered HTTP 503: warming up"


@pytest.mark.parametrize(("script", "expected"), [
    ({"junk": "<html>hello</html>"}, "returned an unreadable reply (not the JSON asked for)"),
    ({"content": "I think the answer is 4"}, "returned an unreadable reply"),
    ({"content": '{"kind":"poem","text":"x","expression":""}'}, "returned an unreadable reply"),
    ({"content": '{"kind":"answer","text":"abc', "finish": "length"},
     "reply cut off at max_tokens=1024"),
    ({"status": 401}, "rejected the API key (HTTP 401)"),
    ({"status": 404, "message": "The model `m` does not exist."}, "answered 404"),
    ({"status": 400, "message": "bad\nschema"}, "answered HTTP 400: bad schema"),
])
def test_junk_and_refusals_are_one_line_errors(fake, llm, script: dict[str, Any],
                                               expected: str) -> None:
    fake.script = script
    reply = llm.answer("hello", CTX)
    assert expected in one_line_error(reply)


def test_connection_lost_mid_reply(fake, llm) -> None:
    fake.script = {"content": json.dumps({"kind": "answer", "text": "a long answer " * 5,
                                          "expression": ""}), "chunk": 6, "cut": 8}
    pieces = list(llm.stream("hello", CTX))
    reply = llm.last_reply
    assert reply.error and "".join(pieces) == reply.text
    assert reply.text.startswith("a long answer")                   # what arrived stays on screen
    assert reply.text.splitlines()[-1] == f"[llm] server at {fake.url} stopped answering mid-reply"


@pytest.mark.parametrize("line", ["", "  ", "\t"])
def test_empty_question_asks_for_one(fake, llm, line: str) -> None:
    assert one_line_error(llm.answer(line, CTX)) == "[llm] ask what? type a question after 'ask'"
    assert fake.requests == []


# -- simulated programs -----------------------------------------------------------------------------
def test_simulated_programs_are_off_by_default(fake, llm) -> None:
    reply = llm.simulate("cowsay moo", CTX)
    assert reply.error and not reply.simulated and "cowsay: command not found" in reply.text
    assert fake.requests == []                                 # the model was not even asked


def test_simulated_output_is_always_marked(fake) -> None:
    fake.script = {"content": json.dumps({"output": " _____\n< moo >\n -----"})}
    r = LLMReasoner(url=fake.url, model="m", simulate_programs=True)
    pieces = list(r.simulate_stream("cowsay moo", Context(cwd="/home/u")))
    reply = r.last_reply
    assert pieces[0] == SIMULATED_MARK + "\n"                  # the mark comes first
    assert reply.simulated and not reply.error and reply.trace["simulated"] is True
    assert reply.text == SIMULATED_MARK + "\n _____\n< moo >\n -----" == "".join(pieces)
    assert "/home/u" in fake.requests[-1]["messages"][0]["content"]
    fake.script = {"junk": "nope"}
    bad = r.simulate("cowsay moo", CTX)
    assert bad.simulated and bad.error and bad.text.startswith(SIMULATED_MARK)


# -- in-process engine ------------------------------------------------------------------------------
def test_inprocess_engine_without_vllm_is_a_clear_error(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "vllm", None)             # as if vllm were not installed
    r = LLMReasoner(engine="inprocess", model="Qwen/Qwen2.5-3B-Instruct")
    for _ in range(2):                                         # the failure is remembered
        reply = r.answer("hello", CTX)
        assert one_line_error(reply).startswith("[llm] engine 'inprocess' needs the vllm package")

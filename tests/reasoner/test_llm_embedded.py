"""The embedded model (reasoner/backends/llm_embedded.py): prepared once, served on first use,
shared in a process, stopped with the last holder; and, marked integration, the real thing:
SmolLM2-135M-Instruct served by vLLM answering a question it knows.

The unit tests run a stand-in for the vLLM environment's Python (a few lines that write a model
folder, or serve /v1/models and one chat reply), so they check the plumbing in seconds.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import time
from pathlib import Path

import pytest

from reasoner.backends import llm_embedded
from reasoner.backends.llm import LLMReasoner, LLMSettings
from reasoner.base import Context

CTX = Context(cols=80, rows=24)

# Stands in for `.venv-vllm/bin/python`: `llm_prepare.py GGUF OUT` writes a folder; `-m vllm...`
# serves the model list and answers every chat with one JSON reply (not streamed in pieces).
FAKE_PYTHON = r'''
import json, os, sys
from pathlib import Path
calls = Path(os.environ["FAKE_CALLS"])
calls.write_text(calls.read_text() + " ".join(sys.argv[1:2]) + "\n" if calls.exists() else
                 " ".join(sys.argv[1:2]) + "\n")
if sys.argv[1].endswith("llm_prepare.py"):
    out = Path(sys.argv[3]); out.mkdir(parents=True)
    (out / "config.json").write_text("{}")
    print("prepare: reading (step 1/3)", flush=True)
    print("prepare: done", flush=True)
    sys.exit(0)
if os.environ.get("FAKE_CRASH"):
    print("RuntimeError: Unsupported CPU attention configuration", flush=True)
    sys.exit(3)
from http.server import BaseHTTPRequestHandler, HTTPServer
port = int(sys.argv[sys.argv.index("--port") + 1])
name = sys.argv[sys.argv.index("--served-model-name") + 1]
class H(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def _send(self, body, ctype="application/json"):
        self.send_response(200); self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def do_GET(self):
        self._send(json.dumps({"object": "list", "data": [{"id": name, "object": "model",
                   "created": 0, "owned_by": "t"}]}).encode())
    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        content = json.dumps({"kind": "answer", "text": "Paris.", "expression": ""})
        chunk = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": name,
                 "choices": [{"index": 0, "delta": {"content": content},
                              "finish_reason": "stop"}]}
        self._send(("data: " + json.dumps(chunk) + "\n\ndata: [DONE]\n\n").encode(),
                   "text/event-stream")
HTTPServer(("127.0.0.1", port), H).serve_forever()
'''


@pytest.fixture()
def fake_venv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    venv = tmp_path / "venv"
    site = venv / "lib" / "python3.11" / "site-packages"
    (site / "vllm" / "entrypoints").mkdir(parents=True)
    (site / llm_embedded.GGUF_PACKAGE).mkdir()
    (site / llm_embedded.GGUF_PACKAGE / llm_embedded.GGUF_FILE).write_bytes(b"GGUF")
    (venv / "fake.py").write_text(FAKE_PYTHON)
    python = venv / "bin" / "python"
    python.parent.mkdir()
    python.write_text(f"#!/bin/sh\nexec {sys.executable} {venv / 'fake.py'} \"$@\"\n")
    python.chmod(python.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("FAKE_CALLS", str(tmp_path / "calls.txt"))
    return venv


def calls(tmp_path: Path) -> list[str]:
    path = tmp_path / "calls.txt"
    return path.read_text().splitlines() if path.exists() else []


def test_prepared_once_with_progress_then_reused(fake_venv: Path, tmp_path: Path) -> None:
    settings = LLMSettings(cache_dir=str(tmp_path / "cache"), vllm_venv=str(fake_venv))
    said: list[str] = []
    assert llm_embedded.problem(settings) is None and not llm_embedded.is_prepared(
        settings.cache_dir)
    out = llm_embedded.prepare(settings, said.append)
    assert out == tmp_path / "cache" / "llm" / llm_embedded.MODEL_NAME
    assert (out / "config.json").exists() and (out / llm_embedded.MARKER).exists()
    assert any("preparing" in m for m in said) and any("step 1/3" in m for m in said)
    assert any("model prepared in" in m for m in said)
    said.clear()
    assert llm_embedded.prepare(settings, said.append) == out
    assert said == [f"hybrid-nc: llm: model ready at {out}"]
    assert len(calls(tmp_path)) == 1                      # the converter ran once


def test_missing_vllm_environment_is_one_line(tmp_path: Path) -> None:
    settings = LLMSettings(cache_dir=str(tmp_path), vllm_venv=str(tmp_path / "none"))
    why = llm_embedded.problem(settings)
    assert why and "scripts/setup_vllm.sh" in why and "\n" not in why
    r = LLMReasoner(settings, progress=lambda m: None)
    assert r.unavailable() == why
    reply = r.answer("what is the capital of France?", CTX)
    assert reply.error and reply.text == f"[llm] the embedded model cannot start: {why}"


def test_served_on_first_use_shared_and_stopped_with_the_last_holder(
        fake_venv: Path, tmp_path: Path) -> None:
    settings = LLMSettings(cache_dir=str(tmp_path / "cache"), vllm_venv=str(fake_venv),
                           timeout=10, retries=0)
    said: list[str] = []
    first, second = LLMReasoner(settings, progress=said.append), LLMReasoner(settings)
    assert not calls(tmp_path)                             # nothing starts before the first use
    reply = first.answer("what is the capital of France?", CTX)
    assert reply.text == "Paris." and reply.trace["model"] == llm_embedded.MODEL_NAME
    assert any("starting vLLM" in m for m in said) and any("vLLM ready" in m for m in said)
    assert second.answer("again?", CTX).text == "Paris."
    servers = [c for c in calls(tmp_path) if c == "-m"]
    assert len(servers) == 1                               # one server for both reasoners
    (server,) = llm_embedded._started
    first.close()
    assert server.alive()                                  # the second still holds it
    second.close()
    assert not server.alive() and not llm_embedded._started


def test_a_server_that_dies_while_starting_is_one_line(fake_venv: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_CRASH", "1")
    settings = LLMSettings(cache_dir=str(tmp_path / "cache"), vllm_venv=str(fake_venv))
    r = LLMReasoner(settings, progress=lambda m: None)
    t0 = time.monotonic()
    reply = r.answer("hi there?", CTX)
    assert reply.error and "\n" not in reply.text and time.monotonic() - t0 < 30
    assert "vLLM exited with status 3 while starting" in reply.text
    assert "Unsupported CPU attention configuration" in reply.text      # the log's reason
    assert r.answer("again?", CTX).text == reply.text      # not retried on every line
    r.close()


def test_a_running_llm_serve_is_used_instead_of_starting_one(fake_venv: Path,
                                                           tmp_path: Path) -> None:
    settings = LLMSettings(cache_dir=str(tmp_path / "cache"), vllm_venv=str(fake_venv))
    server = llm_embedded.EmbeddedServer(settings)
    server.start(lambda m: None)
    try:
        state = llm_embedded.llm_dir(settings.cache_dir) / "server.json"
        state.write_text(json.dumps({"url": server.url, "pid": os.getpid()}))
        lease = llm_embedded.acquire(settings, lambda m: None)
        assert lease.url == server.url and lease.key is None
        lease.release()
        assert server.alive()                              # not ours to stop
    finally:
        server.stop()


# -- the real model ---------------------------------------------------------------------------------
@pytest.mark.integration
@pytest.mark.timeout(900)
def test_the_embedded_model_answers_a_question_it_knows() -> None:
    """SmolLM2-135M-Instruct through vLLM, as a default session starts it (prepared by
    scripts/install.sh; if not, prepared here, ~1 min). Minutes, not tens of minutes."""
    from orchestrator.config import llm_settings
    from orchestrator.session import Session

    settings = llm_settings()
    why = llm_embedded.problem(settings)
    if why:
        pytest.fail(f"the embedded model cannot run here: {why}", pytrace=False)
    t0 = time.monotonic()
    with Session(renderer="raster", reasoners=("sympy", "llm")) as s:
        step = s.run("ask what is the capital of France?")
        assert step.route == "llm" and not step.trace["error"], step.trace
        assert "Paris" in step.screen.text
        assert step.trace["model"] == llm_embedded.MODEL_NAME and step.trace["kind"] == "answer"
        # a word problem: the model writes the expression, sympy computes it (or one line says
        # why not); never a number the calculator did not produce
        step = s.run("ask Sam has 5 pens and buys 4 more. How many pens does he have?")
        if step.trace["error"]:
            assert step.screen.text.count("[llm] ") == 1
        else:
            assert step.trace["kind"] == "expression" and step.trace["result"] in step.screen.text
    assert time.monotonic() - t0 < 600

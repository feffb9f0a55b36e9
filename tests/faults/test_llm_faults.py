"""LLM server faults: down, slow, answering garbage, HTTP errors, hanging up mid-reply. A tiny
misbehaving OpenAI-compatible server runs in the test; through a real Session the LLM line gets a
one-line "[llm] ..." error on the screen, and the session goes on answering."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from orchestrator.session import Session

pytestmark = pytest.mark.timeout(180)
MODEL = "fault-model"


def _chunk(content: str | None = None, finish: str | None = None) -> bytes:
    body = {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": MODEL,
            "choices": [{"index": 0, "delta": {"content": content} if content else {},
                         "finish_reason": finish}]}
    return b"data: " + json.dumps(body).encode() + b"\n\n"


class Misbehaving(BaseHTTPRequestHandler):
    """Answers /v1/chat/completions the way `server.mode` says."""

    server: Any
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:  # keep the test output clean
        pass

    def _send(self, status: int, ctype: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        """/v1/models: one model."""
        self._send(200, "application/json",
                   json.dumps({"object": "list", "data": [{"id": MODEL, "object": "model"}]})
                   .encode())

    def do_POST(self) -> None:
        """/v1/chat/completions, misbehaving as asked."""
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.requests += 1
        mode = self.server.mode
        if mode == "slow" and self.server.stopping.wait(self.server.delay):
            return  # the test is over: nobody is listening for the reply any more
        if mode == "http500":
            self._send(500, "application/json",
                       b'{"error": {"message": "CUDA out of memory\\nat line 3"}}')
            return
        if mode == "binary":
            self._send(200, "application/octet-stream", bytes(range(256)) * 8)
            return
        if mode == "html":
            self._send(200, "text/html", b"<html><body>502 Bad Gateway</body></html>")
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        if mode == "junk-events":
            self.wfile.write(b"data: {this is not json\n\n")
        elif mode == "not-the-schema":
            self.wfile.write(_chunk("Sure! The answer is ") + _chunk("42.", "stop"))
        elif mode == "hangup":
            self.wfile.write(_chunk('{"kind": "answer", "text": "Paris is'))
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        else:  # "ok" and "slow": a good reply
            reply = json.dumps({"kind": "answer", "text": "Paris", "expression": ""})
            self.wfile.write(_chunk(reply[:10]) + _chunk(reply[10:], "stop"))
        self.wfile.write(b"data: [DONE]\n\n")
        self.close_connection = True


class QuietServer(ThreadingHTTPServer):
    """A threaded server whose handler threads all end before `server_close` returns, and
    which stays silent when a client hangs up: the client gives up on purpose here, and a
    traceback printed from a handler thread would land in whichever test runs next."""

    daemon_threads = False  # so server_close joins every handler thread
    block_on_close = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


@pytest.fixture
def llm_server() -> Iterator[ThreadingHTTPServer]:
    """The misbehaving server on a free port; set `.mode` to choose how it misbehaves."""
    server = QuietServer(("127.0.0.1", 0), Misbehaving)
    server.mode = "ok"  # type: ignore[attr-defined]
    server.delay = 30.0  # type: ignore[attr-defined]
    server.requests = 0  # type: ignore[attr-defined]
    server.stopping = threading.Event()  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.stopping.set()  # type: ignore[attr-defined]  # wakes a "slow" handler at once
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        assert not thread.is_alive(), "the fake LLM server's thread outlived its test"


def _url(server: ThreadingHTTPServer) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}/v1"


def _dead_url() -> str:
    with socket.socket() as s:  # a port nobody listens on any more
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/v1"


@pytest.fixture(autouse=True)
def quick_llm(monkeypatch: pytest.MonkeyPatch) -> None:
    """A short LLM timeout and no retries (environment, as a user would set them)."""
    monkeypatch.setenv("HYBRID_NC_LLM_TIMEOUT", "1")
    monkeypatch.setenv("HYBRID_NC_LLM_RETRIES", "0")
    monkeypatch.delenv("HYBRID_NC_CONFIG", raising=False)


def _check_one_line_error(s: Session, expect: str) -> None:
    t0 = time.monotonic()
    step = s.run("ask what is the capital of France")
    # the timeout is 1 s and the slow server takes 30: the session never waits for it (the bound
    # is loose because the first request also imports the HTTP client on a loaded machine)
    assert time.monotonic() - t0 < 20
    assert step.route == "llm" and step.trace["error"] is True
    message = step.trace["llm_error"]
    assert "\n" not in message and expect in message, message
    # on the screen: "[llm] <message>" as one logical line (an 80-column screen may wrap it),
    # after the typed line and before the next prompt
    rows = [ln for ln in step.screen.text.splitlines() if ln]
    start = next(i for i, ln in enumerate(rows) if ln.startswith("[llm] "))
    assert any(ln.endswith("ask what is the capital of France") for ln in rows[:start])
    shown, cols = f"[llm] {message}", s.terminal.cols
    assert rows[start:-1] == [shown[i:i + cols].rstrip() for i in range(0, len(shown), cols)]
    assert rows[-1] == ">"  # the prompt of the shell-less session
    # the session goes on: the calculator still answers, and the LLM again once it is back
    assert "143" in s.run("98+45").screen.text


@pytest.mark.parametrize(("mode", "expect"), [
    ("slow", "did not answer within 1 s"),
    ("http500", "answered HTTP 500: CUDA out of memory"),
    ("binary", "sent something that is not an OpenAI-compatible reply"),
    ("html", "returned an unreadable reply"),
    ("junk-events", "sent something that is not an OpenAI-compatible reply"),
    ("not-the-schema", "returned an unreadable reply"),
    # a connection closed without an error looks like a reply that ends early
    ("hangup", "returned an unreadable reply"),
])
def test_misbehaving_server_gives_one_line_and_the_session_goes_on(
        llm_server: ThreadingHTTPServer, mode: str, expect: str) -> None:
    llm_server.mode = mode  # type: ignore[attr-defined]
    with Session(renderer="raster", reasoners=("sympy", "llm"), llm_url=_url(llm_server),
                 llm_model=MODEL) as s:
        _check_one_line_error(s, expect)
        llm_server.mode = "ok"  # type: ignore[attr-defined]
        step = s.run("ask what is the capital of France")
        assert step.trace["error"] is False and "Paris" in step.screen.text


def test_server_down(monkeypatch: pytest.MonkeyPatch) -> None:
    url = _dead_url()
    with Session(renderer="raster", reasoners=("sympy", "llm"), llm_url=url,
                 llm_model=MODEL) as s:
        _check_one_line_error(s, f"server at {url} unreachable")


def test_server_down_then_up_with_the_sandboxed_shell(llm_server: ThreadingHTTPServer) -> None:
    """With the shell as the terminal owner: the error line, then a fresh shell prompt, and the
    shell answers; the LLM answers once the server is healthy."""
    llm_server.mode = "slow"  # type: ignore[attr-defined]
    with Session(renderer="raster", reasoners=("shell", "sympy", "llm"),
                 llm_url=_url(llm_server), llm_model=MODEL, command_timeout=10) as s:
        step = s.run("ask what is the capital of France")
        rows = [ln for ln in step.screen.text.splitlines() if ln]
        assert rows[-2].startswith("[llm] server at") and "did not answer" in rows[-2]
        assert rows[-1] == "user@hnc:~$" and s.shell.at_prompt
        assert "shell-ok" in s.run("echo shell-ok").screen.text
        llm_server.mode = "ok"  # type: ignore[attr-defined]
        assert "Paris" in s.run("ask what is the capital of France").screen.text

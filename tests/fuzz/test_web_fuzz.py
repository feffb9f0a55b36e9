"""Fuzzing the web terminal's WebSocket messages (hybrid_nc/web/protocol.py, serving.py).

1. `parse_client_message`: any text is a validated message or a one-line ProtocolError.
2. Every message the parser accepts, in any order, through a live tab (`WebSession` on a real
   Session: sympy, raster): the worker never dies, every error it reports is one line, its queue
   stays bounded, and afterwards the tab still computes 1+1.
3. Junk over the real socket (FastAPI TestClient): text and binary frames get error messages, the
   connection stays open and the terminal still answers.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from fuzzing import JSON, JSON_SCALAR, dumps, fuzz_settings, note
from hypothesis import given
from hypothesis import strategies as st

from hybrid_nc.web.protocol import UNITS
from hybrid_nc.web.server import (
    VIEWS,
    ProtocolError,
    QueueFull,
    ServeConfig,
    TerminalService,
    WebSession,
    create_app,
    parse_client_message,
)
from terminal.mouse import ACTIONS, BUTTONS
from terminal.themes import THEMES

pytestmark = pytest.mark.timeout(600)
CONFIG = ServeConfig(max_paste=200, max_cols=120, max_rows=50, max_queue=64,
                     session_options=(("renderer", "raster"), ("reasoners", ("sympy",))))
KEY_NAMES = ["a", "1", "+", " ", "Enter", "Tab", "Up", "Down", "Left", "Right", "Home", "End",
             "Backspace", "Delete", "Escape", "F5", "ctrl+c", "ctrl+d", "ctrl+l", "alt+b",
             "shift+Tab", "ctrl+", "ctrl+F5", "hyper+x", "PageUp", "\u4e2d", "\x1b", "\x00"]

def _mostly(good: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Valid values three times out of four, any JSON value otherwise."""
    return st.one_of(good, good, good, JSON_SCALAR)


CELL = st.lists(st.integers(-1, 130), min_size=2, max_size=2)
MESSAGE = st.one_of(
    st.fixed_dictionaries({"type": st.just("keys"),
                           "keys": _mostly(st.lists(st.sampled_from(KEY_NAMES), min_size=1,
                                                    max_size=12)) | st.lists(st.text(max_size=40),
                                                                             max_size=4)}),
    st.fixed_dictionaries({"type": st.sampled_from(["text", "paste"]),
                           "data": _mostly(st.text(max_size=60) | st.sampled_from(
                               ["98+45\r", "\x1b[?1049h", "x" * 201, "\r\n\r\n", "2**100\n"]))}),
    st.fixed_dictionaries({"type": st.just("resize"),
                           "cols": _mostly(st.integers(-2, 130)),
                           "rows": _mostly(st.integers(-2, 60))}),
    st.fixed_dictionaries({"type": st.just("config")},
                          optional={"view": _mostly(st.sampled_from(VIEWS)),
                                    "steps": _mostly(st.integers(-1, 70)),
                                    "seed": _mostly(st.integers(-1, 2**32)),
                                    "theme": _mostly(st.sampled_from(sorted(THEMES)))}),
    st.fixed_dictionaries({"type": st.just("mouse"), "col": _mostly(st.integers(-1, 130)),
                           "row": _mostly(st.integers(-1, 60))},
                          optional={"button": _mostly(st.sampled_from(sorted(BUTTONS))),
                                    "action": _mostly(st.sampled_from(ACTIONS))}),
    st.fixed_dictionaries({"type": st.just("select")},
                          optional={"anchor": _mostly(CELL), "head": _mostly(CELL),
                                    "unit": _mostly(st.sampled_from(UNITS))}),
    st.fixed_dictionaries({"type": st.one_of(st.sampled_from(["ping", "call", "close", ""]),
                                             JSON_SCALAR)}),
    JSON,
).map(dumps)
RAW = st.one_of(MESSAGE, st.text(max_size=100))
# only messages of the protocol, to drive a live tab deep into its states
VALID = st.one_of(
    st.fixed_dictionaries({"type": st.just("keys"),
                           "keys": st.lists(st.sampled_from(KEY_NAMES), min_size=1, max_size=12)}),
    st.fixed_dictionaries({"type": st.sampled_from(["text", "paste"]),
                           "data": st.text(max_size=60) | st.sampled_from(
                               ["98+45\r", "\x1b[?1049h", "\r\n\r\n", "2**100\n", "x" * 200])}),
    st.fixed_dictionaries({"type": st.just("resize"), "cols": st.integers(2, 120),
                           "rows": st.integers(2, 50)}),
    st.fixed_dictionaries({"type": st.just("config")},
                          optional={"view": st.sampled_from(VIEWS), "steps": st.integers(1, 64),
                                    "seed": st.integers(0, 2**31 - 1),
                                    "theme": st.sampled_from(sorted(THEMES))}),
    st.fixed_dictionaries({"type": st.just("mouse"), "col": st.integers(0, 130),
                           "row": st.integers(0, 60), "button": st.sampled_from(sorted(BUTTONS)),
                           "action": st.sampled_from(ACTIONS)}),
    st.fixed_dictionaries({"type": st.just("select"),
                           "anchor": st.lists(st.integers(0, 130), min_size=2, max_size=2),
                           "head": st.lists(st.integers(0, 130), min_size=2, max_size=2),
                           "unit": st.sampled_from(UNITS)}),
).map(dumps)


def accepted(raw: str) -> dict[str, Any] | None:
    """parse_client_message's verdict, checked: a valid message or a one-line ProtocolError."""
    try:
        msg = parse_client_message(raw, CONFIG)
    except ProtocolError as e:
        assert str(e) and "\n" not in str(e), repr(str(e))
        note("rejected")
        return None
    kind = msg["type"]
    note(f"accepted {kind}")
    assert kind in ("keys", "text", "paste", "resize", "config", "mouse", "select", "ping")
    if kind == "keys":
        assert 1 <= len(msg["keys"]) <= 1024
        assert all(isinstance(k, str) and 0 < len(k) <= 32 for k in msg["keys"])
    elif kind in ("text", "paste"):
        assert isinstance(msg["data"], str) and len(msg["data"]) <= CONFIG.max_paste
    elif kind == "resize":
        assert 2 <= msg["cols"] <= CONFIG.max_cols and 2 <= msg["rows"] <= CONFIG.max_rows
        assert type(msg["cols"]) is int and type(msg["rows"]) is int
    elif kind == "config":
        assert set(msg) <= {"type", "view", "steps", "seed", "theme"}
    elif kind == "mouse":
        assert msg["button"] in BUTTONS and msg["action"] in ACTIONS
        assert all(type(msg[k]) is int and msg[k] >= 0 for k in ("col", "row"))
    elif kind == "select" and msg["anchor"] is not None:
        assert msg["unit"] in UNITS
        assert all(type(v) is int and v >= 0 for v in (*msg["anchor"], *msg["head"]))
    return msg


@fuzz_settings(500)
@given(raw=RAW)
def test_any_client_message_is_valid_or_a_protocol_error(raw: str) -> None:
    accepted(raw)


class Outbox:
    """What the tab sends to the page, collected (the send callback runs on the worker)."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self.lock = threading.Lock()

    def __call__(self, item: Any) -> None:
        """Keep one outgoing message."""
        with self.lock:
            self.items.append(item)

    def json(self) -> list[dict[str, Any]]:
        """The JSON messages sent so far."""
        with self.lock:
            return [m for m in self.items if isinstance(m, dict)]


def _barrier(ws: WebSession) -> str:
    """Wait until the tab has applied everything queued so far; the screen text then."""
    return str(ws.call(lambda s: s.screen.text).result(timeout=120))


@pytest.mark.slow
def test_accepted_messages_never_break_a_live_tab() -> None:
    service = TerminalService(CONFIG)
    out = Outbox()
    ws = service.open(out, cols=60, rows=12)
    try:
        _barrier(ws)
        assert any(m["type"] == "hello" for m in out.json())

        @fuzz_settings(60)
        @given(batch=st.lists(st.one_of(VALID, VALID, RAW), min_size=1, max_size=8))
        def apply(batch: list[str]) -> None:
            for raw in batch:
                msg = accepted(raw)
                if msg is None or msg["type"] == "ping":
                    continue
                try:
                    ws.receive(msg)
                except QueueFull as e:
                    assert "\n" not in str(e)
            t0 = time.monotonic()
            _barrier(ws)
            assert time.monotonic() - t0 < 120
            assert not ws.closed.is_set(), ws.close_reason
            assert ws._inbox.qsize() <= CONFIG.max_queue

        apply()
        errors = [m for m in out.json() if m["type"] == "error"]
        assert all("\n" not in m["message"] and not m.get("fatal") for m in errors), errors
        assert not any(m["type"] == "closed" for m in out.json())
        assert len(ws.session.steps) <= 64 and len(ws.session.report()["steps"]) <= 1000
        # the tab still computes: clear the line, then 1+1
        ws.receive({"type": "resize", "cols": 60, "rows": 12})
        ws.receive({"type": "keys", "keys": ["ctrl+c", "1", "+", "1", "Enter"]})
        screen = _barrier(ws)
        assert "\n2\n" in "\n" + screen.replace(" ", "") + "\n", screen
    finally:
        service.shutdown()


@pytest.mark.slow
def test_junk_over_the_socket() -> None:
    service = TerminalService(CONFIG)
    junk = ["", "null", "[]", "{}", '{"type": "keys", "keys": "abc"}', "\x00\xff", "{" * 5000,
            json.dumps({"type": "paste", "data": "x" * 10_000}), json.dumps({"type": "nope"})]
    with TestClient(create_app(service)) as client, \
            client.websocket_connect("/ws?cols=40&rows=8",
                                     headers={"host": "127.0.0.1:8765"}) as sock:
        errors = 0
        for text in junk:
            sock.send_text(text)
        sock.send_bytes(b"\x00\x01binary")
        sock.send_text(json.dumps({"type": "keys", "keys": ["7", "*", "6", "Enter"]}))
        for _ in range(2000):
            m = sock.receive()
            if m.get("text") is None:
                continue  # a frame update
            msg = json.loads(m["text"])
            if msg["type"] == "error":
                errors += 1
                assert "\n" not in msg["message"] and not msg.get("fatal")
            assert msg["type"] != "closed", msg
            if msg["type"] == "step" and any(ln.strip() == "42" for ln in msg["lines"]):
                break
        else:
            raise AssertionError("no step showing 42")
        assert errors == len(junk) + 1

"""`hybrid-nc serve` killed with SIGKILL while a tab has a live session: the sandboxed shell it
started dies with it, and a new server binds the same port at once (no TIME_WAIT refusal)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from websockets.sync.client import connect

from reasoner.backends.procwatch import alive, descendants

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]
ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(port: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "hybrid_nc", "serve", "--port", str(port), "--renderer", "raster"],
        cwd=ROOT, text=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        start_new_session=True)


def _wait_listening(port: int, proc: subprocess.Popen[str], limit: float = 60.0) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        if proc.poll() is not None:
            err = proc.stderr.read() if proc.stderr else ""
            raise AssertionError(f"serve exited {proc.returncode}: {err}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return time.monotonic() - t0
        time.sleep(0.1)
    raise AssertionError(f"serve did not listen on {port} within {limit} s")






def _until(ws, pred, limit: float = 30.0) -> dict:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        raw = ws.recv(timeout=max(0.1, deadline - time.monotonic()))
        if isinstance(raw, bytes):
            continue
        msg = json.loads(raw)
        if pred(msg):
            return msg
    raise AssertionError("no such message")


def test_kill_9_of_serve_leaves_no_shell_and_the_port_is_free_at_once() -> None:
    port = _free_port()
    proc = _serve(port)
    try:
        _wait_listening(port, proc)
        url = f"ws://127.0.0.1:{port}/ws?cols=60&rows=12"
        with connect(url, additional_headers={"Host": f"127.0.0.1:{port}"},
                     open_timeout=30) as ws:
            _until(ws, lambda m: m.get("type") == "hello")
            ws.send(json.dumps({"type": "keys", "keys": [*"echo alive", "Enter"]}))
            _until(ws, lambda m: m.get("type") == "step"
                   and any("alive" in ln for ln in m.get("lines", [])[1:]))
            helpers = descendants(proc.pid)  # the tab's sandbox and shell
            assert helpers, "the tab's session started no process"
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(alive(p) for p in helpers):
        time.sleep(0.1)
    assert [p for p in helpers if alive(p)] == []

    again = _serve(port)  # the same port, straight away
    try:
        took = _wait_listening(port, again)
        assert again.poll() is None
        assert took < 30
    finally:
        again.send_signal(signal.SIGINT)
        try:
            again.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(again.pid, signal.SIGKILL)
            again.wait(10)

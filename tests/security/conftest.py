"""Fixtures for the sandbox attack suite: a recorded Session on the real sandboxed shell, and
host-side observers (listening sockets, /proc scans) that say whether an attack reached the host.

Every check of "the host sees nothing" is made from the host's side and does not trust the code
under test: the sandbox's processes are found from /proc by their pid namespace, the sockets are
real listeners in this process, and everything the sandbox printed is read back from the session's
asciicast recording (a host file) rather than from the visible screen.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shlex
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from orchestrator.session import Session
from reasoner.backends.sandbox import bwrap_problem
from terminal.recording import read_cast

COMMAND_TIMEOUT = 4.0  # seconds; short, so that hanging attacks end quickly
SECRET_ENV = "HNC_SECURITY_CANARY"
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][0-9A-Za-z]|\x18")


def python_cmd(program: str) -> str:
    """A one-line shell command running a multi-line python3 program in the sandbox (a typed
    line must not contain newlines: each would be an Enter)."""
    return "python3 -c " + shlex.quote(f"exec({program!r})")


# -- host-side views of processes ------------------------------------------------------------
def _children(pid: int) -> list[int]:
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                data = Path(f"/proc/{name}/stat").read_bytes()
            except OSError:
                continue
            if int(data.rsplit(b")", 1)[1].split()[1]) == pid:
                out.append(int(name))
    return out


def pid_namespace(leader: int) -> str:
    """The pid namespace of the sandbox whose bwrap process is `leader` (read from /proc)."""
    kids = _children(leader)
    assert kids, f"bwrap (pid {leader}) has no child: is the sandbox running?"
    return os.readlink(f"/proc/{kids[0]}/ns/pid")


def live_pids_in(ns: str) -> list[int]:
    """Host pids of processes (not zombies) in pid namespace `ns`."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            if os.readlink(f"/proc/{name}/ns/pid") != ns:
                continue
            state = Path(f"/proc/{name}/stat").read_bytes().rsplit(b")", 1)[1].split()[0]
        except OSError:
            continue
        if state != b"Z":
            found.append(int(name))
    return found


def host_processes_with(marker: str) -> list[int]:
    """Every host process (any namespace) whose command line contains `marker`."""
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) != os.getpid():
            try:
                cmd = Path(f"/proc/{name}/cmdline").read_bytes().replace(b"\0", b" ")
                state = Path(f"/proc/{name}/stat").read_bytes().rsplit(b")", 1)[1].split()[0]
            except OSError:
                continue
            if marker.encode() in cmd and state != b"Z":
                found.append(int(name))
    return found


def wait_until(cond, timeout: float = 5.0, every: float = 0.05) -> bool:  # type: ignore[no-untyped-def]
    """Poll `cond()` until it holds or `timeout` seconds pass; returns its last value."""
    end = time.monotonic() + timeout
    while True:
        ok = cond()
        if ok or time.monotonic() >= end:
            return bool(ok)
        time.sleep(every)


# -- host-side listeners ---------------------------------------------------------------------
@dataclass
class Listener:
    """A socket this (host) process listens on, and every connection or datagram it got."""

    sock: socket.socket
    address: object
    hits: list[object] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> Listener:
        """Accept connections (or receive datagrams) on a thread, recording each in `hits`."""
        self.sock.settimeout(0.1)
        stream = self.sock.type == socket.SOCK_STREAM
        if stream:
            self.sock.listen(16)

        def loop() -> None:
            while not self._stop.is_set():
                try:
                    if stream:
                        conn, peer = self.sock.accept()
                        self.hits.append(peer)
                        conn.close()
                    else:
                        self.hits.append(self.sock.recvfrom(65536))
                except (TimeoutError, BlockingIOError):
                    continue
                except OSError:
                    return

        self._thread = threading.Thread(target=loop, daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop listening."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2)
        self.sock.close()


@contextlib.contextmanager
def listening(family: int, kind: int, address: object) -> Iterator[Listener]:
    """Bind a host socket at `address` (port 0 picks one) and record what reaches it."""
    sock = socket.socket(family, kind)
    if family != socket.AF_UNIX:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(address)  # type: ignore[arg-type]
    lst = Listener(sock, sock.getsockname()).start()
    try:
        yield lst
    finally:
        lst.close()


# -- the attacked session --------------------------------------------------------------------
class Attack:
    """A recorded Session (sandboxed shell, raster renderer) under attack, with the host's view.

    run(line) types the line and returns what the sandbox printed meanwhile (escapes removed);
    output() is everything it printed so far, read from the recording on the host's disk.
    """

    def __init__(self, record: Path, secret: str) -> None:
        self.record = record
        self.secret = secret
        self.session = Session(renderer="raster", reasoners=("shell",),
                               command_timeout=COMMAND_TIMEOUT, record=str(record))
        self.leader = self.session.shell.pid
        self.ns = pid_namespace(self.leader)

    def output(self) -> str:
        """Everything the sandbox printed so far (escapes and CR removed), from the recording."""
        events = read_cast(self.record).events
        text = "".join(e.data for e in events if e.code == "o")
        return _ANSI.sub("", text).replace("\r", "")

    def run(self, line: str, timeout: float | None = None) -> str:
        """Run a line in the session; what was printed meanwhile (the typed line's echo first)."""
        before = len(self.output())
        self.session.run(line, timeout=timeout)
        return self.output()[before:]

    def output_after_polling(self, text: str, timeout: float, times: int = 1) -> bool:
        """Let the session read output that comes on its own (as the web UI's idle poll does)
        until `text` was printed `times` times in all; the shell's watchdogs run while it
        reads."""
        def seen() -> bool:
            self.session.poll(0.1)
            return self.output().count(text) >= times
        return wait_until(seen, timeout, every=0.0)

    @property
    def screen(self) -> str:
        """The symbolic screen's text now."""
        return self.session.screen.text

    def answers(self) -> None:
        """The session still answers: a fresh command round-trips and the prompt is back."""
        n = secrets.randbelow(10**6)
        out = self.run(f"echo alive-$(({n}+1))")
        assert f"alive-{n + 1}" in out, f"the session stopped answering: {self.screen[-400:]!r}"
        assert self.session.shell.at_prompt
        assert self.screen.rstrip().endswith("user@hnc:~$")

    def sandbox_pids(self) -> list[int]:
        """Host pids of the sandbox's live processes."""
        return live_pids_in(self.ns)

    def close(self) -> None:
        """Close the session (idempotent)."""
        self.session.close()


@pytest.fixture(scope="session")
def sandbox_ok() -> None:
    """The attack suite needs bubblewrap; without it the tests fail with the reason."""
    problem = bwrap_problem()
    assert problem is None, f"the sandboxed shell cannot run here: {problem}"


@pytest.fixture
def attack(sandbox_ok: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Attack]:
    """A fresh attacked session. The host process carries a secret in its environment, and after
    the test no process of the sandbox may remain once the session is closed."""
    secret = "canary-" + secrets.token_hex(12)
    monkeypatch.setenv(SECRET_ENV, secret)
    att = Attack(tmp_path / "attack.cast", secret)
    try:
        yield att
    finally:
        att.close()
        assert wait_until(lambda: not att.sandbox_pids(), 5), \
            f"sandbox processes outlived Session.close(): {att.sandbox_pids()}"
        # nothing the sandbox printed, in the whole session, holds the host's secret
        assert secret not in att.output()

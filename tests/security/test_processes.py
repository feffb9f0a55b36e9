"""Process attacks: fork bombs, processes that try to outlive the session, very long sleeps,
ptrace and signals aimed at host processes. The host side counts processes itself, from /proc."""

from __future__ import annotations

import os
import secrets
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import COMMAND_TIMEOUT, Attack, host_processes_with, python_cmd, wait_until

pytestmark = pytest.mark.timeout(240)


@pytest.fixture
def host_victim() -> Iterator[subprocess.Popen[bytes]]:
    """A host process the sandbox will try to trace and kill (same host uid as the sandbox's
    user, so only the sandbox stands in the way)."""
    # the sandbox's host uid: nobody when we are root, else our own
    ident = {"user": 65534, "group": 65534} if os.geteuid() == 0 else {}
    proc = subprocess.Popen(["sleep", f"300.{secrets.randbelow(10**6)}"], **ident)
    yield proc
    proc.kill()
    proc.wait()


def _tracer(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(ln for ln in status.splitlines() if ln.startswith("TracerPid:")).split()[1])


@pytest.mark.slow
def test_fork_bombs(attack: Attack) -> None:
    host_before = len(list(Path("/proc").glob("[0-9]*")))
    attack.run(":(){ :|:& };:")  # it puts itself in the background: the prompt is back at once
    assert attack.output_after_polling("process limit (128) reached", 20)
    attack.answers()
    attack.run(python_cmd("import os\nwhile True:\n try: os.fork()\n except OSError: pass"),
               timeout=20)
    assert attack.output().count("process limit (128) reached") >= 2
    attack.answers()
    # the host: the sandbox is back to a handful of processes and this process can still fork
    assert wait_until(lambda: len(attack.sandbox_pids()) <= 5, 10), attack.sandbox_pids()
    assert subprocess.run(["true"]).returncode == 0
    assert len(list(Path("/proc").glob("[0-9]*"))) < host_before + 20


def test_background_processes_do_not_outlive_the_session(attack: Attack) -> None:
    tag = f"7{secrets.randbelow(10**6):06d}"  # a unique sleep length marks our processes
    tricks = [f"nohup sleep {tag}.1 > /dev/null 2>&1 &",
              f"setsid sleep {tag}.2 &",
              f"(sleep {tag}.3 &) &",
              f"sleep {tag}.4 & disown",
              f"setsid -f sleep {tag}.5",
              f"nohup bash -c 'trap \"\" HUP TERM INT; exec sleep {tag}.6' > /dev/null 2>&1 &",
              python_cmd(f"import os, time\nif os.fork() == 0:\n os.setsid()\n"
                         f" if os.fork() == 0:\n  os.execlp('sleep', 'sleep', '{tag}.7')\n"
                         " os._exit(0)")]
    for line in tricks:
        attack.run(line)
    assert wait_until(lambda: len(host_processes_with(tag)) >= 7, 5), host_processes_with(tag)
    attack.answers()
    attack.close()
    # the host sees none of them, in any namespace, once the session is closed
    assert wait_until(lambda: not host_processes_with(tag), 5), host_processes_with(tag)
    assert wait_until(lambda: not attack.sandbox_pids(), 5)


@pytest.mark.slow
def test_very_long_sleeps(attack: Attack) -> None:
    for line in ("sleep 100000", "sleep infinity", "read -t 100000 x",
                 "python3 -c 'import time; time.sleep(1e5)'",
                 "bash -c \"trap '' INT TERM; sleep 100000\""):
        notice = f"command timed out after {COMMAND_TIMEOUT:g} s - interrupted"
        seen = attack.output().count(notice)
        t0 = time.monotonic()
        attack.run(line)  # `read` waits for the keyboard: run() is back before the timeout
        assert attack.output_after_polling(notice, COMMAND_TIMEOUT + 6, times=seen + 1), line
        assert time.monotonic() - t0 < COMMAND_TIMEOUT + 6, line
        attack.answers()
    assert attack.sandbox_pids() and len(attack.sandbox_pids()) <= 5


def test_ptrace_and_signals_to_host_processes(attack: Attack,
                                              host_victim: subprocess.Popen[bytes]) -> None:
    pid = host_victim.pid
    out = attack.run(python_cmd(
        "import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        f"r = libc.ptrace(16, {pid}, 0, 0)\n"  # PTRACE_ATTACH
        "print('ptrace', r, os.strerror(ctypes.get_errno()))"))
    assert "ptrace -1 No such process" in out
    out = attack.run(f"strace -p {pid} -o /dev/null; kill -9 {pid}; echo kill=$?; "
                     f"kill -STOP {pid}; ls /proc/{pid}")
    assert "kill=1" in out and "No such process" in out
    assert host_victim.poll() is None  # alive,
    assert _tracer(pid) == 0  # not traced
    state = Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()[0]
    assert state in (b"S", b"R")  # and not stopped
    attack.answers()


def test_killing_everything_inside_ends_only_the_sandbox(attack: Attack,
                                                         host_victim: subprocess.Popen[bytes]
                                                         ) -> None:
    """`kill -9 -1` kills every process the sandbox user may signal: inside the sandbox that is
    the whole sandbox (its supervisor included), so the session ends - with a clear message, no
    exception - while the host's processes of the same host uid live on."""
    attack.session.run("kill -9 -1")
    assert wait_until(lambda: not attack.session.shell.alive(), 5)
    step = attack.session.run("echo after")  # does not raise, does not hang
    assert "[hybrid-nc: the sandbox has ended; start a new session]" in step.screen.text
    assert host_victim.poll() is None
    assert wait_until(lambda: not attack.sandbox_pids(), 5)

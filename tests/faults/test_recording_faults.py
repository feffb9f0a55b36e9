"""Recording faults: the disk fills while a session records, and the process is killed with
SIGKILL mid-step. Either way the recording keeps every whole event before the fault (CastWriter
writes one whole line per event, unbuffered) and `hybrid-nc replay` plays it; a full disk is one
clear CastError, and nothing the session started outlives a killed process."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hybrid_nc.cli import main
from reasoner.backends.procwatch import alive, descendants
from terminal.recording import read_cast, screen_at

pytestmark = pytest.mark.timeout(240)
ROOT = Path(__file__).resolve().parents[2]

FULL_DISK = """
import json, sys
from orchestrator.session import Session
s = Session(renderer="raster", reasoners=("sympy",), record=sys.argv[1])
done = 0
try:
    for i in range(1000):
        s.run(f"{i}*3")
        done = i + 1
except Exception as e:
    print(json.dumps({"type": type(e).__name__, "message": str(e), "done": done}))
s.close()  # must not raise again
print("closed")
"""

KILLED = """
import sys
from orchestrator.session import Session
s = Session(renderer="raster", reasoners=("shell", "sympy"), record=sys.argv[1],
            command_timeout=20)
for n, line in enumerate(["echo step-one", "98+45", "echo step-three"], 1):
    s.run(line)
    print("DONE", n, flush=True)
s.run("for i in 1 2 3 4 5 6 7 8 9 10; do echo tick-$i; sleep 0.3; done")
print("DONE 4", flush=True)
"""


def _limit_file_size(limit: int) -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))






def _replay_screen(cast: Path, out: Path, capsys: pytest.CaptureFixture[str]) -> str:
    rc = main(["replay", str(cast), "--renderer", "raster", "--screen-out", str(out)])
    err = capsys.readouterr().err
    assert rc == 0, err
    return "\n".join(json.loads(out.read_text())["lines"])


def test_disk_full_while_recording(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cast = tmp_path / "full.cast"
    limit = 4096  # bytes the recording may grow to: a file-size limit stands in for a full disk
    proc = subprocess.run([sys.executable, "-c", FULL_DISK, str(cast)], capture_output=True,
                          text=True, timeout=200, cwd=ROOT,
                          preexec_fn=lambda: _limit_file_size(limit))
    assert proc.returncode == 0, proc.stderr
    report_line, closed = proc.stdout.strip().splitlines()
    report = json.loads(report_line)
    assert closed == "closed" and "Traceback" not in proc.stderr
    assert report["type"] == "CastError"
    assert report["message"] == (f"cannot write the recording {cast}: File too large "
                                 "(every event before this one is intact)")
    assert report["done"] >= 3
    # the file holds whole events only, and replays to the last step that was recorded whole
    assert cast.stat().st_size <= limit
    assert cast.read_bytes().endswith(b"\n")
    rec = read_cast(cast)
    assert rec.events
    last = report["done"] - 1
    screen = screen_at(rec).text
    assert f"{last}*3" in screen and str(last * 3) in screen
    assert f"{last}*3" in _replay_screen(cast, tmp_path / "screen.json", capsys)


@pytest.mark.slow
def test_kill_9_mid_session_leaves_a_replayable_recording(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    cast = tmp_path / "killed.cast"
    proc = subprocess.Popen([sys.executable, "-c", KILLED, str(cast)], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        done = []
        while len(done) < 3:
            line = proc.stdout.readline()
            assert line, f"the session script died early: {proc.stderr.read() if proc.stderr else ''}"
            done.append(line.split()[1])
        time.sleep(1.0)  # well inside step 4 (about 3 s of ticks)
        helpers = descendants(proc.pid)  # the sandbox, the calculator's worker
        assert helpers
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    # nothing the session started lives on without it
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(alive(p) for p in helpers):
        time.sleep(0.1)
    assert [p for p in helpers if alive(p)] == []
    # every line of the file is a whole event; the three finished steps replay exactly
    raw = cast.read_bytes()
    assert raw.endswith(b"\n")
    rec = read_cast(cast)
    screen = _replay_screen(cast, tmp_path / "screen.json", capsys)
    for text in ("$ echo step-one", "step-one", "98+45", "143", "step-three"):
        assert text in screen
    assert "tick-1" in screen  # step 4 had begun, and what it had printed is there too
    assert "tick-10" not in screen
    assert screen_at(rec).text == "\n".join(ln.rstrip() for ln in screen.splitlines())

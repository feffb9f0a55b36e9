"""The web terminal under load: N browser tabs at once, typing and running commands.

Starts `hybrid-nc serve --renderer raster` on 127.0.0.1 (a free port; nothing leaves the machine)
and, for each N in --sessions, opens N WebSocket sessions that for --seconds each type commands
one key at a time (every key waits for the frame that shows it) and run them. It reports, per N:

* keystroke -> frame latency p50 / p95 (key message sent until the step message of the frame
  showing that key has arrived; its PNG bands come before it) and Enter -> output latency;
* frames: steps the sessions drew, frames the pages received, frames coalesced (drawn while the
  page's previous frame was still going out: the server sends the newest, by design) and keys
  whose frame never came (lost: must be 0);
* the server's resident memory (peak and at the end of the phase) and that of the sandboxed
  shells it started;
* isolation: every session types a unique token, and no session may ever see another's token
  on its screen;
* at the cap, one more tab is refused with a clear message;
* after each phase and after the server stops, no sandbox or shell process is left (the
  server's descendants, read from /proc).

The renderer is the raster (the exact reference): the figures are the server's own cost, not
a model's. Stops by itself; writes benchmarks/results/web_load.md (and --json).

    python benchmarks/bench_web_load.py [--sessions 1,4,8,16] [--seconds 45] [--cap 16]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from websockets.sync.client import connect

from reasoner.backends.procwatch import alive, descendants

ROOT = Path(__file__).resolve().parents[1]
KEY_TIMEOUT = 30.0  # seconds a key may wait for its frame before it counts as lost


def rss_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def start_server(cap: int) -> tuple[subprocess.Popen[str], str]:
    # stderr to a file: a pipe nobody reads would stop the server once it is full
    log = tempfile.TemporaryFile("w+")  # noqa: SIM115 - open as long as the server runs
    proc = subprocess.Popen(
        [sys.executable, "-m", "hybrid_nc", "serve", "--host", "127.0.0.1", "--port", "0",
         "--renderer", "raster", "--reasoners", "shell,sympy", "--max-sessions", str(cap)],
        cwd=ROOT, text=True, stdout=subprocess.PIPE, stderr=log, start_new_session=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    m = re.search(r"open http://([\d.]+:\d+)/", line)
    if not m:
        proc.kill()
        log.seek(0)
        raise SystemExit(f"serve did not start: {line!r} {log.read()[-2000:]}")
    address = m.group(1)
    deadline = time.monotonic() + 60
    while True:  # the port is bound before it is printed; uvicorn listens a moment later
        try:
            open_sessions(address)
            return proc, address
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise SystemExit(f"serve on {address} never answered") from None
            time.sleep(0.1)


def stop_server(proc: subprocess.Popen[str]) -> int:
    proc.send_signal(signal.SIGINT)
    try:
        return proc.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        return proc.wait(10)


# -- one tab ------------------------------------------------------------------------------
class Tab:
    """One scripted browser tab: types commands key by key until `deadline`."""

    def __init__(self, address: str, token: str, tokens: set[str], deadline: float,
                 seed: int) -> None:
        self.address, self.token, self.deadline = address, token, deadline
        self.foreign = tokens - {token}
        self.seed = seed
        self.key_ms: list[float] = []
        self.enter_ms: list[float] = []
        self.lost = 0
        self.steps = 0
        self.bands = 0
        self.first_index: int | None = None
        self.last_index = 0
        self.leaks: list[str] = []
        self.errors: list[str] = []
        self.commands = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _recv(self, ws: Any, pred: Any, limit: float) -> dict[str, Any] | None:
        end = time.monotonic() + limit
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return None
            try:
                raw = ws.recv(timeout=left)
            except TimeoutError:
                return None
            if isinstance(raw, bytes):
                self.bands += 1
                continue
            msg = json.loads(raw)
            if msg["type"] == "error":
                self.errors.append(msg["message"])
            if msg["type"] == "step":
                self._saw(msg)
            if pred(msg):
                return msg

    def _saw(self, step: dict[str, Any]) -> None:
        self.steps += 1
        if self.first_index is None:
            self.first_index = step["index"]
        self.last_index = max(self.last_index, step["index"])
        text = "\n".join(step["lines"])
        for other in self.foreign:
            if other in text:
                self.leaks.append(other)

    def _run(self) -> None:
        try:
            with connect(f"ws://{self.address}/ws?cols=80&rows=24", open_timeout=60,
                         max_size=2**24) as ws:
                self._session(ws)
        except Exception as e:  # the figure says so; the other tabs go on
            self.errors.append(f"{type(e).__name__}: {e}")

    def _session(self, ws: Any) -> None:
        first = self._recv(ws, lambda m: m["type"] == "step"
                           and m["lines"][m["cursor"][0]].rstrip().endswith("$"), 60)
        if first is None:
            self.errors.append("no prompt")
            return
        k = 0
        while time.monotonic() < self.deadline:
            k += 1
            a, b = (self.seed * 7 + k) % 97, (self.seed + 3 * k) % 89
            command = f"echo $(({a}*{b})) {self.token}-{k}"
            expect = f"{a * b} {self.token}-{k}"
            step = self._type_line(ws, command)
            if step is None:
                return
            t = time.perf_counter()
            ws.send(json.dumps({"type": "keys", "keys": ["Enter"]}))
            done = self._recv(ws, lambda m, want=expect: m["type"] == "step"
                              and want in [ln.rstrip() for ln in m["lines"]]
                              and m["lines"][m["cursor"][0]].rstrip().endswith("$"),
                              KEY_TIMEOUT)
            if done is None:
                self.lost += 1
                return
            self.enter_ms.append((time.perf_counter() - t) * 1000)
            self.commands += 1
            if k % 8 == 0:  # keep the screen short: the frames stay 80x24 of changing text
                ws.send(json.dumps({"type": "keys", "keys": [*"clear", "Enter"]}))
                if self._recv(ws, lambda m: m["type"] == "step" and m["cursor"][0] == 0
                              and m["lines"][0].rstrip().endswith("$"), KEY_TIMEOUT) is None:
                    self.lost += 1
                    return

    def _type_line(self, ws: Any, command: str) -> dict[str, Any] | None:
        """Type `command` one key at a time, each waiting for the frame that shows it."""
        step: dict[str, Any] | None = None
        row_col: tuple[int, int] | None = None
        for i, ch in enumerate(command):
            typed = command[:i + 1]
            t = time.perf_counter()
            ws.send(json.dumps({"type": "keys", "keys": [ch]}))

            def shows(m: dict[str, Any], typed: str = typed,
                      start: tuple[int, int] | None = row_col) -> bool:
                if m["type"] != "step":
                    return False
                r, c = m["cursor"]
                if start is not None and (r, c) != (start[0], start[1] + len(typed)):
                    return False
                return m["lines"][r][:c].endswith(typed)

            step = self._recv(ws, shows, KEY_TIMEOUT)
            if step is None:
                self.lost += 1
                return None
            self.key_ms.append((time.perf_counter() - t) * 1000)
            if row_col is None:
                r, c = step["cursor"]
                row_col = (r, c - len(typed))
        return step


def open_sessions(address: str) -> int:
    with urllib.request.urlopen(f"http://{address}/api/info", timeout=10) as r:
        return int(json.load(r)["sessions"])


def busy_message(address: str) -> str:
    """What one tab more than the cap is told."""
    with connect(f"ws://{address}/ws?cols=80&rows=24", open_timeout=30) as ws:
        msg = json.loads(ws.recv(timeout=30))
    return str(msg.get("message")) if msg.get("type") == "error" and msg.get("fatal") else \
        f"NOT REFUSED: {msg}"


# -- one phase ----------------------------------------------------------------------------
def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, int(q * (len(v) - 1) + 0.5))]


def phase(proc: subprocess.Popen[str], address: str, n: int, seconds: float, cap: int,
          seen: set[int]) -> dict[str, Any]:
    tokens = {f"tok{n}x{i}q{secrets.token_hex(3)}" for i in range(n)}
    deadline = time.monotonic() + seconds
    tabs = [Tab(address, tok, tokens, deadline, i) for i, tok in enumerate(sorted(tokens))]
    peak = {"server": rss_mib(proc.pid), "shells": 0.0, "helpers": 0}
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.5):
            kids = descendants(proc.pid)
            seen.update(kids)
            peak["server"] = max(peak["server"], rss_mib(proc.pid))
            peak["shells"] = max(peak["shells"], sum(rss_mib(p) for p in kids))
            peak["helpers"] = max(peak["helpers"], len(kids))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    for tab in tabs:
        tab.thread.start()
    refused = None
    if n >= cap:  # every seat taken: one tab more must be told so
        time.sleep(min(5.0, seconds / 3))
        refused = busy_message(address)
    for tab in tabs:
        tab.thread.join(seconds + 3 * KEY_TIMEOUT + 60)
    stop.set()
    sampler.join()
    # the tabs closed: every session's sandbox and shell must go, and its seat free again
    t0 = time.monotonic()
    while (descendants(proc.pid) or open_sessions(address)) and time.monotonic() - t0 < 30:
        time.sleep(0.2)
    left = sorted(descendants(proc.pid))
    after_rss = rss_mib(proc.pid)
    keys = [ms for tab in tabs for ms in tab.key_ms]
    enters = [ms for tab in tabs for ms in tab.enter_ms]
    drawn = sum(tab.last_index - (tab.first_index or 0) + 1 for tab in tabs if tab.steps)
    received = sum(tab.steps for tab in tabs)
    return {
        "sessions": n, "seconds": seconds, "keys": len(keys),
        "commands": sum(t.commands for t in tabs),
        "key_p50_ms": pct(keys, 0.5), "key_p95_ms": pct(keys, 0.95),
        "enter_p50_ms": pct(enters, 0.5), "enter_p95_ms": pct(enters, 0.95),
        "frames_drawn": drawn, "frames_received": received, "frames_coalesced": drawn - received,
        "png_bands": sum(t.bands for t in tabs), "keys_lost": sum(t.lost for t in tabs),
        "server_rss_peak_mib": round(peak["server"], 1),
        "server_rss_after_mib": round(after_rss, 1),
        "shells_rss_peak_mib": round(peak["shells"], 1), "helpers_peak": peak["helpers"],
        "leaks": sorted({leak for t in tabs for leak in t.leaks}),
        "errors": sorted({e for t in tabs for e in t.errors})[:5],
        "refused": refused, "left_after_phase": left,
        "seconds_to_clean": round(time.monotonic() - t0, 2),
    }


def run(sessions: list[int], seconds: float, cap: int) -> dict[str, Any]:
    load = os.getloadavg()
    proc, address = start_server(cap)
    seen: set[int] = set()
    try:
        idle_rss = rss_mib(proc.pid)
        phases = [phase(proc, address, n, seconds, cap, seen) for n in sessions if n <= cap]
    finally:
        code = stop_server(proc)
    time.sleep(0.5)
    return {"address": address, "cap": cap, "load_before": [round(x, 2) for x in load],
            "load_after": [round(x, 2) for x in os.getloadavg()], "cpus": os.cpu_count(),
            "server_rss_idle_mib": round(idle_rss, 1), "phases": phases,
            "server_exit": code, "left_after_stop": sorted(p for p in seen if alive(p)),
            "processes_seen": len(seen)}


def page(result: dict[str, Any], command: str) -> str:
    lines = [
        "# Web terminal under load",
        "",
        f"`{command}`",
        "",
        f"`hybrid-nc serve --renderer raster --reasoners shell,sympy --max-sessions "
        f"{result['cap']}` on "
        f"{result['address']} (loopback); the scripted tabs run in the benchmark's own process "
        "(one thread each, `websockets`), 80x24 each, every key waiting for its frame, commands "
        "`echo $((a*b)) TOKEN-k` (sandboxed bash), `clear` every 8th. Raster renderer: the "
        "figures are the server's own cost (session, emulator, verify, PNG bands), not a "
        f"model's. Machine: {result['cpus']} CPUs shared with other work; load average "
        f"{' / '.join(map(str, result['load_before']))} (1/5/15 min) before the run, "
        f"{' / '.join(map(str, result['load_after']))} after.",
        "",
        "| tabs | keys | commands | key -> frame p50 ms | p95 ms | Enter -> output p50 ms | "
        "p95 ms | frames drawn | received | coalesced | keys lost | server RSS peak MiB | "
        "after the tabs closed | shells RSS peak MiB | tokens seen in another tab |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for p in result["phases"]:
        lines.append(
            f"| {p['sessions']} | {p['keys']} | {p['commands']} | {p['key_p50_ms']:.0f} | "
            f"{p['key_p95_ms']:.0f} | {p['enter_p50_ms']:.0f} | {p['enter_p95_ms']:.0f} | "
            f"{p['frames_drawn']} | {p['frames_received']} | {p['frames_coalesced']} | "
            f"{p['keys_lost']} | {p['server_rss_peak_mib']:.0f} | "
            f"{p['server_rss_after_mib']:.0f} | {p['shells_rss_peak_mib']:.0f} | "
            f"{len(p['leaks'])} |")
    refused = [p["refused"] for p in result["phases"] if p["refused"]]
    last = result["phases"][-1] if result["phases"] else {}
    lines += [
        "",
        f"* Server RSS idle (renderer loaded, no tab): {result['server_rss_idle_mib']:.0f} MiB.",
        f"* Past the cap ({result['cap']} tabs open) a new tab was told: "
        f"\"{refused[0] if refused else 'not tried'}\".",
        "* Processes left after each phase (the tabs closed): "
        + ", ".join(f"{p['sessions']} tabs: {len(p['left_after_phase'])} "
                    f"(gone in {p['seconds_to_clean']} s)" for p in result["phases"]) + ".",
        f"* After the server stopped (exit {result['server_exit']}): "
        f"{len(result['left_after_stop'])} of the {result['processes_seen']} sandbox and shell "
        "processes seen during the run still alive.",
        "* Coalesced frames are by design: a session draws a frame per action, and when a frame "
        "is still going out the server sends the newest one instead (keys are never skipped). "
        "Lost keys (a key whose frame never came within "
        f"{KEY_TIMEOUT:.0f} s) must be 0.",
    ]
    lines.append("* \"After the tabs closed\" is the server's RSS once every tab of the phase has "
                 "gone. CPython and malloc keep freed memory for reuse rather than returning it, "
                 "so read a phase's peak against the previous phase's figure: a leak would add "
                 "up phase after phase, reuse does not.")
    errors = sorted({e for p in result["phases"] for e in p["errors"]})
    if errors:
        lines.append(f"* Errors the tabs saw: {'; '.join(errors)[:400]}")
    if last:
        grown = last["server_rss_peak_mib"] - result["server_rss_idle_mib"]
        per = grown / max(1, last["sessions"])
        lines.append(f"* Memory per tab at {last['sessions']} tabs: about {per:.0f} MiB in the "
                     f"server plus {last['shells_rss_peak_mib'] / max(1, last['sessions']):.0f} "
                     "MiB of sandboxed shell.")
    return "\n".join(lines) + "\n"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sessions", default="1,4,8,16", help="tab counts, comma separated")
    p.add_argument("--seconds", type=float, default=45.0, help="typing time per tab count")
    p.add_argument("--cap", type=int, default=16, help="the server's --max-sessions")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "web_load.md")
    p.add_argument("--json", type=Path, help="also write the figures as JSON")
    args = p.parse_args()
    sessions = [int(x) for x in args.sessions.split(",")]
    result = run(sessions, args.seconds, args.cap)
    command = "python benchmarks/bench_web_load.py " + " ".join(sys.argv[1:])
    text = page(result, command.strip())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1), encoding="utf-8")
    print(text)
    bad = (any(p["leaks"] or p["keys_lost"] or p["left_after_phase"] for p in result["phases"])
           or result["left_after_stop"]
           or any(p["refused"] and p["refused"].startswith("NOT REFUSED")
                  for p in result["phases"]))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

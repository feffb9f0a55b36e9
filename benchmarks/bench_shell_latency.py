"""Shell latency: keystroke -> updated symbolic screen, and command -> final screen.

The path measured is the session loop's, rendering excluded: `ShellBackend.write()` of the
key(s), `read()` until the echo (or the prompt) is back, `Terminal.feed()`, `Terminal.snapshot()`.
Beside it, the same round trip through a bare pexpect bash with no sandbox, no markers and no
emulator: the floor a pty can give.

    python benchmarks/bench_shell_latency.py [--keys 400] [--commands 40]

Writes benchmarks/results/shell_latency.md. Aim: keystroke p50 under 5 ms.
"""

from __future__ import annotations

import argparse
import os
import platform
import select
import string
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pexpect

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from reasoner.backends.shell import ShellBackend  # noqa: E402
from terminal import Terminal  # noqa: E402

COMMANDS = ["echo hi", "ls -la /", "pwd", "cd /tmp", "python3 -c 'print(2**64)'", "seq 100",
            "true"]


def pct(values: list[float], q: float) -> float:
    """The q-quantile (0..1) by nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def wait(sh: ShellBackend, term: Terminal, done: Callable[[], bool], limit: float = 10.0) -> None:
    end = time.perf_counter() + limit
    while not done():
        data = sh.read(0.5)
        if data:
            term.feed(data)
        if time.perf_counter() > end:
            raise RuntimeError("no answer from the shell")


def keystrokes(n: int) -> list[float]:
    """ms from write(key) to a snapshot that shows the echoed key, n keys at the prompt."""
    sh = ShellBackend()
    sh.start(80, 24)
    term = Terminal(80, 24)
    wait(sh, term, lambda: sh.at_prompt and term.lines[0].startswith("user@hnc"))
    times: list[float] = []
    letters = string.ascii_lowercase
    typed = 0
    for i in range(n):
        if typed >= 40:  # keep the line short: Ctrl+U clears it (not timed)
            sh.write(b"\x15")
            wait(sh, term, lambda: term.cursor[1] == 12)
            typed = 0
        key = letters[i % 26]
        col = term.cursor[1]
        t0 = time.perf_counter()
        sh.write(key.encode())
        while True:
            data = sh.read(1.0)
            term.feed(data)
            snap = term.snapshot()
            if snap.cursor[1] == col + 1 and snap.chars[snap.cursor[0]][col] == key:
                break
        times.append((time.perf_counter() - t0) * 1000)
        typed += 1
    sh.close()
    return times


def commands(n: int) -> dict[str, list[float]]:
    """ms from write(line + Enter) to the final screen with the prompt back, per command."""
    sh = ShellBackend()
    sh.start(80, 24)
    term = Terminal(80, 24)
    wait(sh, term, lambda: sh.at_prompt)
    out: dict[str, list[float]] = {c: [] for c in COMMANDS}
    for i in range(n):
        for cmd in COMMANDS:
            t0 = time.perf_counter()
            sh.write(cmd.encode() + b"\r")
            while True:
                data = sh.read(1.0)
                if data:
                    term.feed(data)
                if sh.at_prompt:  # the prompt's end marker came with the last bytes read
                    break
            term.snapshot()
            out[cmd].append((time.perf_counter() - t0) * 1000)
        if i == 0:
            for cmd in COMMANDS:
                out[cmd].clear()  # first round warms caches (python3's imports, ls)
    sh.close()
    return out


def bare_pty(n: int) -> list[float]:
    """The floor: one key into a plain bash (no sandbox, no markers, no emulator) through a
    pexpect-spawned pty, timed with raw os.write/select/os.read."""
    child = pexpect.spawn("/bin/bash", ["--norc", "--noprofile", "-i"],
                          env={"PS1": "$ ", "TERM": "xterm", "PATH": "/usr/bin:/bin"})
    child.delaybeforesend = None
    child.expect_exact("$ ")
    fd = child.child_fd
    times = []
    for i in range(n):
        key = string.ascii_lowercase[i % 26].encode()
        t0 = time.perf_counter()
        os.write(fd, key)
        got = b""
        while key not in got:
            select.select([fd], [], [], 1.0)
            got += os.read(fd, 4096)
        times.append((time.perf_counter() - t0) * 1000)
        if i % 40 == 39:
            os.write(fd, b"\x15")
            time.sleep(0.01)
            select.select([fd], [], [], 0.1)
            os.read(fd, 4096)
    child.close(force=True)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=400)
    parser.add_argument("--commands", type=int, default=40)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" /
                                             "shell_latency.md"))
    args = parser.parse_args()

    keys = keystrokes(args.keys)
    floor = bare_pty(args.keys)
    cmds = commands(args.commands)
    load = os.getloadavg()[0]
    rows = [f"| keystroke -> symbolic screen (sandboxed bash + Terminal) | {len(keys)} | "
            f"{pct(keys, 0.5):.2f} | {pct(keys, 0.95):.2f} |",
            f"| keystroke -> echo, plain bash in a pty (reference floor) | {len(floor)} | "
            f"{pct(floor, 0.5):.2f} | {pct(floor, 0.95):.2f} |"]
    for cmd, ts in cmds.items():
        rows.append(f"| command `{cmd}` -> final screen | {len(ts)} | {pct(ts, 0.5):.2f} | "
                    f"{pct(ts, 0.95):.2f} |")
    all_cmds = [t for ts in cmds.values() for t in ts]
    rows.append(f"| all commands above | {len(all_cmds)} | {pct(all_cmds, 0.5):.2f} | "
                f"{pct(all_cmds, 0.95):.2f} |")
    verdict = "met" if pct(keys, 0.5) < 5 else "NOT met"
    text = "\n".join([
        "## Shell latency (symbolic screen, rendering excluded)",
        "",
        f"Measured by `python benchmarks/bench_shell_latency.py --keys {args.keys} "
        f"--commands {args.commands}` on {platform.machine()}, {os.cpu_count()} CPUs shared "
        f"with other work (1-min load average {load:.1f} at the end), Python "
        f"{platform.python_version()}.",
        "",
        "| path | n | p50 ms | p95 ms |",
        "|---|---:|---:|---:|",
        *rows,
        "",
        f"Target: keystroke p50 < 5 ms: **{verdict}** ({pct(keys, 0.5):.2f} ms). "
        "The keystroke path is write() -> bash/readline echo through the pty -> read() "
        "(marker parsing) -> Terminal.feed() -> snapshot(); "
        "commands are timed from write(line+Enter) to the snapshot with the prompt back "
        "(python3 -c includes the interpreter's start-up inside the sandbox).",
        "",
    ])
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()

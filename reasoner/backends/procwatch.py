"""Is the program in front of a pty waiting for the keyboard, done with what it was sent?

A terminal can't tell "the program is thinking" from "the program waits for input" by its output
alone. Linux can: the foreground process group of the pty (tcgetpgrp) and, for each process in it,
the system call it is blocked in (/proc/PID/syscall). A process asleep in read/poll/select/epoll is
waiting for input (a REPL, an editor, `cat`); one in nanosleep/wait4 or running is busy. The shell
backend uses this to return from `run("python3")` as soon as the prompt is up instead of waiting for
a timeout, while `run("sleep 2")` still waits for the command to finish. `Pump` moves the pty's
output to the screen until then.
"""

from __future__ import annotations

import os
import termios
import time
from collections.abc import Callable
from typing import Protocol

# x86_64 and aarch64 numbers of the calls a program blocks in while waiting for input
_INPUT_WAITS = {
    "x86_64": {0, 7, 23, 232, 270, 271, 281, 441},  # read poll select epoll_wait pselect6 ppoll epoll_pwait epoll_pwait2
    "aarch64": {63, 73, 72, 22, 441},  # read ppoll pselect6 epoll_pwait epoll_pwait2
}
_ARCH = os.uname().machine


def _group_members(pgrp: int) -> list[int]:
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgrp:  # fields after "(comm)": state ppid pgrp ...
            members.append(int(entry))
    return members


def parents() -> dict[int, int]:
    """Every process's parent, from /proc (host pid numbering)."""
    out: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    out[int(entry)] = int(f.read().rsplit(b")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    return out


def alive(pid: int) -> bool:
    """Whether `pid` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return False


def descendants(pid: int) -> set[int]:
    """Every live process below `pid`: what a session or server started and must not outlive it
    (the crash tests and the load benchmark check this from the host's side)."""
    parent = parents()
    out, todo = set(), [pid]
    while todo:
        p = todo.pop()
        kids = [c for c, pp in parent.items() if pp == p]
        out.update(kids)
        todo.extend(kids)
    return {p for p in out if alive(p)}


def foreground_group(fd: int) -> int | None:
    """The pty's foreground process group (host pid numbering), None when it cannot be told."""
    try:
        return os.tcgetpgrp(fd)
    except OSError:
        return None


def foreground_waiting_for_input(fd: int) -> bool | None:
    """True when every process of the pty's foreground group is blocked waiting for input;
    False when one is running or sleeping for another reason; None when it cannot be told."""
    waits = _INPUT_WAITS.get(_ARCH)
    if waits is None:
        return None
    try:
        pgrp = os.tcgetpgrp(fd)
    except OSError:
        return None
    members = _group_members(pgrp)
    if not members:
        return None
    for pid in members:
        try:
            with open(f"/proc/{pid}/syscall") as f:
                call = f.read().split()
        except OSError:
            return None
        if not call or call[0] == "running" or not call[0].lstrip("-").isdigit():
            return False
        if int(call[0]) not in waits:
            return False
    return True


def in_raw_mode(fd: int) -> bool:
    """True when the pty's line discipline is off (editors, pagers, REPLs read key by key)."""
    try:
        return not termios.tcgetattr(fd)[3] & termios.ICANON
    except (termios.error, OSError):
        return False


class Pty(Protocol):
    """What a `Pump` needs of the program behind a pty (the shell backend)."""

    @property
    def at_prompt(self) -> bool: ...

    def read(self, timeout: float) -> bytes: ...

    def write(self, data: bytes) -> None: ...

    def alive(self) -> bool: ...

    def fileno(self) -> int: ...


class Pump:
    """Moves a pty's output into `sink` until the program is done with what it was sent.

    `sink(data)` takes output for the screen and returns the bytes the terminal owes the program
    (answers to its queries), which go straight back: a program that asks for the cursor position
    waits for the answer before it draws anything else.
    """

    def __init__(self, pty: Pty, sink: Callable[[bytes], bytes]) -> None:
        self.pty = pty
        self.sink = sink
        self.moved = 0  # bytes given to the sink

    def _take(self, data: bytes) -> None:
        self.moved += len(data)
        answer = self.sink(data)
        if answer:
            self.pty.write(answer)

    def until(self, timeout: float, *, quiet: float | None = None, idle: float | None = None,
              done: Callable[[], bool] | None = None) -> None:
        """Until `done()`, `timeout` seconds, `quiet` seconds without output after some output
        arrived (0: after the first look), or `idle` seconds with no output at all."""
        start = last = time.monotonic()
        got = False
        while True:
            data = self.pty.read(0.005)
            now = time.monotonic()
            if data:
                self._take(data)
                got, last = True, now
            if done is not None and done():
                # take what is already buffered (the prompt's tail) before stopping
                while data := self.pty.read(0.0):
                    self._take(data)
                return
            if quiet is not None and (got or quiet == 0.0) and now - last >= quiet:
                return
            if idle is not None and not got and now - start >= idle:
                return
            if now - start >= timeout or not self.pty.alive():
                return

    def waiting_for_input(self) -> bool:
        """The foreground program is blocked reading the terminal (a REPL, an editor, `cat`),
        so waiting longer would not change the screen."""
        fd = self.pty.fileno()
        waiting = foreground_waiting_for_input(fd)
        return in_raw_mode(fd) if waiting is None else waiting

    def until_idle(self, limit: float, settle: float) -> None:
        """Until the prompt is back, or the foreground program has been waiting for input, with
        no output, for `settle` seconds (one look is not enough: editors poll briefly for
        typeahead before they act on a key)."""
        deadline = time.monotonic() + limit
        idle_since: float | None = None
        while time.monotonic() < deadline:
            before = self.moved
            self.until(0.01, quiet=0.0)
            now = time.monotonic()
            if self.pty.at_prompt or not self.pty.alive():
                self.until(0.2, quiet=0.005, idle=0.005)
                return
            if self.moved != before or not self.waiting_for_input():
                idle_since = None
            elif idle_since is None:
                idle_since = now
            elif now - idle_since >= settle:
                return

    def until_started(self, shell_group: int | None, limit: float) -> None:
        """Until a command just entered owns the terminal (its process group is the pty's
        foreground) or the prompt is back. A Ctrl+C sent earlier, while bash was still forking,
        would reach bash instead of the command, which then runs on. A builtin keeps bash in the
        foreground: waiting for input (`read`) ends the wait too, a busy one (a `while` loop)
        costs at most `limit`."""
        self.until(0.3, quiet=0.05, idle=0.05)
        deadline = time.monotonic() + limit
        while shell_group is not None and time.monotonic() < deadline:
            if self.pty.at_prompt or not self.pty.alive():
                return
            group = foreground_group(self.pty.fileno())
            if group is None or group != shell_group or self.waiting_for_input():
                return
            self.until(0.01, quiet=0.0)

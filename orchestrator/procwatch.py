"""Is the program in the foreground of a pty waiting for the keyboard?

A terminal can't tell "the program is thinking" from "the program waits for input" by its output
alone. Linux can: the foreground process group of the pty (tcgetpgrp) and, for each process in it,
the system call it is blocked in (/proc/PID/syscall). A process asleep in read/poll/select/epoll is
waiting for input (a REPL, an editor, `cat`); one in nanosleep/wait4 or running is busy. The session
uses this to return from `run("python3")` as soon as the prompt is up instead of waiting for a
timeout, while `run("sleep 2")` still waits for the command to finish.
"""

from __future__ import annotations

import os

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

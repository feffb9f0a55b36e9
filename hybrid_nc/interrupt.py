"""Ctrl+C for a running `Session` from another thread.

`Session.key("Enter")` returns when the command is done, so a thread that wants to stop a long
command (the web page's Ctrl+C, a tape's `Sleep 1` + `Ctrl+C`) cannot call into the session while
it waits - the shell backend is not thread-safe. `make_interruptible(session)` wraps the session's
shell so that `request()` only raises a flag; the thread inside the session reads the shell every
few milliseconds while it waits, and delivers the Ctrl+C there (`ShellBackend.interrupt`: ^C to the
pty, or SIGINT to the foreground job when a raw-mode program turned ^C off).
"""

from __future__ import annotations

import threading
from typing import Any


class InterruptibleShell:
    """A shell backend proxy whose Ctrl+C can be requested from any thread.

    Everything but `read` is the wrapped backend's own; `read` first delivers a pending request.
    """

    def __init__(self, shell: Any) -> None:
        self._shell = shell
        self._pending = threading.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._shell, name)

    @property
    def wrapped(self) -> Any:
        """The shell backend itself."""
        return self._shell

    def request(self) -> None:
        """Ask for a Ctrl+C; thread-safe, delivered at the session thread's next read."""
        self._pending.set()

    @property
    def pending(self) -> bool:
        return self._pending.is_set()

    def read(self, timeout: float) -> bytes:
        """The shell's read, after delivering a pending Ctrl+C."""
        if self._pending.is_set():
            self._pending.clear()
            interrupt = getattr(self._shell, "interrupt", None)
            if callable(interrupt):
                interrupt()
            else:
                self._shell.write(b"\x03")
        data: bytes = self._shell.read(timeout)
        return data


def make_interruptible(session: Any) -> InterruptibleShell | None:
    """Wrap `session.shell` (once) and return the wrapper; None for a session without a shell."""
    shell = getattr(session, "shell", None)
    if shell is None:
        return None
    if not isinstance(shell, InterruptibleShell):
        shell = InterruptibleShell(shell)
        session.shell = shell
    return shell

"""Test helper: drive a ShellBackend and watch the symbolic screen (a Terminal fed by read())."""

from __future__ import annotations

import time
from collections.abc import Callable

from reasoner.backends.shell import ShellBackend
from terminal import Terminal


class Driver:
    """A ShellBackend plus the Terminal its output is fed to (and the replies the terminal owes
    the program written back, as the session loop does)."""

    def __init__(self, shell: ShellBackend, cols: int = 80, rows: int = 24) -> None:
        self.shell = shell
        self.term = Terminal(cols, rows)
        self.raw = bytearray()

    def pump(self, timeout: float = 0.05) -> bytes:
        data = self.shell.read(timeout)
        if data:
            self.raw += data
            self.term.feed(data)
        if self.term.replies:
            for reply in self.term.replies:
                self.shell.write(reply.encode())
            self.term.replies.clear()
        return data

    def settle(self, until: Callable[[], bool] | None = None, timeout: float = 10.0,
               quiet: float = 0.15) -> bool:
        """Feed output until `until()` holds and nothing arrived for `quiet` seconds."""
        end = time.monotonic() + timeout
        last = time.monotonic()
        while time.monotonic() < end:
            if self.pump(0.02):
                last = time.monotonic()
            elif (until is None or until()) and time.monotonic() - last >= quiet:
                return True
        return False

    def type(self, data: bytes | str, until: Callable[[], bool] | None = None,
             timeout: float = 10.0) -> None:
        self.shell.write(data.encode() if isinstance(data, str) else data)
        self.settle(until, timeout)

    def command(self, line: str, timeout: float = 10.0) -> None:
        """Type a line and Enter, wait for the prompt."""
        self.shell.write(line.encode() + b"\r")
        assert self.settle(lambda: self.shell.at_prompt, timeout), \
            f"no prompt after {line!r}: {self.text()!r}"

    def text(self) -> str:
        return self.term.text

    def lines(self) -> list[str]:
        return [line.rstrip() for line in self.term.lines]

    def last_lines(self, n: int) -> list[str]:
        rows = [line for line in self.lines() if line]
        return rows[-n:]

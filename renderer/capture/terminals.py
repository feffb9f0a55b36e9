"""Real terminal emulators under Xvfb: how each is started, and a session that shows our bytes.

A `TerminalProfile` fixes everything that decides a terminal's pixels: the program, its font (a
fontconfig pattern with a pixel size, so no DPI guess is involved), colours (taken from one of our
themes, so our rasterizer can use the same ones), border, no scrollbar, no blinking, and a focused
window so the cursor is a filled block. `TerminalSession` runs one terminal at one size with our
`feeder.py` inside it, and turns "show these bytes" into "the terminal has drawn them".
"""

from __future__ import annotations

import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from terminal.themes import Theme, get_theme

from .xserver import CaptureError, VirtualDisplay

TerminalName = Literal["xterm", "urxvt"]
FEEDER = Path(__file__).with_name("feeder.py")
HEADER = struct.Struct("<II")
REPLY = struct.Struct("<ii")


@dataclass(frozen=True)
class TerminalProfile:
    """A real terminal and the settings it is captured with.

    Args:
        name: "xterm" or "urxvt" (rxvt-unicode).
        font: fontconfig family of the main face.
        pixel_size: font size in pixels.
        theme: our theme whose fg, bg and 16 colours the terminal is given.
        border: inner border in pixels around the cell grid.
    """

    name: TerminalName = "xterm"
    font: str = "DejaVu Sans Mono"
    pixel_size: int = 13
    theme: str = "dark"
    border: int = 2

    @property
    def program(self) -> str:
        return {"xterm": "xterm", "urxvt": "urxvt"}[self.name]

    def resources(self) -> list[str]:
        """X resources (for -xrm) that pin the colours and behaviour."""
        theme: Theme = get_theme(self.theme)
        hexes = {"foreground": theme.fg, "background": theme.bg, "cursorColor": theme.fg}
        hexes.update({f"color{i}": c for i, c in enumerate(theme.palette)})
        prefix = "XTerm*" if self.name == "xterm" else "URxvt."
        out = [f"{prefix}{k}: #{r:02x}{g:02x}{b:02x}" for k, (r, g, b) in hexes.items()]
        if self.name == "xterm":
            out += [f"XTerm*{k}: {v}" for k, v in (
                ("scrollBar", "false"), ("cursorBlink", "false"), ("alwaysHighlight", "true"),
                ("allowWindowOps", "false"), ("allowTitleOps", "false"), ("c132", "false"),
                ("termName", "xterm-256color"), ("visualBell", "false"), ("bellIsUrgent", "false"),
                ("utf8", "1"), ("locale", "false"), ("renderFont", "true"),
                ("internalBorder", str(self.border)), ("borderWidth", "0"),
            )]
        else:
            out += [f"URxvt.{k}: {v}" for k, v in (
                ("scrollBar", "false"), ("cursorBlink", "false"), ("perl-ext-common", ""),
                ("perl-ext", ""), ("iso14755", "false"), ("iso14755_52", "false"),
                ("internalBorder", str(self.border)), ("externalBorder", "0"),
                ("letterSpace", "0"), ("lineSpace", "0"), ("termName", "xterm-256color"),
                ("urgentOnBell", "false"), ("visualBell", "false"), ("pointerBlank", "false"),
            )]
        return out

    def argv(self, cols: int, rows: int, command: list[str]) -> list[str]:
        """The command line that starts the terminal at `cols` x `rows` running `command`."""
        args = [self.program, "-geometry", f"{cols}x{rows}+0+0", "-name", self.program]
        if self.name == "xterm":
            args += ["-fa", f"{self.font}:pixelsize={self.pixel_size}", "-b", str(self.border),
                     "-bw", "0", "+sb", "-u8"]
        else:
            args += ["-fn", f"xft:{self.font}:pixelsize={self.pixel_size}",
                     "-b", str(self.border), "-bw", "0", "+sb"]
        for res in self.resources():
            args += ["-xrm", res]
        return [*args, "-e", *command]

    def key(self) -> dict[str, object]:
        """The settings as JSON-able data (recorded with every capture)."""
        return {"terminal": self.name, "font": self.font, "pixel_size": self.pixel_size,
                "theme": self.theme, "border": self.border}


def count_cursor_queries(data: bytes) -> int:
    """How many cursor position reports `data` asks the terminal for (DSR `CSI 6 n`)."""
    return data.count(b"\x1b[6n")


class TerminalSession:
    """One terminal at one size on a virtual display, showing the bytes it is given.

    Use as a context manager. `show(data)` writes `data` to the terminal's tty and returns when
    the terminal has processed it (the cursor it reports, 0-based); `grab()` then reads the window
    once its pixels have stopped changing.
    """

    def __init__(self, display: VirtualDisplay, profile: TerminalProfile, cols: int, rows: int,
                 settle_s: float = 0.03) -> None:
        self.display, self.profile = display, profile
        self.cols, self.rows = cols, rows
        self.settle_s = settle_s
        self.window = 0
        self.window_size = (0, 0)
        self._proc: subprocess.Popen[bytes] | None = None
        self._conn: socket.socket | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._log = ""

    def __enter__(self) -> TerminalSession:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self, timeout_s: float = 30.0) -> None:
        """Start the terminal with the feeder inside and wait until its window is ready."""
        if shutil.which(self.profile.program) is None:
            package = {"xterm": "xterm", "urxvt": "rxvt-unicode"}[self.profile.name]
            raise CaptureError(f"{self.profile.program} not found (apt-get install {package})")
        self._tmp = tempfile.TemporaryDirectory(prefix="hnc-capture-")
        path = os.path.join(self._tmp.name, "feed.sock")
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(path)
        server.listen(1)
        server.settimeout(timeout_s)
        env = {k: v for k, v in os.environ.items() if k not in ("LANG", "LANGUAGE")}
        env.update(self.display.env, LC_ALL="C.UTF-8", LANG="C.UTF-8", HOME=self._tmp.name)
        argv = self.profile.argv(self.cols, self.rows, [sys.executable, "-I", str(FEEDER), path])
        # stderr to a file, not a pipe: a chatty terminal must never block on a full pipe
        self._log = os.path.join(self._tmp.name, "stderr.txt")
        for attempt in range(3):
            try:
                with open(self._log, "wb") as log:
                    self._proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL,
                                                  stdout=subprocess.DEVNULL, stderr=log)
                break
            except OSError as e:  # EAGAIN when the machine is briefly out of processes
                if attempt == 2:
                    server.close()
                    raise CaptureError(f"cannot start {self.profile.program}: {e}") from None
                time.sleep(1.0 + attempt)
        try:
            self._conn, _ = server.accept()
        except TimeoutError:
            err = self._stderr()
            self.close()
            raise CaptureError(f"{self.profile.program} did not start: {err}") from None
        finally:
            server.close()
        self._conn.settimeout(timeout_s)
        hello = b""
        while not hello.endswith(b"\n"):
            chunk = self._conn.recv(64)
            if not chunk:
                raise CaptureError(f"{self.profile.program} closed before it was ready")
            hello += chunk
        self.window = int(hello.split()[0])
        if not self.window:
            raise CaptureError(f"{self.profile.program} did not set WINDOWID")
        # the window may be mapped a moment after the child starts: wait for its final size
        deadline = time.monotonic() + timeout_s
        last = (-1, -1)
        while time.monotonic() < deadline:
            size = self.display.size(self.window)
            if size == last and size[0] > self.cols and size[1] > self.rows:
                break
            last = size
            time.sleep(0.1)
        self.window_size = last
        self.display.focus(self.window)

    def _stderr(self) -> str:
        if self._proc is None or self._proc.poll() is None:
            return "no answer"
        text = Path(self._log).read_text("utf-8", "replace").strip()
        return text.splitlines()[-1] if text else f"exit status {self._proc.returncode}"

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None and self._conn is not None

    def show(self, data: bytes) -> tuple[int, int]:
        """Make the terminal process `data`; returns the cursor it reports, (row, col) 0-based."""
        if not self.alive or self._conn is None:
            raise CaptureError(f"{self.profile.program} is not running")
        self._conn.sendall(HEADER.pack(len(data), count_cursor_queries(data)) + data)
        reply = b""
        while len(reply) < REPLY.size:
            try:
                chunk = self._conn.recv(REPLY.size - len(reply))
            except TimeoutError:
                chunk = b""
            if not chunk:
                raise CaptureError(f"{self.profile.program} stopped answering")
            reply += chunk
        row, col = REPLY.unpack(reply)
        if row <= 0:
            raise CaptureError(f"{self.profile.program} did not confirm the drawing (timeout)")
        return row - 1, col - 1

    def grab(self, tries: int = 12) -> tuple[np.ndarray, bool]:
        """The window's pixels once two reads a moment apart agree: ((H, W, 3), stable)."""
        time.sleep(self.settle_s)
        prev = self.display.grab(self.window)
        for _ in range(tries):
            time.sleep(self.settle_s)
            cur = self.display.grab(self.window)
            if cur.shape == prev.shape and np.array_equal(cur, prev):
                return cur, True
            prev = cur
        return prev, False

    def close(self) -> None:
        """Hang up on the feeder (the terminal then exits) and make sure the process is gone."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._proc is not None:
            try:
                self._proc.wait(3)
            except subprocess.TimeoutExpired:
                self._proc.terminate()
                try:
                    self._proc.wait(3)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                    self._proc.wait()
            self._proc = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

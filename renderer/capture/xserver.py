"""A private X server (Xvfb) and the X calls the capture needs: focus a window, read its pixels.

Xvfb picks a free display number itself (`-displayfd`), so parallel captures and a developer's own
X session never collide. Pixels are read with python-xlib's GetImage on the terminal's window: no
screenshot tool, no image conversion, a few milliseconds per frame. The server's software pointer is
not part of GetImage's answer, so it never shows in a capture.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from typing import Any

import numpy as np


class CaptureError(RuntimeError):
    """The capture machinery failed (no Xvfb, a terminal that would not start, a timeout)."""


class VirtualDisplay:
    """An Xvfb server of its own; use as a context manager.

    Args:
        width, height: screen size in pixels (big enough for the largest terminal window).
    """

    def __init__(self, width: int = 2048, height: int = 1536) -> None:
        self.width, self.height = width, height
        self.proc: subprocess.Popen[bytes] | None = None
        self.name = ""
        self._x: Any = None  # Xlib.display.Display (python-xlib has no type hints)

    def __enter__(self) -> VirtualDisplay:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """Start Xvfb and connect to it; raises CaptureError if it cannot."""
        if shutil.which("Xvfb") is None:
            raise CaptureError("Xvfb not found (apt-get install xvfb)")
        try:
            from Xlib import display as xdisplay
        except ImportError:
            raise CaptureError("python-xlib is not installed (pip install python-xlib)") from None
        read_fd, write_fd = os.pipe()
        self.proc = subprocess.Popen(
            ["Xvfb", "-displayfd", str(write_fd), "-screen", "0",
             f"{self.width}x{self.height}x24", "-nolisten", "tcp", "-nocursor"],
            pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(write_fd)
        number = b""
        deadline = time.monotonic() + 20
        try:
            while not number.endswith(b"\n"):
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise CaptureError("Xvfb did not start")
                chunk = os.read(read_fd, 16)
                if not chunk:
                    raise CaptureError("Xvfb exited before it named its display")
                number += chunk
        finally:
            os.close(read_fd)
        self.name = f":{int(number)}"
        self._x = xdisplay.Display(self.name)

    def stop(self) -> None:
        """Disconnect and end the server (idempotent)."""
        if self._x is not None:
            with contextlib.suppress(Exception):  # the server may be gone: nothing to release
                self._x.close()
            self._x = None
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    @property
    def env(self) -> dict[str, str]:
        """Environment for programs that should draw on this display."""
        return {"DISPLAY": self.name}

    def _window(self, window_id: int) -> Any:
        if self._x is None:
            raise CaptureError("the virtual display is not running")
        return self._x.create_resource_object("window", window_id)

    def size(self, window_id: int) -> tuple[int, int]:
        """(width, height) of a window in pixels."""
        geom = self._window(window_id).get_geometry()
        return int(geom.width), int(geom.height)

    def focus(self, window_id: int) -> None:
        """Give a window the keyboard focus: terminals draw a hollow cursor without it."""
        from Xlib import X

        self._window(window_id).set_input_focus(X.RevertToPointerRoot, X.CurrentTime)
        self._x.sync()

    def grab(self, window_id: int) -> np.ndarray:
        """The window's pixels now: (H, W, 3) uint8 RGB."""
        from Xlib import X

        win = self._window(window_id)
        w, h = self.size(window_id)
        image = win.get_image(0, 0, w, h, X.ZPixmap, 0xFFFFFFFF)
        px = np.frombuffer(image.data, np.uint8)
        if px.size != w * h * 4:
            raise CaptureError(f"unexpected image format: depth {image.depth}, {px.size} bytes")
        px = px.reshape(h, w, 4)
        if self._x.display.info.image_byte_order == X.LSBFirst:
            return px[..., 2::-1].copy()  # B G R X in memory
        return px[..., 1:4].copy()  # X R G B

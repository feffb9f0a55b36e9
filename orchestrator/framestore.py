"""Frames kept for `Session.export`, compressed row strip by row strip.

A neural frame is noisy at the level of single 8-bit steps, so zlib needs ~14 ms for a whole
80x24 frame here - as long as drawing the keystroke's row. Most frames change a row or two:
compressing each cell-row strip on its own and reusing the bytes of strips equal to the previous
frame's costs one strip per keystroke, and the reused bytes objects are shared, not copied.
"""

from __future__ import annotations

import zlib

import numpy as np


class RowCompressor:
    """Compresses a stream of frames; `compress` returns one zlib blob per row strip.

    Args:
        level: zlib level (1: fastest).
    """

    def __init__(self, level: int = 1) -> None:
        self.level = level
        self._prev: np.ndarray | None = None
        self._blobs: tuple[bytes, ...] = ()

    def compress(self, frame: np.ndarray, rows: int) -> tuple[bytes, ...]:
        """Blobs of `frame` (H, W, C) uint8 cut into `rows` strips (one strip when H is not a
        multiple of `rows`)."""
        frame = np.ascontiguousarray(frame, np.uint8)
        n = rows if rows > 0 and frame.shape[0] % rows == 0 else 1
        strips = np.split(frame, n)
        prev = self._prev
        old = (np.split(prev, n) if prev is not None and prev.shape == frame.shape
               and len(self._blobs) == n else None)
        blobs = tuple(self._blobs[i] if old is not None and np.array_equal(s, old[i])
                      else zlib.compress(s.tobytes(), self.level) for i, s in enumerate(strips))
        self._prev = frame.copy()
        self._blobs = blobs
        return blobs


def decompress(shape: tuple[int, ...], blobs: bytes | tuple[bytes, ...]) -> np.ndarray:
    """The frame back from `RowCompressor.compress`'s blobs (or one whole-frame blob)."""
    if isinstance(blobs, bytes):
        blobs = (blobs,)
    return np.frombuffer(b"".join(zlib.decompress(b) for b in blobs), np.uint8).reshape(shape)

"""What a session did, kept for `save()`, `export()` and `report()`.

    terminal input and output --> asciicast events (and a live recording, appended and flushed
                                  per event, so a killed session leaves every completed step)
    drawn frames              --> row strips compressed (framestore), for a video
    steps                     --> their report entries (light: no pixels)
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from renderer.media import retime, write_video
from terminal.recording import CastWriter, write_cast

from .framestore import RowCompressor, decompress

_HEADER: dict[str, Any] = {"title": "hybrid-nc session", "env": {"TERM": "xterm-256color"}}
# seconds: pauses longer than this are cut in videos, and players cut them in recordings (the
# header's idle_time_limit, asciinema's convention); a shell starting up is not worth watching
IDLE_TIME_LIMIT = 2.0


class Recorder:
    """The session's history.

    Args:
        cols, rows: the terminal size at the start (the recording's header).
        max_frames: frames kept for export (older ones are dropped).
        max_records: report entries kept.
    """

    def __init__(self, cols: int, rows: int, *, max_frames: int = 2000,
                 max_records: int = 1000) -> None:
        self.cols, self.rows = cols, rows
        self.t0 = time.monotonic()
        self.events: list[tuple[float, str, str]] = []
        self.records: deque[dict[str, Any]] = deque(maxlen=max_records)
        self._live: CastWriter | None = None
        # (time, step index, shape, compressed rows)
        self._frames: deque[tuple[float, int, tuple[int, ...], Future[tuple[bytes, ...]]]] = \
            deque(maxlen=max_frames)
        self._compressor = RowCompressor()  # row strips: a keystroke compresses one row
        # zlib releases the GIL: a full noisy frame (~10 ms) is compressed beside the next one
        # being drawn, in order, by one thread (the compressor compares each frame with the last)
        self._packer = ThreadPoolExecutor(1, thread_name_prefix="hybrid-nc-recorder")

    def record_to(self, path: str | os.PathLike[str]) -> None:
        """Also append every event to the asciicast at `path` as it happens."""
        self._live = CastWriter(path, self.cols, self.rows, idle_time_limit=IDLE_TIME_LIMIT,
                                **_HEADER)

    def event(self, code: str, data: str) -> None:
        """An asciicast event: "o" output, "i" input, "r" resize ("COLSxROWS")."""
        t = time.monotonic() - self.t0
        self.events.append((t, code, data))
        if self._live is not None:
            self._live.event(code, data, t)

    def frame(self, frame: np.ndarray, cell_rows: int, record: dict[str, Any]) -> None:
        """A drawn frame (H, W, 3) of `cell_rows` terminal rows, and its step's report entry."""
        self._frames.append((time.monotonic() - self.t0, int(record.get("index", 0)),
                             frame.shape,
                             self._packer.submit(self._compressor.compress, frame, cell_rows)))
        self.records.append(record)

    @property
    def frames(self) -> int:
        return len(self._frames)

    def report(self) -> dict[str, Any]:
        """The kept steps' report entries and their summary (report.json's "steps", "summary")."""
        steps = list(self.records)
        raw = [s["accuracy"]["raw"] for s in steps if s["accuracy"]]
        rep = [s["accuracy"]["repaired"] for s in steps if s["accuracy"]]
        return {"steps": steps,
                "summary": {"steps": len(steps),
                            "accuracy_raw_mean": float(np.mean(raw)) if raw else None,
                            "accuracy_repaired_mean": float(np.mean(rep)) if rep else None}}

    def save(self, path: str | os.PathLike[str],
             idle_time_limit: float | None = IDLE_TIME_LIMIT) -> Path:
        """Write the events as an asciicast v2 recording, at their real times; the header's
        `idle_time_limit` (None or 0: none) tells players to cut longer pauses."""
        limit = {"idle_time_limit": idle_time_limit} if idle_time_limit else {}
        return Path(write_cast(path, self.cols, self.rows, self.events, **limit, **_HEADER))

    def export(self, path: str | os.PathLike[str], fps: float = 10.0, *,
               idle_time_limit: float | None = IDLE_TIME_LIMIT,
               holds: Mapping[int, float] | None = None) -> Path:
        """Write the kept frames as a video (.mp4) or animation (.gif), paced by
        `renderer.media.retime`: pauses cut to `idle_time_limit` seconds (None or 0: real
        time), and each step in `holds` (step index -> seconds) on screen at least that long."""
        frames = list(self._frames)
        holds = holds or {}
        times, end = retime([t for t, *_ in frames], idle_time_limit=idle_time_limit,
                            holds=[float(holds.get(index, 0.0)) for _t, index, *_ in frames])

        def decode() -> Iterator[np.ndarray]:
            for _t, _index, shape, blobs in frames:
                yield decompress(shape, blobs.result())

        return Path(write_video(path, decode(), times=times, end=end, fps=fps))

    def close(self) -> None:
        self._packer.shutdown(wait=True)
        if self._live is not None:
            self._live.close()
            self._live = None

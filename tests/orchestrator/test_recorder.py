"""orchestrator.recorder: the session's history as a recording and a video paced for a viewer
(waits cut to the idle time limit, steps held on screen)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from orchestrator import recorder as recorder_module
from orchestrator.recorder import IDLE_TIME_LIMIT, Recorder
from terminal.recording import read_cast


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    c = Clock()
    monkeypatch.setattr(recorder_module.time, "monotonic", c)
    return c


def solid(value: int) -> np.ndarray:
    return np.full((16, 8, 3), value, np.uint8)


def record(clock: Clock) -> Recorder:
    """A shell that takes 12.5 s to start, then three quick steps (frame times 0.5, 13 .. 13.2)."""
    rec = Recorder(1, 1)
    for index, (t, value) in enumerate([(0.5, 10), (13.0, 60), (13.1, 120), (13.2, 200)], 1):
        clock.now = 100.0 + t
        rec.event("o", str(index))
        rec.frame(solid(value), 1, {"index": index, "accuracy": {}})
    return rec


def gif_timeline(path: Path) -> list[tuple[int, int]]:
    """(grey level, milliseconds) of each frame of a GIF (identical neighbours are merged)."""
    gif = Image.open(path)
    out = []
    for i in range(gif.n_frames):
        gif.seek(i)
        out.append((gif.convert("RGB").getpixel((0, 0))[0], gif.info["duration"]))
    return out


def test_export_cuts_waits_to_the_idle_time_limit(clock: Clock, tmp_path: Path) -> None:
    rec = record(clock)
    rec.export(tmp_path / "paced.gif", fps=10)
    assert gif_timeline(tmp_path / "paced.gif") == [
        (10, int(IDLE_TIME_LIMIT * 1000)), (60, 100), (120, 100), (200, 100)]
    rec.export(tmp_path / "real.gif", fps=10, idle_time_limit=None)
    assert gif_timeline(tmp_path / "real.gif")[0] == (10, 12500)


def test_export_holds_steps_long_enough_to_read(clock: Clock, tmp_path: Path) -> None:
    rec = record(clock)
    rec.export(tmp_path / "held.gif", fps=10, idle_time_limit=1.0, holds={2: 2.0, 4: 1.5})
    assert gif_timeline(tmp_path / "held.gif") == [(10, 1000), (60, 2000), (120, 100),
                                                   (200, 1500)]


def test_mp4_frame_timestamps(clock: Clock, tmp_path: Path) -> None:
    import imageio.v3 as iio

    rec = record(clock)
    out = rec.export(tmp_path / "paced.mp4", fps=4, holds={4: 2.0})
    # 0.0: start; 2.0: the capped wait; 2.2: two quick steps; held to 4.2: 17 frames at 4/s
    frames = iio.imread(out, index=None)
    assert len(frames) == 17
    levels = [int(f[0, 0, 0]) for f in frames]
    assert levels[:8] == pytest.approx([10] * 8, abs=3)  # t < 2.0
    assert levels[-8:] == pytest.approx([200] * 8, abs=3)  # the held last step


def test_saved_recording_tells_players_to_cut_waits(clock: Clock, tmp_path: Path) -> None:
    rec = record(clock)
    path = rec.save(tmp_path / "s.cast")
    header = json.loads(path.read_text().splitlines()[0])
    assert header["idle_time_limit"] == IDLE_TIME_LIMIT
    times = [e.time for e in read_cast(path).events]
    assert max(b - a for a, b in zip(times, times[1:], strict=False)) <= IDLE_TIME_LIMIT
    raw = rec.save(tmp_path / "raw.cast", idle_time_limit=None)
    assert "idle_time_limit" not in json.loads(raw.read_text().splitlines()[0])

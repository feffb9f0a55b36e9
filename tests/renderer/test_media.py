"""renderer.media: MP4/GIF/PNG writing, resampling to a constant frame rate, atomic outputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from renderer.media import (
    FrameDir,
    MediaError,
    VideoWriter,
    atomic_write_text,
    even_size,
    fit_frame,
    resample,
    retime,
    save_png,
    write_video,
)


def frame(value: int, h: int = 16, w: int = 24) -> np.ndarray:
    out = np.zeros((h, w, 3), np.uint8)
    out[:] = value
    return out


def partials(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if "partial" in p.name]


def test_resample_holds_each_frame_until_the_next() -> None:
    frames = [frame(10), frame(20), frame(30)]
    out = list(resample(frames, [0.0, 0.25, 0.5], fps=10))
    assert [int(f[0, 0, 0]) for f in out] == [10, 10, 10, 20, 20, 30]
    assert list(resample([], [], fps=10)) == []


def test_retime_cuts_waits_and_holds_frames_for_reading() -> None:
    # a start-up wait, then three quick steps
    times = [0.5, 13.0, 13.1, 13.2]
    assert retime(times) == ([0.0, 12.5, 12.6, 12.7], 12.7)
    new, end = retime(times, idle_time_limit=2.0)
    assert new == pytest.approx([0.0, 2.0, 2.1, 2.2]) and end == pytest.approx(2.2)
    # a hold wins over the limit, and the last frame's hold extends the end
    new, end = retime(times, idle_time_limit=2.0, holds=[0.0, 3.0, 0.0, 1.5])
    assert new == pytest.approx([0.0, 2.0, 5.0, 5.1]) and end == pytest.approx(6.6)
    with pytest.raises(ValueError):
        retime(times, holds=[1.0])


def test_resample_holds_the_last_frame_until_the_end() -> None:
    out = list(resample([frame(10), frame(20)], [0.0, 0.2], fps=10, end=0.6))
    assert [int(f[0, 0, 0]) for f in out] == [10, 10, 20, 20, 20, 20]


def test_fit_frame_and_even_size() -> None:
    f = frame(0, 3, 5)
    f[-1, -1] = 7
    padded = fit_frame(f, (6, 4))
    assert padded.shape == (4, 6, 3) and padded[3, 5, 0] == 7 and padded[0, 0, 0] == 0
    assert fit_frame(padded, (5, 3)).shape == (3, 5, 3)
    assert even_size(5, 3) == (6, 4) and even_size(8, 16) == (8, 16)


def test_mp4_from_irregular_times(tmp_path: Path) -> None:
    import imageio

    out = write_video(tmp_path / "v.mp4", [frame(0, 15, 21), frame(255, 15, 21)],
                      times=[0.0, 0.95], fps=10)
    frames = [f for f in imageio.get_reader(out)]  # the reader's len() is inf
    assert len(frames) == 11 and frames[0].shape == (16, 22, 3)  # odd sizes made even
    assert frames[0].mean() < 20 and frames[-1].mean() > 235
    assert partials(tmp_path) == []


def test_gif_merges_identical_frames(tmp_path: Path) -> None:
    out = write_video(tmp_path / "a.gif", [frame(0), frame(0), frame(0), frame(200)], fps=4)
    gif = Image.open(out)
    assert gif.n_frames == 2
    assert gif.info["duration"] == 750


@pytest.mark.parametrize("name", ["v.mp4", "v.gif"])
def test_a_bad_frame_leaves_nothing(tmp_path: Path, name: str) -> None:
    with pytest.raises(MediaError, match="uint8"), VideoWriter(tmp_path / name, fps=5) as video:
        video.add(frame(1))
        video.add(np.zeros((16, 24, 3), np.float32))
    assert list(tmp_path.iterdir()) == []


def test_bad_paths_and_options(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match=r"\.mp4 or \.gif"):
        VideoWriter(tmp_path / "v.avi")
    with pytest.raises(MediaError, match="does not exist"):
        VideoWriter(tmp_path / "nope" / "v.mp4")
    with pytest.raises(MediaError, match="fps"):
        VideoWriter(tmp_path / "v.mp4", fps=0)
    with pytest.raises(MediaError, match="no frames"):
        VideoWriter(tmp_path / "v.gif").close()
    assert list(tmp_path.iterdir()) == []


def test_atomic_text_png_and_frame_dir(tmp_path: Path) -> None:
    atomic_write_text(tmp_path / "s.json", "{}\n")
    assert (tmp_path / "s.json").read_text() == "{}\n"
    save_png(frame(9), tmp_path / "f.png")
    assert Image.open(tmp_path / "f.png").size == (24, 16)
    with FrameDir(tmp_path / "frames") as d:
        d.add(frame(1))
        d.add(frame(2))
    assert sorted(p.name for p in (tmp_path / "frames").iterdir()) == ["frame_000000.png",
                                                                       "frame_000001.png"]
    with pytest.raises(RuntimeError), FrameDir(tmp_path / "more") as d:
        d.add(frame(1))
        raise RuntimeError("interrupted")
    assert list((tmp_path / "more").iterdir()) == [] and partials(tmp_path) == []

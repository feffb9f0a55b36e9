"""Frames to files: MP4 (H.264 via imageio-ffmpeg), GIF (Pillow) and PNG folders, written atomically.

Every writer works on a temporary file in the target folder and renames it into place only when
everything was written, so a failure (a full disk, a killed process, a bad frame) never leaves a
file that looks complete. Frames are (H, W, 3) uint8 arrays; frames of another size than the video
are padded (with their bottom-right pixel, normally the background) or cropped, and the video size
is rounded up to even numbers, which H.264 in yuv420p needs.

    with VideoWriter("out.mp4", fps=10) as video:
        for frame in frames:
            video.add(frame)

`write_video(path, frames, fps=..., times=...)` does the same in one call, resampling frames that
arrive at irregular `times` to the constant frame rate a video has; `retime` paces such times for
a viewer first (long pauses cut, a minimum time on screen per frame).
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

VIDEO_SUFFIXES = (".mp4", ".gif")


class MediaError(ValueError):
    """A video or image that cannot be written (bad path, bad frame, encoder failure)."""


def _check_target(path: Path) -> None:
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise MediaError(f"cannot write {path}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise MediaError(f"cannot write {path}: folder {parent} is not writable")
    if path.is_dir():
        raise MediaError(f"cannot write {path}: it is a folder")


def _temp_name(path: Path, suffix: str) -> Path:
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".partial{suffix}",
                                dir=path.parent if str(path.parent) else ".")
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(name, 0o666 & ~umask)  # mkstemp makes it private; the result is an ordinary file
    return Path(name)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write `data` to `path` through a temporary file and a rename."""
    target = Path(path)
    _check_target(target)
    tmp = _temp_name(target, target.suffix)
    try:
        tmp.write_bytes(data)
        os.replace(tmp, target)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise MediaError(f"cannot write {target}: {e.strerror or e}") from None
    return target


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write UTF-8 `text` to `path` through a temporary file and a rename."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def save_png(frame: Any, path: str | os.PathLike[str]) -> Path:
    """Save one (H, W, 3) uint8 frame (or a PIL image) as a PNG, atomically."""
    import io

    img = frame if isinstance(frame, Image.Image) else Image.fromarray(_as_frame(frame))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return atomic_write_bytes(path, buf.getvalue())


def _as_frame(frame: Any) -> np.ndarray:
    arr = np.asarray(frame)
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8:
        raise MediaError(f"a frame must be an (H, W, 3) uint8 array, got {arr.dtype} {arr.shape}")
    return arr


def fit_frame(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Pad (with the bottom-right pixel) or crop `frame` to `size` = (width, height)."""
    w, h = size
    fh, fw = frame.shape[:2]
    if (fw, fh) == (w, h):
        return frame
    out = np.empty((h, w, 3), np.uint8)
    out[:] = frame[-1, -1]
    out[: min(h, fh), : min(w, fw)] = frame[:h, :w]
    return out


def even_size(width: int, height: int) -> tuple[int, int]:
    """The size rounded up to even numbers (yuv420p needs them)."""
    return width + width % 2, height + height % 2


def retime(times: Sequence[float], *, idle_time_limit: float | None = None,
           holds: Sequence[float] | None = None) -> tuple[list[float], float]:
    """When frames shown at `times` (seconds, non-decreasing) appear in a video, paced for a
    viewer: the first at 0, every pause cut to at most `idle_time_limit` (asciinema's
    convention: a wait is shown, not sat through), then stretched to at least the frame's
    `holds` entry (seconds it stays up so it can be read; it wins over the limit). Returns
    (times, end): end is when the last frame's hold is over (its own time without a hold)."""
    if holds is not None and len(holds) != len(times):
        raise ValueError(f"{len(holds)} holds for {len(times)} frames")
    limit = idle_time_limit if idle_time_limit and idle_time_limit > 0 else math.inf
    out: list[float] = []
    now = 0.0
    for i, t in enumerate(times):
        out.append(now)
        gap = min(max(times[i + 1] - t, 0.0), limit) if i + 1 < len(times) else 0.0
        now += max(gap, holds[i] if holds is not None else 0.0)
    return out, now


def resample(frames: Iterable[np.ndarray], times: Sequence[float], fps: float,
             end: float | None = None) -> Iterator[np.ndarray]:
    """Frames shown at `times` (seconds, non-decreasing) as a constant-`fps` sequence: output
    frame k is the last input frame at or before k / fps, up to the first k / fps that reaches
    the last frame's time, or up to `end` (the last frame is held until then)."""
    it = iter(frames)
    times = list(times)
    if not times:
        return
    current = next(it, None)
    if current is None:
        return
    n_out = int(np.ceil(times[-1] * fps - 1e-9)) + 1  # the last frame is shown, at least once
    if end is not None:
        n_out = max(n_out, int(np.ceil(end * fps - 1e-9)))
    i = 0  # index of `current` in times
    for k in range(n_out):
        t = k / fps
        while i + 1 < len(times) and times[i + 1] <= t + 1e-9:
            nxt = next(it, None)
            if nxt is None:
                break
            current, i = nxt, i + 1
        yield current


class VideoWriter:
    """Write frames to an .mp4 (H.264, yuv420p) or .gif, atomically.

    Args:
        path: the output file; its suffix picks the format.
        fps: frames per second.
        size: (width, height) of the video; default: the first frame's.
        crf: H.264 constant rate factor (0 lossless .. 51 worst); text stays crisp at the default.
        scale: integer pixel repeat. At 2, yuv420p's half-resolution colour covers exactly one
            source pixel, so coloured text survives the encoding (the cell OCR reads MP4 frames
            back exactly); `size` is before scaling.
    """

    def __init__(self, path: str | os.PathLike[str], fps: float = 10.0,
                 size: tuple[int, int] | None = None, crf: int = 12, scale: int = 1) -> None:
        self.path = Path(path)
        self.suffix = self.path.suffix.lower()
        if self.suffix not in VIDEO_SUFFIXES:
            raise MediaError(f"cannot write {self.path}: the name must end in .mp4 or .gif")
        if not (0 < fps <= 240):
            raise MediaError(f"fps must be in (0, 240], got {fps}")
        _check_target(self.path)
        if not (isinstance(scale, int) and 1 <= scale <= 8):
            raise MediaError(f"scale must be an integer 1..8, got {scale!r}")
        self.fps = float(fps)
        self.crf = int(crf)
        self.scale = scale
        self.size = even_size(*size) if size else None
        self.frames_written = 0
        self._tmp = _temp_name(self.path, self.suffix)
        self._ffmpeg: Any = None
        self._gif: list[Image.Image] = []
        self._gif_ms: list[int] = []
        self._last_gif: bytes | None = None
        self._done = False

    def add(self, frame: np.ndarray) -> None:
        """Append one frame."""
        if self._done:
            raise MediaError(f"{self.path}: the video is already closed")
        frame = _as_frame(frame)
        if self.size is None:
            self.size = even_size(frame.shape[1], frame.shape[0])
        frame = fit_frame(frame, self.size)
        if self.scale > 1:
            frame = np.repeat(np.repeat(frame, self.scale, 0), self.scale, 1)
        frame = np.ascontiguousarray(frame)
        try:
            if self.suffix == ".mp4":
                self._add_mp4(frame)
            else:
                self._add_gif(frame)
        except (OSError, RuntimeError, StopIteration) as e:
            self.abort()
            raise MediaError(f"cannot write {self.path}: {_one_line(e)}") from None
        self.frames_written += 1

    def _add_mp4(self, frame: np.ndarray) -> None:
        if self._ffmpeg is None:
            import imageio_ffmpeg

            assert self.size is not None
            w, h = self.size
            self._ffmpeg = imageio_ffmpeg.write_frames(
                str(self._tmp), (w * self.scale, h * self.scale), fps=self.fps, codec="libx264", pix_fmt_in="rgb24",
                pix_fmt_out="yuv420p", quality=None, macro_block_size=1,
                ffmpeg_log_level="error",
                output_params=["-crf", str(self.crf), "-preset", "fast", "-f", "mp4",
                               "-movflags", "+faststart"])
            self._ffmpeg.send(None)
        self._ffmpeg.send(frame)

    def _add_gif(self, frame: np.ndarray) -> None:
        # a GIF has per-frame durations: a frame equal to the last one only extends it
        ms = 1000.0 / self.fps
        raw = frame.tobytes()
        if raw == self._last_gif and self._gif_ms:
            self._gif_ms[-1] += round(ms)
            return
        self._last_gif = raw
        img = Image.fromarray(frame)
        self._gif.append(img.quantize(colors=256, method=Image.Quantize.FASTOCTREE,
                                      dither=Image.Dither.NONE))
        self._gif_ms.append(round(ms))

    def close(self) -> Path:
        """Finish the file and move it into place; returns its path."""
        if self._done:
            return self.path
        if self.frames_written == 0:
            self.abort()
            raise MediaError(f"cannot write {self.path}: no frames")
        try:
            if self.suffix == ".mp4":
                self._ffmpeg.close()
            else:
                first, rest = self._gif[0], self._gif[1:]
                first.save(self._tmp, format="GIF", save_all=True, append_images=rest,
                           duration=self._gif_ms, loop=0, disposal=1)
            os.replace(self._tmp, self.path)
        except Exception as e:
            self.abort()
            raise MediaError(f"cannot write {self.path}: {_one_line(e)}") from None
        self._done = True
        return self.path

    def abort(self) -> None:
        """Stop and remove the partial file."""
        self._done = True
        if self._ffmpeg is not None:
            with contextlib.suppress(Exception):
                self._ffmpeg.close()
            self._ffmpeg = None
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        if exc_type is not None:
            self.abort()
        else:
            self.close()


def write_video(path: str | os.PathLike[str], frames: Iterable[np.ndarray], *,
                fps: float = 10.0, times: Sequence[float] | None = None,
                end: float | None = None, size: tuple[int, int] | None = None, crf: int = 12,
                scale: int = 1) -> Path:
    """Write frames to an .mp4 or .gif; returns the path (see `VideoWriter` for the options).

    times: when each frame appears (seconds); the frames are then resampled to `fps`, and the
    last one is held until `end` (seconds) when given. Without `times` the frames are taken as
    already being at `fps`.
    """
    seq: Iterable[np.ndarray] = (resample(frames, times, fps, end) if times is not None
                                 else frames)
    with VideoWriter(path, fps=fps, size=size, crf=crf, scale=scale) as video:
        for frame in seq:
            video.add(frame)
    return Path(path)


class FrameDir:
    """Write numbered PNGs (frame_000000.png, ...) into a folder, all or nothing: they go to a
    hidden temporary folder inside it and move into place on `close`."""

    def __init__(self, folder: str | os.PathLike[str], prefix: str = "frame_") -> None:
        self.folder = Path(folder)
        if self.folder.exists() and not self.folder.is_dir():
            raise MediaError(f"cannot write frames to {self.folder}: it is not a folder")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._tmp = Path(tempfile.mkdtemp(prefix=".partial-frames-", dir=self.folder))
        except OSError as e:
            raise MediaError(f"cannot write frames to {self.folder}: {e.strerror or e}") from None
        self.prefix = prefix
        self.count = 0
        self._done = False

    def add(self, frame: np.ndarray) -> Path:
        """Save one frame; returns where it will be after `close`."""
        name = f"{self.prefix}{self.count:06d}.png"
        try:
            Image.fromarray(_as_frame(frame)).save(self._tmp / name, format="PNG", compress_level=1)
        except OSError as e:
            self.abort()
            raise MediaError(f"cannot write frames to {self.folder}: {e.strerror or e}") from None
        self.count += 1
        return self.folder / name

    def close(self) -> list[Path]:
        """Move the frames into the folder; returns their paths."""
        if self._done:
            return []
        out = []
        try:
            for p in sorted(self._tmp.iterdir()):
                dest = self.folder / p.name
                os.replace(p, dest)
                out.append(dest)
        except OSError as e:
            self.abort()
            raise MediaError(f"cannot write frames to {self.folder}: {e.strerror or e}") from None
        self._tmp.rmdir()
        self._done = True
        return out

    def abort(self) -> None:
        """Remove the frames written so far."""
        self._done = True
        shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> FrameDir:
        return self

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        if exc_type is not None:
            self.abort()
        else:
            self.close()


def _one_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[-1] if text else type(e).__name__


__all__ = ["FrameDir", "MediaError", "VideoWriter", "atomic_write_bytes", "atomic_write_text",
           "even_size", "fit_frame", "resample", "retime", "save_png", "write_video"]

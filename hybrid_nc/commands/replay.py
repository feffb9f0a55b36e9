"""`hybrid-nc replay CAST`: play an asciicast through the emulator and a renderer.

Frames are sampled at a fixed rate; each is drawn from the symbolic screen at that moment, only the
rows that changed since the previous frame are redrawn. Outputs: a video (.mp4 or .gif), a folder
of PNG frames, and the symbolic screen at a moment (SCREEN.json; default the end). With none of
them, the screen text at --at (or the end) is printed.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

from orchestrator.recorder import IDLE_TIME_LIMIT

from ._common import add_look_arg, positive_int, renderer_name, renderer_options, seed_int
from ._progress import bar

DEFAULT_FPS = 10.0


def _fps(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (0 < v <= 240 and math.isfinite(v)):
        raise argparse.ArgumentTypeError(f"fps must be in (0, 240], got {text}")
    return v


def _seconds(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not (v >= 0 and math.isfinite(v)):
        raise argparse.ArgumentTypeError(f"seconds must be >= 0, got {text}")
    return v


def _video_path(text: str) -> Path:
    if Path(text).suffix.lower() not in (".mp4", ".gif"):
        raise argparse.ArgumentTypeError(f"{text!r}: the output must end in .mp4 or .gif")
    return Path(text)


def _scale(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 8:
        raise argparse.ArgumentTypeError(f"scale must be an integer 1..8, got {text!r}")
    return int(text)


def _theme_name(text: str) -> str:
    from terminal.themes import THEMES

    if text not in THEMES:
        raise argparse.ArgumentTypeError(f"unknown theme {text!r} (choose from {', '.join(THEMES)})")
    return text


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register `replay` on the CLI's subparsers."""
    p = sub.add_parser("replay", help="play an asciicast (v1, v2, v3) through emulator and renderer",
                       description="Plays an asciicast (v1, v2 or v3) through the terminal "
                       "emulator and a renderer, sampling frames at a fixed rate (only changed "
                       "rows are redrawn). Writes a video, PNG frames and/or the symbolic "
                       "screen at a moment; with none of them, prints that screen's text.")
    p.add_argument("cast", metavar="CAST", help="asciicast file (.cast, v1, v2 or v3)")
    p.add_argument("--renderer", default=None,
                   help="renderer name: neural (default), raster (the exact reference), or a "
                   "registered one")
    p.add_argument("--model", metavar="DIR",
                   help="model directory for renderers that load one (e.g. --renderer wan)")
    add_look_arg(p)
    p.add_argument("--steps", type=positive_int,
                   help="denoising steps per frame (renderers that sample; default the model's)")
    p.add_argument("--seed", type=seed_int, help="sampling seed (same seed, same frames)")
    p.add_argument("--out", type=_video_path, metavar="OUT.mp4|OUT.gif",
                   help="write a video (H.264 MP4 or GIF)")
    p.add_argument("--frames-dir", metavar="DIR", help="write every sampled frame as a PNG here")
    p.add_argument("--fps", type=_fps, default=DEFAULT_FPS,
                   help=f"frames per second (default {DEFAULT_FPS:g})")
    p.add_argument("--at", type=_seconds, metavar="SECONDS",
                   help="the moment for --screen-out or the printed screen (default: the end)")
    p.add_argument("--screen-out", metavar="SCREEN.json",
                   help="write the symbolic screen at --at as SCREEN.json ('-': stdout)")
    p.add_argument("--theme", type=_theme_name,
                   help="colour theme (default: the recording's own theme, else dark)")
    # the recording sets the terminal's size; these only say what a frame is padded to at least
    p.add_argument("--cols", type=positive_int,
                   help="pad frames to at least this many columns (default: the recording's)")
    p.add_argument("--rows", type=positive_int,
                   help="pad frames to at least this many rows (default: the recording's)")
    p.add_argument("--idle-time-limit", type=_seconds, metavar="SECONDS",
                   help="cut pauses to this many seconds (default: the recording's header, "
                   f"else {IDLE_TIME_LIMIT:g}, as asciinema's players; 0: real time)")
    p.add_argument("--scale", type=_scale,
                   help="integer pixel scale of the video (default 2 for MP4, whose "
                   "half-resolution colour would otherwise blur coloured text; 1 for GIF)")
    p.set_defaults(run=run)


def make_renderer(name: str, options: Any) -> Any:
    """The renderer `name` from the registry, with `options` (RendererOptions)."""
    from renderer import registry

    return registry.create(name, options)


def run(args: argparse.Namespace) -> int:
    """Play the recording; returns the exit status."""
    from terminal.recording import Replay, read_cast

    name = renderer_name(args)
    options = renderer_options(args, name, seed=args.seed)  # bad usage before any work

    from renderer.media import FrameDir, VideoWriter, atomic_write_text

    cast = read_cast(args.cast, idle_time_limit=_idle_limit(args.idle_time_limit))
    if args.idle_time_limit is None and cast.idle_time_limit is None:
        cast = read_cast(args.cast, idle_time_limit=IDLE_TIME_LIMIT)
    at = cast.duration if args.at is None else min(args.at, cast.duration)
    wants_frames = args.out is not None or args.frames_dir is not None

    screen_then = None
    if wants_frames:
        # a look draws the colours it was captured with, unless --theme says otherwise
        theme = args.theme or (None if args.look else cast.theme or "dark")
        renderer = make_renderer(name, options.merged(theme=theme))
        replay = Replay(cast)
        times = replay.frame_times(args.fps)
        if at not in times:  # the --screen-out moment is read on the way
            times = sorted({*times, at})
        cell_h, cell_w = renderer.cell_size
        max_cols = max([c for c, _ in cast.sizes()] + [args.cols or 0])
        max_rows = max([r for _, r in cast.sizes()] + [args.rows or 0])
        scale = args.scale or (2 if args.out is not None and args.out.suffix.lower() == ".mp4" else 1)
        size = (max_cols * cell_w, max_rows * cell_h)  # frames are padded to the largest
        video = (VideoWriter(args.out, fps=args.fps, size=size, scale=scale)
                 if args.out is not None else None)
        frames = FrameDir(args.frames_dir) if args.frames_dir else None
        sampled = set(replay.frame_times(args.fps))
        try:
            screen_then = _play(replay, times, sampled, at, renderer, video, frames, size)
        except BaseException:
            if video is not None:
                video.abort()
            if frames is not None:
                frames.abort()
            raise
        if video is not None:
            video.close()
        if frames is not None:
            frames.close()
    if screen_then is None:
        from terminal.recording import screen_at

        screen_then = screen_at(cast, at)
    if args.screen_out == "-":
        json.dump(screen_then.to_json(), sys.stdout, ensure_ascii=False, indent=1)
        sys.stdout.write("\n")
    elif args.screen_out:
        atomic_write_text(args.screen_out,
                          json.dumps(screen_then.to_json(), ensure_ascii=False, indent=1) + "\n")
    elif not wants_frames:
        sys.stdout.write(screen_then.text.rstrip("\n") + "\n")
    if cast.unreadable:  # said last, and only on success: a failure stays one line
        print(f"hybrid-nc replay: warning: {cast.unreadable}", file=sys.stderr)
    return 0


def _idle_limit(seconds: float | None) -> float | None:
    """--idle-time-limit for read_cast: 0 is no limit at all (even the header's)."""
    return math.inf if seconds == 0 else seconds


def _play(replay: Any, times: list[float], sampled: set[float], at: float, renderer: Any,
          video: Any, frames: Any, size: tuple[int, int]) -> Any:
    """Render the sampled times into the outputs; returns the screen at `at`."""
    from renderer.media import fit_frame

    last = None
    screen_at = None
    pending: set[int] = set()  # rows changed at moments read but not drawn (the --at moment)
    resized = False
    with bar("replay", len(sampled), unit="frame") as advance:
        for t in times:
            frame = replay.frame(t)
            if t == at:
                screen_at = frame.screen
            pending |= frame.damage
            resized = resized or frame.resized
            if t not in sampled:
                continue
            if last is None or resized or pending:
                damage: set[int] | None = None if (last is None or resized) else pending
                last = fit_frame(renderer.render(frame.screen, damage=damage).frame, size)
            pending, resized = set(), False
            if video is not None:
                video.add(last)
            if frames is not None:
                frames.add(last)
            advance()
    return screen_at

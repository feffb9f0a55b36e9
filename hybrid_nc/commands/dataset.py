"""`hybrid-nc dataset export CAST [CAST ...] --out DIR`: recordings as a Hugging Face dataset.

One row per frame (hybrid_nc/episodes.py lists the columns): the action, the caption, the exact
screen, the drawn frame and the route; `datasets.load_from_disk(DIR)` reads it back.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ._progress import bar, summary
from .replay import _seconds, _theme_name


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return int(text)


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register `dataset` on the CLI's subparsers."""
    p = sub.add_parser("dataset", help="export recordings as a Hugging Face dataset",
                       description=__doc__.splitlines()[0] if __doc__ else None)
    actions = p.add_subparsers(dest="dataset_command", metavar="ACTION", required=True,
                               parser_class=type(p))
    e = actions.add_parser("export", help="write one row per frame of the recordings to DIR",
                           description="Replays each recording through the emulator and a "
                           "renderer and writes one row per frame (episode, index, time, "
                           "action, route, caption, screen, image, source, theme, cols, rows) "
                           "as a dataset that datasets.load_from_disk(DIR) reads.")
    e.add_argument("casts", nargs="+", metavar="CAST", help="asciicast files (v1, v2, v3)")
    e.add_argument("--out", required=True, metavar="DIR",
                   help="the dataset folder (replaced if it holds a dataset)")
    e.add_argument("--renderer", default="raster",
                   help="who draws the frames (default raster, the exact reference)")
    e.add_argument("--theme", type=_theme_name,
                   help="colour theme (default: each recording's own, else dark)")
    e.add_argument("--idle-time-limit", type=_seconds, metavar="SECONDS",
                   help="cap pauses at this many seconds (default: the recording's header)")
    e.add_argument("--max-frames", type=_positive, metavar="N",
                   help="at most N frames per recording")
    e.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Export the recordings; returns the exit status."""
    from ..episodes import cast_frames, write_episodes
    from .replay import make_renderer

    warnings: list[str] = []  # said after the export, so that a failure stays one line
    frames: list[int] = []  # per recording

    def rows(advance):  # type: ignore[no-untyped-def]
        for cast in args.casts:
            renderer = None
            if args.renderer != "raster":
                from terminal.recording import read_cast

                theme = args.theme or read_cast(cast).theme or "dark"
                renderer = make_renderer(args.renderer, theme)
            frames.append(0)
            for row in cast_frames(cast, renderer=renderer, theme=args.theme,
                                   idle_time_limit=args.idle_time_limit,
                                   max_frames=args.max_frames,
                                   warn=lambda m, c=cast: warnings.append(f"{c}: {m}")):
                frames[-1] += 1
                advance(0, frames=sum(frames))
                yield row
            advance()

    import datasets

    datasets.disable_progress_bars()  # ours covers the export; theirs prints even into a log
    with bar("dataset export", len(args.casts), unit="recording") as advance:
        dataset = write_episodes(rows(advance), Path(args.out))
    if len(args.casts) > 1:
        summary("hybrid-nc dataset export", ["recording", "frames"],
                [[Path(c).name, n] for c, n in zip(args.casts, frames, strict=False)])
    for message in warnings:
        print(f"hybrid-nc dataset: warning: {message}", file=sys.stderr)
    print(f"wrote {len(dataset)} frames of {len(args.casts)} recording"
          f"{'s' if len(args.casts) != 1 else ''} to {args.out}", file=sys.stderr)
    return 0

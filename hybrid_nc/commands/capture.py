"""`hybrid-nc capture`: real-terminal captures paired with our symbolic screens, as a dataset.

    hybrid-nc capture --terminal xterm --out DIR [--screens N] [--resume] [--split all|train|test]

Starts Xvfb and the terminal (xterm or rxvt-unicode) itself, calibrates (cell grid, glyph templates,
colours, our rasterizer's best-matching font), shows each source's bytes, grabs the window and
keeps the pairs whose read-back agrees with the emulator. DIR/dataset is a Hugging Face
`datasets` DatasetDict (train/test); DIR/summary.json has the counts.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("capture", help="capture a real terminal (xterm, urxvt) into a dataset",
                       description=__doc__.splitlines()[0])
    p.add_argument("--terminal", choices=["xterm", "urxvt"], default="xterm",
                   help="the real terminal to capture (default xterm)")
    p.add_argument("--out", required=True, metavar="DIR", help="dataset folder")
    p.add_argument("--screens", type=int, metavar="N",
                   help="capture at most N screens (default: every source's every moment)")
    p.add_argument("--resume", action="store_true",
                   help="continue a capture in DIR, skipping screens already done")
    p.add_argument("--split", choices=["all", "train", "test"], default="all",
                   help="capture only the training or the held-out sources")
    p.add_argument("--shared-data", metavar="DIR",
                   help="casts and conformance suites (default: HYBRID_NC_TEST_DATA, "
                        "HYBRID_NC_SHARED_DATA or ../shared/data beside the project; generated "
                        "and recorded screens always)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(run=run)


def _shared_data(flag: str | None) -> Path | None:
    from hybrid_nc.evaluation.common import SHARED_DATA

    if flag:
        path = Path(flag)
        if not path.is_dir():
            raise ValueError(f"--shared-data {flag} is not a folder")
        return path
    return SHARED_DATA if SHARED_DATA.is_dir() else None


def run(args: argparse.Namespace) -> int:
    """Capture, then print the counts (JSON) on stdout."""
    from renderer.capture import CaptureConfig, capture_dataset

    if args.screens is not None and args.screens < 1:
        raise ValueError("--screens must be at least 1")
    config = CaptureConfig(terminal=args.terminal, out=Path(args.out), screens=args.screens,
                           resume=args.resume, split=args.split,
                           shared_data=_shared_data(args.shared_data))
    summary = capture_dataset(config, progress=not args.no_progress)
    print(json.dumps(summary.to_json(), indent=1))
    if config.shared_data is None:
        print("hybrid-nc capture: note: no shared data found; casts and conformance suites "
              "were not captured", file=sys.stderr)
    return 0

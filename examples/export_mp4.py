"""A scripted session exported to MP4 (plus its asciicast), frame by frame as the renderer drew it.

    python examples/export_mp4.py --out session.mp4              # neural renderer
    python examples/export_mp4.py --renderer raster --fps 8       # the exact reference
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hybrid_nc import Session

# (how, what): "run" a whole line, "type" characters one frame each, press a "key"
SCRIPT = [
    ("run", "cd ~ && printf 'pear\\napple\\nfig\\n' > fruit.txt"),
    ("type", "sort fruit.txt"),
    ("key", "Enter"),
    ("run", "python3 -c 'print(sum(range(101)))'"),
    ("run", "calc 2**100"),
    ("run", "printf '\\e[1;32mgreen\\e[0m and \\e[4munderlined\\e[0m\\n'"),
]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--renderer", default="neural", help="neural (default) or raster")
    p.add_argument("--out", default="session.mp4", help="the video to write (.mp4 or .gif)")
    p.add_argument("--fps", type=float, default=8.0, help="frames per second of the video")
    args = p.parse_args()

    frames = 0
    with Session(renderer=args.renderer) as s:
        for how, what in SCRIPT:
            if how == "run":
                steps = [s.run(what)]
            elif how == "type":
                steps = s.type(what)
            else:
                steps = [s.key(what)]
            frames += len(steps)
            last = steps[-1]
            print(f"{how:4} {what[:40]:40} route={last.route or '-':6} "
                  f"accuracy raw={last.accuracy.get('raw', float('nan')):.3f} "
                  f"repaired={last.accuracy.get('repaired', float('nan')):.3f}")
        video = s.export(args.out, fps=args.fps)
        cast = s.save(Path(args.out).with_suffix(".cast"))
        print(s.screen.text.rstrip())
    print(f"wrote {video} ({video.stat().st_size} bytes, {frames} scripted frames) and {cast}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:  # a missing checkpoint, no sandbox, ...: one line, not a traceback
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        sys.exit(f"{sys.argv[0]}: error: {msg}")

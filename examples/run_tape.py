"""Play a VHS .tape through the hybrid terminal and write what it asks for (video, text, PNGs).

    python examples/run_tape.py                                   # examples/demo.tape, neural
    python examples/run_tape.py my.tape --renderer raster --out out/ --fast
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hybrid_nc.tape import TapeError, run_tape


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("tape", nargs="?", default=str(Path(__file__).with_name("demo.tape")))
    p.add_argument("--renderer", default="neural", help="neural (default) or raster")
    p.add_argument("--out", help="folder for the tape's outputs (default: next to the tape)")
    p.add_argument("--fast", action="store_true", help="skip the typing delays between keys")
    args = p.parse_args()
    try:
        result = run_tape(args.tape, out_dir=args.out, realtime=not args.fast,
                          renderer=args.renderer)
    except TapeError as e:
        print(f"run_tape: {e}", file=sys.stderr)
        return 1
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(result.screen.text.rstrip())
    summary = result.report.get("summary", {})
    print(f"{result.frames} frames over {result.duration:.1f} s of tape; mean repaired accuracy "
          f"{summary.get('accuracy_repaired_mean')}")
    for path in [*result.screenshots, *result.outputs]:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The same session drawn by two renderers - the exact raster and the neural model - side by side.

The reasoners decide the screen, so the symbolic screens agree; what differs is how well each
renderer draws them (char accuracy read back from the frame, before and after repair; PSNR against
the raster of the same screen) and how long a frame takes.

    python examples/swap_renderer.py                          # raster vs neural
    python examples/swap_renderer.py --renderers raster,neural --steps 2 -n 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np

from hybrid_nc import Session
from renderer import registry
from renderer.metrics import psnr

SCRIPT = [
    "echo 'one session, two renderers'",
    "printf 'col1\\tcol2\\n%s\\t%s\\n' alpha beta",
    "python3 -c 'print(2**64)'",
    "calc integrate(x**2, x)",
    "ls -d /usr/*bin* | head -3",
]


def drive(renderer: str, lines: list[str], steps: int | None) -> dict:
    """Run `lines` in a fresh session drawn by `renderer`; per-step figures and the final text."""
    exact = registry.create("raster")
    acc_raw, acc_rep, render_ms, total_ms, psnrs = [], [], [], [], []
    t0 = time.perf_counter()
    # steps go only to renderers that sample; the raster is exact at any
    options = {"steps": steps} if steps is not None and registry.takes(renderer, "steps") else {}
    with Session(renderer=renderer, renderer_options=options) as s:
        for line in lines:
            step = s.run(line)
            acc_raw.append(step.accuracy.get("raw", float("nan")))
            acc_rep.append(step.accuracy.get("repaired", float("nan")))
            render_ms.append(step.timings["render"])
            total_ms.append(step.timings["total"])
            reference = exact.render(step.screen).frame
            psnrs.append(psnr(step.frame_array, reference))
        text = s.screen.text
    return {"renderer": renderer, "frames": len(lines), "raw": float(np.mean(acc_raw)),
            "repaired": float(np.mean(acc_rep)), "psnr": float(np.min(psnrs)),
            "render_p50": statistics.median(render_ms), "render_max": max(render_ms),
            "total_p50": statistics.median(total_ms), "wall": time.perf_counter() - t0,
            "text": text}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--renderers", default="raster,neural", help="comma-separated renderer names")
    p.add_argument("-n", type=int, default=len(SCRIPT), help="how many script lines to run")
    p.add_argument("--steps", type=int, help="denoising steps of the neural renderer")
    args = p.parse_args()
    lines = SCRIPT[:max(1, args.n)]
    results = [drive(name.strip(), lines, args.steps) for name in args.renderers.split(",")]

    print(f"{'renderer':10} {'frames':>6} {'raw acc':>8} {'repaired':>8} {'min PSNR':>9} "
          f"{'render p50':>10} {'render max':>10} {'total p50':>9} {'wall s':>7}")
    for r in results:
        print(f"{r['renderer']:10} {r['frames']:6d} {r['raw']:8.4f} {r['repaired']:8.4f} "
              f"{r['psnr']:9.2f} {r['render_p50']:8.1f}ms {r['render_max']:8.1f}ms "
              f"{r['total_p50']:7.1f}ms {r['wall']:7.2f}")
    same = len({_strip_prompts(r["text"]) for r in results}) == 1
    print(f"symbolic screens identical across renderers: {'yes' if same else 'no'}")
    print(results[-1]["text"].rstrip())
    return 0


def _strip_prompts(text: str) -> str:
    """The screen text without trailing blank lines (each session has its own work directory,
    which a prompt may show, so prompts are compared as the rest of the text is)."""
    return text.rstrip()


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:  # a missing checkpoint, no sandbox, ...: one line, not a traceback
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        sys.exit(f"{sys.argv[0]}: error: {msg}")

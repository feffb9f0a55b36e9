"""What the Wan adapter costs around the model, on a tiny random Wan2.1-I2V pipeline (CPU).

The tiny pipeline (built by tests/renderer/test_wan.py, ~0.5 MB) says nothing about Wan2.1-14B's
speed or quality: it measures the adapter's own path (prompt, conditioning raster, pipeline call,
resize) on a full 80x24 screen, next to the reference rasterizer in the same run.

    nice -n 10 python benchmarks/wan_adapter.py [--frames 5] [--steps 4] [--repeats 5]

Writes benchmarks/results/wan_adapter.md.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import tempfile
import time
from pathlib import Path

import torch

from renderer.raster import RasterRenderer
from renderer.wan import WanRenderer
from terminal.screen import ScreenState

ROOT = Path(__file__).resolve().parents[1]


def _builder():
    spec = importlib.util.spec_from_file_location("test_wan", ROOT / "tests/renderer/test_wan.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build_tiny_wan


def _screens(n: int) -> list[ScreenState]:
    """A prompt filling up with `ls -l`-like lines, one more per frame."""
    lines = ["user@host:~$ ls -l"]
    out = []
    for i in range(n):
        lines.append(f"-rw-r--r-- 1 user user {1000 + 37 * i:6d} Jan  1 00:{i:02d} file{i}.txt")
        out.append(ScreenState.from_lines(lines[-24:], cols=80, rows=24))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=5, help="num_frames per call (1 + 4k)")
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory() as tmp:
        path = _builder()(Path(tmp) / "tiny-wan")
        t0 = time.perf_counter()
        wan = WanRenderer.from_pretrained(path, device="cpu", num_frames=args.frames,
                                          num_inference_steps=args.steps, guidance_scale=1.0)
        load_s = time.perf_counter() - t0
        screens = _screens(args.repeats + 1)
        wan.render(screens[0])  # warm-up: first call pays for lazy initialisation
        totals, gens = [], []
        for screen in screens[1:]:
            out = wan.render(screen)
            totals.append(out.info["timings_ms"]["total"])
            gens.append(out.info["timings_ms"]["generate"])
        raster = RasterRenderer()
        raster.render(screens[0])
        rt = []
        for screen in screens[1:]:
            t = time.perf_counter()
            raster.render(screen)
            rt.append((time.perf_counter() - t) * 1e3)
    shape = out.frame.shape
    med_total, med_gen, med_r = (statistics.median(x) for x in (totals, gens, rt))
    text = (
        "## Wan adapter on a tiny random Wan2.1-I2V pipeline (CPU, 2 threads)\n\n"
        f"80x24 screen -> {shape[1]}x{shape[0]} frame, generated at "
        f"{out.info['width']}x{out.info['height']}, {args.frames} frames per call, "
        f"{args.steps} steps, guidance off, median of {args.repeats}.\n\n"
        "| measured | value |\n|---|---|\n"
        f"| load (from_pretrained, offline) | {load_s * 1e3:.0f} ms |\n"
        f"| one frame, whole render() | {med_total:.0f} ms |\n"
        f"| of which the pipeline call | {med_gen:.0f} ms |\n"
        f"| adapter overhead (prompt, raster, resize) | {med_total - med_gen:.1f} ms |\n"
        f"| reference rasterizer, same screens | {med_r:.2f} ms |\n\n"
        "The tiny model's weights are random: these figures time the adapter, not Wan2.1-14B.\n"
        "Command: `nice -n 10 python benchmarks/wan_adapter.py "
        f"--frames {args.frames} --steps {args.steps} --repeats {args.repeats}`\n")
    print(text)
    results = ROOT / "benchmarks" / "results"
    results.mkdir(parents=True, exist_ok=True)
    (results / "wan_adapter.md").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()

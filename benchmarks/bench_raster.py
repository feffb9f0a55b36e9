"""Reference rasterizer speed: full 80x24 frames per second and damage-only redraws.

    python benchmarks/bench_raster.py                # prints the table, writes the results file
    python benchmarks/bench_raster.py --quick        # fewer repeats (a smoke run)

Screens (all 80x24 unless the recording says otherwise), every frame a different screen:
  ls -l        real `ls -l --color=always` of /usr/bin scrolling through the terminal emulator
  htop         the frames of the real htop recording in ../shared/data/casts (82x19)
  lolcat       truecolour rainbow text, a colour per character (awesome.cast, 82x19)
  dense        random printable ASCII in every cell, default colours
  dense+colour random ASCII, random palette / truecolour fg and bg, random attributes

Measured per set, median of repeats (the machine is shared, so the table gives min and median):
  full, no cache   every frame drawn from scratch (row cache off), what a fresh screen costs
  full, cache      every row of every frame redrawn through the row cache (scrolling output
                   repeats rows, so this is the steady state of a session)
  damage-only      `render(screen, damage=...)` as the session calls it: one character typed per
                   frame (the input line and the cursor change)
The baseline is the rasterizer as first committed (git HEAD~ of renderer/raster.py and fonts.py,
loaded side by side), in the same run.

Writes benchmarks/results/raster.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hybrid_nc.evaluation.common import SHARED_DATA  # noqa: E402
from renderer.raster import RasterRenderer  # noqa: E402
from terminal import Terminal  # noqa: E402
from terminal.screen import BOLD, INVERSE, ITALIC, TRUECOLOR, UNDERLINE, ScreenState  # noqa: E402

DATA = SHARED_DATA
RESULTS = ROOT / "benchmarks" / "results" / "raster.md"
BASELINE_REV = "481980a"  # the first commit: the rasterizer before its optimisation


# -- screens -------------------------------------------------------------------------------
def cast_frames(name: str, limit: int) -> list[ScreenState]:
    """Screens after each output event of a v2 cast (deduplicated), at most `limit`."""
    lines = (DATA / "casts" / name).read_text(encoding="utf-8").splitlines()
    header = json.loads(lines[0])
    term = Terminal(header["width"], header["height"])
    out: list[ScreenState] = []
    for line in lines[1:]:
        if not line.strip():
            continue
        event = json.loads(line)
        if event[1] != "o":
            continue
        term.feed(event[2])
        snap = term.snapshot()
        if not out or snap.text != out[-1].text:
            out.append(snap)
    step = max(1, len(out) // limit)
    return out[::step][:limit]


def ls_frames(limit: int) -> list[ScreenState]:
    """`ls -l --color=always /usr/bin` scrolling: the screen after each new line."""
    listing = subprocess.run(["ls", "-l", "--color=always", "/usr/bin"], capture_output=True,
                             env={**os.environ, "COLUMNS": "80", "LC_ALL": "C.UTF-8"},
                             check=True).stdout
    term = Terminal(80, 24)
    term.feed(b"$ ls -l /usr/bin\r\n")
    out = []
    for line in listing.splitlines()[: limit + 23]:
        term.feed(line[:200] + b"\r\n")
        out.append(term.snapshot())
    return out[-limit:]


def dense_frames(limit: int, colour: bool) -> list[ScreenState]:
    rng = np.random.default_rng(0)
    out = []
    for _ in range(limit):
        s = ScreenState.from_lines(["".join(chr(int(c)) for c in rng.integers(33, 127, 80))
                                    for _ in range(24)], 80, 24)
        if colour:
            s.fg[:] = np.where(rng.random((24, 80)) < 0.3, TRUECOLOR | rng.integers(0, 1 << 24,
                               (24, 80)), rng.integers(-1, 256, (24, 80)))
            s.bg[:] = np.where(rng.random((24, 80)) < 0.7, -1, rng.integers(0, 256, (24, 80)))
            s.attrs[:] = rng.choice([0, 0, 0, BOLD, INVERSE, UNDERLINE, ITALIC], (24, 80))
        out.append(s)
    return out


def typing_frames(n: int) -> list[tuple[ScreenState, set[int]]]:
    """A prompt being typed on, one character per frame, with the emulator's damage."""
    term = Terminal(80, 24)
    term.feed(b"\x1b[1;32muser@host\x1b[0m:\x1b[1;34m~/project\x1b[0m$ ")
    term.take_damage()
    text = ("python3 -c 'import sys; print(sys.version)' && ls -l --color=auto src tests " * 4)
    out = []
    for ch in text[:n]:
        term.feed(ch)
        out.append((term.snapshot(), term.take_damage()))
    return out


# -- timing ----------------------------------------------------------------------------------
def timed(run: Callable[[], tuple[float, float]], repeat: int) -> tuple[float, float, float]:
    """(min wall, median wall, min CPU) seconds that `run` reports over `repeat` runs after one
    warm-up. Each run builds its own renderer, so no run profits from the row cache of an
    earlier one. CPU time (this process only) leaves out the time spent waiting for a core on a
    shared machine: it is what the same run costs on an idle one."""
    run()
    runs = [run() for _ in range(repeat)]
    wall = [w for w, _ in runs]
    return min(wall), statistics.median(wall), min(c for _, c in runs)


def _clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _since(start: tuple[float, float]) -> tuple[float, float]:
    return time.perf_counter() - start[0], time.process_time() - start[1]


def full_no_cache(factory: Callable[..., Any], frames: list[ScreenState]
                  ) -> Callable[[], tuple[float, float]]:
    def run() -> tuple[float, float]:
        r = factory(row_cache=0)
        t = _clock()
        for s in frames:
            r.reset()
            r.render(s)
        return _since(t)
    return run


def full_cache(factory: Callable[..., Any], frames: list[ScreenState]
               ) -> Callable[[], tuple[float, float]]:
    def run() -> tuple[float, float]:
        r = factory()  # a cold cache: only rows repeated within the sequence hit it
        t = _clock()
        for s in frames:
            r.reset()  # every row is redrawn, through the row cache
            r.render(s)
        return _since(t)
    return run


def damage_only(factory: Callable[..., Any], frames: list[tuple[ScreenState, set[int]]]
                ) -> Callable[[], tuple[float, float]]:
    def run() -> tuple[float, float]:
        r = factory()
        r.render(frames[0][0])  # the screen before typing starts, not timed
        t = _clock()
        for s, damage in frames[1:]:
            r.render(s, damage=damage)
        return _since(t)
    return run


# -- the baseline, loaded from git beside the current code ------------------------------------
def baseline_factory() -> Callable[..., Any] | None:
    """RasterRenderer as of BASELINE_REV, in a private package (its fonts.py and raster.py with
    today's screen.py, base.py and themes.py-compatible colours)."""
    tmp = Path(tempfile.mkdtemp(prefix="hnc-baseline-"))
    pkg = tmp / "baseline_renderer"
    pkg.mkdir()
    try:
        for name in ("fonts", "raster", "themes", "base", "screen"):
            src = subprocess.run(["git", "-C", str(ROOT), "show",
                                  f"{BASELINE_REV}:renderer/{name}.py"],
                                 capture_output=True, check=True).stdout
            (pkg / f"{name}.py").write_bytes(src)
    except (OSError, subprocess.CalledProcessError):
        return None
    (pkg / "__init__.py").write_text("")
    sys.path.insert(0, str(tmp))
    import importlib

    raster = importlib.import_module("baseline_renderer.raster")

    def make(row_cache: int = 0) -> Any:
        del row_cache  # the baseline has no row cache
        return raster.RasterRenderer()

    return make


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer frames and repeats")
    ap.add_argument("--no-baseline", action="store_true", help="skip the git baseline")
    args = ap.parse_args()
    n, repeat = (10, 3) if args.quick else (40, 7)
    sets = {
        "ls -l": ls_frames(n),
        "htop": cast_frames("nbedos__termtosvg__docs__examples__casts__htop.cast", n),
        "lolcat": cast_frames("nbedos__termtosvg__docs__examples__casts__awesome.cast", n),
        "dense": dense_frames(n, colour=False),
        "dense+colour": dense_frames(n, colour=True),
    }
    typing = typing_frames(4 * n)
    base = None if args.no_baseline else baseline_factory()
    load0 = os.getloadavg()

    def ours(row_cache: int = 256) -> RasterRenderer:
        return RasterRenderer(row_cache=row_cache)

    rows: list[tuple[str, str, float, float, float, float | None, float | None]] = []
    for name, frames in sets.items():
        k = len(frames)
        for label, make in (("full, no cache", full_no_cache), ("full, cache", full_cache)):
            lo, med, cpu = timed(make(ours, frames), repeat)
            b = timed(make(base, frames), repeat) if base and label.endswith("no cache") else None
            rows.append((name, label, k / lo, k / med, k / cpu, k / b[1] if b else None,
                         k / b[2] if b else None))
            print(f"{name:13s} {label:15s} {k / med:8.1f} fps (best {k / lo:.1f}, by CPU time "
                  f"{k / cpu:.1f})" + (f"   baseline {k / b[1]:.1f} fps (CPU {k / b[2]:.1f})"
                                      if b else ""), flush=True)
    k = len(typing) - 1
    lo, med, cpu = timed(damage_only(ours, typing), repeat)
    b = timed(damage_only(base, typing), repeat) if base else None
    typing_row = ("typing at a prompt", "damage-only", k / lo, k / med, k / cpu,
                  k / b[1] if b else None, k / b[2] if b else None)
    print(f"{'typing':13s} {'damage-only':15s} {k / med:8.1f} fps (best {k / lo:.1f}, by CPU "
          f"time {k / cpu:.1f}) = {1000 * med / k:.2f} ms/frame"
          + (f"   baseline {k / b[1]:.1f} fps" if b else ""))
    load1 = os.getloadavg()
    write_results(rows + [typing_row], n, repeat, load0, load1)
    return 0


def write_results(rows: list, n: int, repeat: int, load0: tuple, load1: tuple) -> None:
    lines = [
        "## Reference rasterizer speed",
        "",
        f"`python benchmarks/bench_raster.py` - frames/s over {n} distinct frames: median of "
        f"{repeat} runs (best run in brackets), and by CPU time (this process's CPU seconds, "
        "best run: the figure an idle machine gives). Default 8x16 cells, DejaVu Sans Mono "
        "13 px. Baseline: the rasterizer as first committed, loaded from git, in the same run.",
        "",
        "| screens | redraw | frames/s, wall | frames/s, CPU time | baseline, wall | "
        "baseline, CPU time |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for name, label, best, med, cpu, base, base_cpu in rows:
        extra = f" = {1000 / med:.2f} ms/frame" if label == "damage-only" else ""
        lines.append(f"| {name} | {label} | {med:.0f} ({best:.0f}){extra} | {cpu:.0f} | "
                     f"{'' if base is None else f'{base:.0f}'} | "
                     f"{'' if base_cpu is None else f'{base_cpu:.0f}'} |")
    lines += [
        "",
        "Full frames are drawn as one gather from per-colour-pair 256-entry blend tables (exact: "
        "equal to rint(bg + alpha (fg - bg))); rows are cached by content, so scrolling output "
        "and repeated rows cost a copy; damage-only redraws draw only the changed rows and the "
        "cursor's.",
        "",
        f"Machine: {os.cpu_count()} CPUs ({platform.machine()}), Python "
        f"{platform.python_version()}, numpy {np.__version__}; load average "
        f"{load0[0]:.1f} at the start, {load1[0]:.1f} at the end (a shared machine: other "
        "jobs ran during the measurement).",
        "",
    ]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    sys.exit(main())

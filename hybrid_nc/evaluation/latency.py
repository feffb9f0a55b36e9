"""`hybrid-nc eval latency`: how fast the whole loop is, neural and raster in the same run.

For each renderer, in a fresh child process (so its peak memory is its own):
* keystroke -> frame: characters typed one at a time into a real Session (sandboxed shell, verify
  & repair on: the full system); wall time of each `Session.type(ch)` call, p50 / p95;
* command -> frame: lines run with `Session.run` (shell commands, python3 -c, the sympy route);
* frames/s of the renderer alone: full 80x24 redraws, and frames with one damaged row (typing);
* peak resident memory of the process (VmHWM), and its baseline after imports.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from .common import EvalError, fmt_num, frame_ms_stats, md_table, progress, provenance

TYPED = "echo the quick brown fox jumps over 13 lazy dogs"
COMMANDS = ["ls -la /", "python3 -c 'print(98+45)'", "echo hello world", "calc 2**64 - 1",
            "seq 1 30 | paste - - - - - -", "calc 355/113"]


def _rss_mib() -> float:
    """Peak resident memory of this process in MiB: VmHWM (reset by exec, so a spawned child
    measures itself; ru_maxrss would carry the parent's peak across the exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def measure(renderer: str, keystrokes: int, commands: int, full_frames: int, row_frames: int,
            seed: int, steps: int | None = None) -> dict[str, Any]:
    """The measurements for one renderer (meant to run in a child process); `steps`: sampling
    steps (None: the renderer's own)."""
    from hybrid_nc import Session
    from hybrid_nc.evaluation.common import make_renderer

    base = _rss_mib()
    r = make_renderer(renderer, "dark", seed, steps)
    loaded = _rss_mib()
    key_ms: list[float] = []
    key_render: list[float] = []
    cmd_ms: list[float] = []
    cmd_render: list[float] = []
    with Session(renderer=r, seed=seed, command_timeout=10.0) as s:
        text = (TYPED * (1 + keystrokes // len(TYPED)))[:keystrokes]
        for ch in text:
            t = time.perf_counter()
            step = s.type(ch)[-1]
            key_ms.append((time.perf_counter() - t) * 1000)
            key_render.append(step.timings.get("render", 0.0))
        s.key("ctrl+c")
        for i in range(commands):
            cmd = COMMANDS[i % len(COMMANDS)]
            if i % len(COMMANDS) == 0:
                s.run("clear")
            t = time.perf_counter()
            step = s.run(cmd)
            cmd_ms.append((time.perf_counter() - t) * 1000)
            cmd_render.append(step.timings.get("render", 0.0))
        screen = s.screen
    # the renderer alone: full redraws, then one damaged row at a time
    full: list[float] = []
    if hasattr(r, "reset"):
        r.reset()
    for i in range(full_frames):
        sc = screen.copy()  # new text in every row: no renderer may serve it from a cache
        for row in range(sc.rows):
            sc.chars[row][-1] = "0123456789"[(i + row) % 10]
        t = time.perf_counter()
        r.render(sc, damage=set(range(screen.rows)), seed=seed)
        full.append((time.perf_counter() - t) * 1000)
    one: list[float] = []
    row = screen.cursor[0]
    for i in range(row_frames):
        sc = screen.copy()
        sc.chars[row][(i * 7) % screen.cols] = "xyz"[i % 3]
        t = time.perf_counter()
        r.render(sc, damage={row}, action="x", seed=seed)
        one.append((time.perf_counter() - t) * 1000)
    return {"renderer": renderer, "keystroke_ms": key_ms, "keystroke_render_ms": key_render,
            "command_ms": cmd_ms, "command_render_ms": cmd_render, "full_frame_ms": full,
            "row_frame_ms": one, "rss_baseline_mib": base, "rss_loaded_mib": loaded,
            "rss_peak_mib": _rss_mib()}


def run_latency(renderers: list[str], *, keystrokes: int, commands: int, full_frames: int,
                row_frames: int, seed: int = 0, quiet: bool = False,
                steps: int | None = None) -> dict[str, Any]:
    """Measure every renderer, each in its own child process, one after the other (`steps`:
    sampling steps, None: each renderer's own)."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    from .common import note_checkpoint

    t0 = time.perf_counter()
    raw = []
    for name in renderers:
        note_checkpoint(name)  # loaded in the children; named in this process's provenance
    for name in progress(renderers, len(renderers), "latency", quiet):
        with ProcessPoolExecutor(1, mp_context=mp.get_context("spawn")) as pool:
            try:
                raw.append(pool.submit(measure, name, keystrokes, commands, full_frames,
                                       row_frames, seed, steps).result())
            except BrokenProcessPool:
                raise EvalError(f"the latency run of {name!r} died (out of memory?)") from None
    summary = []
    for m in raw:
        full, one = frame_ms_stats(m["full_frame_ms"]), frame_ms_stats(m["row_frame_ms"])
        summary.append({
            "renderer": m["renderer"],
            "keystroke_to_frame_ms": frame_ms_stats(m["keystroke_ms"]),
            "keystroke_render_ms": frame_ms_stats(m["keystroke_render_ms"]),
            "command_to_frame_ms": frame_ms_stats(m["command_ms"]),
            "command_render_ms": frame_ms_stats(m["command_render_ms"]),
            "full_frame_ms": full, "row_frame_ms": one,
            "full_fps": 1000.0 / full["mean"] if full["mean"] else None,
            "row_fps": 1000.0 / one["mean"] if one["mean"] else None,
            "rss_peak_mib": m["rss_peak_mib"], "rss_baseline_mib": m["rss_baseline_mib"]})
    return {"subcommand": "latency", "provenance": provenance({"seed": seed}),
            "settings": {"renderers": renderers, "keystrokes": keystrokes, "commands": commands,
                         "full_frames": full_frames, "row_frames": row_frames,
                         "sampling_steps": steps,
                         "typed": TYPED, "lines": COMMANDS},
            "summary": summary, "raw": raw, "wall_s": round(time.perf_counter() - t0, 1)}


def markdown(result: dict[str, Any]) -> str:
    """The latency table (and the neural / raster ratio)."""
    s = result["settings"]
    rows = []
    for e in result["summary"]:
        k, c = e["keystroke_to_frame_ms"], e["command_to_frame_ms"]
        rows.append([e["renderer"], f"{fmt_num(k['p50'], 1)} / {fmt_num(k['p95'], 1)}",
                     fmt_num(e["keystroke_render_ms"]["p50"], 1),
                     f"{fmt_num(c['p50'], 0)} / {fmt_num(c['p95'], 0)}",
                     fmt_num(e["full_fps"], 2), fmt_num(e["row_fps"], 1),
                     f"{e['rss_peak_mib']:.0f}"])
    by = {e["renderer"]: e for e in result["summary"]}
    ratio = ""
    if "raster" in by and "neural" in by and by["neural"]["full_fps"] and by["neural"]["row_fps"]:
        ratio = (f"Raster / neural speed ratio: full frames "
                 f"{by['raster']['full_fps'] / by['neural']['full_fps']:.0f}x, one-row frames "
                 f"{by['raster']['row_fps'] / by['neural']['row_fps']:.0f}x.")
    m = result["provenance"]["machine"]
    return "\n".join([
        "## Latency and throughput (neural and raster, same run)",
        "",
        f"Command: `{result['provenance']['command']}` — {s['keystrokes']} keystrokes, "
        f"{s['commands']} commands through a real Session (sandboxed shell, verify & repair on), "
        f"then the renderer alone: {s['full_frames']} full 80x24 redraws and {s['row_frames']} "
        f"one-row frames. Machine: {m.get('cpu')} ({m.get('cores')} cores, shared; 1-min load "
        f"{m.get('load_avg_1m')}). Each renderer in its own process. Wall time {result['wall_s']} s.",
        "",
        md_table(["renderer", "keystroke->frame ms p50 / p95", "of which render ms p50",
                  "command->frame ms p50 / p95", "full frames/s", "one-row frames/s",
                  "peak RSS (MiB)"], rows),
        "",
        ratio,
    ])

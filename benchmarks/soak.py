"""Soak: a long scripted session; memory, per-step latency and raw accuracy over time.

A fixed, seeded script cycles through what people do in a terminal: typed keys (one frame per
character), shell commands, sympy lines, python3 arithmetic, a python3 REPL, and full-screen
program moments (less, vi). Every frame goes through the whole loop (route, reason, state,
caption, render, verify & repair) with the neural renderer, or the reference raster when no
checkpoint is there (a printed warning, and the results say so).

    python benchmarks/soak.py [--steps 10000] [--renderer neural|raster] [--checkpoint DIR]
                              [--max-minutes M]

With --max-minutes the run stops at that wall time even if fewer frames were done, and the
results say how many (a shared machine may not fit 10,000 frames in the time there is).

Recorded after every call: the process's resident memory (VmRSS), the wall time of the call per
frame, each frame's pipeline time (state + caption + render + verify) and raw accuracy (the drawn
frame read back against the symbolic screen, before repair). Every 100 frames it also records what
the Session holds (its step and frame deques, the event log) to explain memory growth. Writes
benchmarks/results/soak.md (a linear fit per curve: is it flat?), soak.png and, with --json, the
raw series.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from orchestrator.session import Session, StepOutput  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
# "flat" means: extrapolated over 10,000 frames, the steady-state fit moves the curve by less than
RSS_FLAT_MIB = 50.0  # MiB of resident memory
LATENCY_FLAT = 0.10  # of the median pipeline time
ACCURACY_FLAT = 0.005  # of raw char accuracy


def rss_mib() -> float:
    """Resident memory of this process in MiB (VmRSS)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# -- the script ------------------------------------------------------------------------------
Action = Callable[[Session], list[StepOutput]]


def _one(fn: Callable[[Session], StepOutput]) -> Action:
    return lambda s: [fn(s)]


def script(seed: int) -> Iterator[tuple[str, Action]]:
    """An endless, seeded sequence of (label, action); each action returns its frames."""
    rng = random.Random(seed)
    n = 0
    while True:
        n += 1
        a, b, c = rng.randint(2, 999), rng.randint(2, 99), rng.randint(2, 40)
        yield "typed", lambda s, n=n: s.type(f"echo soak-{n}") + [s.key("Enter")]
        yield "sympy", _one(lambda s, a=a, b=b, c=c: s.run(f"{a}*{b}+{c}"))
        yield "sympy", _one(lambda s, c=c: s.run(f"calc integrate(x**{c % 7 + 1}, x)"))
        yield "python", _one(lambda s, a=a, c=c: s.run(f"python3 -c 'print({a}**{c})'"))
        yield "command", _one(lambda s: s.run("ls -l /usr/bin | head -n 8"))
        yield "command", _one(lambda s, b=b: s.run(f"seq 1 {b}"))
        yield "full-screen", lambda s: [s.run("less /etc/os-release"), s.key("j"), s.key("q")]
        yield "full-screen", lambda s: [s.run("vi"), *s.type(":q!"), s.key("Enter")]
        yield "repl", lambda s, a=a, b=b: [s.run("python3"), s.run(f"{a}+{b}"), s.key("ctrl+d")]
        yield "history", lambda s: [s.key("Up"), s.key("ctrl+c")]
        if n % 3 == 0:
            yield "command", _one(lambda s: s.run("clear"))


# -- measuring -------------------------------------------------------------------------------
def holdings(s: Session) -> dict[str, float]:
    """What the session keeps in memory (MiB), read from its deques; private fields, read only
    here for diagnosis and skipped when they are not there."""
    out: dict[str, float] = {"steps_kept": float(len(s.steps))}
    seen: set[int] = set()
    step_bytes = 0
    for st in s.steps:
        arr = st.frame_array
        if id(arr) not in seen:
            seen.add(id(arr))
            step_bytes += arr.nbytes
    out["steps_frames_mib"] = step_bytes / 2**20
    frames = getattr(s, "_frames", None)
    if frames is not None:
        out["frames_kept"] = float(len(frames))
        # an entry is bytes (one zlib stream) or a tuple of them (one per row strip); strips
        # equal to the previous frame's share one bytes object, so each is counted once
        blobs = {id(b): len(b) for _t, _s, e in frames
                 for b in ((e,) if isinstance(e, bytes) else e)}
        out["frames_mib"] = sum(blobs.values()) / 2**20
    events = getattr(s, "_events", None)
    if events is not None:
        out["events"] = float(len(events))
        out["events_mib"] = sum(len(d) for _t, _c, d in events) / 2**20
    return out


def make_renderer(name: str, checkpoint: str | None) -> tuple[Any, str]:
    """The renderer to soak and a note for the results; neural falls back to the raster with a
    warning when its checkpoint cannot be loaded."""
    from renderer import registry

    if name == "raster":
        return registry.create("raster"), "raster (the reference rasterizer), as asked"
    try:
        from renderer.neural import DEFAULT_CHECKPOINT

        source = Path(checkpoint) if checkpoint else DEFAULT_CHECKPOINT
        # a private copy: a checkpoint that is still being trained may change under us
        copy = Path(tempfile.mkdtemp(prefix="soak-ckpt-")) / "model"
        shutil.copytree(source, copy)
        r = registry.create("neural", checkpoint=str(copy))
        return r, f"neural, checkpoint {source} (copied at start)"
    except Exception as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        print(f"soak: WARNING: the neural renderer cannot load ({msg}); soaking the raster "
              "renderer instead", file=sys.stderr)
        return registry.create("raster"), f"raster - FALLBACK, the neural renderer did not load: {msg}"


def soak(steps: int, renderer: Any, seed: int, command_timeout: float,
         progress: int, max_seconds: float | None = None) -> dict[str, Any]:
    """Run the script until `steps` frames (or `max_seconds` of wall time); returns the
    per-frame and per-call series."""
    frames: list[dict[str, float]] = []
    samples: list[dict[str, float]] = []
    t_start = time.monotonic()
    with Session(renderer=renderer, command_timeout=command_timeout, seed=seed) as s:
        frames.append({"rss": rss_mib(), "call_ms": float("nan"), "cpu_ms": float("nan"),
                       "pipeline_ms": float("nan"), "render_ms": float("nan"),
                       "raw": float("nan"), "kind": "reset"})
        stopped_by_time = False
        for label, action in script(seed):
            t0, c0 = time.perf_counter(), time.process_time()
            out = action(s)
            wall = (time.perf_counter() - t0) * 1000
            # CPU time of this process (all its threads; not the sandbox's processes): unlike
            # wall time it hardly moves when other work shares the CPUs
            cpu = (time.process_time() - c0) * 1000
            rss = rss_mib()
            for st in out:
                frames.append({
                    "rss": rss, "call_ms": wall / len(out), "cpu_ms": cpu / len(out),
                    "kind": label,
                    "pipeline_ms": float(st.timings.get("total", float("nan"))),
                    "render_ms": float(st.timings.get("render", float("nan"))),
                    "raw": float(st.accuracy.get("raw", float("nan"))),
                    "repaired": float(st.accuracy.get("repaired", float("nan"))),
                    "fallback": 1.0 if "fallback" in st.trace.get("render", {}) else 0.0,
                })
            n = len(frames) - 1  # frames drawn so far (frames[0] is the state at the start)
            if n // 100 > (n - len(out)) // 100:
                samples.append({"frame": float(n), "rss": rss, "load": os.getloadavg()[0],
                                **holdings(s)})
            if progress and n // progress > (n - len(out)) // progress:
                print(f"soak: {n}/{steps} frames, {time.monotonic() - t_start:.0f} s, "
                      f"RSS {rss:.0f} MiB", file=sys.stderr, flush=True)
            if n >= steps:
                break
            if max_seconds is not None and time.monotonic() - t_start >= max_seconds:
                print(f"soak: time limit reached after {n} of {steps} frames",
                      file=sys.stderr, flush=True)
                stopped_by_time = True
                break
    return {"frames": frames[:steps + 1], "samples": samples, "asked": steps,
            "stopped_by_time": stopped_by_time, "seconds": time.monotonic() - t_start}


# -- analysis --------------------------------------------------------------------------------
def fit(y: np.ndarray, start: int) -> tuple[float, float]:
    """Least-squares slope per 1000 frames and intercept, over frames[start:] (NaNs dropped)."""
    x = np.arange(len(y), dtype=float)
    keep = np.isfinite(y) & (x >= start)
    if keep.sum() < 3:
        return float("nan"), float("nan")
    slope, icept = np.polyfit(x[keep], y[keep], 1)
    return float(slope * 1000), float(icept)


def rolling(y: np.ndarray, w: int, fn: Callable[[np.ndarray], float]) -> np.ndarray:
    out = np.full(len(y), np.nan)
    for i in range(len(y)):
        win = y[max(0, i - w + 1):i + 1]
        win = win[np.isfinite(win)]
        if len(win):
            out[i] = fn(win)
    return out


def analyse(frames: list[dict[str, Any]]) -> dict[str, Any]:
    """Fits over the whole run and over its second half (steady state), and the verdicts."""
    n = len(frames)
    series = {k: np.array([f.get(k, np.nan) for f in frames], float)
              for k in ("rss", "pipeline_ms", "call_ms", "cpu_ms", "raw")}
    half = n // 2
    out: dict[str, Any] = {"n": n - 1}
    for key, series_y in series.items():
        whole, _ = fit(series_y, 1)
        steady, _ = fit(series_y, half)
        finite = series_y[np.isfinite(series_y)]
        out[key] = {"slope_all": whole, "slope_steady": steady,
                    "median": float(np.median(finite)) if len(finite) else float("nan"),
                    "p95": float(np.percentile(finite, 95)) if len(finite) else float("nan"),
                    "p5": float(np.percentile(finite, 5)) if len(finite) else float("nan"),
                    "mean": float(np.mean(finite)) if len(finite) else float("nan"),
                    "below_1": int((finite < 1.0).sum()),
                    "first": float(finite[0]) if len(finite) else float("nan"),
                    "last": float(finite[-1]) if len(finite) else float("nan"),
                    "max": float(finite.max()) if len(finite) else float("nan"),
                    "min": float(finite.min()) if len(finite) else float("nan")}
    out["rss"]["flat"] = abs(out["rss"]["slope_steady"]) * 10 < RSS_FLAT_MIB
    out["pipeline_ms"]["flat"] = (abs(out["pipeline_ms"]["slope_steady"]) * 10
                                  < LATENCY_FLAT * out["pipeline_ms"]["median"])
    out["call_ms"]["flat"] = (abs(out["call_ms"]["slope_steady"]) * 10
                              < LATENCY_FLAT * out["call_ms"]["median"])
    out["cpu_ms"]["flat"] = (abs(out["cpu_ms"]["slope_steady"]) * 10
                             < LATENCY_FLAT * out["cpu_ms"]["median"])
    out["raw"]["flat"] = abs(out["raw"]["slope_steady"]) * 10 < ACCURACY_FLAT
    out["fallbacks"] = int(sum(f.get("fallback", 0) for f in frames))
    return out


def plot(frames: list[dict[str, Any]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = np.arange(len(frames))
    rss = np.array([f["rss"] for f in frames], float)
    pipe = np.array([f["pipeline_ms"] for f in frames], float)
    call = np.array([f["call_ms"] for f in frames], float)
    cpu = np.array([f.get("cpu_ms", np.nan) for f in frames], float)
    raw = np.array([f["raw"] for f in frames], float)
    w = max(5, len(frames) // 100)
    fig, ax = plt.subplots(3, 1, figsize=(10, 9), sharex=True)
    ax[0].plot(x, rss, lw=1)
    ax[0].set_ylabel("RSS (MiB)")
    ax[1].plot(x, pipe, ".", ms=1, alpha=0.25, color="tab:gray", label="per frame")
    ax[1].plot(x, rolling(pipe, w, np.median), lw=1.5, label=f"pipeline, median of {w}")
    ax[1].plot(x, rolling(call, w, np.median), lw=1.5, label=f"call / frames, median of {w}")
    ax[1].plot(x, rolling(cpu, w, np.median), lw=1.5,
               label=f"CPU time of call / frames, median of {w}")
    ax[1].set_yscale("log")
    ax[1].set_ylabel("ms per frame")
    ax[1].legend(loc="upper right", fontsize=8)
    ax[2].plot(x, raw, ".", ms=1, alpha=0.25, color="tab:gray")
    ax[2].plot(x, rolling(raw, w, np.mean), lw=1.5, label=f"mean of {w}")
    ax[2].set_ylabel("raw char accuracy")
    ax[2].set_xlabel("frame")
    ax[2].legend(loc="lower right", fontsize=8)
    fig.suptitle("\n".join(textwrap.wrap(title, 110)), fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def machine() -> str:
    load = os.getloadavg()[0]
    return (f"{platform.machine()}, {os.cpu_count()} CPUs shared with other work (1-min load "
            f"average {load:.1f} at the end), Python {platform.python_version()}")


def markdown(res: dict[str, Any], a: dict[str, Any], note: str, command: str,
             png: Path) -> str:
    def verdict(flat: bool) -> str:
        return "**flat**" if flat else "**not flat**"

    r, p, c, acc, u = a["rss"], a["pipeline_ms"], a["call_ms"], a["raw"], a["cpu_ms"]
    last = res["samples"][-1] if res["samples"] else {}
    asked = res.get("asked", a["n"])
    cut = (f" **The run was stopped by its time limit after {a['n']} of the {asked} frames "
           "asked for.**" if res.get("stopped_by_time") else "")
    lines = [
        "## Soak: a long scripted session",
        "",
        f"Measured by `{command}` on {machine()}; renderer: {note}. {a['n']} frames in "
        f"{res['seconds'] / 60:.1f} min; {a['fallbacks']} frames fell back to the raster.{cut}",
        "",
        f"![soak curves]({png.name})",
        "",
        "| curve | first | last | median | tail (p95; accuracy: p5) | slope, whole run | "
        "slope, 2nd half | verdict |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
        f"| resident memory (MiB) | {r['first']:.0f} | {r['last']:.0f} | {r['median']:.0f} | "
        f"{r['p95']:.0f} | {r['slope_all']:+.2f} MiB/1000 frames | {r['slope_steady']:+.2f} "
        f"MiB/1000 frames | {verdict(r['flat'])} |",
        f"| pipeline time per frame (ms) | {p['first']:.1f} | {p['last']:.1f} | "
        f"{p['median']:.1f} | {p['p95']:.1f} | {p['slope_all']:+.3f} ms/1000 frames | "
        f"{p['slope_steady']:+.3f} ms/1000 frames | {verdict(p['flat'])} |",
        f"| call wall time per frame (ms) | {c['first']:.1f} | {c['last']:.1f} | "
        f"{c['median']:.1f} | {c['p95']:.1f} | {c['slope_all']:+.3f} ms/1000 frames | "
        f"{c['slope_steady']:+.3f} ms/1000 frames | {verdict(c['flat'])} |",
        f"| CPU time per frame (ms) | {u['first']:.1f} | {u['last']:.1f} | "
        f"{u['median']:.1f} | {u['p95']:.1f} | {u['slope_all']:+.3f} ms/1000 frames | "
        f"{u['slope_steady']:+.3f} ms/1000 frames | {verdict(u['flat'])} |",
        f"| raw char accuracy | {acc['first']:.4f} | {acc['last']:.4f} | {acc['median']:.4f} | "
        f"{acc['p5']:.4f} | {acc['slope_all']:+.5f}/1000 frames | {acc['slope_steady']:+.5f}"
        f"/1000 frames | {verdict(acc['flat'])} |",
        "",
        f"Raw char accuracy (the drawn frame read back by the cell OCR, before any repair): mean "
        f"{acc['mean']:.5f}, minimum {acc['min']:.4f}, {acc['below_1']} of {a['n']} frames below "
        "1.0.",
        "",
        f"Flat means the least-squares line over the second half of the run, extrapolated to "
        f"10,000 frames, moves memory by less than {RSS_FLAT_MIB:.0f} MiB, a time by less than "
        f"{LATENCY_FLAT:.0%} of its median, accuracy by less than {ACCURACY_FLAT}. The pipeline "
        "time is state + caption + render + verify of one frame; the call time is the wall time "
        "of the Session call (run/type/key) divided by the frames it produced, so it includes "
        "the reasoners (a command's run time, the sandbox round trip). The CPU time is this "
        "process's CPU time during the call divided by its frames: it leaves out the sandbox's "
        "processes and hardly depends on how busy the shared CPUs are, so it tells drift in the "
        "code apart from a busier machine.",
    ]
    lines += ["", "Per tenth of the run (medians, and the machine's 1-min load average: how busy "
              "the shared CPUs were):", "",
              "| frames | RSS MiB | pipeline ms | call ms | CPU ms | raw accuracy (mean) | "
              "load average |",
              "|---|---:|---:|---:|---:|---:|---:|"]
    frames = res["frames"][1:]
    tenth = max(1, len(frames) // 10)
    for i in range(0, len(frames) - tenth + 1, tenth):
        part = frames[i:i + tenth]
        loads = [x["load"] for x in res["samples"] if "load" in x and i < x["frame"] <= i + tenth]

        def med(key: str, part: list[dict[str, Any]] = part) -> float:
            vals = [f[key] for f in part if np.isfinite(f[key])]
            return float(np.median(vals)) if vals else float("nan")
        raw = [f["raw"] for f in part if np.isfinite(f["raw"])]
        load = f"{np.mean(loads):.1f}" if loads else "n/a"
        lines.append(f"| {i + 1}-{i + len(part)} | {med('rss'):.0f} | {med('pipeline_ms'):.1f} | "
                     f"{med('call_ms'):.1f} | {med('cpu_ms'):.1f} | {np.mean(raw) if raw else float('nan'):.5f} | "
                     f"{load} |")
    if len(frames) >= 10:
        def mid(key: str, part: list[dict[str, Any]]) -> float:
            vals = [f[key] for f in part if np.isfinite(f.get(key, np.nan))]
            return float(np.median(vals)) if vals else float("nan")

        head, tail = frames[:tenth], frames[-tenth:]
        parts = []
        for key, name, unit in (("rss", "RSS", "MiB"), ("pipeline_ms", "pipeline", "ms"),
                                ("call_ms", "call", "ms"), ("cpu_ms", "CPU", "ms")):
            x0, x1 = mid(key, head), mid(key, tail)
            parts.append(f"{name} {x0:.1f} -> {x1:.1f} {unit} ({(x1 - x0) / x0:+.0%})")
        raw0 = np.nanmean([f["raw"] for f in head])
        raw1 = np.nanmean([f["raw"] for f in tail])
        parts.append(f"raw accuracy (mean) {raw0:.5f} -> {raw1:.5f}")
        lines += ["", "First tenth against last tenth (medians): " + "; ".join(parts) + "."]
    if last:
        lines += [
            "",
            f"What the Session held at the end (frame {last['frame']:.0f}): "
            f"{last.get('steps_kept', 0):.0f} StepOutputs in `Session.steps` whose frames take "
            f"{last.get('steps_frames_mib', 0):.0f} MiB uncompressed; "
            f"{last.get('frames_kept', 0):.0f} compressed frames for export() taking "
            f"{last.get('frames_mib', 0):.1f} MiB; {last.get('events', 0):.0f} recorded events "
            f"taking {last.get('events_mib', 0):.1f} MiB (this list has no bound).",
        ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=10_000, help="frames to run (default 10000)")
    ap.add_argument("--renderer", choices=["neural", "raster"], default="neural")
    ap.add_argument("--checkpoint", help="neural checkpoint directory (default: the shipped one)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--command-timeout", type=float, default=10.0)
    ap.add_argument("--out-md", type=Path, default=RESULTS / "soak.md")
    ap.add_argument("--out-png", type=Path, default=RESULTS / "soak.png")
    ap.add_argument("--json", type=Path, help="also write the raw series here")
    ap.add_argument("--progress", type=int, default=500, help="print progress every N frames")
    ap.add_argument("--max-minutes", type=float,
                    help="stop after this much wall time and report the frames done")
    args = ap.parse_args(argv)
    if args.steps < 10:
        ap.error("--steps must be at least 10")
    command = "python benchmarks/soak.py " + " ".join(sys.argv[1:] if argv is None else argv)
    renderer, note = make_renderer(args.renderer, args.checkpoint)
    if args.max_minutes is not None and args.max_minutes <= 0:
        ap.error("--max-minutes must be > 0")
    res = soak(args.steps, renderer, args.seed, args.command_timeout, args.progress,
               None if args.max_minutes is None else args.max_minutes * 60)
    a = analyse(res["frames"])
    plot(res["frames"], args.out_png, f"{command}\n{note}")
    text = markdown(res, a, note, command.strip(), args.out_png)
    args.out_md.parent.mkdir(parents=True, exist_ok=True)
    args.out_md.write_text(text)
    if args.json:
        args.json.write_text(json.dumps({"analysis": a, "samples": res["samples"],
                                         "seconds": res["seconds"], "asked": res["asked"],
                                         "stopped_by_time": res["stopped_by_time"],
                                         "frames": res["frames"]}, default=float))
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

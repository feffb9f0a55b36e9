"""What every `hybrid-nc eval` subcommand shares: provenance, confidence intervals, tables, the
screen sets sampled from recordings, renderer construction, and writing results.

Every result JSON carries `provenance()`: the git commit (and whether the tree was dirty), the
machine (CPU model, cores, GPU if any), Python and package versions, the seeds and the command,
so a number in BENCHMARKS.md can be traced to what produced it.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
# the external material (recordings, SVAMP/GSM8K): the same setting the tests read
SHARED_DATA = Path(os.environ.get("HYBRID_NC_TEST_DATA") or os.environ.get("HYBRID_NC_SHARED_DATA")
                   or ROOT.parent / "shared" / "data")
DEFAULT_CASTS = SHARED_DATA / "casts"
# a run writes where the user says; the committed pages are made with --out benchmarks/results/eval
DEFAULT_OUT = Path("hybrid-nc-eval")
PACKAGES = ("torch", "diffusers", "numpy", "pyte", "Levenshtein", "sympy", "Pillow", "accelerate",
            "datasets")


class EvalError(RuntimeError):
    """A problem a user can cause (missing data, bad option): one line, exit status 1."""


# -- provenance ------------------------------------------------------------------------------
def _git(*args: str) -> str:
    try:
        out = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                             timeout=10, check=False)
        return out.stdout.strip() if out.returncode == 0 else ""
    except (OSError, subprocess.TimeoutExpired):
        return ""


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo where there is one)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict[str, Any]:
    """CPU model, cores, memory, GPU (when torch sees one), OS."""
    info: dict[str, Any] = {"cpu": cpu_model(), "cores": os.cpu_count(),
                            "platform": platform.platform()}
    try:
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
        info["memory_gib"] = round(pages * size / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        pass
    try:
        import torch

        info["torch_threads"] = torch.get_num_threads()
        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(0)
    except Exception:
        pass
    try:
        load = os.getloadavg()
        info["load_avg_1m"] = round(load[0], 2)  # the machine is shared: timings depend on it
    except OSError:
        pass
    return info


def package_versions() -> dict[str, str]:
    """Versions of the packages the figures depend on (and tesseract's)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for name in PACKAGES:
        with contextlib.suppress(PackageNotFoundError):
            out[name] = version(name)
    try:
        tess = subprocess.run(["tesseract", "--version"], capture_output=True, text=True,
                              timeout=10, check=False)
        first = (tess.stdout or tess.stderr).strip().splitlines()
        if first:
            out["tesseract"] = first[0].split()[-1]
    except (OSError, subprocess.TimeoutExpired):
        pass
    return out


_DIGESTS: dict[str, str] = {}


def _digest(weights: Path) -> str:
    import hashlib

    return hashlib.sha256(weights.read_bytes()).hexdigest()[:16]


def checkpoint_digests() -> dict[str, str]:
    """sha256 (first 16 hex digits) of the weights of every checkpoint this process loaded,
    taken when it was loaded: checkpoints are retrained between commits, so the commit alone
    does not say which weights were measured."""
    return dict(_DIGESTS)


def provenance(seeds: dict[str, int], argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Commit, machine, versions, checkpoint digests, seeds and command of a run."""
    commit = _git("rev-parse", "HEAD")
    dirty = bool(_git("status", "--porcelain", "--untracked-files=no"))
    return {"git_commit": commit or "unknown", "git_dirty": dirty,
            "checkpoints": checkpoint_digests(),
            "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "machine": machine(),
            "packages": package_versions(), "seeds": dict(seeds),
            "command": "hybrid-nc " + " ".join(sys.argv[1:] if argv is None else argv)}


# -- statistics ------------------------------------------------------------------------------
def wilson(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """95% Wilson score interval of a proportion k/n ((0, 1) when n = 0)."""
    if n <= 0:
        return (0.0, 1.0)
    p = k / n
    den = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return (max(0.0, centre - half), min(1.0, centre + half))


def bootstrap_ci(values: Sequence[float], seed: int = 0, n_boot: int = 2000,
                 level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean (degenerate for fewer than 2 values; infinite
    values are left out, as PSNR of identical frames is)."""
    x = np.asarray([v for v in values if v is not None and math.isfinite(v)], np.float64)
    if len(x) == 0:
        return (float("nan"), float("nan"))
    if len(x) == 1:
        return (float(x[0]), float(x[0]))
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, len(x), size=(n_boot, len(x)))].mean(axis=1)
    lo, hi = np.quantile(means, [(1 - level) / 2, 1 - (1 - level) / 2])
    return (float(lo), float(hi))


def finite_mean(values: Iterable[float | None]) -> float | None:
    """Mean of the finite values (None when there are none)."""
    x = [v for v in values if v is not None and math.isfinite(v)]
    return float(np.mean(x)) if x else None


@dataclass
class Estimate:
    """A mean (or proportion) with its 95% interval and sample size."""

    value: float | None
    lo: float | None
    hi: float | None
    n: int
    method: str

    def to_json(self) -> dict[str, Any]:
        """Rounded for the result files."""
        def r(v: float | None) -> float | None:
            return None if v is None or not math.isfinite(v) else round(float(v), 6)

        return {"value": r(self.value), "ci95": [r(self.lo), r(self.hi)], "n": self.n,
                "method": self.method}

    def fmt(self, digits: int = 3, pct: bool = False) -> str:
        """'0.912 [0.88, 0.94]' (or percentages)."""
        if self.value is None or not math.isfinite(self.value):
            return "—"
        scale, unit = (100.0, "%") if pct else (1.0, "")
        v = f"{self.value * scale:.{digits}f}{unit}"
        if self.lo is None or self.hi is None or not math.isfinite(self.lo) or self.n < 2:
            return v
        return f"{v} [{self.lo * scale:.{digits}f}, {self.hi * scale:.{digits}f}]"


def mean_estimate(values: Sequence[float | None], seed: int = 0) -> Estimate:
    """Mean of the finite values with a bootstrap 95% interval."""
    x = [float(v) for v in values if v is not None and math.isfinite(v)]
    if not x:
        return Estimate(None, None, None, 0, "bootstrap")
    lo, hi = bootstrap_ci(x, seed)
    return Estimate(float(np.mean(x)), lo, hi, len(x), "bootstrap")


def proportion_estimate(k: int, n: int) -> Estimate:
    """k/n with its Wilson 95% interval."""
    lo, hi = wilson(k, n)
    return Estimate(k / n if n else None, lo, hi, n, "wilson")


# -- tables and results ----------------------------------------------------------------------
def md_table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A GitHub Markdown table (cells str()-ed, '|' escaped)."""
    def cell(v: Any) -> str:
        return ("—" if v is None else str(v)).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(h) for h in header) + " |",
             "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def fmt_num(v: float | None, digits: int = 3) -> str:
    """A number for a table ('—' for None/NaN, '∞' for infinity)."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    if isinstance(v, float) and math.isinf(v):
        return "∞"
    return f"{v:.{digits}f}"


def _clean(obj: Any) -> Any:
    """JSON-safe: infinities/NaN become None (strict JSON has neither)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.generic):
        return _clean(obj.item())
    if isinstance(obj, Path):
        return str(obj)
    return obj


def write_result(out_dir: Path, name: str, result: dict[str, Any], markdown: str,
                 json_out: str | None = None) -> tuple[Path, Path]:
    """Write out_dir/<name>.json and out_dir/<name>.md (and the JSON to `json_out` too)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    jp, mp = out_dir / f"{name}.json", out_dir / f"{name}.md"
    public = {k: v for k, v in result.items() if not k.startswith("_")}  # "_": in-memory only
    text = json.dumps(_clean(public), indent=1, ensure_ascii=False)
    jp.write_text(text + "\n")
    mp.write_text(markdown.rstrip() + "\n")
    if json_out:
        Path(json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(json_out).write_text(text + "\n")
    return jp, mp


def progress(items: Iterable[Any], total: int | None, desc: str, quiet: bool = False) -> Iterator[Any]:
    """`items` with a progress bar on stderr (none when quiet or not on a terminal)."""
    from hybrid_nc.commands._progress import track

    yield from track(items, desc, total=total, quiet=quiet)


# -- screen sets -----------------------------------------------------------------------------
@dataclass
class CastScreens:
    """Screens sampled from one recording (in time order), with its theme."""

    name: str
    theme: Any
    times: list[float]
    screens: list[Any]
    heldout: bool
    trained: bool = field(default=False)  # in the trainer's data (shared casts not held out)


def heldout_casts() -> tuple[str, ...]:
    """The recordings the shipped neural renderer never trained on (the trainer's list)."""
    from renderer.training.sources import HELDOUT_CASTS

    return tuple(HELDOUT_CASTS)


def cast_files(casts_dir: Path) -> list[Path]:
    """The .cast files of a directory (a clear error when there are none)."""
    casts_dir = Path(casts_dir)
    if not casts_dir.is_dir():
        raise EvalError(f"no directory of recordings at {casts_dir} (give --casts DIR)")
    files = sorted(casts_dir.glob("*.cast"))
    if not files:
        raise EvalError(f"no .cast files in {casts_dir}")
    return files


def trained_names() -> set[str]:
    """Names of the shared recordings the trainer used (every one not held out)."""
    held = set(heldout_casts())
    shared = DEFAULT_CASTS
    return {p.name for p in shared.glob("*.cast")} - held if shared.is_dir() else set()


def sample_cast(path: Path, per_cast: int = 5) -> CastScreens:
    """`per_cast` screens at uniformly spaced times (k/per_cast of the duration, k = 1..n: the
    last is the final screen; time 0 would be a blank terminal), as the paper samples 5 frames
    per video."""
    from terminal.recording import CastError, Replay, read_cast
    from terminal.themes import get_theme

    try:
        cast = read_cast(path)
    except CastError as e:
        raise EvalError(f"{path.name}: {e}") from None
    replay = Replay(cast)
    dur = cast.duration
    times = [dur * (k + 1) / per_cast for k in range(per_cast)]
    screens = [replay.frame(t).screen for t in times]
    theme = cast.theme or get_theme("dark")
    held = path.name in heldout_casts() or path.name not in trained_names()
    return CastScreens(path.name, theme, times, screens, held, path.name in trained_names())


def cast_rollout(path: Path, max_frames: int | None = None) -> tuple[Any, list[tuple[Any, set[int], str]]]:
    """(theme, [(screen, damage, action)]) of every output frame of a recording (the trainer's
    framing: output events under 1/60 s apart are one frame), for scoring frame after frame."""
    from renderer.training.sources import CastError, cast_frames, cast_terminal, cast_theme

    try:
        head, frames = cast_frames(path)
    except CastError as e:
        raise EvalError(str(e)) from None
    term = cast_terminal(head)
    out = []
    for data, action in frames:
        term.feed(data)
        term.replies.clear()
        out.append((term.snapshot(), term.take_damage(), action))
        if max_frames is not None and len(out) >= max_frames:
            break
    return cast_theme(head), out


# -- renderers -------------------------------------------------------------------------------
def renderer_label(name: str) -> str:
    """Short name of a renderer spec for tables."""
    return name.rsplit("/", 1)[-1] if "/" in name else name


def checkpoint_path(name: str) -> Path | None:
    """The checkpoint directory a renderer spec names ("neural", "ablation:NAME", a directory),
    or None (the raster, a registered name)."""
    from renderer.neural import DEFAULT_CHECKPOINT

    from .variants import ABLATIONS

    if name == "neural":
        return DEFAULT_CHECKPOINT
    if name.startswith("ablation:"):
        return ABLATIONS / name.split(":", 1)[1]
    return Path(name) if Path(name).is_dir() else None


def note_checkpoint(name: str) -> None:
    """Record the weights' digest of a renderer spec (once), so the provenance of a result
    names the weights that drew it, also when another process loads them (the latency runs)."""
    from renderer.neural import weights_path

    path = checkpoint_path(name)
    if path is not None and weights_path(path).is_file():
        rel = path.resolve().relative_to(ROOT) if path.resolve().is_relative_to(ROOT) else path
        if str(rel) not in _DIGESTS:
            _DIGESTS[str(rel)] = _digest(weights_path(path))


def make_renderer(name: str, theme: Any = "dark", seed: int = 0, steps: int | None = None) -> Any:
    """A fresh renderer by spec, made by the renderer registry: "raster", "neural" (the shipped
    checkpoint), "ablation:NAME" (renderer/checkpoints/ablations/NAME, drawn with the caption
    tier it was trained on), a checkpoint directory, or a registered name. `steps` goes to the
    renderers that sample (the raster draws exactly either way)."""
    from renderer import registry

    path = None if name == "raster" else checkpoint_path(name)
    spec = "neural" if path is not None else name
    options = registry.RendererOptions(theme=theme, seed=seed, steps=steps,
                                       model=None if path is None else str(path))
    try:
        if path is not None:
            note_checkpoint(name)
        r = registry.create(spec, registry.applicable(spec, options))
    except registry.RendererUsageError:
        raise  # asked for wrongly (an unknown name): bad usage, not a failed evaluation
    except Exception as e:
        raise EvalError(f"renderer {name!r}: {str(e).splitlines()[0] if str(e) else e}") from None
    if path is not None:  # tables name ablations by their folder
        r.name = "neural" if name == "neural" else renderer_label(name)
    return r


def frame_ms_stats(ms: Sequence[float]) -> dict[str, float | None]:
    """p50, p95, mean and count of a list of milliseconds."""
    if not ms:
        return {"p50": None, "p95": None, "mean": None, "n": 0}
    a = np.asarray(ms, np.float64)
    return {"p50": float(np.percentile(a, 50)), "p95": float(np.percentile(a, 95)),
            "mean": float(a.mean()), "n": len(a)}


# -- rollouts (captions and injection ablations) ---------------------------------------------
_ROLLOUTS: dict[tuple[str, str, int | None, int, int | None], dict[str, Any]] = {}


def heldout_files(casts_dir: Path) -> list[Path]:
    """The recordings of `casts_dir` that no renderer trained on: the trainer's held-out list
    for the shared casts, every recording for any other directory."""
    trained = trained_names()
    files = [p for p in cast_files(casts_dir) if p.name in heldout_casts() or p.name not in trained]
    if not files:
        raise EvalError(f"no held-out recordings in {casts_dir}")
    return files


def score_rollout(name: str, path: Path, max_frames: int | None, seed: int = 0,
                  steps: int | None = None) -> dict[str, Any]:
    """Play a recording through renderer `name` frame after frame (damage-aware, its own frames
    as context, no repair) and score every frame against the raster: PSNR, SSIM (mean over
    channels) and cell-OCR char accuracy. `steps`: sampling steps (None: the renderer's).
    Cached per process (eval all shares the runs)."""
    from renderer.metrics import char_accuracy, psnr, ssim
    from renderer.ocr import CellOCR
    from renderer.raster import RasterConfig, RasterRenderer

    key = (name, str(path), max_frames, seed, steps)
    if key in _ROLLOUTS:
        return _ROLLOUTS[key]
    theme, frames = cast_rollout(path, max_frames)
    ref = RasterRenderer(RasterConfig(theme=theme))
    ocr = CellOCR(ref.atlas)
    r = make_renderer(name, theme, seed, steps)
    if hasattr(r, "reset"):
        r.reset()
    scores: dict[str, list[float]] = {"psnr": [], "ssim": [], "char": [], "ms": []}
    last = None
    for screen, damage, action in frames:
        t = time.perf_counter()
        frame = r.render(screen, damage=damage, action=action or None, seed=seed).frame
        scores["ms"].append((time.perf_counter() - t) * 1000)
        truth = ref.render(screen).frame
        scores["psnr"].append(psnr(frame, truth))
        scores["ssim"].append(ssim(frame, truth))
        read = ocr.read(frame, screen.cols, screen.rows, hint=screen)
        scores["char"].append(char_accuracy(read.text, screen.text))
        last = (frame, truth)
    out = {"cast": path.name, "frames": len(frames), **scores, "_last": last}
    _ROLLOUTS[key] = out
    return out


def ablation_table(variants: list[str], casts: list[Path], max_frames: int | None, seed: int,
                   quiet: bool, desc: str, steps: int | None = None) -> list[dict[str, Any]]:
    """Rollout scores of several ablation variants over the same held-out recordings:
    per variant, means (bootstrap 95% CI over frames) of PSNR, SSIM and char accuracy.
    `steps`: sampling steps of every variant (None: each one's own)."""
    from .variants import ABLATIONS, VARIANT_FILE

    # every checkpoint is checked before any work, so a missing one costs no minutes
    missing = [v for v in variants if not (ABLATIONS / v).is_dir()]
    if missing:
        raise EvalError(f"no ablation checkpoint {ABLATIONS / missing[0]} (train it: hybrid-nc "
                        f"eval train-ablations --only {','.join(missing)})")
    out = []
    todo = [(v, p) for v in variants for p in casts]
    per: dict[str, list[dict[str, Any]]] = {v: [] for v in variants}
    for v, p in progress(todo, len(todo), desc, quiet):
        per[v].append(score_rollout(f"ablation:{v}", p, max_frames, seed, steps))
    for v in variants:
        runs = per[v]
        meta_path = ABLATIONS / v / VARIANT_FILE
        meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
        entry: dict[str, Any] = {"variant": v, "restriction": meta.get("restriction"),
                                 "injection": meta.get("train_config", {}).get("model", {})
                                 .get("injection"), "train_steps": meta.get("steps"),
                                 "train_wall_s": meta.get("wall_s"),
                                 "frames": sum(r["frames"] for r in runs)}
        for k in ("psnr", "ssim", "char"):
            entry[k] = mean_estimate([x for r in runs for x in r[k]], seed).to_json()
        entry["render_ms"] = frame_ms_stats([x for r in runs for x in r["ms"]])
        entry["per_cast"] = [{"cast": r["cast"], "frames": r["frames"],
                              "psnr": finite_mean(r["psnr"]), "ssim": finite_mean(r["ssim"]),
                              "char": finite_mean(r["char"])} for r in runs]
        out.append(entry)
    return out


def est_str(e: dict[str, Any], digits: int = 3) -> str:
    """'v [lo, hi]' of an Estimate.to_json() dict."""
    v, (lo, hi) = e["value"], e["ci95"]
    if v is None:
        return "—"
    if lo is None or e["n"] < 2 or lo == hi:
        return fmt_num(v, digits)
    return f"{fmt_num(v, digits)} [{fmt_num(lo, digits)}, {fmt_num(hi, digits)}]"

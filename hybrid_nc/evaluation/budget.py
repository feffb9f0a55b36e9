"""`hybrid-nc eval budget`: the caption-tier and injection-mode ablations as a function of the
training budget, over several training seeds.

`hybrid-nc eval train-ablations --seeds 0,1,2` keeps every checkpoint its runs write
(runs/ablations/<name>[-seed<S>]/snapshots/<step>/, every `ckpt_every` = 250 steps). Each
snapshot is scored like `eval captions` / `eval injection` score the shipped variants: the
held-out recordings played frame after frame, PSNR / SSIM against the raster and cell-OCR char
accuracy. Per variant and step: the mean over seeds and its spread (standard deviation, min, max),
and whether the paper's orderings hold at that budget:

    injection (SSIM):  external 0.746 < contextual 0.813 < residual 0.857 < internal 0.863
    captions (PSNR):   semantic 21.90 < regular 23.63 < detailed 26.89 dB

A checkpoint's figure is the mean over the frames of all recordings (the same frames for every
checkpoint, so differences between variants are paired).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from .captions import PAPER_PSNR
from .captions import TIERS as CAPTION_TIERS
from .common import EvalError, finite_mean, fmt_num, md_table, progress, provenance, score_rollout
from .injection import MODES, PAPER_SSIM

# variant name -> (family, label in that family); "detailed" is in both
FAMILIES: dict[str, list[tuple[str, str]]] = {
    "injection": [(variant, mode) for mode, variant in MODES.items()],
    "captions": [(tier, tier) for tier in CAPTION_TIERS],
}
METRIC = {"injection": "ssim", "captions": "psnr"}  # the paper's figure for each family
PAPER = {"injection": PAPER_SSIM, "captions": PAPER_PSNR}
DEFAULT_STEPS = (250, 500, 1000, 1500)
SCORES_FILE = "budget_scores.json"  # in a snapshot folder: its scores, by evaluation settings


def variant_names() -> list[str]:
    """Every variant the two families use, once each."""
    return list(dict.fromkeys(v for fam in FAMILIES.values() for v, _ in fam))


def run_budget(casts: list[Path], *, max_frames: int | None, steps: list[int] | None = None,
               seeds: list[int] | None = None, budget: int | None = None, seed: int = 0,
               quiet: bool = False, sampling_steps: int | None = None) -> dict[str, Any]:
    """Score every snapshot (variant x seed x step; `steps`: which ones, default 250, 500,
    1000 and the last) of the training runs of `budget` steps (default: the configs')."""
    from .variants import VARIANT_FILE, ablation_configs, snapshot_dirs

    t0 = time.perf_counter()
    configs = {c.name: c for c in ablation_configs(variant_names())}
    todo: list[tuple[str, int, int, Path]] = []
    trained: list[dict[str, Any]] = []
    for name, cfg in configs.items():
        for s, snaps in snapshot_dirs(cfg, seeds, budget).items():
            want = set(steps) if steps else {*DEFAULT_STEPS, max(snaps)}
            todo += [(name, s, step, path) for step, path in snaps.items() if step in want]
            last = json.loads((snaps[max(snaps)] / VARIANT_FILE).read_text())
            trained.append({"variant": name, "seed": s, "steps": max(snaps),
                            "wall_s": last.get("wall_s")})
    if not todo:
        raise EvalError("no training snapshots in runs/ablations (train them: hybrid-nc eval "
                        "train-ablations --seeds 0,1,2)")
    points: list[dict[str, Any]] = []
    # a snapshot never changes, so its scores are kept beside it (keyed by what decides them)
    # and a later run, with more seeds trained, only scores the new ones
    key = json.dumps({"casts": [p.name for p in casts], "max_frames": max_frames, "seed": seed,
                      "sampling_steps": sampling_steps}, sort_keys=True)
    for name, s, step, path in progress(todo, len(todo), "budget", quiet):
        cache_path = path / SCORES_FILE
        cache = _read_json(cache_path)
        if key not in cache:
            runs = [score_rollout(str(path), p, max_frames, seed, sampling_steps) for p in casts]
            cache[key] = {"frames": sum(r["frames"] for r in runs),
                          **{k: finite_mean(x for r in runs for x in r[k])
                             for k in ("psnr", "ssim", "char")}}
            cache_path.write_text(json.dumps(cache, indent=1))
            for r in runs:  # one snapshot's frames are not needed again
                r.pop("_last", None)
        points.append({"variant": name, "seed": s, "step": step, **cache[key]})
    summary = summarize(points)
    return {"subcommand": "budget", "provenance": provenance({"seed": seed}),
            "settings": {"casts": [p.name for p in casts], "max_frames_per_cast": max_frames,
                         "train_budget": budget, "seeds": sorted({p["seed"] for p in points}),
                         "steps": sorted({p["step"] for p in points}),
                         "sampling_steps": sampling_steps},
            "paper": PAPER, "points": points, "summary": summary, "runs": trained,
            "orderings": orderings(summary), "wall_s": round(time.perf_counter() - t0, 1)}


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def summarize(points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (variant, step): mean, standard deviation (n-1), min and max over seeds."""
    out = []
    keys = sorted({(p["variant"], p["step"]) for p in points})
    for name, step in keys:
        sel = [p for p in points if p["variant"] == name and p["step"] == step]
        entry: dict[str, Any] = {"variant": name, "step": step,
                                 "seeds": sorted(p["seed"] for p in sel)}
        for k in ("psnr", "ssim", "char"):
            x = np.asarray([p[k] for p in sel if p[k] is not None], np.float64)
            entry[k] = {"mean": float(x.mean()) if len(x) else None,
                        "sd": float(x.std(ddof=1)) if len(x) > 1 else None,
                        "min": float(x.min()) if len(x) else None,
                        "max": float(x.max()) if len(x) else None,
                        "values": [float(v) for v in x]}
        out.append(entry)
    return out


def orderings(summary: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Per family and step: our order of the variants by the family's metric (seed means,
    worst first) and whether it is the paper's."""
    out: dict[str, list[dict[str, Any]]] = {}
    for fam, members in FAMILIES.items():
        metric = METRIC[fam]
        paper_order = [label for label, _ in sorted(PAPER[fam].items(), key=lambda kv: kv[1])]
        rows = []
        for step in sorted({e["step"] for e in summary}):
            vals = {}
            for variant, label in members:
                e = next((e for e in summary if e["variant"] == variant and e["step"] == step),
                         None)
                if e is not None and e[metric]["mean"] is not None:
                    vals[label] = e[metric]
            if len(vals) < len(members):
                continue
            order = sorted(vals, key=lambda k: vals[k]["mean"])
            pairs = [(a, b) for i, a in enumerate(paper_order) for b in paper_order[i + 1:]]
            agree = sum(vals[a]["mean"] < vals[b]["mean"] for a, b in pairs)
            # neighbours in our order whose seeds do not overlap: an order between variants
            # whose seed ranges overlap is not established by these seeds
            n_seeds = min(len(v["values"]) for v in vals.values())
            apart = [f"{a} < {b}" for a, b in zip(order, order[1:], strict=False)
                     if vals[a]["max"] < vals[b]["min"]] if n_seeds > 1 else None
            rows.append({"step": step, "order": order, "paper_order": paper_order,
                         "matches": order == paper_order,
                         "pairs_in_paper_order": f"{agree}/{len(pairs)}",
                         "separated": apart, "seeds": n_seeds})
        out[fam] = rows
    return out


def markdown(result: dict[str, Any]) -> str:
    """Tables per family (steps x variants, mean ± sd over seeds), the orderings, the plot."""
    s = result["settings"]
    cap = s["max_frames_per_cast"]
    tb = s.get("train_budget")
    lines = [
        f"## Training budget: runs of {tb} steps" if tb else
        "## Training budget: the ablations at several budgets and seeds",
        "",
        f"Command: `{result['provenance']['command']}` — every kept checkpoint of the ablation "
        "runs (hybrid-nc eval train-ablations, runs/ablations/NAME[-seedS]/snapshots/STEP) "
        f"played over the held-out recordings ({', '.join(s['casts'])}; "
        f"{'every frame' if cap is None else f'the first {cap} frames of each'}), its own "
        "frames as context, no repair. Seeds: "
        f"{', '.join(map(str, s['seeds']))}. Each cell: mean over seeds ± standard deviation "
        "(n = seeds), each seed's figure the mean over the same frames. "
        f"Wall time {result['wall_s']} s. Plot: `{Path(result.get('plot') or 'budget_curve.png').name}`.",
    ]
    lines += ["", f"**Does the paper's ordering emerge with budget?** {verdict(result)}"]
    walls = [r["wall_s"] for r in result.get("runs", []) if r.get("wall_s")]
    if walls:
        lines += ["", f"Training: {len(walls)} runs of {max(r['steps'] for r in result['runs'])} "
                  f"steps, {np.median(walls):.0f} s each (median; {min(walls):.0f}-"
                  f"{max(walls):.0f} s, on one core of the shared CPU, time includes the "
                  "trainer's own evaluations)."]
    titles = {"injection": "Injection modes, SSIM (paper: internal best)",
              "captions": "Caption tiers, PSNR in dB (paper: detailed best)"}
    for fam, members in FAMILIES.items():
        metric = METRIC[fam]
        digits = 3 if metric == "ssim" else 2
        steps = sorted({e["step"] for e in result["summary"]})
        rows = []
        for variant, label in members:
            row: list[Any] = [label, fmt_num(PAPER[fam][label], digits)]
            for step in steps:
                e = next((e for e in result["summary"]
                          if e["variant"] == variant and e["step"] == step), None)
                row.append(_mean_sd(e[metric], digits) if e else "—")
            rows.append(row)
        lines += ["", f"### {titles[fam]}", "",
                  md_table(["variant", "paper", *[f"step {st}" for st in steps]], rows), ""]
        for o in result["orderings"].get(fam, []):
            sep = ("one seed, no spread" if o.get("separated") is None else
                   "neighbours apart over all seeds: " + (", ".join(o["separated"]) or "none"))
            lines.append(f"* step {o['step']}: ours {' < '.join(o['order'])} "
                         f"({'the paper order' if o['matches'] else 'not the paper order'}; "
                         f"{o['pairs_in_paper_order']} pairs in the paper's order; "
                         f"{o['seeds']} seed(s); {sep})")
    return "\n".join(lines)


def _mean_sd(e: dict[str, Any], digits: int) -> str:
    if e["mean"] is None:
        return "—"
    n = len(e["values"])
    sd = f" ± {fmt_num(e['sd'], digits)}" if e["sd"] is not None else ""
    return f"{fmt_num(e['mean'], digits)}{sd} (n={n})"


def plot(result: dict[str, Any], path: Path) -> Path | None:
    """budget_curve.png: per family, the metric against training steps; lines through the seed
    means, bands from the seeds' min to max, dots per seed, the paper's figures as ticks on the
    right edge."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, (fam, members) in zip(axes, FAMILIES.items(), strict=True):
        metric = METRIC[fam]
        for variant, label in members:
            es = sorted((e for e in result["summary"] if e["variant"] == variant),
                        key=lambda e: e["step"])
            es = [e for e in es if e[metric]["mean"] is not None]
            if not es:
                continue
            x = [e["step"] for e in es]
            line, = ax.plot(x, [e[metric]["mean"] for e in es], marker="o", label=label)
            ax.fill_between(x, [e[metric]["min"] for e in es], [e[metric]["max"] for e in es],
                            color=line.get_color(), alpha=0.15)
            for e in es:
                ax.scatter([e["step"]] * len(e[metric]["values"]), e[metric]["values"],
                           color=line.get_color(), s=8, alpha=0.6)
        ax.set_xlabel("training steps (32 rows x 32 cells each)")
        ax.set_ylabel({"ssim": "SSIM", "psnr": "PSNR (dB)"}[metric])
        ax.set_title({"injection": "injection modes", "captions": "caption tiers"}[fam])
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        paper = ", ".join(f"{k} {v}" for k, v in PAPER[fam].items())
        ax.text(0.01, 0.01, f"paper (Wan2.1, full budget): {paper}", transform=ax.transAxes,
                fontsize=6, va="bottom")
    fig.suptitle("Ablations vs training budget (mean over seeds, band: min-max)", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def verdict(result: dict[str, Any]) -> str:
    """One sentence per family: does the paper's ordering emerge with budget?"""
    out = []
    for fam, rows in result["orderings"].items():
        if not rows:
            continue
        last = rows[-1]
        trend = ", ".join(f"{o['step']}: {o['pairs_in_paper_order']}" for o in rows)
        emerged = [o["step"] for o in rows if o["matches"]]
        plain = ("yes, from step " + str(emerged[0]) if emerged and rows[-1]["matches"]
                 else "no, at no budget measured" if not emerged else "not stably")
        out.append(f"{fam}: {plain}; at step {last['step']} the order is "
                   f"{' < '.join(last['order'])}; pairs in the paper's order by step: {trend}.")
    return " ".join(out) if out else "no complete family"

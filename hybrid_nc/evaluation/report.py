"""`hybrid-nc eval all`: every subcommand's table gathered into one Markdown report, with plots
(matplotlib, Agg): accuracy vs training steps (from the training logs), latency histograms, and
sample frames side by side (raster | neural | difference)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from .common import ROOT
from .variants import ABLATIONS, VARIANT_FILE


def training_histories() -> dict[str, list[dict[str, Any]]]:
    """Evaluation histories by run: every ablation checkpoint's variant.json, and the default
    renderer's training log where it is on this machine (runs/default/trainer_state.json) or
    beside the checkpoint."""
    out: dict[str, list[dict[str, Any]]] = {}
    for meta in sorted(ABLATIONS.glob(f"*/{VARIANT_FILE}")):
        try:
            out[f"ablation:{meta.parent.name}"] = json.loads(meta.read_text()).get("history", [])
        except json.JSONDecodeError:
            continue
    for path in (ROOT / "renderer" / "checkpoints" / "default" / "trainer_state.json",
                 ROOT / "runs" / "default" / "trainer_state.json"):
        if path.is_file():
            try:
                out["neural (default)"] = json.loads(path.read_text()).get("history", [])
                break
            except json.JSONDecodeError:
                continue
    return {k: v for k, v in out.items() if v}


def plot_training(path: Path) -> Path | None:
    """Held-out char accuracy and PSNR vs training step, one line per run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    hist = training_histories()
    if not hist:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for name, h in hist.items():
        steps = [e["step"] for e in h]
        axes[0].plot(steps, [e.get("heldout_char_acc") for e in h], marker=".", label=name)
        axes[1].plot(steps, [e.get("heldout_psnr") for e in h], marker=".", label=name)
    axes[0].set(xlabel="training step", ylabel="held-out char accuracy (cell OCR)",
                title="accuracy vs training steps")
    axes[1].set(xlabel="training step", ylabel="held-out PSNR (dB)", title="PSNR vs training steps")
    axes[0].set_xscale("log")
    axes[1].set_xscale("log")
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def plot_latency(result: dict[str, Any], path: Path) -> Path | None:
    """Histograms of keystroke->frame and command->frame latency per renderer."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    raw = result.get("raw") or []
    if not raw:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for m in raw:
        axes[0].hist(m["keystroke_ms"], bins=20, alpha=0.6, label=m["renderer"])
        axes[1].hist(m["command_ms"], bins=12, alpha=0.6, label=m["renderer"])
    axes[0].set(xlabel="ms", ylabel="keystrokes", title="keystroke -> frame")
    axes[1].set(xlabel="ms", ylabel="commands", title="command -> frame")
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def sample_frames(samples: dict[str, dict[str, Any]], path: Path,
                  neural: str = "neural", limit: int = 2) -> Path | None:
    """Frames side by side: raster | neural | |difference| x4, one band per sampled screen
    (the `limit` screens with the most text)."""
    from PIL import Image

    bands = []
    ranked = sorted(samples.values(), key=lambda f: -int(f.get("chars", 0)))
    for frames in ranked[:limit]:
        if "raster" not in frames or neural not in frames:
            continue
        a, b = frames["raster"].astype(np.int16), frames[neural].astype(np.int16)
        diff = np.clip(np.abs(a - b) * 4, 0, 255).astype(np.uint8)
        gap = np.full((a.shape[0], 8, 3), 128, np.uint8)
        bands.append(np.concatenate([frames["raster"], gap, frames[neural], gap, diff], axis=1))
    if not bands:
        return None
    width = max(b.shape[1] for b in bands)
    padded = [np.pad(b, ((0, 8), (0, width - b.shape[1]), (0, 0)), constant_values=128)
              for b in bands]
    Image.fromarray(np.concatenate(padded, axis=0)).save(path)
    return path


def rollout_frames(variants: list[str], path: Path) -> Path | None:
    """The last frame of each variant's rollout of one held-out recording (the one with the
    largest screen), labelled, under the raster's frame of the same screen."""
    from PIL import Image, ImageDraw

    from .common import _ROLLOUTS

    by_cast: dict[str, dict[str, Any]] = {}
    for (name, cast, *_settings), run in _ROLLOUTS.items():
        if run.get("_last") is not None and name.startswith("ablation:"):
            by_cast.setdefault(cast, {})[name.split(":", 1)[1]] = run["_last"]
    if not by_cast:
        return None
    cast = max(by_cast, key=lambda c: next(iter(by_cast[c].values()))[1].size)
    runs = by_cast[cast]
    truth = next(iter(runs.values()))[1]
    bands = [("raster", truth)] + [(v, runs[v][0]) for v in variants
                                   if v in runs and runs[v][0].shape == truth.shape]
    label_w, gap = 90, 6
    h, w = truth.shape[:2]
    img = Image.new("RGB", (label_w + w, len(bands) * (h + gap)), (128, 128, 128))
    draw = ImageDraw.Draw(img)
    for i, (label, frame) in enumerate(bands):
        y = i * (h + gap)
        img.paste(Image.fromarray(frame), (label_w, y))
        draw.text((4, y + 4), label, fill=(255, 255, 255))
    img.save(path)
    return path


def write_report(out: Path, parts: list[tuple[str, str]], figures: dict[str, Path | None],
                 wall_s: float, command: str, machine: dict[str, Any], commit: str,
                 reused: dict[str, Any] | None = None) -> Path:
    """out/report.md: the tables in order, the plots, the provenance. `reused`: the sections
    read back from earlier runs, with their own wall times."""
    earlier = ""
    if reused:
        earlier = (" Read back from their own earlier runs (each section's command, machine and "
                   "time are under its table): " +
                   ", ".join(f"{k} ({v} s)" for k, v in reused.items()) + ".")
    lines = ["# hybrid-nc evaluation report", "",
             f"Command: `{command}` — total wall time {wall_s:.0f} s on {machine.get('cpu')} "
             f"({machine.get('cores')} cores, shared; 1-min load {machine.get('load_avg_1m')}), "
             f"commit {commit[:12]}. Each section's JSON (with seeds and package versions) is "
             f"beside this file.{earlier}", ""]
    for _name, md in parts:
        lines += [md.rstrip(), ""]
    captions = {"training": "Accuracy and PSNR vs training steps (training logs)",
                "latency": "Latency histograms", "samples": "raster | neural | difference x4",
                "rollouts": "Ablation variants' last held-out frame (top: raster)",
                "budget": "Ablations vs training budget, mean over seeds (budget.md)"}
    captions.update({k: f"Ablations vs training budget, {k.split('-', 1)[1]} runs ({k}.md)"
                     for k in figures if k.startswith("budget-")})
    figs = [(k, p) for k, p in figures.items() if p is not None]
    if figs:
        lines += ["## Figures", ""]
        for key, p in figs:
            lines += [f"{captions.get(key, key)}:", "", f"![{key}]({p.name})", ""]
    path = out / "report.md"
    path.write_text("\n".join(lines))
    return path

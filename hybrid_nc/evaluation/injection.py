"""`hybrid-nc eval injection`: the paper's four ways of feeding the caption to the model
(CellDiT's `injection`: external, contextual, residual, internal), equal small training budgets
(renderer/checkpoints/ablations/{detailed,contextual,residual,internal}; "detailed" is the
external one), scored over the frames after each action of held-out recordings.
Paper (SSIM): 0.746 / 0.813 / 0.857 / 0.863.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from .common import ablation_table, est_str, md_table, provenance

MODES = {"external": "detailed", "contextual": "contextual", "residual": "residual",
         "internal": "internal"}
PAPER_SSIM = {"external": 0.746, "contextual": 0.813, "residual": 0.857, "internal": 0.863}


def run_injection(casts: list[Path], *, max_frames: int | None, seed: int = 0,
                  quiet: bool = False, steps: int | None = None) -> dict[str, Any]:
    """Score the four injection-mode variants on the held-out recordings `casts` (`steps`:
    sampling steps, None: the models' own)."""
    t0 = time.perf_counter()
    table = ablation_table(list(MODES.values()), casts, max_frames, seed, quiet, "injection",
                           steps)
    for mode, e in zip(MODES, table, strict=True):
        e["mode"] = mode
    return {"subcommand": "injection", "provenance": provenance({"seed": seed}),
            "settings": {"casts": [p.name for p in casts], "max_frames_per_cast": max_frames,
                         "sampling_steps": steps},
            "paper_ssim": PAPER_SSIM, "variants": table,
            "wall_s": round(time.perf_counter() - t0, 1)}


def markdown(result: dict[str, Any]) -> str:
    """The injection-mode table with the paper's SSIM beside ours."""
    rows = []
    for e in result["variants"]:
        rows.append([e["mode"], f"{PAPER_SSIM[e['mode']]:.3f}", est_str(e["ssim"], 3),
                     est_str(e["psnr"], 2), est_str(e["char"], 3),
                     f"{e['render_ms']['p50']:.1f}" if e["render_ms"]["p50"] is not None else "—",
                     e["frames"], e["train_steps"]])
    s = result["settings"]
    cap = s["max_frames_per_cast"]
    return "\n".join([
        "## Action/caption injection modes (equal budgets)",
        "",
        f"Command: `{result['provenance']['command']}` — held-out recordings "
        f"({', '.join(s['casts'])}), {'every frame' if cap is None else f'the first {cap} frames'}"
        " of each (the frames after each action/output event), drawn frame after frame, no "
        f"repair. Means over frames, bootstrap 95% intervals. Wall time {result['wall_s']} s.",
        "",
        "Where the designs differ: our four modes inject cell-aligned caption tokens into a "
        "0.25 M-parameter, 2-block per-row CellDiT (external: added to the input cells; "
        "contextual: extra tokens in every self-attention; residual: a ControlNet-style branch "
        "added through zero-initialised projections; internal: cross-attention in every block), trained 1,500 steps on a CPU; the "
        "paper's modes feed text/action embeddings, not aligned to any cell, into Wan2.1. With "
        "the caption aligned to the cells, adding it to the input (external) already puts each "
        "glyph where it is drawn: a head start the paper's setting does not give that mode. "
        "Seed spread and budget: `budget.md`.",
        "",
        md_table(["injection", "paper SSIM", "ours SSIM", "ours PSNR (dB)",
                  "ours char acc (cell OCR)", "render ms p50", "frames", "train steps"], rows),
    ])

"""Equal-budget ablations of the neural renderer's design choices: the four caption injection
modes, styled vs regular glyph masks in the caption, and the glyph-hint input plane.

Every variant trains from the same seed on the same batches for the same number of steps (the
default model size; only the named option differs), then is scored on the held-out rows
(recordings never trained on) and the special-glyph rows (never trained on), 1 sampling step,
plus its forward time for a full 80x24 frame. Writes benchmarks/results/neural_ablation.md.

    python benchmarks/ablate_neural.py [--steps 400] [--only external,internal]
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
VARIANTS: dict[str, dict[str, object]] = {
    "external": {"injection": "external"},
    "contextual": {"injection": "contextual"},
    "residual": {"injection": "residual"},
    "internal": {"injection": "internal"},
    "external+regular-glyphs": {"injection": "external", "glyph_style": "regular"},
    "external+hint": {"injection": "external", "glyph_hint": True},
}


def frame_ms(model: torch.nn.Module, reps: int = 5) -> float:
    """Median ms of one 1-step forward over a 24-row, 80-column frame (1 thread)."""
    b, c = 24, 80
    x = torch.randn(b, c, model.patch)
    g = torch.rand(b, c, model.glyph)
    args = (x, torch.ones(b), x, g, torch.zeros(b, c, 6), torch.zeros(b, c, 6),
            torch.zeros(b, dtype=torch.long), g)
    times = []
    with torch.inference_mode():
        model(*args)
        for _ in range(reps):
            t = time.perf_counter()
            model(*args)
            times.append((time.perf_counter() - t) * 1000)
    return sorted(times)[len(times) // 2]


def main() -> None:
    from renderer.training import TrainConfig, Trainer

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--only", help="comma-separated variant names")
    ap.add_argument("--out", default=str(ROOT / "runs" / "ablate"))
    args = ap.parse_args()
    base = TrainConfig.load(ROOT / "hybrid_nc" / "configs" / "train_default.json")
    names = args.only.split(",") if args.only else list(VARIANTS)
    results = []
    for name in names:
        model_cfg = {**base.model, **VARIANTS[name]}
        cfg = replace(base, model=model_cfg, steps=args.steps, batch_size=args.batch,
                      warmup=min(base.warmup, args.steps // 8), eval_every=args.steps,
                      ckpt_every=args.steps, eval_rows=192, workers=0, threads=1,
                      out=f"{args.out}/{name}", max_minutes=0)
        t0 = time.time()
        trainer = Trainer(cfg, log=lambda m: None)
        metrics = trainer.train()
        row = {"variant": name, "train_s": round(time.time() - t0, 1),
               "params_M": round(sum(p.numel() for p in trainer.ema.parameters()) / 1e6, 2),
               "frame_ms": round(frame_ms(trainer.ema.eval()), 1), **metrics}
        print(json.dumps(row), flush=True)
        results.append(row)
    lines = [
        "## Neural renderer ablations (equal budget)",
        "",
        f"Command: `python benchmarks/ablate_neural.py --steps {args.steps} --batch {args.batch}`. "
        f"Each variant: {args.steps} steps x {args.batch} rows of {base.cols} cells, seed "
        f"{base.seed}, same batches; scored with 1 sampling step, no previous frame. "
        "`heldout`: rows of recordings never trained on; `special`: rows with CJK, emoji, "
        "box-drawing or powerline characters (never trained on). `frame ms`: one forward over a "
        "24x80 frame, 1 thread, on the shared 2-core CPU (noisy).",
        "",
        "| variant | params (M) | heldout char acc | heldout PSNR (dB) | special char acc | "
        "special PSNR (dB) | frame ms | train s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(f"| {r['variant']} | {r['params_M']} | {r.get('heldout_char_acc')} | "
                     f"{r.get('heldout_psnr')} | {r.get('special_char_acc')} | "
                     f"{r.get('special_psnr')} | {r['frame_ms']} | {r['train_s']} |")
    out = ROOT / "benchmarks" / "results" / "neural_ablation.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

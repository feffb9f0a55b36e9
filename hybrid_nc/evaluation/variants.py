"""Renderer variants for the ablations: models trained and drawn with one caption tier
(renderer/captions.py), with the project's own trainer and renderer.

A variant is a CellDiT checkpoint plus the tier it was trained with (variant.json's
"restriction"); the trainer builds its tokens with that tier (`TrainConfig.caption_tier`) and the
neural renderer draws the checkpoint with it (`NeuralRenderer(tier=...)`), so the model never sees
more than its tier allows:

    detailed   everything: glyph mask, fg/bg colours, attribute bits, cursor (the full system)
    regular    the characters (regular-face glyph masks: the model must be built with
               glyph_style="regular") but no colours, attributes or cursor
    semantic   no cell content at all: only the previous frame and the hashed action token
    native     the paper's pure neural computer: the caption of a row is withheld whenever that
               row was written by something other than the user's own keystroke (a program's
               output, the reasoner's answer, a new prompt); the user's typed line and the first
               frame (the image a video model starts from) keep theirs
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from renderer.captions import TIERS
from renderer.neural import TIER_FILE, CheckpointError, NeuralRenderer, checkpoint_tier, load_model

RESTRICTIONS: tuple[str, ...] = TIERS
VARIANT_FILE = TIER_FILE
ABLATIONS = Path(__file__).resolve().parents[2] / "renderer" / "checkpoints" / "ablations"
CONFIGS = Path(__file__).resolve().parents[1] / "configs"


class VariantError(ValueError):
    """A variant config or checkpoint that cannot be used (one line)."""


def check_restriction(name: str) -> str:
    """`name` if it is a known caption tier, else a VariantError."""
    if name not in RESTRICTIONS:
        raise VariantError(f"unknown caption restriction {name!r} "
                           f"(choose from {', '.join(RESTRICTIONS)})")
    return name


# -- configs and training ---------------------------------------------------------------------
@dataclass(frozen=True)
class VariantConfig:
    """An ablation config file: a TrainConfig (hybrid_nc/configs/train_*.json keys) plus the
    caption restriction and the checkpoint name it is exported under."""

    name: str
    restriction: str
    train: dict[str, Any]
    path: str = ""

    @classmethod
    def load(cls, path: str | Path) -> VariantConfig:
        """Read hybrid_nc/configs/ablation_<name>.json."""
        p = Path(path)
        try:
            raw = json.loads(p.read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise VariantError(f"cannot read ablation config {p}: {e}") from None
        if not isinstance(raw, dict):
            raise VariantError(f"ablation config {p} is not a JSON object")
        restriction = check_restriction(str(raw.pop("caption", "detailed")))
        name = str(raw.pop("variant", p.stem.removeprefix("ablation_")))
        if restriction == "regular" and raw.get("model", {}).get("glyph_style") != "regular":
            raise VariantError(f"{p}: the regular caption needs model.glyph_style = \"regular\" "
                               "(styled masks would leak bold/italic/underline)")
        return cls(name, restriction, raw, str(p))

    def train_config(self, **over: Any) -> Any:
        """The TrainConfig this variant trains with (`over` replaces fields)."""
        from dataclasses import replace

        from renderer.training import TrainConfig

        cfg = TrainConfig.from_dict({**self.train, "caption_tier": self.restriction})
        return replace(cfg, **{k: v for k, v in over.items() if v is not None})


def ablation_configs(names: list[str] | None = None) -> list[VariantConfig]:
    """The committed ablation configs (hybrid_nc/configs/ablation_*.json), optionally by name."""
    found = {c.name: c for c in (VariantConfig.load(p)
                                 for p in sorted(CONFIGS.glob("ablation_*.json")))}
    if names is None:
        return list(found.values())
    missing = [n for n in names if n not in found]
    if missing:
        raise VariantError(f"no ablation config named {', '.join(missing)} "
                           f"(have {', '.join(found)})")
    return [found[n] for n in names]


SNAPSHOTS = "snapshots"  # <run>/snapshots/<step>/: the EMA model as it was at that step


def run_dir(variant: VariantConfig, seed: int | None = None, steps: int | None = None) -> Path:
    """Where a variant trains: the config's `out` for the config's seed and budget,
    `<out>-seed<N>` for another seed, `<out>-<steps>steps` for another budget (the learning-rate
    schedule spans the budget, so runs of different budgets are different runs, side by side)."""
    base = Path(str(variant.train.get("out", f"runs/ablations/{variant.name}")))
    name = base.name
    if steps is not None and steps != variant.train.get("steps"):
        name += f"-{steps}steps"
    if seed is not None and seed != variant.train.get("seed", 0):
        name += f"-seed{seed}"
    return base.with_name(name)


def train_variant(variant: VariantConfig, *, export: Path | None = None, steps: int | None = None,
                  seed: int | None = None, max_minutes: float | None = None,
                  resume: bool = False, snapshots: bool = True,
                  log: Any = print) -> dict[str, Any]:
    """Train one variant (with `seed`, default the config's) into its run directory
    (`run_dir`); with `export`, copy the model there too (see `export_variant`). With
    `snapshots`, every checkpoint the trainer writes (each `ckpt_every` steps) is also kept in
    <run>/snapshots/<step>/ with its variant.json: the budget curve is read from those.
    Returns the final metrics."""
    out = run_dir(variant, seed, steps)
    cfg = variant.train_config(steps=steps, max_minutes=max_minutes, seed=seed, out=str(out))
    out.mkdir(parents=True, exist_ok=True)
    from renderer.training import Trainer

    class SnapshotTrainer(Trainer):
        def save(self, wall_s: float) -> None:
            super().save(wall_s)
            if snapshots and self.acc.is_main_process:
                _snapshot(variant, out, self.step, self.cfg.seed, wall_s)

    trainer = SnapshotTrainer(cfg, log=log)
    final = trainer.train(resume=resume)
    # which data it saw (the dataset is rebuilt from time to time), kept beside the run
    rows = {"train": len(trainer.train_cols["source"]),
            **{k: len(v) for k, v in trainer.eval_sets.items()}}
    (out / "data_rows.json").write_text(json.dumps(rows))
    if export is not None:
        export_variant(variant, export, steps=steps)
    return {"step": trainer.step, "seed": cfg.seed, "out": str(out), **final}


def _snapshot(variant: VariantConfig, run: Path, step: int, seed: int, wall_s: float) -> Path:
    import shutil

    dest = run / SNAPSHOTS / str(step)
    dest.mkdir(parents=True, exist_ok=True)
    for f in (run / "model").iterdir():
        shutil.copy2(f, dest / f.name)
    meta = {"name": variant.name, "restriction": variant.restriction, "steps": step,
            "seed": seed, "wall_s": round(wall_s, 1)}
    (dest / VARIANT_FILE).write_text(json.dumps(meta, indent=1))
    return dest


def snapshot_dirs(variant: VariantConfig, seeds: list[int] | None = None,
                  budget: int | None = None, root: Path | None = None
                  ) -> dict[int, dict[int, Path]]:
    """{seed: {step: snapshot dir}} of a variant's runs of one training budget (default: the
    config's), for the seeds that have any; `root` replaces the runs' parent folder (default:
    the config's, runs/ablations)."""
    found: dict[int, dict[int, Path]] = {}
    base = run_dir(variant, None, budget)
    parent = Path(root) if root is not None else base.parent
    for run in [parent / base.name, *sorted(parent.glob(f"{base.name}-seed*"))]:
        suffix = run.name.removeprefix(base.name).removeprefix("-seed")
        if suffix and not suffix.isdigit():
            continue
        seed = int(suffix) if suffix else int(variant.train.get("seed", 0))
        if seeds is not None and seed not in seeds:
            continue
        steps = {int(d.name): d for d in (run / SNAPSHOTS).glob("*")
                 if d.name.isdigit() and (d / VARIANT_FILE).is_file()}
        if steps:
            found[seed] = dict(sorted(steps.items()))
    return dict(sorted(found.items()))


def export_variant(variant: VariantConfig, export: Path, steps: int | None = None) -> Path:
    """Copy a trained variant's model from its run directory to `export`, with a variant.json
    (restriction, training config, evaluation history, wall time, data size)."""
    import shutil

    cfg = variant.train_config(steps=steps)
    run = run_dir(variant, None, steps)
    state_path = run / "trainer_state.json"
    if not state_path.is_file() or not (run / "model").is_dir():
        raise VariantError(f"nothing trained in {run} (hybrid-nc eval train-ablations --only "
                           f"{variant.name})")
    state = json.loads(state_path.read_text())
    export.mkdir(parents=True, exist_ok=True)
    for f in (run / "model").iterdir():
        shutil.copy2(f, export / f.name)
    data = run / "data_rows.json"
    trained = state.get("config", {}).get("steps", state["step"])
    # the command that reproduces these weights: the config's budget, or the --steps it was given
    command = f"hybrid-nc eval train-ablations --only {variant.name}"
    if trained != variant.train.get("steps", trained):
        command += f" --steps {trained}"
    meta = {"name": variant.name, "restriction": variant.restriction,
            "config_file": Path(variant.path).name, "train_config": state.get("config", asdict(cfg)),
            "steps": state["step"], "wall_s": state["wall_s"], "history": state["history"],
            "data_rows": json.loads(data.read_text()) if data.is_file() else None,
            "command": command}
    (export / VARIANT_FILE).write_text(json.dumps(meta, indent=1))
    return export


# -- rendering --------------------------------------------------------------------------------
def load_variant(path: str | Path, **options: Any) -> NeuralRenderer:
    """The neural renderer of an ablation checkpoint directory (model + variant.json), drawing
    with the tier it was trained with."""
    try:
        tier = checkpoint_tier(path)
    except CheckpointError as e:  # an unreadable variant.json or an unknown tier in it
        raise VariantError(str(e)) from None
    return NeuralRenderer(load_model(path), tier=tier, **options)


def write_readme(root: Path = ABLATIONS) -> Path:
    """renderer/checkpoints/ablations/README.md: how each committed variant was trained and
    what its training evaluation measured (from the variant.json files)."""
    rows = []
    commands = set()
    for meta_path in sorted(root.glob(f"*/{VARIANT_FILE}")):
        m = json.loads(meta_path.read_text())
        # the variant's own command, without its name: the budget it was really trained with
        commands.add(" ".join(w for w in m.get("command", "").split()[3:]
                              if w not in ("--only", m["name"])))
        cfg = m.get("train_config", {})
        model = cfg.get("model", {})
        last = (m.get("history") or [{}])[-1]
        size = sum(f.stat().st_size for f in meta_path.parent.iterdir()) / 2**20
        rows.append(f"| {m['name']} | {m['restriction']} | {model.get('injection')} | "
                    f"{model.get('glyph_style')} | {m['steps']} x {cfg.get('batch_size')} | "
                    f"{m['wall_s']:.0f} | {last.get('heldout_char_acc')} | "
                    f"{last.get('heldout_psnr')} | {size:.1f} |")
    text = "\n".join([
        "# Ablation variants of the neural renderer",
        "",
        "Small CellDiT checkpoints for `hybrid-nc eval captions|injection|arith` (docs/eval.md), so",
        "those run without training. All share one size and one budget: width 64, depth 2, 4 heads,",
        "MLP ratio 2, window 3; the same data (`data-cache/renderer-rows`, built by",
        "`hybrid-nc train --build-data`), seed, learning rate and number of steps; they differ only",
        "in the caption restriction or the injection mode. Trained on the shared 2-core CPU with",
        "",
        "    nice -n 15 hybrid-nc eval train-ablations "
        f"{' / '.join(sorted(c for c in commands if c)) or ''}  # all; --only NAME for one; "
        "--seeds 0,1,2 for the spread",
        "",
        "from `hybrid_nc/configs/ablation_<name>.json`. Each folder: config.json + safetensors",
        "(CellDiT, `renderer.neural.load_model`) and variant.json (restriction, full training config,",
        "evaluation history, wall time). Held-out figures below are the trainer's own evaluation",
        "(rows of recordings never trained on, one sampling step, no previous frame).",
        "",
        "| variant | caption | injection | glyph masks | steps x rows | train s | held-out char acc | "
        "held-out PSNR (dB) | MB |",
        "|---|---|---|---|---:|---:|---:|---:|---:|",
        *rows,
        "",
        "These are deliberately small: their absolute accuracy is far below the shipped renderer's;",
        "the ablations compare them with each other. The folders hold the configs' seed (0); the",
        "other seeds and the intermediate checkpoints (`--seeds 0,1,2` keeps every 250th step in",
        "runs/ablations/NAME[-seedS]/snapshots/) are scored by `hybrid-nc eval budget`",
        "(benchmarks/results/eval/budget.md, with the time each run took).",
    ])
    path = root / "README.md"
    path.write_text(text + "\n")
    return path

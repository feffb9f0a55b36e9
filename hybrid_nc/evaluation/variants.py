"""Renderer variants for the ablations: what the caption may tell the model, and how to train and
load such a model with the team's own trainer and renderer.

A variant is a CellDiT checkpoint plus a *caption restriction*, applied to the cell-aligned caption
tokens both in training (every batch) and at render time, so the model never sees more than its
tier allows:

    detailed   everything: glyph mask, fg/bg colours, attribute bits, cursor (the full system)
    regular    the characters (regular-face glyph masks: the model must be built with
               glyph_style="regular") but no colours, attributes or cursor
    semantic   no cell content at all: only the previous frame and the hashed action token
    native     the paper's pure neural computer: the caption of a row is withheld whenever that
               row was written by something other than the user's own keystroke (a program's
               output, the reasoner's answer, a new prompt); the user's typed line and the first
               frame (the image a video model starts from) keep theirs

A withheld cell gets a constant "null" token (zero mask, mid-grey colours, no bits): the caption
encoder is linear, so a constant input carries no information about the cell. The restriction
lives here rather than in the trainer (a teammate's file): `VariantTrainer` swaps the trainer's
row batchers for restricting ones, and `VariantRenderer` wraps the renderer's captioner.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from renderer.neural import CellCaption, NeuralRenderer, load_model
from renderer.training.dataset import Batcher, RowBatch
from terminal.screen import ScreenState

Restriction = Literal["detailed", "regular", "semantic", "native"]
RESTRICTIONS: tuple[str, ...] = ("detailed", "regular", "semantic", "native")
VARIANT_FILE = "variant.json"
ABLATIONS = Path(__file__).resolve().parents[2] / "renderer" / "checkpoints" / "ablations"
CONFIGS = Path(__file__).resolve().parents[1] / "configs"


class VariantError(ValueError):
    """A variant config or checkpoint that cannot be used (one line)."""


def check_restriction(name: str) -> str:
    """`name` if it is a known restriction, else a VariantError."""
    if name not in RESTRICTIONS:
        raise VariantError(f"unknown caption restriction {name!r} "
                           f"(choose from {', '.join(RESTRICTIONS)})")
    return name


# -- the restriction itself -------------------------------------------------------------------
def null_cells(glyph: np.ndarray, colours: np.ndarray, bits: np.ndarray, where: np.ndarray,
               *, keep_glyph: bool = False) -> None:
    """Blank the caption of the cells selected by `where` (broadcast over the leading axes) in
    place: glyph mask 0 (unless keep_glyph), colours 0 (mid grey), bits 0."""
    sel = np.broadcast_to(where, glyph.shape[:-1])
    if not keep_glyph:
        glyph[sel] = 0.0
    colours[sel] = 0.0
    bits[sel] = 0.0


def restrict_arrays(restriction: str, glyph: np.ndarray, colours: np.ndarray, bits: np.ndarray,
                    withheld_rows: np.ndarray | None = None) -> None:
    """Apply a restriction to caption arrays (R, C, ...) in place. `withheld_rows` (R,) bool
    selects the rows the native restriction blanks; the other restrictions ignore it."""
    r = glyph.shape[0]
    everywhere = np.ones((r, 1), bool)
    if restriction == "regular":
        null_cells(glyph, colours, bits, everywhere, keep_glyph=True)
    elif restriction == "semantic":
        null_cells(glyph, colours, bits, everywhere)
    elif restriction == "native" and withheld_rows is not None and withheld_rows.any():
        null_cells(glyph, colours, bits, np.asarray(withheld_rows, bool)[:, None])


def typed_action(action: Any) -> bool:
    """True for an action that is one typed character (its echo is the user's own doing)."""
    return isinstance(action, str) and len(action) == 1 and action.isprintable()


def native_withheld_batch(batch: RowBatch) -> np.ndarray:
    """(B,) rows of a training batch whose caption the native variant must not see: rows that
    changed since their previous frame for a reason other than one typed character."""
    changed = np.array([not np.array_equal(batch.target[i], batch.prev[i])
                        for i in range(len(batch.action))])
    typed = np.array([typed_action(a) for a in batch.action])
    return batch.has_prev & changed & ~typed


class RestrictedBatcher:
    """Wraps a Batcher (a RowBatcher): its batches carry only what the restriction allows (targets
    untouched); everything else is the wrapped batcher's."""

    def __init__(self, restriction: str, inner: Batcher) -> None:
        self.restriction = check_restriction(restriction)
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        if name == "inner":  # not yet set (e.g. while unpickling): no recursion
            raise AttributeError(name)
        return getattr(self.inner, name)

    def batch(self, records: list[dict[str, Any]], rng: np.random.Generator) -> RowBatch:
        """The wrapped batcher's batch, restricted."""
        b = self.inner.batch(records, rng)
        withheld = native_withheld_batch(b) if self.restriction == "native" else None
        restrict_arrays(self.restriction, b.glyph, b.colours, b.bits, withheld)
        return b


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

        cfg = TrainConfig.from_dict(dict(self.train))
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


def make_trainer(variant: VariantConfig, cfg: Any, log: Any = print) -> Any:
    """A renderer.training.Trainer whose batches (training and evaluation) are restricted."""
    from renderer.training import Trainer

    class VariantTrainer(Trainer):
        """The team's Trainer with restricting row batchers."""

        def __init__(self) -> None:
            super().__init__(cfg, log=log)
            self.batcher = RestrictedBatcher(variant.restriction, self.batcher)
            self.eval_batcher = RestrictedBatcher(variant.restriction, self.eval_batcher)

    return VariantTrainer()


def train_variant(variant: VariantConfig, *, export: Path | None = None, steps: int | None = None,
                  max_minutes: float | None = None, resume: bool = False,
                  log: Any = print) -> dict[str, Any]:
    """Train one variant into its run directory (cfg.out); with `export`, copy the model there
    too (see `export_variant`). Returns the final metrics."""
    cfg = variant.train_config(steps=steps, max_minutes=max_minutes)
    Path(cfg.out).mkdir(parents=True, exist_ok=True)
    trainer = make_trainer(variant, cfg, log)
    final = trainer.train(resume=resume)
    # which data it saw (the dataset is rebuilt from time to time), kept beside the run
    rows = {"train": len(trainer.train_cols["source"]),
            **{k: len(v) for k, v in trainer.eval_sets.items()}}
    (Path(cfg.out) / "data_rows.json").write_text(json.dumps(rows))
    if export is not None:
        export_variant(variant, export, steps=steps)
    return {"step": trainer.step, **final}


def export_variant(variant: VariantConfig, export: Path, steps: int | None = None) -> Path:
    """Copy a trained variant's model from its run directory to `export`, with a variant.json
    (restriction, training config, evaluation history, wall time, data size)."""
    import shutil

    cfg = variant.train_config(steps=steps)
    run = Path(cfg.out)
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
class _RestrictedCaptioner:
    """Wraps a CellCaptioner: same interface, restricted tokens (targets untouched)."""

    def __init__(self, inner: Any, owner: VariantRenderer) -> None:
        self.inner = inner
        self.owner = owner

    @property
    def raster(self) -> Any:
        return self.inner.raster

    @property
    def theme(self) -> Any:
        return self.inner.theme

    def encode(self, screen: ScreenState, rows: list[int]) -> CellCaption:
        cap = self.inner.encode(screen, rows)
        glyph, colours, bits = cap.glyph.copy(), cap.colours.copy(), cap.bits.copy()
        withheld = self.owner.withheld_rows(screen, rows)
        restrict_arrays(self.owner.restriction, glyph, colours, bits, withheld)
        return CellCaption(glyph, colours, bits, cap.hint, cap.fg, cap.bg)


class VariantRenderer(NeuralRenderer):
    """A NeuralRenderer that shows its model only the restricted caption.

    For the native restriction a row's caption is withheld when the row changed since the last
    frame and the action was not a single typed character, unless the row holds the typed line
    itself (the user's action, which the pure neural computer is given); the first frame keeps
    its caption (the start image).
    """

    name = "variant"

    def __init__(self, model: Any, restriction: str = "detailed", **options: Any) -> None:
        super().__init__(model, **options)
        self.restriction = check_restriction(restriction)
        self.captioner = _RestrictedCaptioner(self.captioner, self)  # type: ignore[assignment]
        self._action: Any = None
        self._before: ScreenState | None = None

    @classmethod
    def from_variant(cls, path: str | Path, **options: Any) -> VariantRenderer:
        """Load an ablation checkpoint directory (model + variant.json)."""
        path = Path(path)
        meta_path = path / VARIANT_FILE
        restriction = "detailed"
        if meta_path.is_file():
            try:
                restriction = json.loads(meta_path.read_text()).get("restriction", "detailed")
            except json.JSONDecodeError as e:
                raise VariantError(f"{meta_path} is not valid JSON: {e.msg}") from None
        return cls(load_model(path), restriction, **options)

    def reset(self) -> None:
        super().reset()
        self._before = None

    def render(self, screen: ScreenState, **kw: Any) -> Any:
        """As NeuralRenderer.render, remembering the action and the screen before it."""
        self._action = kw.get("action")
        try:
            return super().render(screen, **kw)
        finally:
            self._before = screen.copy()

    def render_rows(self, screen: ScreenState, rows: Any, **kw: Any) -> np.ndarray:
        """As NeuralRenderer.render_rows (the repair path), with the same restriction."""
        self._action = kw.get("action", self._action)
        return super().render_rows(screen, rows, **kw)

    def withheld_rows(self, screen: ScreenState, rows: list[int]) -> np.ndarray | None:
        """(len(rows),) bool: rows whose caption the native restriction withholds now."""
        if self.restriction != "native" or self._before is None:
            return None
        before, action = self._before, self._action
        if typed_action(action):
            return None
        line = action.strip() if isinstance(action, str) else ""
        out = np.zeros(len(rows), bool)
        for i, r in enumerate(rows):
            same = (before.cols == screen.cols and r < before.rows
                    and screen.same_cells(before, r))
            typed_here = bool(line) and line in screen.line(r)
            out[i] = not same and not typed_here
        return out


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
        "    nice -n 10 hybrid-nc eval train-ablations "
        f"{' / '.join(sorted(c for c in commands if c)) or ''}   # all; --only NAME for one",
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
        "the ablations compare them with each other.",
    ])
    path = root / "README.md"
    path.write_text(text + "\n")
    return path

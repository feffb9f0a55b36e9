"""Trains a CellDiT renderer with flow matching (x0 prediction), on accelerate (one script for a
CPU, one GPU or many processes).

Per step: sample rows from the dataset (by source family, `source_weights`), rasterize them with
the reference rasterizer (targets and previous frames), build caption tokens, then

    t ~ {1 with prob. t1_prob, else U(0, 1)}       x_t = (1 - t) x0 + t noise
    prev <- 0 with prob. p_drop_prev, else prev + U(0, prev_noise) * noise   (GameNGen/DIAMOND)
    caption dropped with prob. p_caption_drop                     (for classifier-free guidance)
    loss = MSE(model(x_t, t, prev, caption), x0)

t = 1 is over-sampled because the renderer mostly samples in one step, which starts there.
Batches are drawn from an RNG seeded by (seed, step, process), so a resumed run sees the batches an
uninterrupted one would have. An EMA of the weights is what gets evaluated and saved.
Every `eval_every` steps: cell-OCR char accuracy and PSNR on fixed held-out rows (recordings never
trained on) and, separately, on rows with CJK / emoji / box-drawing / powerline characters.
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..fonts import FontSpec
from ..neural import CellCaption, NeuralRenderer, action_bucket, patches_to_rows
from ..ocr import CellOCR
from .dataset import COLUMNS, Batcher, RowBatch, RowBatcher, load_dataset_dir
from .synthetic import random_glyph_bank


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a training run (hybrid_nc/configs/train_*.json)."""

    # model (CellDiT's constructor arguments)
    model: dict[str, Any] = field(default_factory=dict)
    # data
    data: str = "data-cache/renderer-rows"  # or a `hybrid-nc capture` folder: trains a look
    eval_data: str = ""  # looks: a capture folder whose held-out captures are scored in training
    cursor_row_p: float = 0.0  # looks: share of rows that are a capture's cursor row, cropped around it
    cols: int = 40  # cells per training row (attention is local, so short crops lose nothing)
    source_weights: dict[str, float] = field(default_factory=lambda: {
        "synthetic": 0.45, "cast": 0.2, "conformance": 0.2, "commands": 0.15})
    random_glyph_p: float = 0.08
    glyph_bank: int = 4096
    glyph_bank_textures: float = 0.0  # and this share of glyph_bank more: pixel textures
    # share of rows where a run of plain cells gets a foreground a few levels off its background
    # (6-48 levels): pairs the random colours rarely give, and readers still read
    low_contrast_p: float = 0.0
    # a checkpoint folder whose weights start the run (a fine-tune; `model` must describe it)
    init_from: str = ""
    # optimisation
    steps: int = 4000
    batch_size: int = 128
    lr: float = 6e-4
    weight_decay: float = 0.01
    warmup: int = 200
    min_lr_ratio: float = 0.05
    ema: float = 0.999
    grad_clip: float = 1.0
    # diffusion
    t1_prob: float = 0.5
    p_drop_prev: float = 0.3
    prev_noise: float = 0.3
    p_caption_drop: float = 0.05
    # what the caption tells the model (renderer/captions.py); the renderer draws a checkpoint
    # with the same tier, so training and drawing see the same tokens
    caption_tier: str = "detailed"
    # per-cell loss weight (contrast_ref / contrast)^2 clipped to [1, contrast_max_weight]: pixel
    # MSE barely notices a blurred glyph drawn in two close colours, which the reader misreads
    contrast_ref: float = 0.0  # 0 = plain MSE
    contrast_max_weight: float = 25.0
    # bookkeeping
    seed: int = 0
    eval_every: int = 500
    eval_rows: int = 256
    ckpt_every: int = 250
    out: str = "runs/default"
    threads: int = 1  # torch threads; 1 + a data worker beats 2 threads on a shared 2-core CPU
    workers: int = 1  # processes preparing batches ahead (0: in the training process)
    max_minutes: float = 0.0  # stop (and save) after this long; 0 = no limit

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        """Build from a dict, rejecting unknown keys with a clear message."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known - {"_comment"})
        if unknown:
            raise ValueError(f"unknown training config keys: {', '.join(unknown)}")
        return cls(**{k: v for k, v in d.items() if k in known})

    @classmethod
    def load(cls, path: str | Path) -> TrainConfig:
        """Read a JSON config file."""
        try:
            return cls.from_dict(json.loads(Path(path).read_text()))
        except (OSError, json.JSONDecodeError) as e:
            raise ValueError(f"cannot read training config {path}: {e}") from None


def family(source: str) -> str:
    """"cast:foo.cast" -> "cast"."""
    return source.split(":", 1)[0]


@contextlib.contextmanager
def _tqdm_bar(description: str, total: int) -> Iterator[Callable[..., None]]:
    from tqdm.auto import tqdm

    with tqdm(total=total, desc=description, dynamic_ncols=True) as bar:
        def advance(n: int = 1, **fields: Any) -> None:
            bar.update(n)
            if fields:
                bar.set_postfix(**fields)

        yield advance


@contextlib.contextmanager
def _no_bar(description: str, total: int) -> Iterator[Callable[..., None]]:
    yield lambda n=1, **fields: None


class Trainer:
    """Runs a TrainConfig: `Trainer(cfg).train(resume=...)`; `evaluate()` on its own for a
    checkpoint's metrics."""

    def __init__(self, cfg: TrainConfig, log: Any = print) -> None:
        self._start(cfg, log, cfg.model)
        data = load_dataset_dir(cfg.data)
        # plain lists: a datasets 5 column is a lazy view, slow to index item by item
        self.train_cols = data["train"].select_columns(list(COLUMNS)).to_dict()
        self._weigh_families([family(s) for s in self.train_cols["source"]],
                             f"the dataset at {cfg.data} has none of the sources")
        self.font = FontSpec()
        cell_h, cell_w = self.model.config.cell_h, self.model.config.cell_w
        bank = (random_glyph_bank(cfg.glyph_bank, cell_h, cell_w, cfg.seed,
                                   cfg.glyph_bank_textures) if cfg.random_glyph_p else None)
        style = self.model.config.glyph_style
        train_batcher = RowBatcher(cfg.cols, style, self.font, bank, cfg.random_glyph_p,
                                   cfg.caption_tier, cfg.low_contrast_p)
        self.batcher: Batcher = train_batcher
        self.eval_batcher: Batcher = RowBatcher(80, style, self.font, tier=cfg.caption_tier)
        self.eval_sets = {name: self._eval_records(data[name], cfg.eval_rows)
                          for name in ("heldout", "special") if len(data[name])}
        self.ocr = CellOCR(train_batcher.captioner("dark").raster.atlas)
        self._prepare()

    # -- construction steps shared with the look trainer (looks.py) ---------------------------
    def _start(self, cfg: TrainConfig, log: Any, model_cfg: dict[str, Any]) -> None:
        """Config, threads, accelerator, seed, the model and its EMA copy."""
        from accelerate import Accelerator

        from ..models.cell_dit import CellDiT

        self.cfg = cfg
        self.log = log
        torch.set_num_threads(cfg.threads)
        self.acc = Accelerator(cpu=not torch.cuda.is_available())
        torch.manual_seed(cfg.seed)
        self.model = CellDiT(**model_cfg)
        if cfg.init_from:
            from ..models.cell_net import model_args
            from ..neural import load_model

            start = load_model(cfg.init_from, model_class=CellDiT)
            if model_args(start.config) != model_args(self.model.config):
                raise ValueError(f"init_from {cfg.init_from} is a different model than the "
                                 f"config's (its config.json: {model_args(start.config)})")
            self.model.load_state_dict(start.state_dict())
            log(f"weights from {cfg.init_from}")
        self.ema = copy.deepcopy(self.model).requires_grad_(False)
        self.out = Path(cfg.out)

    def _weigh_families(self, families: list[str], none_found: str) -> None:
        """Index the training items by source family, weighted by cfg.source_weights;
        `none_found` starts the error when the data has none of them."""
        fam = np.array(families)
        self.families: dict[str, np.ndarray] = {}
        for name in self.cfg.source_weights:
            idx = np.flatnonzero(fam == name)
            if len(idx):
                self.families[name] = idx
        if not self.families:
            raise ValueError(f"{none_found} {', '.join(self.cfg.source_weights)}")
        w = np.array([self.cfg.source_weights[k] for k in self.families], np.float64)
        self.family_p = w / w.sum()

    def _prepare(self) -> None:
        """Optimizer and schedule, handed to accelerate with the model; the EMA checkpointed."""
        cfg = self.cfg
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=cfg.lr,
                                     weight_decay=cfg.weight_decay, betas=(0.9, 0.99))
        self.sched = torch.optim.lr_scheduler.LambdaLR(self.opt, self._lr_factor)
        self.model, self.opt, self.sched = self.acc.prepare(self.model, self.opt, self.sched)
        self.acc.register_for_checkpointing(self.ema)
        self.step = 0
        self.history: list[dict[str, Any]] = []

    def _lr_factor(self, step: int) -> float:
        cfg = self.cfg
        if step < cfg.warmup:
            return (step + 1) / cfg.warmup
        progress = min(1.0, (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup))
        return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    @staticmethod
    def _eval_records(split: Any, n: int) -> list[dict[str, Any]]:
        # a fixed sample of rows that have text (blank rows would flatter the accuracy)
        rng = np.random.default_rng(1234)
        order = rng.permutation(len(split))
        out = []
        for i in order.tolist():
            rec = split[i]
            if json.loads(rec["row"])["lines"][0].strip():
                out.append(rec)
            if len(out) >= n:
                break
        return out

    # -- one step ------------------------------------------------------------------------
    def sample_batch(self, step: int) -> RowBatch:
        """The training rows of `step` (deterministic given the seed)."""
        rng = np.random.default_rng([self.cfg.seed, step, self.acc.process_index])
        fams = list(self.families)
        pick = rng.choice(len(fams), size=self.cfg.batch_size, p=self.family_p)
        recs = []
        for f in pick.tolist():
            idx = self.families[fams[f]]
            i = int(idx[rng.integers(len(idx))])
            recs.append({k: v[i] for k, v in self.train_cols.items()})
        return self.batcher.batch(recs, rng)

    def predict(self, batch: RowBatch, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The model's x0 prediction for a batch noised at random flow-matching times (seeded by
        the step), with the target x0 it is scored against."""
        cfg = self.cfg
        model = self.model
        buckets = self.acc.unwrap_model(model).config.action_buckets
        gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + step)
        dev = self.acc.device
        x0 = torch.from_numpy(batch.target).float() / 127.5 - 1.0  # (B, C, P)
        prev = torch.from_numpy(batch.prev).float() / 127.5 - 1.0
        b = x0.shape[0]
        t = torch.where(torch.rand(b, generator=gen) < cfg.t1_prob, torch.ones(b),
                        torch.rand(b, generator=gen))
        noise = torch.randn(x0.shape, generator=gen)
        xt = (1 - t)[:, None, None] * x0 + t[:, None, None] * noise
        has = torch.from_numpy(batch.has_prev) & (torch.rand(b, generator=gen) >= cfg.p_drop_prev)
        aug = torch.rand(b, generator=gen) * cfg.prev_noise
        prev = (prev + aug[:, None, None] * torch.randn(prev.shape, generator=gen))
        prev = prev * has[:, None, None].float()
        keep = (torch.rand(b, generator=gen) >= cfg.p_caption_drop).float()
        action = torch.tensor([action_bucket(a, buckets) for a in batch.action])
        pred = model(xt.to(dev), t.to(dev), prev.to(dev), torch.from_numpy(batch.glyph).to(dev),
                     torch.from_numpy(batch.colours).to(dev), torch.from_numpy(batch.bits).to(dev),
                     action.to(dev), torch.from_numpy(batch.hint).to(dev), caption_mask=keep.to(dev))
        return pred, x0.to(dev)

    def loss(self, batch: RowBatch, step: int) -> torch.Tensor:
        """Flow-matching x0 loss of one batch, contrast-weighted per cell when configured."""
        cfg = self.cfg
        pred, x0 = self.predict(batch, step)
        if not cfg.contrast_ref:
            return F.mse_loss(pred, x0)
        contrast = torch.from_numpy(batch.contrast).clamp_min(1e-3)
        w = (cfg.contrast_ref / contrast).square().clamp(1.0, cfg.contrast_max_weight)  # (B, C)
        w = w / w.mean()  # keep the loss scale (and so the learning rate) comparable
        err = (pred - x0).square().mean(-1)  # (B, C)
        return (err * w.to(pred.device)).mean()

    # -- the loop ------------------------------------------------------------------------
    def train(self, resume: bool = False, progress: Callable[..., Any] | None = None
              ) -> dict[str, Any]:
        """Train to cfg.steps (or cfg.max_minutes), checkpointing and evaluating on the way.

        progress: `progress(description, total)` -> a context manager giving
        `advance(n=1, **fields)` (the command line's rich bar); default a tqdm bar. Only the
        main process shows one.
        """
        cfg = self.cfg
        if resume:
            self._resume()
        t0 = time.time()
        wall0 = self._wall_before
        if not self.acc.is_main_process:
            progress = _no_bar
        with (progress or _tqdm_bar)("train", cfg.steps) as advance:
            advance(self.step)
            self._loop(t0, wall0, advance)
        return self.history[-1] if self.history else {}

    def _loop(self, t0: float, wall0: float, advance: Callable[..., None]) -> None:
        cfg = self.cfg
        smooth = None
        batches = self._batches(self.step)
        while self.step < cfg.steps:
            self.model.train()
            step, batch = next(batches)
            assert step == self.step, (step, self.step)
            loss = self.loss(batch, self.step)
            self.opt.zero_grad(set_to_none=True)
            self.acc.backward(loss)
            if cfg.grad_clip:
                self.acc.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
            self.opt.step()
            self.sched.step()
            self._ema_update()
            self.step += 1
            val = float(loss.detach())
            smooth = val if smooth is None else 0.98 * smooth + 0.02 * val
            advance(1, loss=f"{smooth:.5f}", lr=f"{self.sched.get_last_lr()[0]:.2e}")
            out_of_time = cfg.max_minutes and (time.time() - t0) / 60 >= cfg.max_minutes
            if self.step % cfg.eval_every == 0 or self.step == cfg.steps or out_of_time:
                metrics = self.evaluate()
                metrics.update(step=self.step, loss=smooth,
                               wall_s=round(wall0 + time.time() - t0, 1))
                self.history.append(metrics)
                self.log(json.dumps(metrics))
            if self.step % cfg.ckpt_every == 0 or self.step == cfg.steps or out_of_time:
                self.save(wall0 + time.time() - t0)
            if out_of_time:
                self.log(f"stopping at step {self.step}: max_minutes={cfg.max_minutes} reached")
                break

    _wall_before = 0.0

    def _batches(self, start: int) -> Any:
        """Batches of steps start, start+1, ... (made by worker processes when cfg.workers)."""
        if not self.cfg.workers:
            return ((s, self.sample_batch(s)) for s in range(start, self.cfg.steps))
        from torch.utils.data import DataLoader

        loader = DataLoader(_StepBatches(self, start), batch_size=None,
                            num_workers=self.cfg.workers, prefetch_factor=4,
                            collate_fn=lambda x: x, persistent_workers=False)
        return iter(loader)

    def _ema_update(self) -> None:
        decay = min(self.cfg.ema, (1 + self.step) / (10 + self.step)) if self.cfg.ema else 0.0
        with torch.no_grad():
            src = self.acc.unwrap_model(self.model).state_dict()
            for name, p in self.ema.state_dict().items():
                if p.dtype.is_floating_point:
                    p.lerp_(src[name].detach().to(p.device), 1 - decay)
                else:
                    p.copy_(src[name])

    # -- checkpoints ---------------------------------------------------------------------
    def save(self, wall_s: float) -> None:
        """Write the resumable state and the EMA model (out/model, save_pretrained)."""
        self.acc.wait_for_everyone()
        if not self.acc.is_main_process:
            return
        self.acc.save_state(str(self.out / "state"))
        self.ema.save_pretrained(str(self.out / "model"))
        state = {"step": self.step, "wall_s": round(wall_s, 1), "history": self.history,
                 "config": asdict(self.cfg)}
        (self.out / "trainer_state.json").write_text(json.dumps(state, indent=1))

    def _resume(self) -> None:
        path = self.out / "trainer_state.json"
        if not path.is_file():
            raise FileNotFoundError(f"nothing to resume in {self.out} (no trainer_state.json)")
        state = json.loads(path.read_text())
        self.acc.load_state(str(self.out / "state"))
        self.step = int(state["step"])
        self.history = list(state.get("history", []))
        self._wall_before = float(state.get("wall_s", 0.0))
        self.log(f"resumed from step {self.step}")

    # -- evaluation ----------------------------------------------------------------------
    @torch.no_grad()
    def evaluate(self, steps: int = 1) -> dict[str, Any]:
        """Char accuracy (cell OCR) and PSNR of the EMA model on the fixed evaluation rows."""
        out: dict[str, Any] = {}
        for name, recs in self.eval_sets.items():
            res = evaluate_rows(self.ema, self.eval_batcher, self.ocr, recs, steps=steps)
            out.update({f"{name}_{k}": v for k, v in res.items()})
        return out


class _StepBatches(torch.utils.data.IterableDataset):
    """The batches of consecutive steps, split across DataLoader workers in step order."""

    def __init__(self, trainer: Trainer, start: int) -> None:
        self.sample, self.start, self.stop = trainer.sample_batch, start, trainer.cfg.steps

    def __iter__(self) -> Any:
        info = torch.utils.data.get_worker_info()
        n, k = (info.num_workers, info.id) if info else (1, 0)
        torch.set_num_threads(1)
        for s in range(self.start + k, self.stop, n):
            yield s, self.sample(s)


def evaluate_rows(model: Any, batcher: Batcher, ocr: CellOCR, records: list[dict[str, Any]],
                  *, steps: int = 1, seed: int = 0, chunk: int = 64) -> dict[str, float]:
    """Draw `records` with `model` (no previous frame, as for a first frame) and score them:
    cell-OCR char accuracy over the rows' text, share of rows exactly right, PSNR vs the raster."""
    import Levenshtein

    was_training = model.training
    model.eval()
    # float32: the figures stay comparable across machines and with earlier runs; the model's
    # own pixels (these captions carry no effective colours to project onto)
    renderer = NeuralRenderer(model, threads=None, precision="float32", palette=False)
    rng = np.random.default_rng(0)
    dist, total, exact = 0.0, 0, 0
    se, n_px = 0.0, 0
    for i in range(0, len(records), chunk):
        batch = batcher.batch(records[i:i + chunk], rng)
        b = len(batch.chars)
        zeros = np.zeros(batch.colours.shape[:2] + (3,), np.float32)
        cap = CellCaption(batch.glyph, batch.colours, batch.bits, batch.hint, zeros, zeros)
        patches, _ = renderer.denoise(cap, None, rows=list(range(b)), steps=steps, seed=seed)
        cell_h, cell_w = renderer.cell_size
        for j in range(b):
            px = patches_to_rows(patches[j:j + 1], cell_h, cell_w)
            screen = batch.screens[j]
            read = ocr.read(px, screen.cols, 1, hint=screen).lines[0].rstrip()
            truth = "".join(batch.chars[j]).rstrip()
            # per-row DESIGN.md char accuracy (floored at 0), weighted by the row's length
            acc = max(0.0, 1 - Levenshtein.distance(read, truth) / max(len(truth), 1))
            dist += (1 - acc) * len(truth)
            total += len(truth)
            exact += read == truth
        diff = patches.astype(np.float64) - batch.target.astype(np.float64)
        se += float((diff ** 2).sum())
        n_px += diff.size
    model.train(was_training)
    mse = se / max(n_px, 1)
    return {"char_acc": round(1 - dist / max(total, 1), 6), "rows_exact": round(exact / max(len(records), 1), 4),
            "psnr": round(10 * math.log10(255 ** 2 / mse), 3) if mse > 0 else float("inf")}

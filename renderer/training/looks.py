"""Training a look: a CellDiT that draws a real terminal's pixels, from `hybrid-nc capture` data.

`hybrid-nc train --config hybrid_nc/configs/train_look_xterm.json` runs this trainer when the
config's `data` is a capture folder (it has a manifest.json). What differs from the default
trainer (trainer.py), whose targets are our own rasterizer's pixels:

* targets are the terminal's captured pixels: a batch is rows of kept captures (by source family,
  `source_weights` over the capture categories), cropped to `cols` cells;
* the previous frame is the same row of the previous kept moment of the same source (the capture
  ids are `<source>-<k>`), so the context is a real earlier frame too;
* caption tokens come from the look (renderer/looks.py): the terminal's own glyph masks and its
  measured colours, at its cell size;
* with x0_base = "templates" the model's output is added to the template composite, so it learns
  the corrections a lookup cannot make (spill, cursor, colours, wide glyphs).

Every `eval_every` steps the EMA model draws fixed rows of `eval_data`'s held-out (test) captures
(first frame, one step): PSNR against the real pixels, the template composite's PSNR on the same
rows beside it, and the look OCR's char accuracy. It is monitoring only: the saved model is the
last step's EMA, whatever these say.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from terminal.screen import DEFAULT, ScreenState

from ..looks import Look, LookRenderer
from ..neural import patches_to_rows, rows_to_patches
from ..ocr import CellOCR
from .dataset import RowBatch, crop_row, row_screen
from .trainer import TrainConfig, Trainer, family


def is_capture_folder(path: str | Path) -> bool:
    """A folder written by `hybrid-nc capture` (it trains a look, not the default renderer)."""
    p = Path(path)
    return (p / "manifest.json").is_file() and (p / "dataset" / "dataset_dict.json").is_file()


@dataclass
class CaptureBatch(RowBatch):
    """A RowBatch plus the template composite the model's output is added to."""

    base: np.ndarray | None = None  # (B, C, P) uint8


@dataclass
class CaptureScreen:
    """One kept capture: its pixels, its symbolic screen, and the previous moment's (if kept)."""

    pixels: np.ndarray  # (rows*h, cols*w, 3) uint8
    screen: ScreenState
    source: str
    prev: int  # index of the previous moment's capture, -1 if none


def load_captures(folder: str | Path, split: str) -> list[CaptureScreen]:
    """The kept captures of one split of a capture folder, linked to their previous moments."""
    from datasets import load_from_disk

    dd = load_from_disk(str(Path(folder) / "dataset"))
    if split not in dd:
        raise ValueError(f"capture folder {folder} has no {split!r} split (has: {', '.join(dd)})")
    ds = dd[split].cast_column("image", dd[split].features["image"].__class__(decode=False))
    out: list[CaptureScreen] = []
    where: dict[tuple[str, int], int] = {}
    for rec in ds:
        px = np.asarray(Image.open(io.BytesIO(rec["image"]["bytes"])).convert("RGB"))
        k = int(rec["id"].rsplit("-", 1)[1])
        where[(rec["source"], k)] = len(out)
        out.append(CaptureScreen(px, ScreenState.from_json(rec["screen"]), rec["source"], -1))
    for (source, k), i in where.items():
        j = where.get((source, k - 1), -1)
        if j >= 0 and out[j].pixels.shape == out[i].pixels.shape:
            out[i].prev = j
    return out


class CaptureBatcher:
    """Rows of captures -> CaptureBatches (targets and previous frames are real pixels).

    Args:
        look: the look whose captioner builds the tokens.
        cols: cells per training row (rows are cropped or padded to it).
        glyph_style: caption mask style (see CellDiT).
    """

    def __init__(self, look: Look, cols: int, glyph_style: str = "styled") -> None:
        from ..neural import CellCaptioner

        self.look = look
        self.cols = cols
        self.captioner = CellCaptioner(look.theme, look.font, glyph_style)
        self.captioner.raster.atlas = look.atlas()
        self.cell_h, self.cell_w = look.font.cell_h, look.font.cell_w
        self.bg = np.array(look.theme.bg, np.uint8)

    def _crop_start(self, row: ScreenState, rng: np.random.Generator, focus: int = -1) -> int:
        if row.cols <= self.cols:
            return 0
        hi = row.cols - self.cols
        if focus >= 0:  # a window holding that cell, anywhere in it
            start = min(hi, max(0, focus - int(rng.integers(self.cols))))
            return start - 1 if start > 0 and row.chars[0][start] == "" else start
        busy = np.flatnonzero((np.array(row.chars[0]) != " ") | (row.bg[0] != DEFAULT)
                              | (row.attrs[0] != 0))
        if len(busy):
            lo_c = max(0, min(hi, int(busy[0]) - self.cols // 4))
            start = int(rng.integers(lo_c, max(lo_c, min(hi, int(busy[-1]) - self.cols // 4)) + 1))
        else:
            start = int(rng.integers(0, hi + 1))
        if start > 0 and row.chars[0][start] == "":  # never cut a wide glyph in half
            start -= 1
        return start

    def _pixels(self, cap: CaptureScreen, r: int, start: int, n: int) -> np.ndarray:
        # the row's real pixels in patch layout, padded with the background past the screen
        h, w = self.cell_h, self.cell_w
        strip = cap.pixels[r * h:(r + 1) * h, start * w:(start + n) * w]
        out = np.empty((h, self.cols * w, 3), np.uint8)
        out[:] = self.bg
        out[:, :strip.shape[1]] = strip
        return rows_to_patches(out, h, w)[0]

    def batch(self, picks: list[tuple[CaptureScreen, CaptureScreen | None, int, int]],
              rng: np.random.Generator) -> CaptureBatch:
        """(capture, previous capture or None, row, column the crop must hold or -1) picks ->
        a batch (random crops from rng)."""
        keys = ("target", "prev", "has_prev", "glyph", "colours", "bits", "hint", "contrast",
                "base", "chars", "screens")
        out: dict[str, list[Any]] = {k: [] for k in keys}
        for cap, prev, r, focus in picks:
            row = row_screen(cap.screen, r)
            start = self._crop_start(row, rng, focus)
            n = max(0, min(self.cols, row.cols - start))
            cur = crop_row(row, start, self.cols)
            tok = self.captioner.encode(cur, [0])
            out["target"].append(self._pixels(cap, r, start, n))
            out["base"].append(tok.target()[0])
            out["contrast"].append(np.abs(tok.fg[0] - tok.bg[0]).max(-1) / 255.0)
            if prev is not None:
                out["prev"].append(self._pixels(prev, r, start, n))
            else:
                out["prev"].append(np.zeros_like(out["target"][-1]))
            out["has_prev"].append(prev is not None)
            for k in ("glyph", "colours", "bits", "hint"):
                out[k].append(getattr(tok, k)[0])
            out["chars"].append(cur.chars[0])
            out["screens"].append(cur)
        arrays = {k: np.stack(out[k]) for k in ("target", "prev", "glyph", "colours", "bits",
                                               "hint", "contrast", "base")}
        arrays["contrast"] = arrays["contrast"].astype(np.float32)
        return CaptureBatch(has_prev=np.array(out["has_prev"]), action=[""] * len(picks),
                            chars=out["chars"], screens=out["screens"], **arrays)


class LookTrainer(Trainer):
    """Trainer (trainer.py) whose data are real-terminal captures; see the module docstring.
    The loop, EMA, checkpointing and resuming are the default trainer's."""

    def __init__(self, cfg: TrainConfig, log: Any = print) -> None:
        # 1. the look (what the capture measured) fixes the cell size and the font
        look = Look.from_capture(cfg.data)
        self._start(cfg, log, dict(cfg.model, cell_h=look.font.cell_h, cell_w=look.font.cell_w,
                                   font=f"{look.font.main}@{look.font.size}"))
        self.look = look
        # 2. training rows: every row of every kept training capture, by source family
        self.captures = load_captures(cfg.data, "train")
        self._weigh_families([family(c.source) for c in self.captures],
                             f"the captures in {cfg.data} have none of the source families")
        self.batcher = CaptureBatcher(self.look, cfg.cols, self.model.config.glyph_style)
        # 3. monitoring rows: held-out captures, whole rows
        self.eval_rows: list[tuple[CaptureScreen, int]] = []
        if cfg.eval_data:
            held = load_captures(cfg.eval_data, "test")
            rng = np.random.default_rng(1234)
            rows = [(c, r) for c in held for r in range(c.screen.rows)
                    if c.screen.lines[r].strip()]
            for i in rng.permutation(len(rows))[:cfg.eval_rows].tolist():
                self.eval_rows.append(rows[i])
        self.ocr = CellOCR(self.batcher.captioner.raster.atlas)
        self._prepare()

    def sample_batch(self, step: int) -> CaptureBatch:
        """The rows of `step` (deterministic given the seed): a family, a capture, a row; rows
        with no ink are kept only a quarter of the time (blank cells are cheap to learn). A
        share `cursor_row_p` are the capture's cursor row, cropped to hold the cursor: it is one
        cell in ~2,000 yet where a terminal departs most from a glyph lookup (xterm's cursor over
        24-bit colour, over a pending wrap)."""
        rng = np.random.default_rng([self.cfg.seed, step, self.acc.process_index])
        fams = list(self.families)
        picks: list[tuple[CaptureScreen, CaptureScreen | None, int, int]] = []
        while len(picks) < self.cfg.batch_size:
            idx = self.families[fams[int(rng.choice(len(fams), p=self.family_p))]]
            cap = self.captures[int(idx[rng.integers(len(idx))])]
            screen = cap.screen
            focus = -1
            if (self.cfg.cursor_row_p and screen.cursor_visible
                    and rng.random() < self.cfg.cursor_row_p):
                r, focus = (min(v, n - 1) for v, n in zip(screen.cursor, (screen.rows, screen.cols),
                                                          strict=True))
            else:
                r = int(rng.integers(screen.rows))
                blank = not screen.lines[r].strip() and not (screen.bg[r] != DEFAULT).any()
                if blank and rng.random() > 0.25:
                    continue
            prev = self.captures[cap.prev] if cap.prev >= 0 else None
            picks.append((cap, prev, r, focus))
        return self.batcher.batch(picks, rng)

    def predict(self, batch: RowBatch, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """x0 = base + model output when the look has a base (the glyph-mask composite)."""
        pred, x0 = super().predict(batch, step)
        base = getattr(batch, "base", None)
        if self.look.x0_base == "templates" and base is not None:
            pred = pred + (torch.from_numpy(base).float() / 127.5 - 1.0).to(pred.device)
        return pred, x0

    def loss(self, batch: RowBatch, step: int) -> torch.Tensor:
        """Plain flow-matching x0 MSE: a look's targets are captures, not our palette, so the
        default trainer's contrast weighting does not apply."""
        pred, x0 = self.predict(batch, step)
        return F.mse_loss(pred, x0)

    @torch.no_grad()
    def evaluate(self, steps: int = 1) -> dict[str, Any]:
        """PSNR (model and template composite) and look-OCR char accuracy on the held-out rows."""
        if not self.eval_rows:
            return {}
        return evaluate_look(self.ema, self.look, self.ocr, self.eval_rows, steps=steps)

    def save(self, wall_s: float) -> None:
        """The default trainer's checkpoint, plus the look's files beside the model."""
        super().save(wall_s)
        if self.acc.is_main_process:
            self.look.save(self.out / "model")


def evaluate_look(model: Any, look: Look, ocr: CellOCR, rows: list[tuple[CaptureScreen, int]],
                  *, steps: int = 1, seed: int = 0) -> dict[str, Any]:
    """Draw held-out rows (no previous frame) and score them against the real captures."""
    import Levenshtein

    was_training = model.training
    model.eval()
    renderer = LookRenderer(model, look, threads=None, palette=False)  # the model's own pixels
    h, w = look.font.cell_h, look.font.cell_w
    se = se_base = 0.0
    n_px = dist = total = 0
    for cap, r in rows:
        sub = row_screen(cap.screen, r)
        tok = renderer.captioner.encode(sub, [0])
        patches, _ = renderer.denoise(tok, None, rows=[r], steps=steps, seed=seed)
        real = rows_to_patches(cap.pixels[r * h:(r + 1) * h], h, w)
        se += float(((patches.astype(np.float64) - real) ** 2).sum())
        se_base += float(((tok.target().astype(np.float64) - real) ** 2).sum())
        n_px += real.size
        read = ocr.read(patches_to_rows(patches, h, w), sub.cols, 1, hint=sub).lines[0].rstrip()
        truth = "".join(sub.chars[0]).rstrip()
        acc = max(0.0, 1 - Levenshtein.distance(read, truth) / max(len(truth), 1))
        dist += (1 - acc) * len(truth)
        total += len(truth)
    model.train(was_training)

    def db(s: float) -> float:
        return round(10 * math.log10(255 ** 2 / (s / n_px)), 3) if s > 0 else float("inf")

    return {"heldout_psnr": db(se), "heldout_base_psnr": db(se_base),
            "heldout_char_acc": round(1 - dist / max(total, 1), 6), "heldout_rows": len(rows)}


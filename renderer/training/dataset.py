"""Training data for the neural renderer: symbolic rows stored as a Hugging Face `datasets`
dataset, rasterized on the fly.

Why rows, stored symbolically: the model works one row at a time, so a row is the natural unit
to sample; a row's SCREEN.json (one-row screen) + the same row in the previous screen + the action
+ the theme is a few hundred bytes where its pixels would be tens of kilobytes, and rasterizing
a row from it takes a fraction of a millisecond. Exact duplicates (the same row in consecutive
frames of a recording) are stored once.

Columns: row (one-row SCREEN.json), prev (the same row one frame earlier, "" = no previous frame),
action (str), theme (a built-in theme name or a Theme's JSON), source (where it came from).
Splits: "train", "heldout" (rows of held-out recordings, never trained on) and "special" (rows
with CJK, emoji, box-drawing or powerline characters, never trained on).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from terminal.screen import DEFAULT, ScreenState
from terminal.themes import Theme

from ..captions import check_tier, typed_action
from ..fonts import FontSpec
from ..neural import CellCaptioner, restrict_arrays, rows_to_patches
from .synthetic import SyntheticRows, record_dict, row_is_special, theme_from_json

COLUMNS = ("row", "prev", "action", "theme", "source")


def row_screen(screen: ScreenState, r: int) -> ScreenState:
    """Row `r` of a screen as a one-row screen (the cursor kept only if it is on that row)."""
    sub = ScreenState(screen.cols, 1, [list(screen.chars[r])], screen.fg[r:r + 1].copy(),
                      screen.bg[r:r + 1].copy(), screen.attrs[r:r + 1].copy())
    on_row = screen.cursor_visible and screen.cursor[0] == r
    sub.cursor = (0, screen.cursor[1] if on_row else 0)
    sub.cursor_visible = on_row
    return sub


def _round_trips(sub: ScreenState) -> bool:
    # control characters or odd combining sequences in an emulator cell would not survive
    # SCREEN.json; such rows are skipped rather than stored wrongly
    try:
        back = ScreenState.from_json(sub.to_json())
    except Exception:
        return False
    return back.chars == sub.chars and bool(np.array_equal(back.attrs, sub.attrs))


def screen_records(prev: ScreenState | None, screen: ScreenState, rows: Iterable[int],
                   action: str, theme: Theme, source: str) -> Iterator[dict[str, Any]]:
    """Stored records of some rows of a screen (with the previous screen's same rows)."""
    for r in rows:
        sub = row_screen(screen, r)
        if not _round_trips(sub):
            continue
        p = None
        if prev is not None and prev.cols == screen.cols and r < prev.rows:
            p = row_screen(prev, r)
            if not _round_trips(p):
                p = None
        yield record_dict(sub, p, action, theme, source)


def split_of(record: dict[str, Any], heldout: bool) -> str:
    """"special" for rows with held-out characters, else "heldout" or "train"."""
    chars = ScreenState.from_json(record["row"]).chars[0]
    prev = ScreenState.from_json(record["prev"]).chars[0] if record["prev"] else []
    if row_is_special(chars) or row_is_special(prev):
        return "special"
    return "heldout" if heldout else "train"


def synthetic_records(n: int, cols: int = 80, seed: int = 0) -> Iterator[dict[str, Any]]:
    """`n` synthetic rows (renderer/training/synthetic.py)."""
    gen = SyntheticRows(cols, seed)
    for _ in range(n):
        theme = gen.theme()
        prev, cur, action = gen.pair()
        yield record_dict(cur, prev, action, theme, "synthetic")


def build_dataset(groups: Iterable[tuple[Iterable[dict[str, Any]], bool]], out: str | Path
                  ) -> Any:
    """Write a DatasetDict (train / heldout / special) to `out` from (records, is_heldout)
    groups, dropping exact duplicates. Returns the DatasetDict."""
    from datasets import Dataset, DatasetDict

    splits: dict[str, dict[str, list[Any]]] = {
        s: {c: [] for c in COLUMNS} for s in ("train", "heldout", "special")}
    seen: set[bytes] = set()
    for records, heldout in groups:
        for rec in records:
            key = hashlib.blake2b(json.dumps([rec["row"], rec["prev"], rec["theme"],
                                              heldout]).encode(), digest_size=16).digest()
            if key in seen:
                continue
            seen.add(key)
            cols = splits[split_of(rec, heldout)]
            for c in COLUMNS:
                cols[c].append(rec[c])
    dd = DatasetDict({s: Dataset.from_dict(cols) for s, cols in splits.items()})
    dd.save_to_disk(str(out))
    return dd


def load_dataset_dir(path: str | Path) -> Any:
    """Load a dataset written by build_dataset; a clear error if it is not there."""
    from datasets import load_from_disk

    p = Path(path)
    if not (p / "dataset_dict.json").is_file():
        raise FileNotFoundError(f"no training dataset at {p} (hybrid-nc train builds one with "
                                f"--build-data)")
    return load_from_disk(str(p))


# -- batches ---------------------------------------------------------------------------------
@dataclass
class RowBatch:
    """A batch of training rows as arrays (B rows of C cells)."""

    target: np.ndarray  # (B, C, P) uint8
    prev: np.ndarray  # (B, C, P) uint8
    has_prev: np.ndarray  # (B,) bool
    glyph: np.ndarray  # (B, C, G) float32
    colours: np.ndarray  # (B, C, 6) float32
    bits: np.ndarray  # (B, C, 6) float32
    hint: np.ndarray  # (B, C, G) float32
    contrast: np.ndarray  # (B, C) float32: max |fg - bg| over RGB (0-1) of the drawn colours
    action: list[str]
    chars: list[list[str]]  # the truth of each row, for evaluation
    screens: list[ScreenState]


def crop_row(screen: ScreenState, start: int, cols: int) -> ScreenState:
    """Cells start..start+cols of a one-row screen; blank default cells pad a short row."""
    out = ScreenState.blank(cols, 1)
    n = max(0, min(cols, screen.cols - start))
    out.chars[0][:n] = screen.chars[0][start:start + n]
    out.fg[0, :n] = screen.fg[0, start:start + n]
    out.bg[0, :n] = screen.bg[0, start:start + n]
    out.attrs[0, :n] = screen.attrs[0, start:start + n]
    out.fg[0, n:] = out.bg[0, n:] = DEFAULT
    c = screen.cursor[1] - start
    out.cursor_visible = screen.cursor_visible and 0 <= c < cols
    out.cursor = (0, c if out.cursor_visible else 0)
    if out.chars[0] and out.chars[0][0] == "":  # a wide char cut in half: drop its right half
        out.chars[0][0] = " "
    return out


class Batcher(Protocol):
    """What the trainer needs of a batcher: RowBatcher, or the look trainer's CaptureBatcher."""

    def batch(self, records: list[dict[str, Any]], rng: np.random.Generator) -> RowBatch:
        """RowBatch of `records` (random crops drawn from `rng`)."""
        ...


def native_withheld_batch(batch: RowBatch) -> np.ndarray:
    """(B,) rows of a batch whose caption the native tier withholds: rows that changed since
    their previous frame for a reason other than one typed character (the training form of
    renderer.captions.native_withheld, which judges whole screens)."""
    changed = np.array([not np.array_equal(batch.target[i], batch.prev[i])
                        for i in range(len(batch.action))])
    typed = np.array([typed_action(a) for a in batch.action])
    return batch.has_prev & changed & ~typed


class RowBatcher:
    """Makes RowBatches from dataset records: crops/pads rows to `cols` cells, rasterizes the
    target and the previous row with the record's theme, builds the caption tokens of the tier.

    Args:
        cols: cells per training row.
        glyph_style: caption mask style (see CellDiT).
        font: font spec (the atlas).
        glyph_bank: optional (N, h, w) procedural masks for the glyph-copy augmentation.
        random_glyph_p: share of plain cells whose glyph is replaced by a bank mask.
        tier: the caption tier (renderer/captions.py) the tokens are cut down to, as the
            neural renderer cuts them when it draws with that tier.
        low_contrast_p: share of rows where a run of plain cells (no inverse, no cursor) gets
            a foreground 6-48 levels from its background, in caption and target alike.
    """

    def __init__(self, cols: int = 80, glyph_style: str = "styled", font: FontSpec | None = None,
                 glyph_bank: np.ndarray | None = None, random_glyph_p: float = 0.0,
                 tier: str = "detailed", low_contrast_p: float = 0.0) -> None:
        self.tier = check_tier(tier)
        if tier == "regular" and glyph_style != "regular":
            raise ValueError("the regular caption tier needs glyph_style 'regular' (styled masks "
                             "would tell bold, italic and underline)")
        self.cols = cols
        self.glyph_style = glyph_style
        self.font = font or FontSpec()
        self.glyph_bank = glyph_bank
        self.random_glyph_p = random_glyph_p
        self.low_contrast_p = low_contrast_p
        self._captioners: dict[str, CellCaptioner] = {}

    def captioner(self, theme: str) -> CellCaptioner:
        if theme not in self._captioners:
            if len(self._captioners) > 256:
                self._captioners.clear()
            self._captioners[theme] = CellCaptioner(theme_from_json(theme), self.font,
                                                    self.glyph_style)
        return self._captioners[theme]

    def batch(self, records: list[dict[str, Any]], rng: np.random.Generator) -> RowBatch:
        """Rasterize and caption `records` (random crops drawn from `rng`)."""
        out: dict[str, list[Any]] = {k: [] for k in ("target", "prev", "has_prev", "glyph",
                                                       "colours", "bits", "hint", "contrast",
                                                       "action", "chars", "screens")}
        for rec in records:
            cur = ScreenState.from_json(rec["row"])
            start = self._crop_start(cur, rng)
            cur = crop_row(cur, start, self.cols)
            cap = self.captioner(rec["theme"])
            tok = cap.encode(cur, [0])
            if self.glyph_bank is not None and self.random_glyph_p > 0:
                self._augment(tok, cur, rng)
            if self.low_contrast_p and rng.random() < self.low_contrast_p:
                _low_contrast(tok, rng)
            out["target"].append(tok.target()[0])
            out["contrast"].append(np.abs(tok.fg[0] - tok.bg[0]).max(-1) / 255.0)
            if rec["prev"]:
                prev = crop_row(ScreenState.from_json(rec["prev"]), start, self.cols)
                px = cap.raster.draw_rows(prev, [0])
                out["prev"].append(rows_to_patches(px, *cap.raster.atlas.cell)[0])
                out["has_prev"].append(True)
            else:
                out["prev"].append(np.zeros_like(out["target"][-1]))
                out["has_prev"].append(False)
            for k in ("glyph", "colours", "bits", "hint"):
                out[k].append(getattr(tok, k)[0])
            out["action"].append(rec["action"])
            out["chars"].append(cur.chars[0])
            out["screens"].append(cur)
        arrays = {k: np.stack(out[k]) for k in ("target", "prev", "glyph", "colours", "bits",
                                               "hint", "contrast")}
        arrays["contrast"] = arrays["contrast"].astype(np.float32)
        b = RowBatch(has_prev=np.array(out["has_prev"]), action=out["action"],
                     chars=out["chars"], screens=out["screens"], **arrays)
        # after the glyph-copy augmentation: a withheld cell must not get a bank mask back
        withheld = native_withheld_batch(b) if self.tier == "native" else None
        restrict_arrays(self.tier, b.glyph, b.colours, b.bits, withheld)
        return b

    def _crop_start(self, row: ScreenState, rng: np.random.Generator) -> int:
        # a window that holds some of the row's content: blank cells are cheap to learn
        if row.cols <= self.cols:
            return 0
        busy = np.flatnonzero((np.array(row.chars[0]) != " ") | (row.bg[0] != DEFAULT)
                              | (row.attrs[0] != 0))
        hi = row.cols - self.cols
        if not len(busy):
            return int(rng.integers(0, hi + 1))
        lo_c = max(0, min(hi, int(busy[0]) - self.cols // 4))
        hi_c = max(lo_c, min(hi, int(busy[-1]) - self.cols // 4))
        return int(rng.integers(lo_c, hi_c + 1))

    def _augment(self, tok: Any, screen: ScreenState, rng: np.random.Generator) -> None:
        # replace the glyph of some plain cells (no style bits: their styled and regular masks
        # are the same) by a procedural mask, and the target with it
        bank = self.glyph_bank
        assert bank is not None
        plain = np.flatnonzero((screen.attrs[0] & 0x17) == 0)  # not bold/italic/underline/strike
        pick = plain[rng.random(len(plain)) < self.random_glyph_p]
        if not len(pick):
            return
        masks = bank[rng.integers(len(bank), size=len(pick))].reshape(len(pick), -1)
        tok.glyph = tok.glyph.copy()
        tok.hint = tok.hint.copy()
        tok.glyph[0, pick] = masks
        tok.hint[0, pick] = masks


def _low_contrast(tok: Any, rng: np.random.Generator) -> None:
    """Give a run of the row's plain cells a foreground 6-48 levels from each one's background
    (the effective colours, the caption's fg token and so the target all agree)."""
    c = tok.fg.shape[1]
    start = int(rng.integers(c))
    run = np.arange(start, min(c, start + int(rng.integers(1, 17))))
    run = run[(tok.bits[0, run, 3] == 0) & (tok.bits[0, run, 5] == 0)]  # not inverse, not cursor
    direction = rng.normal(size=3)
    direction *= rng.uniform(6.0, 48.0) / (np.linalg.norm(direction) or 1.0)
    if not len(run):
        return
    bg = tok.bg[0, run]
    # away from the nearer end of each channel, so that clipping never shrinks the step
    fg = np.clip(bg + np.where(bg > 127.5, -1, 1) * np.abs(direction), 0, 255).round()
    tok.fg = tok.fg.copy()
    tok.colours = tok.colours.copy()
    tok.fg[0, run] = fg
    tok.colours[0, run, :3] = fg / 127.5 - 1.0

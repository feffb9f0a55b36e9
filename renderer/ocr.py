"""Cell-grid OCR: read a frame back as text by fitting every vocabulary glyph to every cell.

A cell drawn with glyph mask g between two colours is, per channel c, x_c = bg_c + a_c * g
(a_c = fg_c - bg_c; negative in inverse video). For each (cell, mask) pair the least-squares colours
have a closed form, and with the mask centred and normalised (ĝ = (g - mean g) / |g - mean g|) the
residual is

    |x - fit|^2 = sum_c |x_c - mean x_c|^2 - sum_c (x_c . ĝ)^2

A two-colour cell is rank 1 in colour, so every mask is ranked on the cell's principal colour axis
(one (cells x P) @ (P x masks) product for the frame), and the best, the hinted and the blank
masks are refitted exactly per channel: both polarities, any colours, milliseconds. Guards that
make it a judge rather than a guesser:

* a fit whose two colours are closer than MIN_CONTRAST, and that is not exact, is not a glyph but
  a flat cell; on a noisy frame a glyph must also explain far more than the noise could (noise is
  not read as faint text);
* pixel-identical readings (a blank cell and a full block of the same colour, U+2800 and a blank,
  bold and regular box drawing) tie, and ties go to the hint (the screen the frame should show);
* a cell no vocabulary glyph explains - its residual above REJECT of the cell's own variance and
  above the frame's noise floor - reads as UNREADABLE (U+FFFD), so a shifted, scaled or garbled
  frame fails loudly instead of being read as the nearest plausible text.

The vocabulary is printable ASCII (regular, bold, underlined), Latin-1, box drawing, blocks and
common symbols, plus every (character, style) of the hint and any `extra` characters. Colour glyphs
(FontSpec(color_emoji=True)) are fitted with their own colours and an unknown background.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from terminal.screen import BOLD, UNDERLINE, ScreenState, char_width

from .fonts import STYLE_BITS, GlyphAtlas
from .metrics import char_accuracy, line_accuracy, screen_text  # re-exported (older imports)

BASE_CHARS = (
    [chr(c) for c in range(0x21, 0x7F)]
    + [chr(c) for c in range(0xA1, 0x100)]
    + [chr(c) for c in range(0x2500, 0x2580)]  # box drawing
    + [chr(c) for c in range(0x2580, 0x25A0)]  # blocks
    + list("•·…‘’“”–—←↑→↓↔⇒✓✔✗✘★☆♥●○■□▲▶▼◀◆◇")
)
BASE_STYLES = (0, BOLD, UNDERLINE)  # for ASCII; other characters in the regular face
MIN_CONTRAST = 0.1  # fitted |fg - bg| (RGB in 0-1) below which a glyph fit is a flat cell
EXACT = (1 / 255) ** 2  # mean squared residual of a fit exact to within one 8-bit level
TIE = 1e-6  # mean squared residual difference (0-1 scale) that counts as the same pixels
REJECT = 0.5  # residual share of a cell's variance above which no glyph explains it ...
REJECT_RMS = 12.0  # ... provided the residual's RMS (0-255) is above this (JPEG-grade artefacts)
NOISE_FLOOR = 4.0  # ... and above this many times the frame's noise variance
NOISE_EXPLAINED = 50.0  # a glyph fit must explain this many times the noise variance (chi2_3 tail)
UNREADABLE = "\ufffd"

__all__ = ["BASE_CHARS", "CellOCR", "OCRResult", "UNREADABLE", "char_accuracy",
           "line_accuracy", "screen_text"]


@dataclass
class OCRResult:
    """What was read.

    cells: per-cell texts ("" right of a wide character, UNREADABLE where no glyph fits).
    distance: (rows, cols) mean squared residual of the chosen glyph, 0-1 RGB scale (0 = exact).
    styles: (rows, cols) style bits (bold, italic, underline, strike) of the chosen glyph.
    fg, bg: (rows, cols, 3) float32 fitted colours (0-255) of the chosen glyph; in a flat cell
        both are the cell's colour.
    noise: the frame's estimated noise level (RMS, 0-255 scale) from its flat cells.
    """

    cells: list[list[str]]
    distance: np.ndarray
    styles: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.uint8))
    fg: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 3), np.float32))
    bg: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 3), np.float32))
    noise: float = 0.0

    @property
    def lines(self) -> list[str]:
        """Display lines (a wide character once)."""
        return ["".join(r) for r in self.cells]

    @property
    def text(self) -> str:
        """The lines joined like `ScreenState.text` (trailing spaces stripped)."""
        return "\n".join(ln.rstrip() for ln in self.lines)

    @property
    def unreadable(self) -> int:
        """How many cells no glyph explained."""
        return sum(row.count(UNREADABLE) for row in self.cells)


@dataclass
class _Vocab:
    """Vocabulary glyphs prepared for fitting."""

    atlas_idx: np.ndarray  # (V,) atlas indices
    labels: list[tuple[str, int, int]]  # (text, style, half)
    unit: np.ndarray  # (V, P) centred masks scaled to unit norm (zero rows: flat masks)
    norm: np.ndarray  # (V,) norm of the centred mask
    mean: np.ndarray  # (V,) mean of the mask
    row_of: dict[int, int]  # atlas index -> vocabulary row
    complement: np.ndarray  # (V,) row whose mask is 1 - this mask (▀ / ▄, ░ / ▓), or -1

    def row_lut(self) -> np.ndarray:
        """Atlas index -> vocabulary row (-1: not in the vocabulary), as an array."""
        lut = getattr(self, "_lut", None)
        if lut is None:
            lut = np.full(int(self.atlas_idx.max()) + 1, -1, np.int64)
            lut[self.atlas_idx] = np.arange(len(self.atlas_idx))
            self._lut = lut
        return lut

    def label_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Texts (object), styles (uint8) and halves (uint8) of the labels, as arrays."""
        cached = getattr(self, "_arrays", None)
        if cached is None:
            texts = np.empty(len(self.labels), object)
            texts[:] = [t for t, _, _ in self.labels]
            cached = (texts, np.array([st for _, st, _ in self.labels], np.uint8),
                      np.array([h for _, _, h in self.labels], np.uint8))
            self._arrays = cached
        return cached


class CellOCR:
    """Reads frames drawn on a known cell grid with a known font.

    Args:
        atlas: the glyph atlas of the font the frame was drawn in.
        chars: the base vocabulary (defaults to BASE_CHARS).
        styles: attribute combinations of the base vocabulary's ASCII (bold, underline, ...).
        reject: read cells that no glyph explains as UNREADABLE (see the module docstring).
    """

    def __init__(self, atlas: GlyphAtlas, chars: Iterable[str] | None = None,
                 styles: Iterable[int] = BASE_STYLES, reject: bool = True) -> None:
        self.atlas = atlas
        self.styles = tuple(styles)
        self.reject = reject
        self._base_chars = list(chars if chars is not None else BASE_CHARS)
        self._base: _Vocab | None = None
        self._vocabs: OrderedDict[frozenset, _Vocab] = OrderedDict()
        self._hint_rows: OrderedDict[tuple, tuple[list[int], frozenset[tuple[str, int]]]] = (
            OrderedDict())

    # -- vocabulary ----------------------------------------------------------------------
    def _base_vocab(self) -> _Vocab:
        if self._base is None:
            keys: dict[int, tuple[str, int, int]] = {0: (" ", 0, 0)}
            for ch in self._base_chars:
                for st in (self.styles if ch < "\x7f" else (0,)):
                    self._add(keys, ch, st)
            self._base = self._prepare(keys)
        return self._base

    def _add(self, keys: dict[int, tuple[str, int, int]], ch: str, style: int) -> None:
        if not ch:
            return
        st = style & STYLE_BITS
        if char_width(ch) == 2:
            keys.setdefault(self.atlas.index(ch, st, 1), (ch, st, 1))
            keys.setdefault(self.atlas.index(ch, st, 2), (ch, st, 2))
        else:
            keys.setdefault(self.atlas.index(ch, st), (ch if ch != "" else " ", st, 0))

    def _prepare(self, keys: dict[int, tuple[str, int, int]]) -> _Vocab:
        idx = np.fromiter(keys, np.int64, len(keys))
        masks = self.atlas.masks[idx].reshape(len(idx), -1).astype(np.float32)
        mean = masks.mean(1)
        centred = masks - mean[:, None]
        norm = np.sqrt((centred ** 2).sum(1))
        flat = norm < 1e-4
        unit = np.where(flat[:, None], 0.0, centred / np.where(flat, 1.0, norm)[:, None])
        return _Vocab(idx, [keys[i] for i in idx.tolist()], unit.astype(np.float32),
                      np.where(flat, 0.0, norm).astype(np.float32), mean.astype(np.float32),
                      {a: i for i, a in enumerate(idx.tolist())},
                      _complements(self.atlas.masks_u8[idx], flat))

    def _vocab(self, extra: frozenset[tuple[str, int]]) -> _Vocab:
        """The base vocabulary plus `extra` (text, style) pairs, cached per extra set."""
        base = self._base_vocab()
        if not extra:
            return base
        hit = self._vocabs.get(extra)
        if hit is not None:
            self._vocabs.move_to_end(extra)
            return hit
        keys: dict[int, tuple[str, int, int]] = {}
        for ch, st in sorted(extra):
            self._add(keys, ch, st)
        new = {a: lab for a, lab in keys.items() if a not in base.row_of}
        if not new:
            vocab = base
        else:
            more = self._prepare(new)
            n = len(base.atlas_idx)
            vocab = _Vocab(np.concatenate([base.atlas_idx, more.atlas_idx]),
                           base.labels + more.labels,
                           np.concatenate([base.unit, more.unit]),
                           np.concatenate([base.norm, more.norm]),
                           np.concatenate([base.mean, more.mean]),
                           {**base.row_of, **{a: n + i for a, i in more.row_of.items()}},
                           np.zeros(0, np.int64))
            flat = vocab.norm == 0
            vocab.complement = _complements(self.atlas.masks_u8[vocab.atlas_idx], flat)
        self._vocabs[extra] = vocab
        while len(self._vocabs) > 32:
            self._vocabs.popitem(last=False)
        return vocab

    def _hint_indices(self, chars: list[str], attrs: np.ndarray
                      ) -> tuple[list[int], frozenset[tuple[str, int]]]:
        """Atlas indices the rasterizer draws for one hint row, and the row's (text, style)
        pairs (cached by row content)."""
        key = (tuple(chars), attrs.tobytes())
        hit = self._hint_rows.get(key)
        if hit is None:
            st = [int(a) & STYLE_BITS for a in attrs.tolist()]
            pairs = frozenset((t, st[c]) for c, t in enumerate(chars) if t and (t != " " or st[c]))
            hit = (self.atlas.row_indices(chars, attrs), pairs)
            self._hint_rows[key] = hit
            while len(self._hint_rows) > 4096:
                self._hint_rows.popitem(last=False)
        return hit

    # -- reading -------------------------------------------------------------------------
    def read(self, frame: np.ndarray, cols: int, rows: int,
             hint: ScreenState | None = None, extra: Iterable[str] = ()) -> OCRResult:
        """Read `frame` (rows * cell_h, cols * cell_w, 3) uint8 as a `rows` x `cols` grid.

        hint: the screen the frame should show (same size); its characters join the vocabulary
            and win ties between pixel-identical readings.
        extra: more characters to recognise.
        Raises ValueError when the frame is not exactly that grid.
        """
        ch, cw = self.atlas.cell
        frame = np.asarray(frame)
        if frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(f"frame must be (H, W, 3) RGB, got shape {frame.shape}")
        if frame.shape[:2] != (rows * ch, cols * cw):
            raise ValueError(f"frame is {frame.shape[1]}x{frame.shape[0]} px, a {cols}x{rows} "
                             f"grid of {cw}x{ch} cells is {cols * cw}x{rows * ch}")
        hint_rows = None
        if hint is not None:
            if (hint.cols, hint.rows) != (cols, rows):
                raise ValueError(f"hint screen is {hint.cols}x{hint.rows}, "
                                 f"the grid is {cols}x{rows}")
            hint_rows = [(hint.chars[r], hint.attrs[r]) for r in range(rows)]
        return self._read(frame.reshape(rows, ch, cols * cw, 3), cols, hint_rows, extra)

    def read_rows(self, frame: np.ndarray, screen: ScreenState, rows: Sequence[int],
                  extra: Iterable[str] = ()) -> OCRResult:
        """Read only some rows of a full frame of `screen` (e.g. the damaged ones), with `screen`
        as the hint. The result's cells, distance, ... hold those rows in the order given."""
        ch, cw = self.atlas.cell
        frame = np.asarray(frame)
        if frame.shape[:2] != (screen.rows * ch, screen.cols * cw) or frame.ndim != 3:
            raise ValueError(f"frame is {frame.shape[1]}x{frame.shape[0]} px, a "
                             f"{screen.cols}x{screen.rows} screen is "
                             f"{screen.cols * cw}x{screen.rows * ch}")
        rows = list(rows)
        bad = [r for r in rows if not 0 <= r < screen.rows]
        if bad:
            raise ValueError(f"rows {bad} are outside a {screen.rows}-row screen")
        strips = frame.reshape(screen.rows, ch, screen.cols * cw, 3)[rows]
        hint_rows = [(screen.chars[r], screen.attrs[r]) for r in rows]
        return self._read(strips, screen.cols, hint_rows, extra)

    def _read(self, strips: np.ndarray, cols: int,
              hint_rows: list[tuple[list[str], np.ndarray]] | None,
              extra: Iterable[str]) -> OCRResult:
        """strips: (R, cell_h, cols * cell_w, 3) uint8."""
        ch, cw = self.atlas.cell
        nrows = strips.shape[0]
        n, p = nrows * cols, ch * cw

        # 1. vocabulary: base + hinted (text, style) pairs + extra characters
        extra_keys: set[tuple[str, int]] = {(c, 0) for c in extra}
        hint_idx: list[int] = []
        if hint_rows is not None:
            for chars, attrs in hint_rows:
                idx, pairs = self._hint_indices(chars, attrs)
                hint_idx.extend(idx)
                extra_keys |= pairs
        vocab = self._vocab(frozenset(extra_keys))

        # 2. cells as (N, 3, P); most cells of a terminal are one flat colour and need no fit
        u8 = np.ascontiguousarray(
            strips.reshape(nrows, ch, cols, cw, 3).transpose(0, 2, 4, 1, 3)).reshape(n, 3, p)
        busy = np.flatnonzero((u8.max(-1) != u8.min(-1)).any(-1))
        mean_x = u8.mean(-1, dtype=np.float32) * np.float32(1 / 255)  # (N, 3)
        flat_masks = vocab.norm == 0
        hrow = None
        if hint_rows is not None:
            lut = vocab.row_lut()
            hi = np.asarray(hint_idx, np.int64)
            hrow = np.where(hi < len(lut), lut[np.minimum(hi, len(lut) - 1)], -1)

        # 3. flat cells fit every flat mask exactly (blank, full block, shades): the hinted one
        # if the hint is flat, else the blank
        choice = np.zeros(n, np.int64)
        best = np.zeros(n, np.float32)
        if hrow is not None:
            flat_hint = (hrow >= 0) & flat_masks[np.maximum(hrow, 0)]
            choice[flat_hint] = hrow[flat_hint]

        # 4. busy cells: fit the vocabulary (see _fit)
        var = np.zeros(n, np.float32)  # mean squared deviation per pixel and channel
        contrast = np.zeros((n, 3), np.float32)  # fitted fg - bg of the chosen glyph
        noise = 0.0
        if len(busy):
            raw = u8[busy].astype(np.float32) * np.float32(1 / 255)  # (B, 3, P) in 0-1
            xb = raw - mean_x[busy][..., None]  # centred
            with single_threaded_blas():
                cb, bb, ab, noise = self._fit(xb, vocab,
                                              hrow[busy] if hrow is not None else None,
                                              raw, choice, best, busy, flat_masks)
            choice[busy], best[busy], contrast[busy] = cb, bb, ab
            var[busy] = np.einsum("bcp,bcp->b", xb, xb) / (3 * p)

        # 5. fitted colours of the chosen glyph, and cells no glyph explains
        fg, bg = self._colours(mean_x, vocab, choice, contrast)
        if len(busy):
            self._prefer_background(choice, fg, bg, mean_x, busy, vocab, hrow)
        rejected = np.zeros(n, bool)
        if self.reject and len(busy):
            floor = max(NOISE_FLOOR * (noise / 255.0) ** 2, (REJECT_RMS / 255.0) ** 2)
            rejected = (best > REJECT * var) & (best > floor)

        # 6. labels -> display cells (a wide character needs both halves, in order)
        texts, lstyles, halves = vocab.label_arrays()
        styles = lstyles[choice].reshape(nrows, cols).copy()
        half = halves[choice].reshape(nrows, cols)
        grid = texts[choice].reshape(nrows, cols)
        grid[rejected.reshape(nrows, cols)] = UNREADABLE
        half[rejected.reshape(nrows, cols)] = 0
        out: list[list[str]] = grid.tolist()
        for r, c in zip(*np.nonzero(half), strict=True):
            if half[r, c] == 2 and c > 0 and half[r, c - 1] == 1 and out[r][c] == "":
                continue  # the right half of a pair made at c - 1
            if (half[r, c] == 1 and c + 1 < cols and half[r, c + 1] == 2
                    and grid[r, c + 1] == grid[r, c] and styles[r, c + 1] == styles[r, c]):
                out[r][c + 1] = ""
            else:
                out[r][c] = " "  # half a wide character is no character
                styles[r, c] = 0
        return OCRResult(out, best.reshape(nrows, cols), styles,
                         fg.reshape(nrows, cols, 3), bg.reshape(nrows, cols, 3), noise)

    # -- helpers -------------------------------------------------------------------------
    def _fit(self, xb: np.ndarray, vocab: _Vocab, hint: np.ndarray | None, raw: np.ndarray,
             choice: np.ndarray, best: np.ndarray, busy: np.ndarray, flat_masks: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        """Best glyph for each busy cell: (choice, residual, fitted fg - bg (B, 3), noise).

        A. Rank every glyph on the cell's principal colour axis: a two-colour cell's centred
           pixels are a rank-1 (3 x P) matrix a (g - mean g), so projecting them on a / |a| loses
           nothing and the ranking costs one (B x P) @ (P x V) product, not three.
        B. Refit the best, the hinted glyph and a flat mask exactly, per channel, and decide
           there: ties, faint glyphs, noise and colour glyphs are judged on exact residuals.
        """
        nb, _, p = xb.shape
        energy = np.einsum("bcp,bcp->b", xb, xb)  # (B,)
        # A. principal axis by power iteration from the strongest channel (exact in one step
        # for a two-colour cell), then every glyph's explained energy along it
        cov = np.einsum("bcp,bdp->bcd", xb, xb)  # (B, 3, 3)
        axis = cov[np.arange(nb), :, np.argmax(np.einsum("bcc->bc", cov), 1)]
        for _ in range(3):
            axis = axis / np.maximum(np.linalg.norm(axis, axis=1, keepdims=True), 1e-12)
            axis = np.einsum("bcd,bd->bc", cov, axis)
        axis = axis / np.maximum(np.linalg.norm(axis, axis=1, keepdims=True), 1e-12)
        y = np.einsum("bc,bcp->bp", axis, xb)  # (B, P)
        d = y @ vocab.unit.T  # (B, V)
        top = np.argmax(d * d, axis=1)[:, None]  # (B, 1): the glyph explaining the most
        extra = [np.zeros((nb, 1), np.int64)]  # the blank: a flat mask, always a candidate
        if hint is not None:
            extra.append(np.where(hint >= 0, hint, 0)[:, None])
        colour_rows = [i for i, a in enumerate(vocab.atlas_idx.tolist()) if a in self.atlas.color]
        cand = np.concatenate([top, *extra], 1)  # (B, K')
        # B. exact residuals of the candidates
        units = vocab.unit[cand]  # (B, K', P)
        proj = np.einsum("bcp,bkp->bkc", xb, units)  # (B, K', 3) per-channel x_c . ĝ
        ex = np.einsum("bkc,bkc->bk", proj, proj)
        resid = (energy[:, None] - ex) * np.float32(1 / (3 * p))
        var = energy * np.float32(1 / (3 * p))
        n2 = vocab.norm[cand] ** 2
        flat = flat_masks[cand]
        weak = (ex < np.float32(MIN_CONTRAST ** 2) * n2) & ~flat
        # ... unless it fits exactly a cell with real structure: a faint glyph is still it
        weak &= ~((resid <= np.float32(EXACT)) & (var > np.float32(16 * EXACT))[:, None])
        if hint is not None:  # the hinted glyph fitting exactly is never "too faint"
            hinted = (cand == hint[:, None]) & (hint >= 0)[:, None]
            weak &= ~(hinted & (resid <= np.float32(EXACT)))
        resid = np.where(weak, np.float32(np.inf), np.maximum(resid, 0))
        if colour_rows:
            cr = np.asarray(colour_rows)
            cres = self._colour_residuals(raw, vocab, colour_rows)
            cand = np.concatenate([cand, np.broadcast_to(cr, (nb, len(cr)))], 1)
            resid = np.concatenate([resid, cres], 1)
            proj = np.concatenate([proj, np.zeros((nb, len(cr), 3), np.float32)], 1)
            ex = np.concatenate([ex, np.full((nb, len(cr)), np.inf, np.float32)], 1)
            flat = np.concatenate([flat, np.ones((nb, len(cr)), bool)], 1)
        hcol = None
        if hint is not None:
            hcol = np.where(hint >= 0, np.argmax(cand == hint[:, None], 1), -1)
        col, bst = self._pick(resid, hcol)
        # on a noisy frame, glyph fits that noise alone explains are invalid too: the frame's
        # noise level comes from the cells read as empty (exactly flat on a clean frame)
        choice[busy] = cand[np.arange(nb), col]
        best[busy] = bst
        noise = self._noise(best, flat_masks[choice])
        if noise > 0:
            chance = (ex < np.float32(NOISE_EXPLAINED * (noise / 255.0) ** 2)) & ~flat
            if chance.any():
                resid = np.where(chance, np.float32(np.inf), resid)
                col, bst = self._pick(resid, hcol)
        rows = np.arange(nb)
        chosen = cand[rows, col]
        norm = vocab.norm[chosen]
        contrast = np.where((norm > 0)[:, None], proj[rows, col] / np.maximum(norm, 1e-12)[:, None],
                            0.0).astype(np.float32)
        return chosen, bst, contrast, noise

    @staticmethod
    def _prefer_background(choice: np.ndarray, fg: np.ndarray, bg: np.ndarray,
                           mean_x: np.ndarray, busy: np.ndarray, vocab: _Vocab,
                           hint: np.ndarray | None) -> None:
        """A mask and its complement (▀ and ▄ in swapped colours) are the same pixels. Unless the
        hint chose, read the one whose background is the frame's background: the commonest
        colour of its flat cells."""
        flat = np.ones(len(choice), bool)
        flat[busy] = False
        if not flat.any():
            return
        colours = np.rint(mean_x[flat] * 255).astype(np.int64) @ np.array([1 << 16, 1 << 8, 1])
        values, counts = np.unique(colours, return_counts=True)
        v = int(values[counts.argmax()])
        ground = np.array([v >> 16 & 255, v >> 8 & 255, v & 255], np.float32)
        comp = vocab.complement[choice[busy]]
        cells = busy[comp >= 0]
        if hint is not None:
            cells = cells[hint[cells] != choice[cells]]
        if not len(cells):
            return
        swap = (np.abs(fg[cells] - ground).sum(1) < np.abs(bg[cells] - ground).sum(1))
        cells = cells[swap]
        choice[cells] = vocab.complement[choice[cells]]
        fg[cells], bg[cells] = bg[cells].copy(), fg[cells].copy()

    @staticmethod
    def _pick(resid: np.ndarray, hint: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Best vocabulary row per cell and its residual; a hinted row within TIE wins."""
        rows = np.arange(len(resid))
        choice = resid.argmin(1)
        best = resid[rows, choice]
        if hint is not None:
            has = hint >= 0
            hd = np.where(has, resid[rows, np.maximum(hint, 0)], np.inf)
            take = has & (hd <= best + TIE)
            choice = np.where(take, hint, choice)
            best = np.where(take, hd, best)
        return choice, best

    @staticmethod
    def _colours(mean_x: np.ndarray, vocab: _Vocab, choice: np.ndarray,
                 contrast: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """fg, bg (N, 3) in 0-255 of the chosen masks: x_c = bg_c + a_c g, so with the mean
        mask value m, bg_c = mean x_c - a_c m and fg_c = bg_c + a_c."""
        bg = mean_x - contrast * vocab.mean[choice][:, None]
        fg = bg + contrast
        return np.clip(fg * 255.0, 0, 255), np.clip(bg * 255.0, 0, 255)

    @staticmethod
    def _noise(best: np.ndarray, empty: np.ndarray) -> float:
        """RMS noise (0-255) of the frame: the residual of the cells read as empty (flat masks),
        which on a clean frame are exactly flat whatever else is wrong with it (a shift, a
        scale); the median best residual when fewer than 8 cells are empty."""
        pool = best[empty] if empty.sum() >= 8 else best
        if len(pool) == 0:
            return 0.0
        return float(np.sqrt(max(float(np.median(pool)), 0.0)) * 255.0)

    def _colour_residuals(self, x: np.ndarray, vocab: _Vocab, rows: list[int]) -> np.ndarray:
        """(N, len(rows)) residuals of colour glyphs: x = (1 - A)((1 - d) bg + d fg) + C with the
        glyph's own premultiplied colour C and alpha A, decoration d, bg and fg unknown."""
        n, _, p = x.shape
        out = np.empty((n, len(rows)), np.float32)
        for j, vr in enumerate(rows):
            a_idx = int(vocab.atlas_idx[vr])
            rgba = self.atlas.color[a_idx].reshape(p, 4)
            deco = self.atlas.decoration(a_idx).reshape(p)
            basis = np.stack([(1 - rgba[:, 3]) * (1 - deco), (1 - rgba[:, 3]) * deco], 1)
            basis = basis[:, np.linalg.norm(basis, axis=0) > 1e-6]
            y = x - rgba[:, :3].T[None]  # (N, 3, P)
            total = (y ** 2).sum((1, 2))
            if basis.shape[1]:
                q, _ = np.linalg.qr(basis.astype(np.float64))
                proj = (y.reshape(-1, p) @ q.astype(np.float32)).reshape(n, 3, -1)  # (N, 3, k)
                total = total - (proj ** 2).sum((1, 2))
            out[:, j] = np.maximum(total, 0.0) / (3 * p)
        return out


_BLAS_LOCK = threading.Lock()
_BLAS: list | None = None
_BLAS_DEPTH = [0]  # readers inside the block: nested / concurrent, the last one out restores
_BLAS_BEFORE: list[int] = []
_BLAS_MODULES = 0  # len(sys.modules) when _BLAS was found


@contextlib.contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Run numpy's BLAS on one thread for the block. The OCR's products are small (at most
    ~1920 x 128 x 600); on a busy machine OpenBLAS's worker threads wait for a core and one such
    product took 60 ms instead of 0.4 ms. No-op without threadpoolctl."""
    global _BLAS, _BLAS_BEFORE, _BLAS_MODULES
    with _BLAS_LOCK:
        # another BLAS arrives with a module import (scipy brings its own OpenBLAS): scan again
        # when the set of modules has grown, not on every read (a scan costs ~1 ms)
        if _BLAS_DEPTH[0] == 0 and len(sys.modules) != _BLAS_MODULES:
            _BLAS, _BLAS_MODULES = None, len(sys.modules)
        if _BLAS is None:
            try:
                from threadpoolctl import ThreadpoolController

                _BLAS = ThreadpoolController().select(user_api="blas").lib_controllers
            except Exception:  # not installed, or an unknown BLAS: leave the threads alone
                _BLAS = []
        if _BLAS_DEPTH[0] == 0:
            _BLAS_BEFORE = [lib.get_num_threads() for lib in _BLAS]
            for lib in _BLAS:
                lib.set_num_threads(1)
        _BLAS_DEPTH[0] += 1
    try:
        yield
    finally:
        with _BLAS_LOCK:
            _BLAS_DEPTH[0] -= 1
            if _BLAS_DEPTH[0] == 0 and _BLAS:
                for lib, n in zip(_BLAS, _BLAS_BEFORE, strict=True):
                    lib.set_num_threads(n)


def _complements(masks_u8: np.ndarray, flat: np.ndarray) -> np.ndarray:
    """(V,) index of the mask equal to 255 - each mask (first one), -1 where none; flat masks
    are left out (a flat cell is read as blank unless the hint says otherwise)."""
    first: dict[bytes, int] = {}
    for i, m in enumerate(masks_u8):
        if not flat[i]:
            first.setdefault(m.tobytes(), i)
    out = np.full(len(masks_u8), -1, np.int64)
    for i, m in enumerate(masks_u8):
        if not flat[i]:
            out[i] = first.get((255 - m).tobytes(), -1)
    return out

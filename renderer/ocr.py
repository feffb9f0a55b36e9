"""Cell-grid OCR: read a frame back as text by matching every cell against the glyph atlas.

For each cell the two colours in it are found (a tiny vectorised 2-means), the cell is turned into
an alpha mask by projecting each pixel onto the line from one colour to the other, and the nearest
atlas mask wins (both polarities are tried, so inverse video and a block cursor read right). It is
exact on reference frames, tolerant to noise and antialiasing, and takes milliseconds per frame
because everything is a few matrix products.

The vocabulary is printable ASCII, Latin-1, box drawing, blocks and common symbols in the regular,
bold, italic and underlined faces, plus any characters the caller adds (`extra`, e.g. the characters
of the screen being verified). Pixels that fit a hinted character as well as the best candidate (a
blank cell and a full block of the same colour, say) are read as the hint: they are the same pixels.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from .fonts import GlyphAtlas
from .screen import BOLD, ITALIC, UNDERLINE, ScreenState, char_width

BASE_CHARS = (
    [chr(c) for c in range(0x21, 0x7F)]
    + [chr(c) for c in range(0xA1, 0x100)]
    + [chr(c) for c in range(0x2500, 0x2580)]  # box drawing
    + [chr(c) for c in range(0x2580, 0x25A0)]  # blocks
    + list("•·…‘’“”–—←↑→↓↔⇒✓✔✗✘★☆♥●○■□▲▶▼◀◆◇")
)
BASE_STYLES = (0, BOLD, UNDERLINE)  # for ASCII; other characters in the regular face
MIN_CONTRAST = 0.1  # fitted |fg - bg| (RGB in 0-1) below which a glyph fit is a flat cell
TIE = 1e-5  # residual difference that counts as the same pixels


@dataclass
class OCRResult:
    """What was read: display lines (wide characters once) and per-cell texts."""

    cells: list[list[str]]
    distance: np.ndarray  # (rows, cols) match distance per cell, 0 = exact

    @property
    def lines(self) -> list[str]:
        return ["".join(r) for r in self.cells]

    @property
    def text(self) -> str:
        return "\n".join(ln.rstrip() for ln in self.lines)


class CellOCR:
    """Reads frames drawn on a known cell grid with a known font.

    Args:
        atlas: the glyph atlas of the font the frame was drawn in.
        chars: the base vocabulary (defaults to BASE_CHARS).
        styles: attribute combinations of the vocabulary (bold, italic, underline).
    """

    def __init__(self, atlas: GlyphAtlas, chars: Iterable[str] | None = None,
                 styles: Iterable[int] = BASE_STYLES) -> None:
        self.atlas = atlas
        self.styles = tuple(styles)
        self._base = list(chars if chars is not None else BASE_CHARS)
        self._vocab_cache: dict[frozenset[tuple[str, int]], tuple[np.ndarray, list]] = {}

    # -- vocabulary ----------------------------------------------------------------------
    def _vocab(self, extra: frozenset[tuple[str, int]]) -> tuple[np.ndarray, list, dict[int, int]]:
        """(V, P) masks, their labels (text, half) and atlas index -> row, for the base set
        plus `extra` (text, style) pairs."""
        if extra in self._vocab_cache:
            return self._vocab_cache[extra]
        keys: dict[int, tuple[str, int]] = {0: (" ", 0)}
        for ch in self._base:
            for st in (self.styles if ch < "\x7f" else (0,)):
                keys.setdefault(self.atlas.index(ch, st), (ch, 0))
        for ch, st in sorted(extra):
            if not ch:
                continue
            if char_width(ch) == 2:
                keys.setdefault(self.atlas.index(ch, st, 1), (ch, 1))
                keys.setdefault(self.atlas.index(ch, st, 2), (ch, 2))
            else:
                keys.setdefault(self.atlas.index(ch, st), (ch, 0))
        idx = np.fromiter(keys, np.int64)
        masks = self.atlas.masks[idx].reshape(len(idx), -1)
        labels = [keys[i] for i in idx.tolist()]
        rows = {a: i for i, a in enumerate(idx.tolist())}
        if len(self._vocab_cache) > 64:
            self._vocab_cache.clear()
        self._vocab_cache[extra] = (masks, labels, rows)
        return masks, labels, rows

    @staticmethod
    def _residuals(cells: np.ndarray, masks: np.ndarray) -> np.ndarray:
        """Mean squared residual of the best two-colour fit of each mask to each cell: (N, V).

        A cell x (3 channels x P pixels) drawn with mask g is x = (1 - g) bg + g fg for some colours
        bg, fg; for every (cell, mask) pair the least-squares colours have a closed form, so the
        residual needs only x @ masks.T and per-mask sums. Fits whose two colours are closer than
        MIN_CONTRAST are not a glyph but a flat cell: they count only for the blank mask.
        """
        n, _, p = cells.shape
        m1 = masks.sum(1)  # (V,)
        m2 = (masks ** 2).sum(1)
        a00 = p - 2 * m1 + m2  # sum (1-g)^2
        a01 = m1 - m2  # sum (1-g) g
        a11 = m2  # sum g^2
        det = a00 * a11 - a01 ** 2
        degenerate = det < 1e-3 * p
        det = np.where(degenerate, 1.0, det)
        s = cells.sum(-1)[..., None]  # (N, 3, 1)
        q = (cells ** 2).sum(-1)  # (N, 3)
        g = cells @ masks.T  # (N, 3, V)
        b0 = s - g
        quad = (a11 * b0 ** 2 - 2 * a01 * b0 * g + a00 * g ** 2) / det
        flat_fit = (s[..., 0] ** 2 / p)[..., None]  # (N, 3, 1): best single colour
        quad = np.where(degenerate, flat_fit, quad)
        resid = (q.sum(1)[:, None] - quad.sum(1)) / p  # (N, V)
        # fitted fg - bg per channel: ((a00 g - a01 b0) - (a11 b0 - a01 g)) / det
        contrast = ((a00 + a01) * g - (a11 + a01) * b0) / det
        weak = ((contrast ** 2).sum(1) < MIN_CONTRAST ** 2) & ~degenerate[None, :]
        resid = np.where(weak, np.inf, resid)
        return np.maximum(resid, 0.0)

    # -- reading -------------------------------------------------------------------------
    def read(self, frame: np.ndarray, cols: int, rows: int,
             hint: ScreenState | None = None, extra: Iterable[str] = ()) -> OCRResult:
        """Read `frame` (H, W, 3) as a `rows` x `cols` grid.

        hint: the screen the frame should show; its characters join the vocabulary and win ties.
        extra: more characters to recognise.
        """
        ch, cw = self.atlas.cell
        if frame.shape[0] < rows * ch or frame.shape[1] < cols * cw:
            raise ValueError(f"frame {frame.shape[1]}x{frame.shape[0]} is smaller than a "
                             f"{cols}x{rows} grid of {cw}x{ch} cells")
        extra_keys: set[tuple[str, int]] = {(c, 0) for c in extra}
        if hint is not None:
            for r in range(hint.rows):
                for c, t in enumerate(hint.chars[r]):
                    if t:
                        extra_keys.add((t, int(hint.attrs[r, c]) & (BOLD | ITALIC | UNDERLINE)))
        masks, labels, vrow = self._vocab(frozenset(extra_keys))

        px = frame[: rows * ch, : cols * cw].astype(np.float32) / 255.0
        # (rows, ch, cols, cw, 3) -> (N, 3, P)
        cells = px.reshape(rows, ch, cols, cw, 3).transpose(0, 2, 4, 1, 3).reshape(rows * cols, 3, ch * cw)
        # exactly one-colour cells (most of a terminal) skip the matching: they fit every
        # degenerate mask perfectly, and the blank mask comes first
        spread = cells.max(-1) - cells.min(-1)  # (N, 3)
        busy = np.flatnonzero(spread.max(-1) > 0)
        best = np.full((rows * cols, masks.shape[0]), np.inf, np.float32)
        best[:, 0] = 0.0
        if len(busy):
            best[busy] = self._residuals(cells[busy], masks)
        if hint is not None:  # a flat cell may be a block or shade of that colour
            flat = np.ones(rows * cols, bool)
            flat[busy] = False

        if hint is not None:
            hint_idx = np.full(rows * cols, -1, np.int64)
            for r in range(min(rows, hint.rows)):
                wide = None
                for c in range(min(cols, hint.cols)):
                    t, st = hint.chars[r][c], int(hint.attrs[r, c]) & (BOLD | ITALIC | UNDERLINE)
                    if t == "":
                        a = self.atlas.index(wide, st, 2) if wide else 0
                        wide = None
                    elif char_width(t) == 2:
                        a, wide = self.atlas.index(t, st, 1), t
                    else:
                        a, wide = self.atlas.index(t, st), None
                    hint_idx[r * cols + c] = vrow.get(a, -1)
            deg = _degenerate(masks)
            fh = flat & (hint_idx >= 0)
            fh[fh] = deg[hint_idx[fh]]
            best[fh, hint_idx[fh]] = 0.0
        choice = best.argmin(1)
        cell_dist = best[np.arange(len(choice)), choice]
        if hint is not None:
            has = hint_idx >= 0
            hd = np.where(has, best[np.arange(len(choice)), np.maximum(hint_idx, 0)], np.inf)
            take = has & (hd <= cell_dist + TIE)
            choice = np.where(take, hint_idx, choice)
            cell_dist = np.where(take, hd, cell_dist)

        out: list[list[str]] = []
        choice = choice.reshape(rows, cols)
        for r in range(rows):
            row: list[str] = []
            c = 0
            while c < cols:
                text, half = labels[choice[r, c]]
                if half == 1 and c + 1 < cols and labels[choice[r, c + 1]] == (text, 2):
                    row.extend([text, ""])
                    c += 2
                    continue
                row.append(" " if half else text)
                c += 1
            out.append(row)
        return OCRResult(out, cell_dist.reshape(rows, cols))


def _degenerate(masks: np.ndarray) -> np.ndarray:
    """Masks that are one flat value (blank, full block, shades): (V,) bool."""
    return (masks.max(1) - masks.min(1)) < 1e-6


def char_accuracy(pred: str, truth: str) -> float:
    """1 - Levenshtein(pred, truth) / len(truth), floored at 0 (DESIGN.md)."""
    import Levenshtein

    if not truth:
        return 1.0 if not pred else 0.0
    return max(0.0, 1.0 - Levenshtein.distance(pred, truth) / len(truth))


def line_accuracy(pred_lines: list[str], truth_lines: list[str]) -> float:
    """Share of truth lines equal (trailing spaces aside) to the predicted line at that index."""
    if not truth_lines:
        return 1.0
    ok = sum(1 for i, t in enumerate(truth_lines)
             if i < len(pred_lines) and pred_lines[i].rstrip() == t.rstrip())
    return ok / len(truth_lines)


def screen_text(lines: list[str]) -> str:
    return "\n".join(ln.rstrip() for ln in lines)

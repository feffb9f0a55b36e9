"""Checking a (capture, symbolic screen) pair before it may become training data.

A pair is kept only if the real terminal and our emulator agree on what the screen is:

* text: the cell-grid OCR, built on the terminal's own glyph templates, reads the capture with the
  symbolic screen as its hint; every cell must read as the screen says (cells whose foreground and
  background colours are too close show nothing and are not judged; a blank cell that holds
  unreadable ink next to a glyph that may overflow its cell - CJK, emoji, italics - is counted
  as spill, not as a wrong character);
* colour: in each cell, the capture's background pixels (where the glyph's mask is empty) and its
  foreground pixels (where the mask is full) must be within `COLOUR_TOLERANCE` of the colours the
  screen implies under the measured theme (inverse video, bold-as-bright and the cursor included);
* cursor: the cursor position the terminal reported equals the emulator's;
* stable: the capture stopped changing before it was taken.

Anything else is discarded and counted by reason; a pipeline that silently trained on pairs where
the two terminals disagree would teach the renderer the disagreement.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from terminal.screen import ITALIC, STRIKE, UNDERLINE, ScreenState, char_width

from ..fonts import STYLE_BITS
from ..ocr import MIN_CONTRAST, UNREADABLE, CellOCR
from ..raster import RasterRenderer

COLOUR_TOLERANCE = 48  # max |channel| difference (0-255): 24-bit colours mapped to a palette pass
EMPTY, FULL = 0.02, 0.95  # mask levels that count as pure background / pure foreground


@dataclass
class PairCheck:
    """The verdict on one pair; `reason` is "" when the pair is kept."""

    ok: bool
    reason: str
    wrong_cells: int = 0
    wrong_colour_cells: int = 0
    judged_cells: int = 0
    cursor_reported: tuple[int, int] | None = None
    examples: list[dict[str, Any]] = field(default_factory=list)
    spill_cells: int = 0  # blank cells holding ink from an oversized neighbouring glyph

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["cursor_reported"] = list(self.cursor_reported) if self.cursor_reported else None
        return out


class PairChecker:
    """Judges pairs for one terminal: its OCR (template atlas) and a rasterizer with its theme.

    Args:
        ocr: cell-grid OCR whose atlas holds the terminal's glyph templates.
        raster: a RasterRenderer with the same atlas and the measured theme (for colours).
    """

    def __init__(self, ocr: CellOCR, raster: RasterRenderer) -> None:
        self.ocr = ocr
        self.raster = raster

    def check(self, crop: np.ndarray, screen: ScreenState,
              cursor_reported: tuple[int, int] | None = None, stable: bool = True) -> PairCheck:
        """Judge one pair: `crop` is the capture's cell grid, (rows*h, cols*w, 3) uint8."""
        rows, cols = screen.rows, screen.cols
        fg, bg, alpha = self.raster.cell_layers(screen, list(range(rows)))  # (R,C,3) (R,C,h,w)
        # cells whose glyph can be told from a flat cell: the OCR's own contrast floor, doubled
        visible = np.linalg.norm(fg - bg, axis=-1) > 2 * MIN_CONTRAST * 255

        # 1. text
        read = self.ocr.read(crop, cols, rows, hint=screen)
        examples: list[dict[str, Any]] = []
        wrong = spill = 0
        spills = _spill_zone(screen)
        for r in range(rows):
            for c in range(cols):
                want, got = screen.chars[r][c], read.cells[r][c]
                if want == got or not visible[r, c] or not (want.strip() or got.strip()):
                    continue
                if want == " " and got == UNREADABLE and spills[r, c]:
                    spill += 1  # ink from a neighbour's oversized glyph, not a character
                    continue
                wrong += 1
                if len(examples) < 5:
                    examples.append({"row": r, "col": c, "want": want, "got": got})

        # 2. colours (median of the pixels the glyph leaves empty / fills)
        h, w = self.raster.cell_size
        px = crop[: rows * h, : cols * w].astype(np.float32)
        px = px.reshape(rows, h, cols, w, 3).transpose(0, 2, 1, 3, 4)  # (R, C, h, w, 3)
        bad_colour = np.zeros((rows, cols), bool)
        # only cells whose glyph mask is the terminal's own (learned) are judged, so a glyph we
        # draw differently never passes for a colour error; the cursor cell is left out too: how
        # a terminal colours its cursor over a coloured cell is its own business (the text
        # check still reads it, in either polarity)
        skip = ~self._calibrated(screen)
        if screen.cursor_visible:
            skip[min(screen.cursor[0], rows - 1), min(screen.cursor[1], cols - 1)] = True
        for level, want_rgb, select in ((EMPTY, bg, alpha <= EMPTY), (FULL, fg, alpha >= FULL)):
            has = select.reshape(rows, cols, -1).any(-1) & ~skip
            if level == FULL:
                has &= visible
            for r, c in zip(*np.nonzero(has), strict=True):
                got_rgb = np.median(px[r, c][select[r, c]], axis=0)
                if np.abs(got_rgb - want_rgb[r, c]).max() > COLOUR_TOLERANCE:
                    bad_colour[r, c] = True
        wrong_colour = int(bad_colour.sum())
        if wrong_colour and len(examples) < 5:
            r, c = (int(v[0]) for v in np.nonzero(bad_colour))
            examples.append({"row": r, "col": c, "colour": "differs",
                             "want_bg": bg[r, c].tolist(), "want_fg": fg[r, c].tolist()})

        # 3. cursor and stability
        cursor_ok = cursor_reported is None or tuple(cursor_reported) == tuple(screen.cursor)
        reason = ("unstable" if not stable else "text" if wrong else
                  "colour" if wrong_colour else "cursor" if not cursor_ok else "")
        return PairCheck(not reason, reason, wrong, wrong_colour, int(visible.sum()),
                         cursor_reported, examples, spill)

    def _calibrated(self, screen: ScreenState) -> np.ndarray:
        """(rows, cols) bool: blank cells and cells whose glyph has a learned template."""
        templates = getattr(self.raster.atlas, "templates", None)
        out = np.ones((screen.rows, screen.cols), bool)
        if templates is None:
            return out
        for r in range(screen.rows):
            wide = ""
            for c, t in enumerate(screen.chars[r]):
                style = int(screen.attrs[r, c]) & STYLE_BITS
                if t == "":
                    out[r, c] = bool(wide) and (wide, style, 2) in templates
                elif t != " " or style & (UNDERLINE | STRIKE):
                    half = 1 if char_width(t) == 2 else 0
                    out[r, c] = (t, style, half) in templates
                wide = t if t and char_width(t) == 2 else ""
        return out


def _spill_zone(screen: ScreenState) -> np.ndarray:
    """(rows, cols) bool: cells next to (8-neighbourhood) a glyph that may be drawn bigger than
    its cell - anything beyond ASCII, or italic text. Real terminals let such glyphs overflow."""
    src = np.zeros((screen.rows + 2, screen.cols + 2), bool)
    for r in range(screen.rows):
        for c, t in enumerate(screen.chars[r]):
            if (t and t[0] > "\x7e") or (t.strip() and screen.attrs[r, c] & ITALIC):
                src[r + 1, c + 1] = True
    out = np.zeros((screen.rows, screen.cols), bool)
    for dr in (0, 1, 2):
        for dc in (0, 1, 2):
            out |= src[dr:dr + screen.rows, dc:dc + screen.cols]
    return out

"""The mouse pointer: exact sprites, drawing them at a pixel position, and finding them in a frame.

The pointer is a two-colour sprite (white fill, black outline) so it reads on any theme; its
hotspot (the arrow's tip, the I-beam's centre) sits at the pointer's (x, y). Every renderer draws
the same sprite over its cells, so the reference raster is the truth for the pointer as it is for
text, and `locate` reads the pointer back from any frame, as the cell OCR reads characters.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from terminal.screen import Pointer

_ARROW = (
    "#           ",
    "##          ",
    "#.#         ",
    "#..#        ",
    "#...#       ",
    "#....#      ",
    "#.....#     ",
    "#......#    ",
    "#.......#   ",
    "#........#  ",
    "#.........# ",
    "#......#####",
    "#...#..#    ",
    "#..##..#    ",
    "#.# #..#    ",
    "##   #..#   ",
    "#    #..#   ",
    "      #..#  ",
    "      ####  ",
)
_IBEAM = (
    "### ###",
    "#..#..#",
    "###.###",
    *(["  #.#  "] * 11),
    "###.###",
    "#..#..#",
    "### ###",
)
WHITE, BLACK = np.array([255, 255, 255], np.uint8), np.array([0, 0, 0], np.uint8)


def _sprite(rows: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    grid = np.array([list(r) for r in rows])
    return grid == ".", grid == "#"  # (h, w) fill, (h, w) outline


SPRITES: dict[str, tuple[np.ndarray, np.ndarray, tuple[int, int]]] = {
    # shape: (fill, outline, hotspot (dy, dx))
    "arrow": (*_sprite(_ARROW), (0, 0)),
    "ibeam": (*_sprite(_IBEAM), (len(_IBEAM) // 2, 3)),
}


def box(pointer: Pointer) -> tuple[int, int, int, int]:
    """(top, left, bottom, right) pixels the sprite spans, bottom/right exclusive, unclipped."""
    fill, _outline, (hy, hx) = SPRITES[pointer.shape]
    top, left = pointer.y - hy, pointer.x - hx
    return top, left, top + fill.shape[0], left + fill.shape[1]


def rows_under(pointer: Pointer | None, cell_h: int, rows: int) -> set[int]:
    """Screen rows the sprite covers (they are redrawn when it moves, like the cursor's)."""
    if pointer is None:
        return set()
    top, _left, bottom, _right = box(pointer)
    return {r for r in range(top // cell_h, (bottom - 1) // cell_h + 1) if 0 <= r < rows}


def cells_under(pointer: Pointer | None, cell: tuple[int, int], cols: int, rows: int
                ) -> list[tuple[int, int]]:
    """(row, col) cells the sprite's bounding box overlaps, clipped to the screen."""
    if pointer is None:
        return []
    h, w = cell
    top, left, bottom, right = box(pointer)
    return [(r, c) for r in range(max(top // h, 0), min((bottom - 1) // h + 1, rows))
            for c in range(max(left // w, 0), min((right - 1) // w + 1, cols))]


def footprint(pointer: Pointer, height: int, width: int, origin_y: int = 0
              ) -> tuple[np.ndarray, np.ndarray, tuple[slice, slice], tuple[slice, slice]] | None:
    """Where the sprite lands in pixels `height` x `width` whose first row is frame row
    `origin_y`: (fill, outline) clipped masks, the target slices and the sprite slices; None when
    it misses them."""
    fill, outline, _hot = SPRITES[pointer.shape]
    top, left, bottom, right = box(pointer)
    top, bottom = top - origin_y, bottom - origin_y
    t, b, lft, rgt = max(top, 0), min(bottom, height), max(left, 0), min(right, width)
    if t >= b or lft >= rgt:
        return None
    src = (slice(t - top, b - top), slice(lft - left, rgt - left))
    return fill[src], outline[src], (slice(t, b), slice(lft, rgt)), src


def draw(pixels: np.ndarray, pointer: Pointer | None, origin_y: int = 0) -> np.ndarray:
    """Paint the pointer into `pixels` (H, W, 3) uint8 in place, whose first row is frame row
    `origin_y` (so a few stacked rows can be drawn); returns `pixels`."""
    if pointer is None:
        return pixels
    where = footprint(pointer, pixels.shape[0], pixels.shape[1], origin_y)
    if where is None:
        return pixels
    fill, outline, dst, _src = where
    region = pixels[dst]
    region[fill] = WHITE
    region[outline] = BLACK
    return pixels


def mask(pointer: Pointer | None, height: int, width: int, origin_y: int = 0) -> np.ndarray:
    """(height, width) bool: the pixels the sprite paints."""
    out = np.zeros((height, width), bool)
    if pointer is None:
        return out
    where = footprint(pointer, height, width, origin_y)
    if where is not None:
        fill, outline, dst, _src = where
        out[dst] = fill | outline
    return out


def matches(frame: np.ndarray, pointer: Pointer, tolerance: int = 48) -> float:
    """Share of the sprite's on-screen pixels that `frame` shows in the sprite's colours at the
    pointer's exact position (1.0: the pointer is there, drawn right)."""
    where = footprint(pointer, frame.shape[0], frame.shape[1])
    if where is None:
        return 1.0  # off the frame: nothing to show
    fill, outline, dst, _src = where
    region = frame[dst].astype(np.int16)
    white = (region >= 255 - tolerance).all(-1)
    black = (region <= tolerance).all(-1)
    n = int(fill.sum() + outline.sum())
    return float((white & fill).sum() + (black & outline).sum()) / max(n, 1)


def locate(frame: np.ndarray, shapes: Iterable[str] = ("arrow", "ibeam"), tolerance: int = 48,
           min_score: float = 0.95, min_pixels: int = 12) -> Pointer | None:
    """Find the pointer anywhere in `frame` (H, W, 3) uint8 by matching each sprite at every
    position, edges included (a pointer in the last row hangs off the frame): among positions
    where at least `min_score` of the sprite's on-screen pixels match and some of its fill shows,
    the one matching most pixels. None when no pointer is shown."""
    h, w = frame.shape[:2]
    px = frame.astype(np.int16)
    best: tuple[int, float, Pointer] | None = None
    for shape in shapes:
        fill, outline, (hy, hx) = SPRITES[shape]
        sh, sw = fill.shape
        # padded planes: positions from (-sh, -sw) on, scored on the sprite's visible part
        white = np.zeros((h + 2 * sh, w + 2 * sw), np.int16)
        black = np.zeros_like(white)
        seen = np.zeros_like(white)
        white[sh:sh + h, sw:sw + w] = (px >= 255 - tolerance).all(-1)
        black[sh:sh + h, sw:sw + w] = (px <= tolerance).all(-1)
        seen[sh:sh + h, sw:sw + w] = 1
        oh, ow = h + sh, w + sw
        score = np.zeros((oh, ow), np.int16)
        count = np.zeros((oh, ow), np.int16)
        fill_seen = np.zeros((oh, ow), np.int16)
        for plane, m in ((white, fill), (black, outline)):
            for dy, dx in zip(*np.nonzero(m), strict=True):
                score += plane[dy:dy + oh, dx:dx + ow]
                count += seen[dy:dy + oh, dx:dx + ow]
                if m is fill:
                    fill_seen += seen[dy:dy + oh, dx:dx + ow]
        ok = ((count >= min_pixels) & (fill_seen >= 3)
              & (score >= min_score * np.maximum(count, 1)))
        if not ok.any():
            continue
        y, x = np.unravel_index(int(np.argmax(np.where(ok, score, -1))), score.shape)
        key = (int(score[y, x]), float(score[y, x]) / max(int(count[y, x]), 1))
        found = Pointer(int(x) - sw + hx, int(y) - sh + hy, shape)  # type: ignore[arg-type]
        if best is None or key > best[:2]:
            best = (*key, found)
    return best[2] if best is not None else None


__all__ = ["SPRITES", "box", "cells_under", "draw", "footprint", "locate", "mask", "matches",
           "rows_under"]

"""Reading frames with Tesseract, the way the Neural Computers paper scored its terminal frames.

The protocol (DESIGN.md): Debian's `tesseract` CLI, page segmentation mode 6 (one uniform block of
text), OMP_THREAD_LIMIT=1, the frame upscaled 3x, each recognised word put back on the cell grid
from its bounding box, and whitespace normalised before scoring. Tesseract knows nothing about our
font or grid, so its accuracy on *perfect* raster frames is the ceiling of this judge; the cell-grid
OCR (renderer/ocr.py) is the exact one.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from .metrics import char_accuracy, line_accuracy, normalize_whitespace


class TesseractError(RuntimeError):
    """Tesseract is missing, failed, or timed out."""


@dataclass(frozen=True)
class TesseractConfig:
    """The protocol's knobs: psm 6, upscale 3x, one thread (DESIGN.md)."""

    psm: int = 6
    scale: int = 3
    lang: str = "eng"
    threads: int = 1
    timeout: float = 120.0
    binary: str = "tesseract"


@dataclass
class Word:
    """A recognised word and where it landed on the grid."""

    text: str
    row: int
    col: int
    conf: float
    box: tuple[int, int, int, int]  # left, top, width, height in frame pixels


@dataclass
class TesseractResult:
    """Lines on the cell grid (words at their box positions) and the words themselves."""

    lines: list[str]
    words: list[Word] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def text(self) -> str:
        """The lines joined, trailing spaces stripped."""
        return "\n".join(ln.rstrip() for ln in self.lines)


class TesseractReader:
    """Reads frames drawn on a `cell` = (cell_h, cell_w) grid with the Tesseract CLI."""

    def __init__(self, cell: tuple[int, int], config: TesseractConfig | None = None) -> None:
        self.cell = cell
        self.config = config or TesseractConfig()
        path = shutil.which(self.config.binary)
        if path is None:
            raise TesseractError(f"{self.config.binary} not found (apt-get install tesseract-ocr)")
        self.binary = path

    def prepare(self, frame: np.ndarray) -> Image.Image:
        """The image Tesseract sees: grey, dark text on a light ground, upscaled."""
        frame = np.asarray(frame)
        if frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(f"frame must be (H, W, 3) RGB, got shape {frame.shape}")
        grey = frame.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
        # Tesseract's models are trained on dark text on paper: flip frames whose background (the
        # commonest level) is dark
        levels = np.bincount(np.rint(grey).astype(np.int64).ravel(), minlength=256)
        if int(levels.argmax()) < 128:
            grey = 255.0 - grey
        img = Image.fromarray(np.clip(np.rint(grey), 0, 255).astype(np.uint8))
        s = self.config.scale
        return img.resize((img.width * s, img.height * s), Image.Resampling.LANCZOS) if s > 1 else img

    def words(self, frame: np.ndarray) -> list[Word]:
        """Recognised words with their boxes (frame pixels) and grid positions."""
        img = self.prepare(frame)
        cfg = self.config
        with tempfile.TemporaryDirectory(prefix="hnc-tess-") as tmp:
            path = os.path.join(tmp, "frame.png")
            img.save(path)
            env = {**os.environ, "OMP_THREAD_LIMIT": str(cfg.threads)}
            cmd = [self.binary, path, "stdout", "--psm", str(cfg.psm), "-l", cfg.lang, "tsv"]
            try:
                run = subprocess.run(cmd, capture_output=True, env=env, timeout=cfg.timeout,
                                     check=False)
            except subprocess.TimeoutExpired:
                raise TesseractError(f"tesseract took longer than {cfg.timeout:.0f} s") from None
        if run.returncode != 0:
            msg = run.stderr.decode("utf-8", "replace").strip().splitlines()
            raise TesseractError(f"tesseract failed: {msg[-1] if msg else run.returncode}")
        return self._parse(run.stdout.decode("utf-8", "replace"))

    def _parse(self, tsv: str) -> list[Word]:
        ch, cw = self.cell
        s = self.config.scale
        out: list[Word] = []
        for rec in csv.DictReader(io.StringIO(tsv), delimiter="\t", quoting=csv.QUOTE_NONE):
            text = (rec.get("text") or "").strip()
            if rec.get("level") != "5" or not text:
                continue
            left, top = int(rec["left"]) / s, int(rec["top"]) / s
            width, height = int(rec["width"]) / s, int(rec["height"]) / s
            # the word's vertical centre picks the row; its left edge the column
            row = int((top + height / 2) // ch)
            col = int(round(left / cw))
            out.append(Word(text, row, col, float(rec.get("conf") or -1),
                            (round(left), round(top), round(width), round(height))))
        return out

    def read(self, frame: np.ndarray, cols: int, rows: int) -> TesseractResult:
        """Read a frame of a `cols` x `rows` grid: words written into rows at their columns
        (a word that would overlap its left neighbour starts one space after it)."""
        import time

        t0 = time.perf_counter()
        words = self.words(frame)
        lines = place_words(words, rows)
        return TesseractResult(lines, words, time.perf_counter() - t0)


def place_words(words: list[Word], rows: int) -> list[str]:
    """Lines of a `rows`-row grid with each word written at its (row, col); a word that would
    overlap the word before it starts one space after it; words outside the grid are dropped."""
    grid: list[list[str]] = [[] for _ in range(rows)]
    for w in sorted(words, key=lambda w: (w.row, w.col)):
        if not 0 <= w.row < rows:
            continue
        line = grid[w.row]
        start = max(w.col, len(line) + 1 if line else w.col)
        line.extend(" " * (start - len(line)))
        line.extend(w.text)
    return ["".join(cells) for cells in grid]


def protocol_scores(pred_lines: list[str], truth_lines: list[str]) -> tuple[float, float]:
    """(char accuracy, line accuracy) with whitespace normalised, as the paper scores Tesseract
    readings: runs of spaces count as one, lines are stripped."""
    pred = normalize_whitespace("\n".join(pred_lines))
    truth = normalize_whitespace("\n".join(truth_lines))
    truth_lines_n = truth.split("\n") if truth else []
    pred_lines_n = pred.split("\n") if pred else []
    return char_accuracy(pred, truth), line_accuracy(pred_lines_n, truth_lines_n)

"""Scores for drawn frames: char and line accuracy of the text read back (DESIGN.md definitions,
so our figures compare with the paper's), PSNR and SSIM against the reference raster."""

from __future__ import annotations

import re

import numpy as np


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
    """Lines joined as `ScreenState.text` joins them: trailing spaces stripped per line."""
    return "\n".join(ln.rstrip() for ln in lines)


_SPACES = re.compile(r"[ \t\u00a0]+")


def normalize_whitespace(text: str) -> str:
    """The paper's normalisation for the Tesseract protocol: runs of spaces become one space,
    lines are stripped, trailing empty lines dropped (line positions are kept)."""
    lines = [_SPACES.sub(" ", ln).strip() for ln in text.split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


def psnr(a: np.ndarray, b: np.ndarray, peak: float = 255.0) -> float:
    """Peak signal-to-noise ratio in dB of two same-shaped images (inf when identical)."""
    a, b = _same_shape(a, b)
    mse = float(np.mean((a - b) ** 2))
    if mse == 0.0:
        return float("inf")
    return 10.0 * np.log10(peak * peak / mse)


def _gaussian_kernel(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2
    k = np.exp(-(x ** 2) / (2 * sigma ** 2))
    return k / k.sum()


def _filter(img: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Separable 'valid' correlation of (H, W, C) with the 1-D kernel along H then W."""
    n = len(k)
    win = np.lib.stride_tricks.sliding_window_view(img, n, axis=0)  # (H-n+1, W, C, n)
    img = win @ k
    win = np.lib.stride_tricks.sliding_window_view(img, n, axis=1)  # (H', W-n+1, C, n)
    return win @ k


def ssim(a: np.ndarray, b: np.ndarray, peak: float = 255.0, *, grey: bool = False) -> float:
    """Structural similarity (Wang et al. 2004): 11x11 Gaussian window (sigma 1.5), K1 = 0.01,
    K2 = 0.03, 'valid' windows only; the mean over windows and channels (or over the luma image
    when `grey`). Images (H, W) or (H, W, C), at least 11 px each way."""
    a, b = _same_shape(a, b)
    if grey and a.ndim == 3:
        weights = np.array([0.299, 0.587, 0.114])[: a.shape[2]]
        a, b = a @ weights / weights.sum(), b @ weights / weights.sum()
    if a.ndim == 2:
        a, b = a[..., None], b[..., None]
    if a.shape[0] < 11 or a.shape[1] < 11:
        raise ValueError(f"SSIM needs images of at least 11x11 px, got {a.shape[1]}x{a.shape[0]}")
    k = _gaussian_kernel()
    c1, c2 = (0.01 * peak) ** 2, (0.03 * peak) ** 2
    mu_a, mu_b = _filter(a, k), _filter(b, k)
    var_a = _filter(a * a, k) - mu_a ** 2
    var_b = _filter(b * b, k) - mu_b ** 2
    cov = _filter(a * b, k) - mu_a * mu_b
    num = (2 * mu_a * mu_b + c1) * (2 * cov + c2)
    den = (mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2)
    return float(np.mean(num / den))


def _same_shape(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        raise ValueError(f"images differ in shape: {a.shape} vs {b.shape}")
    return a, b

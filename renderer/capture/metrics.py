"""Pixel fidelity between a drawn frame and a real terminal's capture: PSNR and SSIM.

SSIM follows Wang et al. (2004): 11-tap Gaussian window (sigma 1.5), K1 = 0.01, K2 = 0.03, on the
luma of 8-bit RGB (ITU-R BT.601 weights), averaged over the valid region.
"""

from __future__ import annotations

import numpy as np


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB of two uint8 images of one shape (inf when equal)."""
    if a.shape != b.shape:
        raise ValueError(f"image shapes differ: {a.shape} vs {b.shape}")
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(255.0 ** 2 / mse)


def mse(a: np.ndarray, b: np.ndarray) -> float:
    """Mean squared error (0-255 scale) of two images of one shape."""
    return float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))


def psnr_from_mse(value: float) -> float:
    """PSNR in dB for a mean squared error on the 0-255 scale."""
    return float("inf") if value == 0 else 10.0 * float(np.log10(255.0 ** 2 / value))


def _gaussian(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    x = np.arange(size) - (size - 1) / 2
    g = np.exp(-(x ** 2) / (2 * sigma ** 2))
    return g / g.sum()


def _filter(img: np.ndarray, taps: np.ndarray) -> np.ndarray:
    """Separable 'valid' convolution of a 2-D image with a symmetric 1-D kernel."""
    k = len(taps)
    h, w = img.shape
    rows = sum(taps[i] * img[i:h - k + 1 + i] for i in range(k))
    return sum(taps[i] * rows[:, i:w - k + 1 + i] for i in range(k))


def _luma(img: np.ndarray) -> np.ndarray:
    x = img.astype(np.float64)
    return x if x.ndim == 2 else x @ np.array([0.299, 0.587, 0.114])


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean structural similarity of two uint8 images of one shape (1.0 when equal)."""
    if a.shape != b.shape:
        raise ValueError(f"image shapes differ: {a.shape} vs {b.shape}")
    x, y = _luma(a), _luma(b)
    if min(x.shape) < 11:
        raise ValueError("images must be at least 11x11 pixels for SSIM")
    g = _gaussian()
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mx, my = _filter(x, g), _filter(y, g)
    sxx = _filter(x * x, g) - mx * mx
    syy = _filter(y * y, g) - my * my
    sxy = _filter(x * y, g) - mx * my
    num = (2 * mx * my + c1) * (2 * sxy + c2)
    den = (mx * mx + my * my + c1) * (sxx + syy + c2)
    return float(np.mean(num / den))

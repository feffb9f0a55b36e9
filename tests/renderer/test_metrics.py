"""Accuracy, PSNR and SSIM: the DESIGN.md definitions, and SSIM checked against scikit-image."""

from __future__ import annotations

import numpy as np
import pytest

from renderer import ocr
from renderer.metrics import (
    char_accuracy,
    line_accuracy,
    normalize_whitespace,
    psnr,
    screen_text,
    ssim,
)


def test_char_accuracy_is_one_minus_normalised_levenshtein() -> None:
    assert char_accuracy("hello", "hello") == 1.0
    assert char_accuracy("hallo", "hello") == pytest.approx(0.8)
    assert char_accuracy("", "abcd") == 0.0
    assert char_accuracy("x" * 50, "abcd") == 0.0  # floored at zero
    assert char_accuracy("", "") == 1.0 and char_accuracy("a", "") == 0.0


def test_line_accuracy_compares_lines_at_the_same_index() -> None:
    truth = ["a", "b  ", "c", "d"]
    assert line_accuracy(["a", "b", "x"], truth) == 0.5  # trailing spaces do not count
    assert line_accuracy([], []) == 1.0
    assert line_accuracy(["b", "a", "c", "d"], truth) == 0.5


def test_whitespace_normalisation_for_the_tesseract_protocol() -> None:
    assert normalize_whitespace("a   b \n  c\t d  \n\n\n") == "a b\nc d"
    assert normalize_whitespace("x\n\ny") == "x\n\ny"  # inner blank lines keep line positions
    assert screen_text(["ab  ", "c "]) == "ab\nc"


def test_ocr_module_still_exports_the_metrics() -> None:
    assert ocr.char_accuracy is char_accuracy and ocr.line_accuracy is line_accuracy


def test_psnr() -> None:
    a = np.zeros((8, 8, 3), np.uint8)
    assert psnr(a, a) == float("inf")
    b = a.copy()
    b[0, 0, 0] = 255  # MSE = 255^2 / 192
    assert psnr(a, b) == pytest.approx(10 * np.log10(192))
    with pytest.raises(ValueError, match="differ in shape"):
        psnr(a, a[:4])


def _pair(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 256, (32, 40, 3)).astype(np.uint8)
    b = np.clip(a.astype(int) + rng.normal(0, 20, a.shape), 0, 255).astype(np.uint8)
    return a, b


def test_ssim_properties() -> None:
    a, b = _pair()
    assert ssim(a, a) == pytest.approx(1.0)
    assert 0 < ssim(a, b) < 1
    assert ssim(a, b) == pytest.approx(ssim(b, a))
    worse = np.clip(b.astype(int) + 40, 0, 255).astype(np.uint8)
    assert ssim(a, worse) < ssim(a, b)
    assert ssim(a, b, grey=True) != ssim(a, b)
    with pytest.raises(ValueError, match="11x11"):
        ssim(a[:8], b[:8])


# Reference values from scikit-image 0.25.2 (structural_similarity with gaussian_weights=True,
# sigma=1.5, use_sample_covariance=False, data_range=255, channel_axis=-1 for colour), computed
# once on these exact inputs; skimage is not a dependency, so the numbers are kept here.
SKIMAGE = {"colour": 0.9656908275546693, "grey": 0.9655679519273087}


def test_ssim_matches_scikit_image() -> None:
    a, b = _pair()
    assert ssim(a, b) == pytest.approx(SKIMAGE["colour"], abs=1e-9)
    ga = a[..., 0]
    gb = b[..., 0]
    assert ssim(ga, gb) == pytest.approx(SKIMAGE["grey"], abs=1e-9)

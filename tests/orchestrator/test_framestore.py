"""Frames kept for export, compressed row strip by row strip (orchestrator/framestore.py)."""

from __future__ import annotations

import numpy as np

from orchestrator.framestore import RowCompressor, decompress


def test_round_trip_and_unchanged_strips_share_their_bytes() -> None:
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (4 * 16, 10 * 8, 3), dtype=np.uint8)  # noisy, as a neural frame
    comp = RowCompressor()
    ba = comp.compress(a, 4)
    assert len(ba) == 4 and np.array_equal(decompress(a.shape, ba), a)
    b = a.copy()
    b[20, 3] ^= 1  # one pixel of strip 1 changes
    bb = comp.compress(b, 4)
    assert np.array_equal(decompress(b.shape, bb), b)
    assert [x is y for x, y in zip(ba, bb, strict=True)] == [True, False, True, True]
    # another size, or rows that do not divide the height: compressed whole, still exact
    c = rng.integers(0, 256, (30, 8, 3), dtype=np.uint8)
    bc = comp.compress(c, 4)
    assert len(bc) == 1 and np.array_equal(decompress(c.shape, bc), c)
    assert np.array_equal(decompress(c.shape, bc[0]), c)  # a single blob is accepted too

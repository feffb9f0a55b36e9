"""The mouse pointer on frames: the sprite at its exact pixel position in the raster and the neural
renderer, only the rows under it redrawn when it moves, found again anywhere in a frame, and checked
and repaired by the verifier like a cell."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from orchestrator.verify import verify_and_repair
from renderer import pointer as P
from renderer.models.cell_dit import CellDiT
from renderer.neural import NeuralRenderer
from renderer.raster import RasterRenderer
from terminal.screen import Pointer, ScreenState


def screen(pointer: Pointer | None = None) -> ScreenState:
    s = ScreenState.from_lines([f"{i:02d} lllll IIIII ||||| hello world" for i in range(6)], 40, 6)
    s.pointer = pointer
    return s


def neural() -> NeuralRenderer:
    torch.manual_seed(0)
    return NeuralRenderer(CellDiT(width=16, depth=1, heads=2, mlp_ratio=1.0, window=1))


@pytest.mark.parametrize("shape", ["arrow", "ibeam"])
@pytest.mark.parametrize("theme", ["dark", "light"])
def test_raster_draws_the_sprite_exactly_where_the_state_says(shape, theme):
    raster = RasterRenderer(theme=theme)
    bare = raster.render(screen()).frame
    assert P.locate(bare) is None
    for x, y in [(5, 5), (100, 40), (314, 90), (0, 0), (160, 88)]:
        p = Pointer(x, y, shape)
        frame = RasterRenderer(theme=theme).render(screen(p)).frame
        assert P.locate(frame) == p
        assert P.matches(frame, p) == 1.0
        top, left, bottom, right = P.box(p)
        changed = np.argwhere((frame != bare).any(-1))  # only the sprite's pixels differ
        assert changed[:, 0].min() >= max(top, 0) and changed[:, 0].max() < bottom
        assert changed[:, 1].min() >= max(left, 0) and changed[:, 1].max() < right


def test_raster_redraws_only_the_rows_under_the_pointer_and_matches_a_full_draw():
    raster = RasterRenderer()
    raster.render(screen(Pointer(20, 20)))
    out = raster.render(screen(Pointer(200, 70)), damage=set())
    assert out.rows == [1, 2, 4, 5]  # old pointer's rows 1-2, new one's 4-5
    assert np.array_equal(out.frame, RasterRenderer().render(screen(Pointer(200, 70))).frame)
    out = raster.render(screen(Pointer(200, 70, "ibeam")), damage=set())
    assert out.rows and P.locate(out.frame) == Pointer(200, 70, "ibeam")
    out = raster.render(screen(None), damage=set())
    assert P.locate(out.frame) is None


def test_rows_and_cells_under_clip_to_the_screen():
    assert P.rows_under(Pointer(4, 8), 16, 24) == {0, 1}
    assert P.rows_under(Pointer(4, 376), 16, 24) == {23}
    assert P.rows_under(None, 16, 24) == set()
    assert P.cells_under(Pointer(636, 376), (16, 8), 80, 24) == [(23, 79)]


def test_neural_renderer_composites_the_pointer_and_keeps_its_cache_clean():
    r = neural()
    first = r.render(screen(Pointer(30, 24)))
    assert P.locate(first.frame) == Pointer(30, 24)
    moved = r.render(screen(Pointer(250, 70)), damage=set())
    assert moved.rows == [1, 2, 4, 5]  # the cells it leaves and enters are drawn anew
    assert P.locate(moved.frame) == Pointer(250, 70)
    assert P.matches(r._frame, Pointer(250, 70)) < 0.9  # the model's context has no sprite
    r.patch_frame(moved.frame)
    assert P.matches(r._frame, Pointer(250, 70)) < 0.9


def test_verifier_reads_text_around_the_pointer_and_repairs_a_missing_one():
    raster = RasterRenderer()
    s = screen(Pointer(60, 20, "ibeam"))
    frame = raster.render(s).frame
    fixed, rep = verify_and_repair(raster, s, frame, list(range(s.rows)))
    assert rep.raw == 1.0 and rep.wrong_before == 0  # the sprite is not read as text
    assert rep.pointer == {"x": 60, "y": 20, "shape": "ibeam", "raw": 1.0, "repaired": False}
    bare = RasterRenderer().render(screen()).frame  # a renderer that forgot the pointer
    fixed, rep = verify_and_repair(RasterRenderer(), s, bare, list(range(s.rows)))
    assert rep.pointer["raw"] < 0.9 and rep.pointer["repaired"]
    assert np.array_equal(fixed, frame)


def test_captions_carry_the_pointer():
    from renderer.captions import make_caption

    s = screen(Pointer(60, 20, "ibeam"))
    plain = make_caption("detailed", s, None).text
    assert "Mouse pointer ibeam with its hotspot at pixel x=60, y=20." in plain
    prose = make_caption("detailed", s, None, form="prose").text
    assert "I-beam text pointer" in prose and "x=60, y=20" in prose
    assert "pointer" not in make_caption("detailed", screen(), None).text

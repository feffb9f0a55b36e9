"""The two-colour projection (renderer/palette.py): exact on the raster's own pixels, flat where
the model leaves a level or two of noise, and only where the caption told the colours; applied the
same way by NeuralRenderer and TerminalPipeline, at tiny configs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from diffusers import FlowMatchEulerDiscreteScheduler
from tiny_models import tiny

from renderer.neural import CellCaptioner, NeuralRenderer, restrict_caption
from renderer.palette import (
    PaletteConfig,
    colour_glyph_cells,
    contrasted,
    project,
    projectable,
)
from renderer.pipeline import TerminalPipeline
from terminal.screen import BOLD, INVERSE, STRIKE, TRUECOLOR, UNDERLINE, Pointer, ScreenState


def mixed_screen() -> ScreenState:
    """Inverse, underline, strike, bold, 24-bit colour, fg == bg, CJK, box drawing, the cursor."""
    s = ScreenState.from_lines(["$ ls │ 世界 ┌─┐", "plain text", "hidden"], 16, 4)
    s.attrs[0, 0:2] = INVERSE
    s.attrs[1, 0:5] = UNDERLINE | BOLD
    s.attrs[1, 6:10] = STRIKE
    s.bg[1, 6:10] = TRUECOLOR | 0x4060A0
    s.fg[2, :6] = 4
    s.bg[2, :6] = 4  # fg == bg: the text is invisible, the cell pure background
    s.cursor = (0, 7)  # on the left half of a wide character
    return s


def as_model_output(patches: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(patches.astype(np.float32)) / 127.5 - 1.0


def as_pixels(x: torch.Tensor) -> np.ndarray:
    return ((x + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).numpy()


def test_the_raster_is_a_fixed_point_without_snapping() -> None:
    tokens = CellCaptioner().encode(mixed_screen(), [0, 1, 2, 3])
    target = tokens.target()
    where = projectable(tokens.colours, tokens.two_colour)
    assert where.all()
    out = as_pixels(project(as_model_output(target), tokens.fg, tokens.bg, where, snap=0.0))
    assert np.abs(out.astype(int) - target).max() <= 1
    grey = (np.ptp(tokens.fg, axis=-1) == 0) & (np.ptp(tokens.bg, axis=-1) == 0)
    assert grey.sum() > 20 and np.array_equal(out[grey], target[grey])


def test_noise_off_the_segment_and_near_its_ends_is_removed() -> None:
    tokens = CellCaptioner().encode(mixed_screen(), [0, 1, 2, 3])
    target = tokens.target().astype(np.float32)
    rng = np.random.default_rng(0)
    noisy = np.clip(target + rng.integers(-3, 4, target.shape), 0, 255)
    snap = 6.0
    out = as_pixels(project(as_model_output(noisy), tokens.fg, tokens.bg,
                            np.ones(target.shape[:2], bool), snap=snap))
    r, c, _ = target.shape
    alpha = tokens.hint.reshape(r, c, -1)  # (R, C, h*w)
    px = out.reshape(r, c, -1, 3).astype(int)
    ref = target.reshape(r, c, -1, 3).astype(int)
    flat = (alpha == 0) | (alpha == 1)  # background and solid ink come back exact
    assert np.array_equal(px[flat], ref[flat])
    # every pixel lies on its cell's bg -> fg segment, within rounding
    fg, bg = tokens.fg[:, :, None], tokens.bg[:, :, None]
    d = fg - bg
    a = np.clip(((px - bg) * d).sum(-1) / np.maximum((d * d).sum(-1), 1), 0, 1)
    assert np.abs(px - (bg + a[..., None] * d)).max() <= 1.0
    # the pure-background cells (fg == bg) are flat
    assert (px[2, :6] == tokens.bg[2, 0].astype(int)).all()
    # antialiased edges stay within the noise plus what snapping moves
    assert (np.abs(px - ref) <= 3 + snap + 1).all()


def test_a_glyph_anchor_gives_back_the_lookup_under_small_noise() -> None:
    tokens = CellCaptioner().encode(mixed_screen(), [0, 1, 2, 3])
    target = tokens.target()
    rng = np.random.default_rng(2)
    noisy = np.clip(target.astype(np.float32) + rng.integers(-3, 4, target.shape), 0, 255)
    everywhere = np.ones(target.shape[:2], bool)
    out = as_pixels(project(as_model_output(noisy), tokens.fg, tokens.bg, everywhere, snap=8.0,
                            anchor=tokens.hint))
    assert np.abs(out.astype(int) - target).max() <= 1
    grey = (np.ptp(tokens.fg, axis=-1) == 0) & (np.ptp(tokens.bg, axis=-1) == 0)
    assert np.array_equal(out[grey], target[grey])
    # a correction larger than the band is kept (projected onto the segment)
    moved = target.astype(np.float32).copy()
    moved[0, 5, :3] = 120.0  # a background pixel of a grey cell pulled halfway to the fg
    out = as_pixels(project(as_model_output(moved), tokens.fg, tokens.bg, everywhere, snap=8.0,
                            anchor=tokens.hint))
    assert out[0, 5, 0] == 120
    with pytest.raises(ValueError, match="anchor"):
        PaletteConfig(anchor="lookup")  # type: ignore[arg-type]


def test_cells_the_caption_did_not_colour_are_left_as_drawn() -> None:
    screen = mixed_screen()
    tokens = CellCaptioner().encode(screen, [0, 1, 2, 3])
    rng = np.random.default_rng(1)
    x = torch.from_numpy(rng.uniform(-1, 1, tokens.target().shape).astype(np.float32))
    for tier in ("regular", "semantic"):
        told = restrict_caption(tokens, tier)
        where = projectable(told.colours, told.two_colour)
        assert not where.any()
        assert torch.equal(project(x, told.fg, told.bg, where), x)
    held = restrict_caption(tokens, "native", np.array([False, True, False, False]))
    where = projectable(held.colours, held.two_colour)
    assert where[0].all() and not where[1].any()
    out = project(x, held.fg, held.bg, where)
    assert torch.equal(out[1], x[1]) and not torch.equal(out[0], x[0])
    # a colour glyph is not two-colour: exempt too
    two = np.ones(where.shape, bool)
    two[0, 3] = False
    assert not projectable(tokens.colours, two)[0, 3]


def test_nearly_equal_colours_are_left_as_drawn() -> None:
    fg = np.array([[[204, 204, 204], [250, 250, 250], [18, 18, 18], [0, 0, 0]]], np.float32)
    bg = np.array([[[18, 18, 18], [238, 238, 238], [18, 18, 18], [18, 18, 18]]], np.float32)
    # far apart: projected; 12 levels apart: as drawn; equal: pure background; 31 apart: as drawn
    assert contrasted(fg, bg).tolist() == [[True, False, True, False]]
    screen = ScreenState.from_lines(["ab"], 2, 1)
    screen.fg[0, 0] = TRUECOLOR | 0x1C1C1C  # on the dark theme's (18, 18, 18): 17 levels apart
    r_on = NeuralRenderer(tiny(), seed=1, precision="float32")
    r_off = NeuralRenderer(tiny(), seed=1, precision="float32", palette=False)
    tokens = r_on.captioner.encode(screen, [0])
    low = ~contrasted(tokens.fg, tokens.bg)[0]
    on, off = r_on.render(screen).frame, r_off.render(screen).frame
    for c in range(2):
        cell = (slice(None), slice(8 * c, 8 * c + 8))
        assert np.array_equal(on[cell], off[cell]) == bool(low[c])


def test_colour_glyph_cells_come_from_the_atlas() -> None:
    class Atlas:
        color = {5: None, 9: None}

    idx = np.array([[1, 5, 9, 2]])
    assert colour_glyph_cells(Atlas(), idx).tolist() == [[False, True, True, False]]
    assert not colour_glyph_cells(object(), idx).any()


def test_snap_is_a_few_levels() -> None:
    with pytest.raises(ValueError, match="snap"):
        PaletteConfig(snap=65.0)
    assert PaletteConfig.of(False).enabled is False
    assert PaletteConfig.of(True) == PaletteConfig()


def test_renderer_projects_deterministically_and_can_be_turned_off() -> None:
    screen = mixed_screen()
    exact = PaletteConfig(snap=0.0)  # no band for a rounding to push a pixel across
    on = NeuralRenderer(tiny(), seed=3, precision="float32", palette=exact)
    off = NeuralRenderer(tiny(), seed=3, precision="float32", palette=False)
    a, b = on.render(screen).frame, NeuralRenderer(tiny(), seed=3, precision="float32",
                                                   palette=exact).render(screen).frame
    assert np.array_equal(a, b)  # bit-identical for a seed
    raw = off.render(screen).frame
    assert not np.array_equal(a, raw)
    # the projection is a function of the drawn pixels and the caption alone
    tokens = on.captioner.encode(screen, list(range(screen.rows)))
    h, w = on.cell_size
    from renderer.neural import patches_to_rows, rows_to_patches

    again = project(as_model_output(rows_to_patches(raw, h, w)), tokens.fg, tokens.bg,
                    np.ones((screen.rows, screen.cols), bool), snap=0.0)
    # the model output before rounding differs from its 8-bit rounding by < 1/2 level
    assert np.abs(patches_to_rows(as_pixels(again), h, w).astype(int) - a).max() <= 1


def test_pipeline_and_renderer_project_the_same_way() -> None:
    model = tiny()
    pipe = TerminalPipeline(transformer=model, scheduler=FlowMatchEulerDiscreteScheduler(shift=1.0))
    pipe.set_progress_bar_config(disable=True)
    screen = mixed_screen()
    for palette in (True, False):
        image = pipe(screen, generator=torch.manual_seed(5), palette=palette,
                     output_type="np").images[0]
        frame = NeuralRenderer(model, seed=5, precision="float32", palette=palette
                               ).render(screen).frame
        assert np.array_equal(image, frame)


def test_the_pointer_is_drawn_after_the_projection() -> None:
    screen = mixed_screen()
    screen.pointer = Pointer(30, 20)
    r = NeuralRenderer(tiny(), seed=3, precision="float32")
    with_pointer = r.render(screen).frame
    screen.pointer = None
    r.reset()
    without = r.render(screen).frame
    from renderer.pointer import mask

    under = mask(Pointer(30, 20), *without.shape[:2])
    assert np.array_equal(with_pointer[~under], without[~under])
    # the sprite keeps its own colours (black and white, off the cells' segments)
    assert np.any(with_pointer[under] != without[under])


def test_the_xterm_look_leaves_its_cursor_cell_as_drawn() -> None:
    pytest.importorskip("renderer.capture.calibrate")
    from renderer.looks import create_look

    s = ScreenState.from_lines(["$ echo 42", "42"], 12, 3)
    s.cursor = (1, 2)
    on = create_look("xterm", palette=True).render(s, seed=0).frame
    off = create_look("xterm", palette=False).render(s, seed=0).frame
    h, w = 17, 8
    cursor = (slice(h, 2 * h), slice(2 * w, 3 * w))
    assert np.array_equal(on[cursor], off[cursor])
    # elsewhere only the cells' own two colours (the look's theme) remain
    bg = np.asarray(create_look("xterm").theme.bg, np.uint8)
    assert (on[2 * h:, :] == bg).all()

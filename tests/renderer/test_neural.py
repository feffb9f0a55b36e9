"""The neural renderer: CellDiT (all injection modes), the caption tokens, the pipeline
(determinism, damage, NaN handling) and checkpoint loading errors. Tiny random models only."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from tiny_models import TINY, tiny

from renderer.models.cell_dit import INJECTIONS, CellDiT
from renderer.neural import (
    CellCaptioner,
    CheckpointError,
    NeuralRenderer,
    action_bucket,
    load_model,
    patches_to_rows,
    rows_to_patches,
)
from renderer.raster import RasterRenderer
from terminal.screen import BOLD, INVERSE, ITALIC, TRUECOLOR, UNDERLINE, ScreenState


def styled_screen() -> ScreenState:
    s = ScreenState.from_lines(["$ ls -l", "total 42", "drwxr-xr-x  src", "héllo wörld"], 20, 5)
    s.fg[1, :5] = 1
    s.bg[2, 0:4] = TRUECOLOR | 0x203040
    s.attrs[2, 0:4] = BOLD
    s.attrs[3, 0:3] = ITALIC | UNDERLINE
    s.attrs[1, 6:8] = INVERSE
    s.cursor = (0, 7)
    return s


@pytest.mark.parametrize(("mode", "head"), [(m, "linear") for m in INJECTIONS]
                         + [("external", "factorized")])
def test_every_injection_mode_runs_and_learns_its_caption(mode: str, head: str) -> None:
    model = tiny(False, injection=mode, glyph_hint=True, output_head=head, head_rank=2)
    b, c = 2, 6
    x = torch.randn(b, c, model.patch)
    glyph = torch.rand(b, c, model.glyph)
    args = (x, torch.ones(b), torch.zeros_like(x), glyph, torch.rand(b, c, 6) * 2 - 1,
            torch.zeros(b, c, 6), torch.tensor([0, 3]), glyph)
    out = model(*args)
    assert out.shape == (b, c, model.patch)
    # the caption must reach the output: after a few updates (zero-initialised gates and
    # projections open up), changing the glyph changes it
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    target = torch.randn_like(x)
    for _ in range(4):
        opt.zero_grad()
        (model(*args) - target).square().mean().backward()
        opt.step()
    a = model(*args)
    other = list(args)
    other[3] = torch.rand(b, c, model.glyph)
    assert not torch.allclose(a, model(*other))


def test_unknown_options_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="unknown injection mode 'sideways'"):
        CellDiT(**TINY, injection="sideways")
    with pytest.raises(ValueError, match="glyph_style"):
        CellDiT(**TINY, glyph_style="fancy")
    with pytest.raises(ValueError, match="output_head"):
        CellDiT(**TINY, output_head="deep")


def test_attention_stays_inside_the_window() -> None:
    model = tiny(window=1).eval()
    c = 9
    x = torch.randn(1, c, model.patch)
    base = (x, torch.ones(1), torch.zeros_like(x), torch.rand(1, c, model.glyph),
            torch.zeros(1, c, 6), torch.zeros(1, c, 6))
    with torch.no_grad():
        a = model(*base)
        x2 = x.clone()
        x2[0, 8] += 1.0  # a change at cell 8 reaches cells 7 and 8 only (one block, window 1)
        b = model(x2, *base[1:])
    changed = (a - b).abs().amax(-1)[0] > 0
    assert changed.tolist() == [False] * 7 + [True, True]


def test_caption_target_is_the_reference_raster() -> None:
    screen = styled_screen()
    cap = CellCaptioner("dark").encode(screen, [0, 1, 2, 3])
    ref = RasterRenderer(theme="dark").draw_rows(screen, [0, 1, 2, 3])
    assert np.array_equal(patches_to_rows(cap.target(), 16, 8), ref)
    assert np.array_equal(rows_to_patches(ref, 16, 8), cap.target())
    assert cap.bits[0, 7, 5] == 1 and cap.bits[0, :, 5].sum() == 1  # the cursor flag
    assert cap.bits[2, 0, 0] == 1 and cap.bits[1, 6, 3] == 1  # bold, inverse
    assert cap.colours.min() >= -1 and cap.colours.max() <= 1


def test_regular_glyph_style_drops_the_bold_shape() -> None:
    screen = styled_screen()
    styled = CellCaptioner("dark", glyph_style="styled").encode(screen, [2])
    regular = CellCaptioner("dark", glyph_style="regular").encode(screen, [2])
    assert not np.array_equal(styled.glyph[0, 0], regular.glyph[0, 0])  # bold 'd'
    assert np.array_equal(styled.glyph[0, 10], regular.glyph[0, 10])  # plain cell


def test_action_bucket_is_stable_and_in_range() -> None:
    assert action_bucket(None, 64) == 0 and action_bucket("", 64) == 0
    a = action_bucket("Enter", 64)
    assert a == action_bucket("Enter", 64) and 1 <= a < 64
    assert action_bucket({"key": "x"}, 64) == action_bucket({"key": "x"}, 64)


def test_render_is_deterministic_and_damage_aware() -> None:
    screen = styled_screen()
    r1, r2 = NeuralRenderer(tiny(), seed=3), NeuralRenderer(tiny(), seed=3)
    o1, o2 = r1.render(screen), r2.render(screen)
    assert o1.frame.shape == (5 * 16, 20 * 8, 3) and o1.frame.dtype == np.uint8
    assert np.array_equal(o1.frame, o2.frame)
    assert o1.rows == [0, 1, 2, 3, 4]
    assert {"steps", "seed", "rows", "ms"} <= set(o1.info)
    other = NeuralRenderer(tiny(), seed=4).render(screen)
    assert not np.array_equal(o1.frame, other.frame)
    # type one character on row 4: only that row is drawn, the rest is carried over
    nxt = screen.copy()
    nxt.chars[4][0] = "x"
    out = r1.render(nxt, damage={4})
    assert out.rows == [4]
    assert np.array_equal(out.frame[: 4 * 16], o1.frame[: 4 * 16])
    assert np.array_equal(out.frame, r2.render(nxt, damage={4}).frame)
    r1.reset()
    assert r1.render(nxt).rows == [0, 1, 2, 3, 4]


def test_cursor_move_redraws_old_and_new_rows() -> None:
    r = NeuralRenderer(tiny())
    screen = styled_screen()
    r.render(screen)
    moved = screen.copy()
    moved.cursor = (3, 2)
    assert r.render(moved).rows == [0, 3]


def test_render_rows_and_guidance() -> None:
    r = NeuralRenderer(tiny())
    screen = styled_screen()
    r.render(screen)
    px = r.render_rows(screen, [1, 3], steps=3, seed=9, guidance=2.5)
    assert px.shape == (2 * 16, 20 * 8, 3)
    again = r.render_rows(screen, [1, 3], steps=3, seed=9, guidance=2.5)
    assert np.array_equal(px, again)


def test_nan_output_never_becomes_a_frame() -> None:
    model = tiny()
    with torch.no_grad():
        model.head.bias.fill_(float("nan"))
    r = NeuralRenderer(model)
    screen = styled_screen()
    out = r.render(screen)
    assert out.info["nan"] is True and out.info["fallback"] == "raster"
    assert np.array_equal(out.frame, RasterRenderer(theme="dark").draw_rows(screen, range(5)))


def test_checkpoint_round_trip(tmp_path) -> None:
    model = tiny(injection="internal")
    model.save_pretrained(str(tmp_path))
    loaded = load_model(tmp_path)
    assert loaded.config.injection == "internal"
    screen = styled_screen()
    a = NeuralRenderer(model.eval()).render(screen).frame
    b = NeuralRenderer.from_pretrained(tmp_path).render(screen).frame
    assert np.array_equal(a, b)


def test_bad_checkpoints_are_one_line_errors(tmp_path) -> None:
    with pytest.raises(CheckpointError, match="hybrid-nc train") as e:
        load_model(tmp_path / "missing")
    assert "\n" not in str(e.value)
    tiny().save_pretrained(str(tmp_path))
    weights = tmp_path / "diffusion_pytorch_model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_model(tmp_path)
    weights.write_bytes(data)
    cfg = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**cfg, "width": 24}))
    with pytest.raises(CheckpointError, match="do not match its config"):
        load_model(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({**cfg, "cell_w": 9}))
    with pytest.raises(CheckpointError, match="do not match|cells are"):
        NeuralRenderer.from_pretrained(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="unreadable"):
        load_model(tmp_path)


def test_cursor_styles() -> None:
    screen = styled_screen()
    none = CellCaptioner("dark", cursor="none").encode(screen, [0])
    assert none.bits[..., 5].sum() == 0
    assert np.array_equal(patches_to_rows(none.target(), 16, 8),
                          RasterRenderer(theme="dark", cursor="none").draw_rows(screen, [0]))
    with pytest.raises(ValueError, match="block cursor or none"):
        NeuralRenderer(tiny(), cursor="bar")


def test_bfloat16_precision_stays_close_to_float32_and_is_deterministic() -> None:
    screen = styled_screen()
    model = tiny()
    f32 = NeuralRenderer(model, precision="float32").render(screen)
    b1 = NeuralRenderer(model, precision="bfloat16").render(screen)
    b2 = NeuralRenderer(model, precision="bfloat16").render(screen)
    assert f32.info["precision"] == "float32" and b1.info["precision"] == "bfloat16"
    assert np.array_equal(b1.frame, b2.frame)
    diff = np.abs(b1.frame.astype(int) - f32.frame.astype(int))
    assert diff.mean() < 2.0 and diff.max() <= 32  # rounding of the products, not another image
    assert NeuralRenderer(model).precision in ("float32", "bfloat16")  # "auto" resolves
    with pytest.raises(ValueError, match="precision must be"):
        NeuralRenderer(model, precision="half")

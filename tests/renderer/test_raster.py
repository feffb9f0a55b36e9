"""The reference rasterizer: exact pixels, colours, cursors, damage-only redraw, row cache."""

from __future__ import annotations

import numpy as np
import pytest

from renderer.base import Renderer
from renderer.fonts import FontSpec
from renderer.raster import CURSOR_STYLES, RasterConfig, RasterRenderer
from terminal.screen import BOLD, INVERSE, ITALIC, STRIKE, TRUECOLOR, UNDERLINE, ScreenState
from terminal.themes import THEMES, Theme


def busy_screen(seed: int = 0, cols: int = 40, rows: int = 12) -> ScreenState:
    """Random text in random palette / truecolour / default colours and attributes."""
    rng = np.random.default_rng(seed)
    pool = [chr(c) for c in range(0x21, 0x7F)] + list("─│┌╬█▒⠿\ue0b0é") + ["日", "😀"]
    lines = []
    for _ in range(rows):
        line, width = "", 0
        while width < cols - 1:
            ch = pool[int(rng.integers(len(pool)))]
            w = 2 if ch in ("日", "😀") else 1
            if width + w > cols:
                break
            line, width = line + ch, width + w
        lines.append(line)
    s = ScreenState.from_lines(lines, cols, rows)
    s.fg[:] = rng.choice([-1, 1, 4, 9, 100, 231, TRUECOLOR | 0x336699], (rows, cols))
    s.bg[:] = rng.choice([-1, -1, -1, 0, 17, TRUECOLOR | 0xFFEE00], (rows, cols))
    s.attrs[:] = rng.choice([0, 0, BOLD, ITALIC, UNDERLINE, INVERSE, STRIKE], (rows, cols))
    for r in range(rows):  # attributes follow the wide character onto its right half
        for c in range(1, cols):
            if s.chars[r][c] == "":
                s.attrs[r, c] = s.attrs[r, c - 1]
    s.cursor = (3, 5)
    return s


def cell(frame: np.ndarray, r: int, c: int, h: int = 16, w: int = 8) -> np.ndarray:
    return frame[r * h:(r + 1) * h, c * w:(c + 1) * w]


def test_is_a_renderer_with_the_right_frame_size() -> None:
    r = RasterRenderer()
    assert isinstance(r, Renderer)
    s = ScreenState.from_lines(["hi"], cols=80, rows=24)
    out = r.render(s)
    assert out.frame.shape == (384, 640, 3) and out.frame.dtype == np.uint8
    assert out.rows == list(range(24)) and r.frame_size(80, 24) == (640, 384)


def test_blank_and_full_block_cells_are_the_theme_colours() -> None:
    t = THEMES["solarized-dark"]
    r = RasterRenderer(theme="solarized-dark", cursor="none")
    s = ScreenState.from_lines(["█ a"], cols=3, rows=1)
    f = r.render(s).frame
    assert (cell(f, 0, 0) == t.fg).all() and (cell(f, 0, 1) == t.bg).all()
    glyph = cell(f, 0, 2).reshape(-1, 3)
    assert {tuple(p) for p in glyph} >= {t.fg, t.bg}  # 'a' in fg over bg (plus antialiasing)


def test_pixels_are_exactly_the_documented_blend() -> None:
    """draw_rows == rint(bg + alpha (fg - bg)) from cell_layers, for every cursor style."""
    s = busy_screen()
    rows = list(range(s.rows))
    for style in CURSOR_STYLES:
        r = RasterRenderer(cursor=style, row_cache=0)
        fg, bg, alpha = r.cell_layers(s, rows)
        ref = np.rint(bg[:, :, None, None] + alpha[..., None] * (fg - bg)[:, :, None, None])
        ref = ref.astype(np.uint8).transpose(0, 2, 1, 3, 4).reshape(s.rows * 16, s.cols * 8, 3)
        assert np.array_equal(r.draw_rows(s, rows), ref), style


def test_colours_inverse_truecolour_and_palette() -> None:
    r = RasterRenderer(cursor="none")
    s = ScreenState.from_lines(["█████"], cols=5, rows=1)
    s.fg[0] = [1, 100, TRUECOLOR | 0x0A0B0C, -1, 2]
    s.bg[0, 4] = TRUECOLOR | 0x102030
    s.attrs[0, 4] = INVERSE  # the block is drawn in the background colour
    f = r.render(s).frame
    t = r.theme
    assert tuple(cell(f, 0, 0)[0, 0]) == t.palette[1]
    assert tuple(cell(f, 0, 1)[0, 0]) == tuple(t.lut()[100])
    assert tuple(cell(f, 0, 2)[0, 0]) == (10, 11, 12)
    assert tuple(cell(f, 0, 3)[0, 0]) == t.fg
    assert tuple(cell(f, 0, 4)[0, 0]) == (0x10, 0x20, 0x30)


def test_bold_is_bright_themes() -> None:
    base = THEMES["xterm-dark"]
    theme = Theme("bright", base.fg, base.bg, base.palette, None, True)
    s = ScreenState.from_lines(["██"], cols=2, rows=1)
    s.fg[0] = 1
    s.attrs[0, 1] = BOLD
    f = RasterRenderer(theme=theme, cursor="none").render(s).frame
    assert tuple(cell(f, 0, 0)[0, 0]) == base.palette[1]
    assert tuple(cell(f, 0, 1)[0, 0]) == base.palette[9]


def test_cursor_styles() -> None:
    s = ScreenState.from_lines(["ab"], cols=3, rows=1)
    s.cursor = (0, 2)  # on a blank cell
    t = THEMES["dark"]
    frames = {st: RasterRenderer(cursor=st).render(s).frame for st in CURSOR_STYLES}
    assert (cell(frames["block"], 0, 2) == t.fg).all()
    assert (cell(frames["none"], 0, 2) == t.bg).all()
    u = cell(frames["underline"], 0, 2)
    assert (u[-2:] == t.fg).all() and (u[:-2] == t.bg).all()
    b = cell(frames["bar"], 0, 2)
    assert (b[:, :2] == t.fg).all() and (b[:, 2:] == t.bg).all()
    hol = cell(frames["hollow"], 0, 2)
    assert (hol[0] == t.fg).all() and (hol[5, 1:-1] == t.bg).all()
    for st in CURSOR_STYLES:  # the cursor never touches other cells
        assert np.array_equal(frames[st][:, :16], frames["none"][:, :16])
    s.cursor_visible = False
    assert np.array_equal(RasterRenderer().render(s).frame, frames["none"])


def test_theme_cursor_colour_and_wide_cursor() -> None:
    t = THEMES["dracula"]
    s = ScreenState.from_lines(["日x"], cols=4, rows=1)
    s.cursor = (0, 1)  # on the right half: the cursor covers the whole character
    f = RasterRenderer(theme="dracula").render(s).frame
    assert (f[:, :16] == np.array(t.cursor, np.uint8)).any(-1).sum() > 150
    assert (cell(f, 0, 2) != t.cursor).any()


def test_cursor_past_the_last_column_is_drawn_on_it() -> None:
    s = ScreenState.from_lines(["abc"], cols=3, rows=1)
    s.cursor = (0, 3)  # pending wrap
    f = RasterRenderer().render(s).frame
    s2 = s.copy()
    s2.cursor = (0, 2)
    assert np.array_equal(f, RasterRenderer().render(s2).frame)


def test_bad_cursor_style_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown cursor style 'blink'"):
        RasterConfig(cursor="blink")  # type: ignore[arg-type]


def test_damage_only_redraw_matches_a_full_redraw() -> None:
    r = RasterRenderer()
    s = busy_screen(1)
    r.render(s)
    s2 = s.copy()
    s2.chars[7][3] = "Z"
    s2.fg[9, 1] = 3
    out = r.render(s2)  # rows worked out by diffing
    assert out.rows == [7, 9]
    assert np.array_equal(out.frame, RasterRenderer().render(s2).frame)
    s3 = s2.copy()
    s3.chars[2][0] = "Q"
    s3.cursor = (10, 1)
    out = r.render(s3, damage=[2])  # told the damage; the cursor's rows come along
    assert out.rows == [2, 3, 10]
    assert np.array_equal(out.frame, RasterRenderer().render(s3).frame)
    assert r.render(s3, damage=[]).rows == []


def test_size_change_and_reset_redraw_everything() -> None:
    r = RasterRenderer()
    r.render(busy_screen(0, 20, 5))
    assert r.render(busy_screen(0, 30, 6)).rows == list(range(6))
    r.reset()
    assert r.render(busy_screen(0, 30, 6)).rows == list(range(6))
    r.set_theme("light")
    out = r.render(busy_screen(0, 30, 6))
    assert out.rows == list(range(6))
    assert np.array_equal(out.frame, RasterRenderer(theme="light").render(busy_screen(0, 30, 6)).frame)


def test_row_cache_gives_identical_pixels_and_stays_bounded() -> None:
    cached = RasterRenderer(row_cache=8)
    plain = RasterRenderer(row_cache=0)
    for seed in range(4):
        s = busy_screen(seed)
        # scrolling: the same rows one line up hit the cache
        scrolled = s.copy()
        scrolled.chars = s.chars[1:] + [s.chars[0]]
        for screen in (s, scrolled, s):
            a = cached.draw_rows(screen, range(screen.rows))
            b = plain.draw_rows(screen, range(screen.rows))
            assert np.array_equal(a, b)
    assert len(cached._rows) <= 8


def test_wide_characters_and_glyph_indices() -> None:
    r = RasterRenderer()
    s = ScreenState.from_lines(["日本x", "a"], cols=6, rows=2)
    s.chars[1][5] = "語"  # a wide char cannot start in the last column: drawn blank
    idx = r.glyph_indices(s, [0, 1])
    a = r.atlas
    assert idx[0, :5].tolist() == [a.index("日", 0, 1), a.index("日", 0, 2), a.index("本", 0, 1),
                                   a.index("本", 0, 2), a.index("x")]
    assert idx[1, 5] == a.index(" ")


def test_deterministic_and_seed_independent() -> None:
    s = busy_screen(3)
    a = RasterRenderer().render(s, seed=1).frame
    b = RasterRenderer().render(s, seed=2).frame
    assert np.array_equal(a, b)


def test_configurable_font_size() -> None:
    spec = FontSpec.sized(20)
    r = RasterRenderer(font=spec)
    s = ScreenState.from_lines(["hello ─┼─"], cols=10, rows=2)
    f = r.render(s).frame
    assert f.shape == (2 * spec.cell_h, 10 * spec.cell_w, 3)
    assert r.cell_size == (spec.cell_h, spec.cell_w)


def test_colour_emoji_are_composited_in_colour() -> None:
    r = RasterRenderer(font=FontSpec(color_emoji=True), cursor="none")
    s = ScreenState.from_lines(["😀🚀", "😀"], cols=4, rows=2)
    s.attrs[1, :2] = UNDERLINE
    s.bg[0, :2] = 4
    f = r.render(s).frame.astype(int)
    face = f[:16, :16].reshape(-1, 3)
    fg, bg = np.array(r.theme.fg), np.array(r.theme.palette[4])
    # colours off the fg-bg line exist (a mask glyph could only mix fg and bg)
    t = ((face - bg) @ (fg - bg)) / ((fg - bg) @ (fg - bg))
    off = np.linalg.norm(face - (bg + t[:, None] * (fg - bg)), axis=1)
    assert off.max() > 60
    assert (f[16 + 14, :16] == r.theme.fg).all(-1).sum() >= 4  # the underline shows under it

"""Glyph atlas: coverage without tofu, procedural glyphs that join across cells, font errors."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from renderer.fonts import (
    DOUBLE,
    HEAVY,
    LIGHT,
    FontError,
    FontSpec,
    GlyphAtlas,
    _missing_box,
    box_arms,
    draw_procedural,
    find_font,
    procedural,
)
from renderer.raster import RasterConfig, RasterRenderer, shared_atlas
from terminal.screen import BOLD, ITALIC, STRIKE, UNDERLINE, ScreenState

BOX = [chr(c) for c in range(0x2500, 0x2580)]
BLOCKS = [chr(c) for c in range(0x2580, 0x25A0)]
BRAILLE = [chr(c) for c in range(0x2800, 0x2900)]
POWERLINE = [chr(c) for c in (*range(0xE0A0, 0xE0A4), *range(0xE0B0, 0xE0C0))]
SEXTANTS = [chr(c) for c in range(0x1FB00, 0x1FB3C)]
CJK = list("日本語中文字한국어漢字かなカナ")
EMOJI = list("😀🎉👍🐍🚀✅🔥💡")
SCRIPTS = list("αβγΩжЖщЯéñüßÆØ€£¥½→⇒∀∃≠≤∞✓✗★♥●◆")
SIZES = [10.0, 13.0, 20.0, 26.0]


@pytest.fixture(scope="module")
def atlas() -> GlyphAtlas:
    return shared_atlas(FontSpec())


def _specs() -> list[FontSpec]:
    return [FontSpec.sized(s) for s in SIZES]


# -- font spec and errors ------------------------------------------------------------------
def test_default_cell_is_8x16(atlas: GlyphAtlas) -> None:
    assert atlas.cell == (16, 8)
    spec = FontSpec.sized(13)
    assert (spec.cell_w, spec.cell_h, spec.baseline) == (8, 16, 12)


@pytest.mark.parametrize("size", SIZES)
def test_sized_cells_grow_with_the_font(size: float) -> None:
    spec = FontSpec.sized(size)
    assert spec.cell_h > spec.cell_w >= 2
    assert abs(spec.cell_h / spec.cell_w - 2.0) < 0.4  # DejaVu Sans Mono is about 1:2
    atlas = GlyphAtlas(spec)
    m = atlas.mask("M")
    assert m.shape == (spec.cell_h, spec.cell_w) and m.max() > 0.8


@pytest.mark.parametrize("size", [0, 2, -5, 500])
def test_absurd_font_sizes_are_a_clear_error(size: float) -> None:
    with pytest.raises(FontError, match="out of range"):
        FontSpec.sized(size)


def test_missing_main_font_is_a_font_error() -> None:
    with pytest.raises(FontError, match="NoSuchFont.ttf not found"):
        GlyphAtlas(FontSpec(main="NoSuchFont.ttf"))
    with pytest.raises(FontError, match="not found"):
        FontSpec.sized(13, main="NoSuchFont.ttf")


def test_missing_style_face_is_a_font_error() -> None:
    with pytest.raises(FontError, match="NoBold.ttf"):
        GlyphAtlas(FontSpec(bold_face="NoBold.ttf"))


def test_corrupt_font_file_is_a_font_error(tmp_path: Path) -> None:
    bad = tmp_path / "broken.ttf"
    bad.write_bytes(b"this is not a font")
    with pytest.raises(FontError, match="cannot load font"):
        GlyphAtlas(FontSpec(main=str(bad)))


def test_missing_fallbacks_are_listed_not_fatal() -> None:
    atlas = GlyphAtlas(FontSpec(fallbacks=("NoSuchFallback.otf", "unifont.otf")))
    assert atlas.missing_fallbacks == ["NoSuchFallback.otf"]
    assert atlas.mask("日").max() > 0  # unifont still draws it


def test_fallback_chain_is_installed() -> None:
    for name in ("DejaVuSansMono.ttf", "NotoSansCJK-Regular.ttc", "Symbola_hint.ttf",
                 "unifont.otf", "unifont_upper.otf"):
        assert find_font(name), f"{name} missing: apt-get install the font packages in .ci"


# -- coverage: no tofu -----------------------------------------------------------------------
@pytest.mark.parametrize("group", [BOX, BLOCKS, BRAILLE[1:], POWERLINE, SEXTANTS, CJK, EMOJI,
                                   SCRIPTS], ids=["box", "blocks", "braille", "powerline",
                                                  "sextants", "cjk", "emoji", "scripts"])
def test_every_glyph_class_draws_ink_not_tofu(atlas: GlyphAtlas, group: list[str]) -> None:
    box = _missing_box(16, 8)
    for ch in group:
        m = atlas.mask(ch)
        assert m.max() > 0.5, f"U+{ord(ch):04X} {ch} is empty"
        halves = [m[:, :8], m[:, 8:]] if m.shape[1] == 16 else [m]
        assert not any(np.array_equal(h, box) for h in halves), f"U+{ord(ch):04X} is tofu"


def test_wide_characters_use_both_halves(atlas: GlyphAtlas) -> None:
    for ch in CJK + EMOJI:
        m = atlas.mask(ch)
        assert m.shape == (16, 16)
        assert m[:, :8].sum() > 3 and m[:, 8:].sum() > 3, ch


def test_unifont_is_the_last_resort(atlas: GlyphAtlas) -> None:
    ch = "\ua4d0"  # Lisu letter BA: in no face before Unifont
    assert "unifont" in (atlas.font_for(ch) or "")
    assert atlas.mask(ch).max() == 1.0


def test_a_character_no_font_has_is_a_hollow_box(atlas: GlyphAtlas) -> None:
    ch = "\U0010fffd"  # plane 16 private use: no font has it
    assert atlas.font_for(ch) is None
    assert np.array_equal(atlas.mask(ch), _missing_box(16, 8))


def test_cjk_comes_from_noto_cjk_and_emoji_from_symbola(atlas: GlyphAtlas) -> None:
    assert "NotoSansCJK" in (atlas.font_for("語") or "")
    assert "Symbola" in (atlas.font_for("😀") or "")


def test_procedural_ranges_never_use_a_font(atlas: GlyphAtlas) -> None:
    for ch in BOX + BLOCKS + BRAILLE + POWERLINE + SEXTANTS:
        assert procedural(ord(ch)) and atlas.font_for(ch) is None


# -- box drawing -------------------------------------------------------------------------------
@pytest.mark.parametrize("ch, arms, dashes", [
    ("─", dict(left=LIGHT, right=LIGHT), 0),
    ("┃", dict(up=HEAVY, down=HEAVY), 0),
    ("┌", dict(down=LIGHT, right=LIGHT), 0),
    ("┍", dict(down=LIGHT, right=HEAVY), 0),
    ("┭", dict(left=HEAVY, right=LIGHT, down=LIGHT), 0),
    ("╀", dict(up=HEAVY, down=LIGHT, left=LIGHT, right=LIGHT), 0),
    ("╃", dict(left=HEAVY, up=HEAVY, right=LIGHT, down=LIGHT), 0),
    ("╒", dict(down=LIGHT, right=DOUBLE), 0),
    ("╟", dict(up=DOUBLE, down=DOUBLE, right=LIGHT), 0),
    ("╬", dict(up=DOUBLE, down=DOUBLE, left=DOUBLE, right=DOUBLE), 0),
    ("╼", dict(left=LIGHT, right=HEAVY), 0),
    ("╹", dict(up=HEAVY), 0),
    ("┅", dict(left=HEAVY, right=HEAVY), 3),
    ("╎", dict(up=LIGHT, down=LIGHT), 2),
    ("┊", dict(up=LIGHT, down=LIGHT), 4),
])
def test_box_arms_read_from_unicode_names(ch: str, arms: dict[str, int], dashes: int) -> None:
    got, n = box_arms(ord(ch))
    assert got == {"up": 0, "down": 0, "left": 0, "right": 0, **arms}
    assert n == dashes


def test_every_box_line_character_has_a_reading() -> None:
    for c in range(0x2500, 0x2580):
        if 0x256D <= c <= 0x2573:
            with pytest.raises(ValueError):
                box_arms(c)
        else:
            arms, _ = box_arms(c)
            assert any(arms.values())


def _edge(m: np.ndarray, side: str) -> np.ndarray:
    return {"left": m[:, 0], "right": m[:, -1], "up": m[0, :], "down": m[-1, :]}[side]


@pytest.mark.parametrize("spec", _specs(), ids=[f"{s:g}px" for s in SIZES])
def test_box_lines_join_exactly_across_cells(spec: FontSpec) -> None:
    """Any character's arm meets the facing arm of the same weight pixel for pixel, at every
    cell size: the edge profile of an arm depends only on its weight."""
    h, w = spec.cell_h, spec.cell_w
    profiles: dict[tuple[str, int], np.ndarray] = {}
    opposite = {"left": "right", "right": "left", "up": "down", "down": "up"}
    for c in range(0x2500, 0x2580):
        if 0x256D <= c <= 0x2573:
            continue
        arms, dashes = box_arms(c)
        if dashes:
            continue
        m = draw_procedural(c, h, w)
        for side, weight in arms.items():
            edge = _edge(m, side)
            if not weight:
                assert edge.max() == 0, f"U+{c:04X} has ink on its {side} edge without an arm"
                continue
            # the facing side of the neighbouring cell must show the same profile
            key = ("h" if side in ("left", "right") else "v", weight)
            if key in profiles:
                assert np.array_equal(profiles[key], edge), f"U+{c:04X} {side} edge differs"
            else:
                profiles[key] = edge.copy()
            assert opposite[side] in arms
    assert len(profiles) == 6  # light, heavy, double in each direction


def test_double_lines_leave_their_gap_open(atlas: GlyphAtlas) -> None:
    m = atlas.mask("╬")
    cy, cx = (16 - 1) // 2, (8 - 1) // 2
    assert m[cy, cx] == 0  # the centre of a double cross is the meeting of two gaps
    assert m[cy, :].sum() < 8 and m[:, cx].sum() < 16
    corner = atlas.mask("╔")
    assert corner[cy - 1, cx - 1] == 1 and corner[cy + 1, cx + 1] == 1
    assert corner[cy - 1, :cx - 1].max() == 0  # the outer line does not poke out to the left


def test_arcs_and_diagonals_meet_straight_lines(atlas: GlyphAtlas) -> None:
    horiz, vert = atlas.mask("─"), atlas.mask("│")
    for ch, sides in (("╭", ("right", "down")), ("╮", ("left", "down")),
                      ("╯", ("left", "up")), ("╰", ("right", "up"))):
        m = atlas.mask(ch)
        for side in sides:
            ref = horiz if side in ("left", "right") else vert
            assert np.array_equal(_edge(m, side), _edge(ref, side)), (ch, side)
    slash = atlas.mask("╱")
    assert slash[0, -1] > 0 and slash[-1, 0] > 0 and slash[0, 0] == 0


def test_dashes_tile_with_gaps(atlas: GlyphAtlas) -> None:
    row = atlas.mask("┄")[(16 - 1) // 2]
    assert 0 < row.sum() < 8  # three dashes with gaps
    col = atlas.mask("┊")[:, (8 - 1) // 2]
    assert 0 < col.sum() < 16


# -- braille, sextants, blocks, powerline -------------------------------------------------------
def test_braille_shows_one_dot_per_bit(atlas: GlyphAtlas) -> None:
    one = atlas.mask("\u2801").sum()
    assert one > 0
    for c in range(0x2800, 0x2900):
        assert atlas.mask(chr(c)).sum() == bin(c - 0x2800).count("1") * one
    assert atlas.mask("\u2800").max() == 0  # the blank pattern is pixel-identical to a space
    a, b = atlas.mask("\u2801"), atlas.mask("\u2808")  # dot 1 left, dot 4 right
    assert a[:, :4].sum() == one and b[:, 4:].sum() == one


def test_sextants_are_distinct_block_patterns(atlas: GlyphAtlas) -> None:
    seen = set()
    for ch in SEXTANTS:
        m = atlas.mask(ch)
        assert set(np.unique(m)) <= {0.0, 1.0}
        seen.add(m.tobytes())
    assert len(seen) == 60


def test_blocks_tile_without_seams(atlas: GlyphAtlas) -> None:
    assert atlas.mask("█").min() == 1.0
    top, bottom = atlas.mask("▀"), atlas.mask("▄")
    assert np.array_equal(top + bottom, np.ones((16, 8), np.float32))
    assert atlas.mask("▌")[:, :4].min() == 1 and atlas.mask("▌")[:, 4:].max() == 0


def test_powerline_separators_span_the_cell(atlas: GlyphAtlas) -> None:
    tri = atlas.mask("\ue0b0")
    assert tri[1:-1, 0].min() > 0.9  # flat side fills the left edge: butts against the segment
    assert tri[8, -1] > 0 and tri[0, -1] == 0 and tri[-1, -1] == 0  # point on the right middle
    assert np.array_equal(atlas.mask("\ue0b2"), tri[:, ::-1])
    half = atlas.mask("\ue0b4")
    assert half[1:-1, 0].min() > 0.9 and half.sum() < tri.sum() * 1.6
    assert np.array_equal(atlas.mask("\ue0b6"), half[:, ::-1])
    lower_left = atlas.mask("\ue0b8")
    assert lower_left[-1, 0] == 1 and lower_left[0, -1] == 0
    thin = atlas.mask("\ue0b1")
    assert 0 < thin.sum() < tri.sum() / 2


# -- atlas mechanics ----------------------------------------------------------------------------
def test_masks_are_quantised_and_u8_agrees(atlas: GlyphAtlas) -> None:
    for ch in "a╭😀日\ue0b4":
        atlas.mask(ch)
    m = atlas.masks
    assert np.array_equal(np.rint(m * 255).astype(np.uint8), atlas.masks_u8)
    assert np.allclose(m * 255, np.rint(m * 255), atol=1e-4)
    assert not m.flags.writeable


def test_index_zero_is_blank_and_styles_decorate(atlas: GlyphAtlas) -> None:
    assert atlas.index(" ") == 0 and atlas.masks[0].max() == 0
    plain, under, strike = atlas.mask("a"), atlas.mask("a", UNDERLINE), atlas.mask("a", STRIKE)
    assert (under - plain).min() >= 0 and (under - plain).sum() >= 7
    assert (strike - plain).sum() > 0
    assert not np.array_equal(atlas.mask("a", BOLD), plain)
    assert not np.array_equal(atlas.mask("a", ITALIC), plain)
    assert not np.array_equal(atlas.mask("─", UNDERLINE), atlas.mask("─"))


def test_concurrent_index_calls_agree() -> None:
    atlas = GlyphAtlas(FontSpec())
    chars = [chr(c) for c in range(0x4E00, 0x4E40)] + [chr(c) for c in range(0x2500, 0x2540)]
    results: list[list[int]] = []

    def work() -> None:
        results.append([atlas.index(c, 0, 1 if c >= "\u4e00" else 0) for c in chars])

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r == results[0] for r in results)
    assert len(set(results[0])) == len(chars)


def test_colour_emoji_have_an_rgba_layer() -> None:
    atlas = GlyphAtlas(FontSpec(color_emoji=True))
    i = atlas.index("😀", 0, 1)
    assert i in atlas.color and i + 1 in atlas.color
    rgba = np.concatenate([atlas.color[i], atlas.color[i + 1]], axis=1)
    rgb = rgba[..., :3][rgba[..., 3] > 0.9]
    assert rgb.std(0).max() > 0.05 and np.ptp(rgb, axis=1).max() > 0.3  # real colours, not grey
    assert np.array_equal(atlas.masks[i], atlas.color[i][..., 3])  # the mask is the silhouette
    assert atlas.index("日", 0, 1) not in atlas.color  # CJK stays a mask


# -- specimen sheet ------------------------------------------------------------------------------
SPECIMEN = [
    "box  " + "".join(BOX[:64]),
    "     " + "".join(BOX[64:]),
    "     ┌──┬──┐ ╔══╦══╗ ┏━━┳━━┓ ╭──╮ ╒══╤══╕ ╓──╥──╖ ┍━━┯━━┑ ╲ ╱",
    "     │ab│cd│ ║ab║cd║ ┃ab┃cd┃ │  │ │ab│cd│ ║ab║cd║ │ab│cd│  ╳",
    "     ├──┼──┤ ╠══╬══╣ ┣━━╋━━┫ ╰──╯ ╞══╪══╡ ╟──╫──╢ ┝━━┿━━┥ ╱ ╲",
    "     └──┴──┘ ╚══╩══╝ ┗━━┻━━┛ ┄┅┆┇ ╘══╧══╛ ╙──╨──╜ ┕━━┷━━┙",
    "blk  " + "".join(BLOCKS) + " " + "".join(SEXTANTS[:40]),
    "brl  " + "".join(BRAILLE[:72]),
    "     " + "".join(BRAILLE[184:]),
    "pwl  " + "".join(POWERLINE) + "  \ue0b6 main \ue0b0\ue0b1 src \ue0b4",
    "cjk  日本語のテキスト 中文 한국어 漢字かなカナ",
    "emo  😀🎉👍🐍🚀✅🔥💡 ✓✗★♥●◆ ☃☂",
    "txt  Hello, world! gjpqy |_| ÄÖÜ éèñ αβγ Ωж → ⇒ ∀∃ €£ ½ 0O1lI",
    "sty  bold italic under strike inverse",
]


def specimen_screen() -> ScreenState:
    s = ScreenState.from_lines(SPECIMEN, cols=82, rows=len(SPECIMEN))
    s.attrs[13, 5:9] = BOLD
    s.attrs[13, 10:16] = ITALIC
    s.attrs[13, 17:22] = UNDERLINE
    s.attrs[13, 23:29] = STRIKE
    s.attrs[13, 30:37] = 8  # inverse
    s.fg[9, 5:42] = 4  # the symbols, and a prompt: (main)> src )
    s.bg[9, 28:34] = 4
    s.fg[9, 28:34] = 15
    s.cursor = (13, 38)
    return s


def test_specimen_sheet(artifacts_dir: Path) -> None:
    """Every glyph class in every theme-independent way we draw it: look at the PNGs."""
    for name, spec in (("", FontSpec()), ("-26px", FontSpec.sized(26)),
                       ("-color-emoji", FontSpec(color_emoji=True))):
        r = RasterRenderer(RasterConfig(font=spec))
        frame = r.render(specimen_screen()).frame
        img = Image.fromarray(frame)
        if spec.cell_h < 20:
            img = img.resize((img.width * 2, img.height * 2), Image.NEAREST)
        path = artifacts_dir / f"glyph-specimen{name}.png"
        img.save(path)
        assert path.stat().st_size > 1000

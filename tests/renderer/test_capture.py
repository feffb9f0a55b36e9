"""Unit tests of the capture pipeline's parts that need no X server: grid measurement, glyph
templates, the pairing check, source selection and resume, cast reading, the CLI's errors.

The "terminal" in these tests is our own rasterizer: a capture is a frame it drew, so every
expected value is known exactly.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hybrid_nc.cli import main as cli_main
from renderer.capture.calibrate import (
    Grid,
    TemplateAtlas,
    checker_bytes,
    glyph_sheets,
    learn_templates,
    measure_grid,
)
from renderer.capture.metrics import psnr, ssim
from renderer.capture.pairing import PairChecker
from renderer.capture.pipeline import CaptureStore, select_items
from renderer.capture.sources import (
    HELD_OUT,
    Source,
    _complete_utf8,
    generated_sources,
    read_cast,
)
from renderer.capture.tune import raster_for, tune_font
from renderer.capture.xserver import CaptureError
from renderer.fonts import FontSpec
from renderer.ocr import CellOCR
from terminal import screen_from_bytes
from terminal.screen import BOLD
from terminal.themes import get_theme

THEME = get_theme("dark")
SPEC = FontSpec(size=12.5, cell_w=8, cell_h=17, baseline=13)


def _window(frame: np.ndarray, border: int) -> np.ndarray:
    """A frame inside a window with a background-coloured border, as a terminal draws it."""
    h, w, _ = frame.shape
    win = np.empty((h + 2 * border + 3, w + 2 * border + 5, 3), np.uint8)
    win[:] = THEME.bg
    win[border:border + h, border:border + w] = frame
    return win


def _draw(data: bytes, cols: int = 30, rows: int = 6, spec: FontSpec = SPEC) -> np.ndarray:
    raster = raster_for(spec, THEME)
    return raster.render(screen_from_bytes(data, cols, rows)).frame


# -- grid ---------------------------------------------------------------------------------------
def test_measure_grid_finds_cell_size_and_offset():
    cols, rows = 12, 5
    window = _window(_draw(checker_bytes(cols, rows), cols, rows), border=3)
    grid = measure_grid(window, cols, rows, THEME)
    assert grid == Grid(3, 3, 8, 17, cols, rows)
    assert grid.crop(window).shape == (rows * 17, cols * 8, 3)


def test_measure_grid_rejects_a_capture_that_is_not_the_checkerboard():
    cols, rows = 12, 5
    window = _window(_draw(checker_bytes(cols, rows), cols, rows), border=3)
    window[3 + 17 * 2 + 4, 3 + 8 * 5 + 3] = THEME.fg if (2 + 5) % 2 else THEME.bg  # one pixel
    window[3 + 17 * 2: 3 + 17 * 3, 3 + 8 * 5: 3 + 8 * 6] = THEME.fg  # and a whole wrong cell
    with pytest.raises(CaptureError, match="does not fit"):
        measure_grid(window, cols, rows, THEME)


# -- glyph templates ----------------------------------------------------------------------------
def test_learned_templates_reproduce_the_glyphs_that_were_drawn():
    entries = [(c, 0) for c in "Ag#"] + [("x", BOLD), ("漢", 0)]
    (data, placed), = glyph_sheets(entries, 30, 6)
    crop = _draw(data)
    templates = learn_templates(crop, Grid(0, 0, 8, 17, 30, 6), placed, THEME)
    assert set(templates) == {("A", 0, 0), ("g", 0, 0), ("#", 0, 0), ("x", BOLD, 0),
                              ("漢", 0, 1), ("漢", 0, 2)}
    atlas = raster_for(SPEC, THEME).atlas
    for (text, style, half), mask in templates.items():
        want = atlas.masks[atlas.index(text, style, half)]
        assert np.abs(mask - want).max() < 2 / 255  # rounding to 8-bit colours only


def test_template_atlas_prefers_learned_masks_and_falls_back_to_the_font():
    learned = np.zeros((17, 8), np.float32)
    learned[3:5, 2:6] = 1.0
    atlas = TemplateAtlas(SPEC, {("A", 0, 0): learned})
    assert np.array_equal(atlas.mask("A"), learned)
    assert atlas.mask("B").max() > 0.5  # drawn from DejaVu Sans Mono


# -- the pairing check --------------------------------------------------------------------------
def _checker() -> PairChecker:
    raster = raster_for(SPEC, THEME)
    return PairChecker(CellOCR(raster.atlas), raster)


DATA = "\x1bcls -l\r\n\x1b[1;32mok\x1b[0m \x1b[44m done \x1b[0m 漢字 ┌─┐\r\n$ ".encode()


def test_pair_check_accepts_a_true_pair():
    screen = screen_from_bytes(DATA, 30, 6)
    crop = raster_for(SPEC, THEME).render(screen).frame
    check = _checker().check(crop, screen, cursor_reported=screen.cursor)
    assert check.ok, check.examples
    assert check.judged_cells == 30 * 6


def test_pair_check_rejects_wrong_text_wrong_colour_wrong_cursor_and_unstable():
    screen = screen_from_bytes(DATA, 30, 6)
    crop = raster_for(SPEC, THEME).render(screen).frame
    checker = _checker()

    wrong_text = screen_from_bytes(DATA.replace(b"ls -l", b"ls -k"), 30, 6)
    check = checker.check(crop, wrong_text)
    assert (check.ok, check.reason, check.wrong_cells) == (False, "text", 1)
    assert check.examples[0] == {"row": 0, "col": 4, "want": "k", "got": "l"}

    wrong_colour = screen_from_bytes(DATA.replace(b"[44m", b"[41m"), 30, 6)
    check = checker.check(crop, wrong_colour)
    assert (check.ok, check.reason, check.wrong_colour_cells) == (False, "colour", 6)

    check = checker.check(crop, screen, cursor_reported=(0, 0))
    assert (check.ok, check.reason) == (False, "cursor")
    assert checker.check(crop, screen, stable=False).reason == "unstable"


# -- sources, selection, resume -----------------------------------------------------------------
def _counting_source(name: str, n: int, calls: list[str]) -> Source:
    def make():
        calls.append(name)
        for i in range(n):
            yield f"\x1bc{name} {i}".encode(), 20, 4
    return Source(name, "colors", make)


def test_select_items_round_robin_limit_and_resume(tmp_path: Path):
    store = CaptureStore(tmp_path / "cap")
    store.prepare(resume=False)
    calls: list[str] = []
    sources = [_counting_source("a", 3, calls), _counting_source("b", 1, calls)]
    counts: dict[str, int] = {}
    picked = list(select_items(sources, 3, "all", store, counts))
    assert [p.id for p in picked] == ["a-000", "b-000", "a-001"]  # round-robin, capped

    for item in list(select_items(sources, None, "all", store, counts)):
        (store.items / f"{item.id}.json").write_text("{}")  # pretend it was captured
    assert counts == {"a": 3, "b": 1}
    calls.clear()
    again = list(select_items(sources, None, "all", store, counts))
    assert again == ["a-000", "b-000", "a-001", "a-002"]  # all done: ids only ...
    assert calls == []  # ... and no source was run again


def test_generated_sources_hold_out_whole_sources_for_every_unicode_kind():
    sources = generated_sources()
    test = {s.name for s in sources if s.split == "test"}
    assert test <= HELD_OUT
    for kind in ("unicode:box", "unicode:cjk", "unicode:emoji", "colors:truecolor"):
        assert any(n.startswith(kind) for n in test)
        assert any(s.name.startswith(kind) and s.split == "train" for s in sources)
    items = list(sources[0].items())
    assert items[0].data.startswith(b"\x1bc") and items[0].id.endswith("-000")
    assert [i.data for i in sources[0].items()] == [i.data for i in items]  # seeded: same bytes


def test_read_cast_v1_v2_v3(tmp_path: Path):
    (tmp_path / "v1.cast").write_text(json.dumps(
        {"version": 1, "width": 30, "height": 5, "stdout": [[0.1, "a"], [0.2, "b"]]}))
    (tmp_path / "v2.cast").write_text('{"version": 2, "width": 31, "height": 6}\n'
                                      '[0.1, "o", "x"]\n[0.2, "i", "typed"]\n[0.3, "o", "y"]\n')
    (tmp_path / "v3.cast").write_text('{"version": 3, "term": {"cols": 32, "rows": 7}}\n'
                                      '# a comment\n[0.1, "o", "p"]\n[0.5, "x", "0"]\n')
    assert read_cast(tmp_path / "v1.cast") == (30, 5, ["a", "b"])
    assert read_cast(tmp_path / "v2.cast") == (31, 6, ["x", "y"])
    assert read_cast(tmp_path / "v3.cast") == (32, 7, ["p"])


def test_complete_utf8_drops_only_a_trailing_partial_character():
    text = "a漢".encode()
    assert _complete_utf8(text) == text
    assert _complete_utf8(text[:-1]) == b"a"
    assert _complete_utf8(text[:-2]) == b"a"
    assert _complete_utf8("é".encode()) == "é".encode()


# -- tuning and metrics -------------------------------------------------------------------------
def test_tune_font_recovers_the_font_size_that_drew_the_samples():
    spec = FontSpec(size=12.0, cell_w=8, cell_h=17, baseline=12)
    data = b"\x1bcThe quick brown fox 0123\r\njumps over the lazy dog {}[]"
    samples = [(_draw(data, 30, 3, spec), screen_from_bytes(data, 30, 3))]
    result = tune_font(samples, THEME, 8, 17, sizes=[11.0, 12.0, 13.0])
    assert (result.spec.size, result.spec.baseline) == (12.0, 12)
    assert result.psnr == float("inf")


def test_psnr_and_ssim():
    a = np.zeros((20, 20, 3), np.uint8)
    b = a.copy()
    b[0, 0] = 255
    assert psnr(a, a) == float("inf") and ssim(a, a) == pytest.approx(1.0)
    assert psnr(a, b) == pytest.approx(10 * np.log10(255 ** 2 / (255 ** 2 * 3 / 1200)))
    assert ssim(a, b) < 1.0


# -- CLI ----------------------------------------------------------------------------------------
def test_cli_reports_bad_usage_in_one_line(tmp_path: Path, capsys):
    assert cli_main(["capture", "--out", str(tmp_path / "x"), "--screens", "0"]) == 1
    err = capsys.readouterr().err.strip()
    assert err == "hybrid-nc capture: error: --screens must be at least 1"
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "manifest.json").write_text("{}")
    assert cli_main(["capture", "--out", str(tmp_path / "full"), "--no-progress"]) == 1
    assert "pass --resume" in capsys.readouterr().err

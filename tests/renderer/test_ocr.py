"""The cell-grid OCR as a judge: exact on reference frames of every glyph class, theme, colour and
attribute; robust to noise and compression; loud (not silently right) on misaligned frames."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter

from renderer.fonts import FontSpec
from renderer.ocr import UNREADABLE, CellOCR, char_accuracy, line_accuracy
from renderer.raster import RasterRenderer, shared_atlas
from terminal.screen import (
    BOLD,
    INVERSE,
    ITALIC,
    STRIKE,
    TRUECOLOR,
    UNDERLINE,
    ScreenState,
)
from terminal.themes import THEMES, Theme

H, W = 16, 8


@pytest.fixture(scope="module")
def ocr() -> CellOCR:
    return CellOCR(shared_atlas(FontSpec()))


def typical_screen() -> ScreenState:
    lines = ["$ ls -l", "total 48",
             "drwxr-xr-x 2 user staff 4096 Jan 12 10:03 benchmarks",
             "-rw-r--r-- 1 user staff 1721 Jan 12 10:03 pyproject.toml",
             "-rwxr-xr-x 1 user staff 8312 Jan 12 10:05 run.sh",
             "$ python3 -c 'print(98+45)'", "143",
             "$ echo héllo wörld | tr a-z A-Z", "HéLLO WöRLD", "$ "]
    s = ScreenState.from_lines(lines, 80, 24)
    s.fg[2, 43:] = 4
    s.attrs[2, 43:] = BOLD
    s.fg[4, 43:] = 2
    return s


def dense_screen(seed: int = 0) -> ScreenState:
    rng = np.random.default_rng(seed)
    return ScreenState.from_lines(["".join(chr(int(c)) for c in rng.integers(33, 127, 80))
                                   for _ in range(24)], 80, 24)


def read_back(ocr: CellOCR, screen: ScreenState, frame: np.ndarray, hint: bool = True):
    return ocr.read(frame, screen.cols, screen.rows, hint=screen if hint else None)


def assert_exact(result, screen: ScreenState) -> None:
    for r in range(screen.rows):
        assert result.cells[r] == screen.chars[r], (r, result.lines[r], screen.lines[r])
    assert result.text == screen.text


# -- exact on reference frames ------------------------------------------------------------------
CLASSES = {
    "ascii": [chr(c) for c in range(0x20, 0x7F)],
    "latin1": [chr(c) for c in range(0xA1, 0x100)],
    "box": [chr(c) for c in range(0x2500, 0x2580)],
    "blocks": [chr(c) for c in range(0x2580, 0x25A0)],
    "braille": [chr(c) for c in range(0x2800, 0x2900)],
    "powerline": [chr(c) for c in (*range(0xE0A0, 0xE0A4), *range(0xE0B0, 0xE0C0))],
    "sextants": [chr(c) for c in range(0x1FB00, 0x1FB3C)],
    "scripts": list("αβγδΩλπжЖщЯЁ€£¥½→⇒∀∃≠≤∞✓✗★♥●◆"),
    "cjk": list("日本語のテキスト中文한국어漢字かなカナ"),
    "emoji": list("😀🎉👍🐍🚀✅🔥💡"),
}


def class_screen(chars: list[str], cols: int = 64) -> ScreenState:
    lines, line, width = [], "", 0
    for ch in chars:
        w = 2 if ch in CLASSES["cjk"] + CLASSES["emoji"] else 1
        if width + w > cols:
            lines.append(line)
            line, width = "", 0
        line, width = line + ch, width + w
    lines.append(line)
    s = ScreenState.from_lines(lines, cols, len(lines) + 1)
    s.cursor = (len(lines), 0)
    return s


@pytest.mark.parametrize("theme", list(THEMES))
@pytest.mark.parametrize("name", list(CLASSES))
def test_every_glyph_class_in_every_theme_reads_exactly(ocr: CellOCR, name: str,
                                                        theme: str) -> None:
    s = class_screen(CLASSES[name])
    frame = RasterRenderer(theme=theme).render(s).frame
    assert_exact(read_back(ocr, s, frame), s)


@pytest.mark.parametrize("name", ["ascii", "latin1", "box", "blocks"])
def test_base_vocabulary_reads_without_a_hint(ocr: CellOCR, name: str) -> None:
    # U+00AD (soft hyphen) has no ink, and a full block is one flat colour: without a hint both
    # read as the blank they look like
    s = class_screen([ch for ch in CLASSES[name] if ch not in "\xad█"])
    s.cursor_visible = False
    frame = RasterRenderer().render(s).frame
    result = read_back(ocr, s, frame, hint=False)
    assert result.text == s.text


def test_unknown_characters_without_a_hint_are_unreadable_not_guessed(ocr: CellOCR) -> None:
    s = class_screen(CLASSES["cjk"])
    frame = RasterRenderer(cursor="none").render(s).frame
    result = read_back(ocr, s, frame, hint=False)
    assert result.unreadable > len(CLASSES["cjk"])  # both halves of most of them
    assert char_accuracy(result.text, s.text) < 0.2


def colourful_screen(seed: int = 0, cols: int = 60, rows: int = 12) -> ScreenState:
    rng = np.random.default_rng(seed)
    pool = CLASSES["ascii"][1:] + list("─│┌╬▒⠿\ue0b0é")
    s = ScreenState.from_lines(["".join(pool[int(i)] for i in rng.integers(len(pool), size=cols))
                                for _ in range(rows)], cols, rows)
    truecolour = TRUECOLOR | rng.integers(0, 1 << 24, (rows, cols))
    s.fg[:] = np.where(rng.random((rows, cols)) < 0.3, truecolour,
                       rng.choice([-1, 1, 2, 9, 14, 100, 231, 244], (rows, cols)))
    s.bg[:] = np.where(rng.random((rows, cols)) < 0.2, TRUECOLOR | rng.integers(0, 1 << 24,
                                                                                (rows, cols)),
                       rng.choice([-1, -1, -1, 0, 4, 17, 52, 255], (rows, cols)))
    s.attrs[:] = rng.choice([0, 0, BOLD, ITALIC, UNDERLINE, INVERSE, STRIKE,
                             BOLD | UNDERLINE, BOLD | ITALIC | INVERSE], (rows, cols))
    s.cursor = (int(rng.integers(rows)), int(rng.integers(cols)))
    return s


def _contrast(screen: ScreenState, renderer: RasterRenderer) -> np.ndarray:
    fg, bg, _ = renderer.cell_layers(screen, list(range(screen.rows)))
    return np.abs(fg - bg).max(-1)


@pytest.mark.parametrize("seed", range(4))
def test_truecolour_palette_inverse_styles_and_block_cursor(ocr: CellOCR, seed: int) -> None:
    s = colourful_screen(seed)
    r = RasterRenderer(theme=list(THEMES)[seed % len(THEMES)])
    frame = r.render(s).frame
    result = read_back(ocr, s, frame)
    # a glyph drawn in (nearly) its background colour is invisible: it reads as a blank
    visible = _contrast(s, r) >= 26
    for row in range(s.rows):
        for col in range(s.cols):
            want = s.chars[row][col] if visible[row, col] else " "
            got = result.cells[row][col]
            assert got == want or (not visible[row, col] and got == s.chars[row][col]), \
                (row, col, got, s.chars[row][col])
    styles = result.styles[visible] & (BOLD | ITALIC | UNDERLINE | STRIKE)
    assert (styles == (s.attrs[visible] & (BOLD | ITALIC | UNDERLINE | STRIKE))).mean() > 0.99
    # fitted colours: the glyph's fg and bg, after inverse video and the cursor
    fg, bg, _ = r.cell_layers(s, list(range(s.rows)))
    glyphs = visible & (np.array([[ch.strip() != "" for ch in row] for row in s.chars]))
    assert np.abs(result.fg[glyphs] - fg[glyphs]).max() < 1.5
    assert np.abs(result.bg[glyphs] - bg[glyphs]).max() < 1.5


def test_styles_are_read_back(ocr: CellOCR) -> None:
    s = ScreenState.from_lines(["plain bold italic under strike all"], cols=40, rows=1)
    for start, stop, bits in ((6, 10, BOLD), (11, 17, ITALIC), (18, 23, UNDERLINE),
                              (24, 30, STRIKE), (31, 34, BOLD | ITALIC | UNDERLINE)):
        s.attrs[0, start:stop] = bits
    s.cursor_visible = False
    result = read_back(ocr, s, RasterRenderer().render(s).frame)
    assert_exact(result, s)
    assert np.array_equal(result.styles[0, :34], s.attrs[0, :34])


def test_wide_characters_need_both_halves(ocr: CellOCR) -> None:
    s = ScreenState.from_lines(["日本 😀 x"], cols=12, rows=1)
    s.cursor_visible = False
    r = RasterRenderer()
    frame = r.render(s).frame
    assert_exact(read_back(ocr, s, frame), s)
    broken = frame.copy()
    broken[:, 8:16] = r.theme.bg  # the right half of 日 is missing
    result = read_back(ocr, s, broken)
    assert result.cells[0][0] != "日" and result.cells[0][2:4] == ["本", ""]


@pytest.mark.parametrize("style", ["underline", "bar", "hollow", "none"])
def test_thin_cursors_leave_the_other_cells_exact(ocr: CellOCR, style: str) -> None:
    s = typical_screen()
    s.cursor = (9, 2)
    result = read_back(ocr, s, RasterRenderer(cursor=style).render(s).frame)
    for r in range(s.rows):
        for c in range(s.cols):
            if (r, c) != s.cursor:
                assert result.cells[r][c] == s.chars[r][c], (r, c)


def test_other_font_sizes() -> None:
    spec = FontSpec.sized(20)
    s = class_screen(CLASSES["ascii"] + CLASSES["box"] + CLASSES["cjk"], cols=50)
    frame = RasterRenderer(font=spec).render(s).frame
    result = CellOCR(shared_atlas(spec)).read(frame, s.cols, s.rows, hint=s)
    assert_exact(result, s)


def test_colour_emoji_read_back_with_their_own_colours() -> None:
    spec = FontSpec(color_emoji=True)
    ocr = CellOCR(shared_atlas(spec))
    s = ScreenState.from_lines(["😀🚀 ok ✅", "🐍🔥"], cols=12, rows=2)
    s.attrs[1, :4] = UNDERLINE
    s.bg[0, :4] = 4
    frame = RasterRenderer(font=spec).render(s).frame
    assert_exact(ocr.read(frame, s.cols, s.rows, hint=s), s)
    other = ScreenState.from_lines(["🐍🎉 ok ✅", "😀🚀"], cols=12, rows=2)
    read = ocr.read(frame, s.cols, s.rows, hint=other)  # 🔥 is not in this hint's vocabulary
    assert read.cells[0][:4] == ["😀", "", "🚀", ""]  # in the vocabulary: read as drawn
    assert read.cells[1][:2] == ["🐍", ""]
    assert read.cells[1][2:4] == [UNREADABLE, UNREADABLE]
    assert ocr.read(frame, s.cols, s.rows).cells[0][0] == UNREADABLE


# -- ties, hints and honesty --------------------------------------------------------------------
def test_pixel_identical_readings_go_to_the_hint(ocr: CellOCR) -> None:
    s = ScreenState.from_lines(["█ \u2800 ab"], cols=8, rows=1)
    s.fg[0, 0] = 2
    s.bg[0, 1] = 2  # a blank on green looks exactly like a green full block
    s.cursor_visible = False
    frame = RasterRenderer().render(s).frame
    assert_exact(read_back(ocr, s, frame), s)
    other = s.copy()
    other.chars[0][:3] = [" ", "█", " "]
    other.fg[0, 1], other.bg[0, 1] = 2, -1
    other.fg[0, 0], other.bg[0, 0] = -1, 2
    result = read_back(ocr, other, frame)
    assert result.cells[0][:3] == [" ", "█", " "]  # the same pixels, as the hint says
    assert ocr.read(frame, 8, 1).cells[0][:3] == [" ", " ", " "]  # no hint: blanks


def test_a_hint_never_overrides_a_different_glyph(ocr: CellOCR) -> None:
    drawn = ScreenState.from_lines(["cat 1l0O"], cols=8, rows=1)
    claimed = ScreenState.from_lines(["bat lI0o"], cols=8, rows=1)
    frame = RasterRenderer().render(drawn).frame
    assert read_back(ocr, claimed, frame).cells[0] == drawn.chars[0]


def test_garbage_cells_are_unreadable(ocr: CellOCR) -> None:
    s = typical_screen()
    frame = RasterRenderer().render(s).frame.copy()
    rng = np.random.default_rng(0)
    frame[2 * H:3 * H, 0:4 * W] = rng.integers(0, 256, (H, 4 * W, 3))
    result = read_back(ocr, s, frame)
    assert result.cells[2][:4] == [UNREADABLE] * 4
    assert result.cells[3] == s.chars[3]


# -- degraded frames ----------------------------------------------------------------------------
def _noisy(frame: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(frame + rng.normal(0, sigma, frame.shape), 0, 255).astype(np.uint8)


def _faint_cells_blanked(s: ScreenState, min_contrast: float) -> ScreenState:
    """The screen as a reader can see it: glyphs whose fg and bg differ by less than
    `min_contrast` levels (per channel, at most) are drowned by the noise."""
    out = s.copy()
    low = _contrast(s, RasterRenderer()) < min_contrast
    for r, c in zip(*np.nonzero(low), strict=True):
        if out.chars[r][c] != "":
            out.chars[r][c] = " "
    return out


@pytest.mark.parametrize("sigma, floor", [(2, 1.0), (4, 1.0), (8, 1.0), (16, 0.99)])
def test_gaussian_noise(ocr: CellOCR, sigma: float, floor: float) -> None:
    for seed, s in enumerate((typical_screen(), dense_screen(), colourful_screen(5))):
        frame = RasterRenderer().render(s).frame
        result = read_back(ocr, s, _noisy(frame, sigma, seed))
        truth = _faint_cells_blanked(s, 4 * sigma + 8) if seed == 2 else s
        faint = _contrast(s, RasterRenderer()) < 4 * sigma + 8
        pred = [[s.chars[r][c] if faint[r, c] and seed == 2 else ch
                 for c, ch in enumerate(row)] for r, row in enumerate(result.cells)]
        pred_text = "\n".join("".join(row).rstrip() for row in pred)
        assert char_accuracy(pred_text, s.text) >= floor, (sigma, seed)
        assert truth.rows == s.rows
        assert abs(result.noise - sigma) < max(2.0, 0.25 * sigma) or seed == 2


def _jpeg(frame: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(frame).save(buf, "JPEG", quality=quality)
    return np.asarray(Image.open(buf).convert("RGB"))


@pytest.mark.parametrize("degrade", ["jpeg90", "jpeg75", "jpeg50", "blur0.5"])
def test_jpeg_and_blur(ocr: CellOCR, degrade: str) -> None:
    for s in (typical_screen(), dense_screen(1)):
        frame = RasterRenderer().render(s).frame
        if degrade.startswith("jpeg"):
            bad = _jpeg(frame, int(degrade[4:]))
        else:
            bad = np.asarray(Image.fromarray(frame).filter(ImageFilter.GaussianBlur(0.5)))
        result = read_back(ocr, s, bad)
        assert char_accuracy(result.text, s.text) >= 0.98, degrade


@pytest.mark.parametrize("dx, dy", [(1, 0), (-1, 0), (0, 1), (0, -1)])
def test_a_one_pixel_shift_fails_loudly(ocr: CellOCR, dx: int, dy: int) -> None:
    for s in (typical_screen(), dense_screen(2)):
        frame = RasterRenderer().render(s).frame
        shifted = np.roll(frame, (dy, dx), (0, 1))
        result = read_back(ocr, s, shifted)
        acc = char_accuracy(result.text, s.text)
        assert acc < 0.8, (dx, dy, acc)
        assert line_accuracy(result.lines, s.lines) < 0.7
    assert read_back(ocr, typical_screen(), np.roll(
        RasterRenderer().render(typical_screen()).frame, (dy, dx), (0, 1))).unreadable > 20


# -- read_rows and input checks -----------------------------------------------------------------
def test_read_rows_matches_a_full_read(ocr: CellOCR) -> None:
    s = colourful_screen(7)
    frame = RasterRenderer().render(s).frame
    full = read_back(ocr, s, frame)
    part = ocr.read_rows(frame, s, [5, 1, 9])
    assert part.cells == [full.cells[5], full.cells[1], full.cells[9]]
    assert np.array_equal(part.distance, full.distance[[5, 1, 9]])
    with pytest.raises(ValueError, match="outside"):
        ocr.read_rows(frame, s, [12])


def test_wrong_frame_or_hint_sizes_are_errors(ocr: CellOCR) -> None:
    s = typical_screen()
    frame = RasterRenderer().render(s).frame
    with pytest.raises(ValueError, match="a 80x24 grid of 8x16 cells is 640x384"):
        ocr.read(frame[:-1], 80, 24)
    with pytest.raises(ValueError, match="640x384"):
        ocr.read(np.pad(frame, ((0, 16), (0, 0), (0, 0))), 80, 24)
    with pytest.raises(ValueError, match="hint screen is 80x24"):
        ocr.read(frame[:16 * 10], 80, 10, hint=s)
    with pytest.raises(ValueError, match="RGB"):
        ocr.read(frame[..., 0], 80, 24)


# -- real material: every shared cast's final screen ---------------------------------------------
def _final_screen(path: Path) -> tuple[ScreenState, Theme | None]:
    from terminal import Terminal

    lines = path.read_text(encoding="utf-8").splitlines()
    header = json.loads(lines[0])
    term = Terminal(header["width"], header["height"])
    for line in lines[1:]:
        if line.strip():
            event = json.loads(line)
            if event[1] == "o":
                term.feed(event[2])
    theme = Theme.from_asciicast(header["theme"]) if "theme" in header else None
    return term.snapshot(), theme


def test_final_frames_of_every_shared_cast_read_back_exactly(ocr: CellOCR,
                                                             shared_data: Path) -> None:
    casts = sorted((shared_data / "casts").glob("*.cast"))
    assert len(casts) >= 10
    for path in casts:
        screen, theme = _final_screen(path)
        frame = RasterRenderer(theme=theme or "dark").render(screen).frame
        result = ocr.read(frame, screen.cols, screen.rows, hint=screen)
        assert result.text == screen.text, path.name
        assert result.unreadable == 0


def test_blas_runs_single_threaded_inside_reads_and_is_restored() -> None:
    import threadpoolctl  # a dependency (pyproject.toml)

    from renderer.ocr import single_threaded_blas

    libs = threadpoolctl.ThreadpoolController().select(user_api="blas").lib_controllers
    assert libs, "numpy's BLAS should be visible to threadpoolctl"
    before = [lib.get_num_threads() for lib in libs]
    with single_threaded_blas():
        assert all(lib.get_num_threads() == 1 for lib in libs)
        with single_threaded_blas():  # nested (a reader inside a reader)
            pass
        assert all(lib.get_num_threads() == 1 for lib in libs)
    assert [lib.get_num_threads() for lib in libs] == before


def test_a_blas_loaded_after_the_first_read_is_also_held_to_one_thread() -> None:
    # scipy brings its own OpenBLAS; in the suite it was imported after the OCR's first read
    import subprocess
    import sys

    pytest.importorskip("scipy")
    code = (
        "from renderer.ocr import single_threaded_blas\n"
        "with single_threaded_blas(): pass\n"
        "import scipy.linalg\n"
        "from threadpoolctl import ThreadpoolController\n"
        "libs = ThreadpoolController().select(user_api='blas').lib_controllers\n"
        "assert len(libs) >= 2, libs\n"
        "with single_threaded_blas():\n"
        "    assert all(lib.get_num_threads() == 1 for lib in libs)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[2], timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]

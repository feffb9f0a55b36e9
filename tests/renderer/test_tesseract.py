"""The Tesseract reader (the paper's protocol): preparation, word placement, a real read."""

from __future__ import annotations

import numpy as np
import pytest

from renderer.raster import RasterRenderer
from renderer.tesseract import (
    TesseractConfig,
    TesseractError,
    TesseractReader,
    place_words,
    protocol_scores,
)
from terminal.screen import ScreenState

TSV_HEADER = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext"


def _row(level: int, left: int, top: int, width: int, height: int, text: str) -> str:
    return f"{level}\t1\t1\t1\t1\t1\t{left}\t{top}\t{width}\t{height}\t95.5\t{text}"


def test_missing_binary_is_a_clear_error() -> None:
    with pytest.raises(TesseractError, match="no-such-tesseract not found.*tesseract-ocr"):
        TesseractReader((16, 8), TesseractConfig(binary="no-such-tesseract"))


def test_prepare_inverts_dark_frames_and_upscales() -> None:
    reader = TesseractReader((16, 8))
    s = ScreenState.from_lines(["hi"], cols=4, rows=1)
    dark = RasterRenderer(theme="dark", cursor="none").render(s).frame
    img = np.asarray(reader.prepare(dark))
    assert img.shape == (48, 96)  # 3x, grey
    assert np.median(img) > 200  # the dark background became paper-white
    light = RasterRenderer(theme="light", cursor="none").render(s).frame
    assert np.median(np.asarray(reader.prepare(light))) > 200
    with pytest.raises(ValueError, match="RGB"):
        reader.prepare(dark[..., 0])


def test_words_go_back_on_the_grid_from_their_boxes() -> None:
    reader = TesseractReader((16, 8))
    s = 3  # boxes are in upscaled pixels
    tsv = "\n".join([TSV_HEADER,
                     _row(4, 0, 0, 999, 48, ""),  # a line record: ignored
                     _row(5, 0 * s, 2 * s, 16 * s, 12 * s, "ls"),
                     _row(5, 24 * s, 1 * s, 32 * s, 13 * s, "-l"),
                     _row(5, 40 * s, 34 * s, 40 * s, 12 * s, "total"),  # row 2, col 5
                     _row(5, 8 * s, 33 * s, 16 * s, 12 * s, "x"),  # row 2, col 1
                     _row(5, 60 * s, 33 * s, 8 * s, 12 * s, "48")])  # would overlap: shifts
    words = reader._parse(tsv)
    assert [(w.text, w.row, w.col) for w in words] == [
        ("ls", 0, 0), ("-l", 0, 3), ("total", 2, 5), ("x", 2, 1), ("48", 2, 8)]
    assert place_words(words, 3) == ["ls -l", "", " x   total 48"]
    assert place_words(words, 2) == ["ls -l", ""]  # words below the grid are dropped


def test_protocol_scores_normalise_whitespace() -> None:
    truth = ["$ ls  -l", "total 48", "", ""]
    assert protocol_scores(["$ ls -l", "total   48"], truth) == (1.0, 1.0)
    char, line = protocol_scores(["$ ls -l", "tota1 48"], truth)
    assert char == pytest.approx(1 - 1 / len("$ ls -l\ntotal 48"))
    assert line == 0.5


@pytest.mark.integration
def test_reads_a_perfect_frame_nearly_exactly() -> None:
    lines = ["$ python3 -c 'print(98+45)'", "143", "$ ls -l /etc/hostname",
             "-rw-r--r-- 1 root root 13 Jan 12 10:03 /etc/hostname", "$ echo done", "done"]
    s = ScreenState.from_lines(lines, cols=60, rows=8)
    s.cursor_visible = False
    frame = RasterRenderer().render(s).frame
    result = TesseractReader((16, 8)).read(frame, s.cols, s.rows)
    char, line = protocol_scores(result.lines, s.lines)
    assert char >= 0.95, result.lines
    assert line >= 0.5
    assert result.lines[1].strip() == "143"
    assert all(w.row < 6 for w in result.words)

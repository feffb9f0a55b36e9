"""`hybrid-nc render`: SCREEN.json and text input, options, and every kind of bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hybrid_nc.cli import main
from renderer.fonts import FontSpec
from renderer.ocr import CellOCR, char_accuracy
from renderer.raster import RasterRenderer, shared_atlas
from terminal.screen import ScreenState


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """`hybrid-nc render` with the exact raster unless the test names a renderer (the default,
    neural, has its own test); bad usage that argparse catches returns its exit status too."""
    if "--renderer" not in args:
        args = [*args, "--renderer", "raster"]
    try:
        code = main(["render", *args])
    except SystemExit as e:
        code = int(e.code or 0)
    return code, capsys.readouterr().err


def read_png(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def test_screen_json_is_drawn_exactly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    screen = ScreenState.from_lines(["$ ls", "a.txt  b.txt", "┌─┐ 日本"], cols=20, rows=4)
    screen.fg[1, :5] = 4
    screen.cursor = (3, 0)
    src = tmp_path / "screen.json"
    screen.save(src)
    out = tmp_path / "out.png"
    code, err = run(["--screen", str(src), "--out", str(out)], capsys)
    assert code == 0, err
    frame = read_png(out)
    assert np.array_equal(frame, RasterRenderer().render(ScreenState.load(src)).frame)
    read = CellOCR(shared_atlas(FontSpec())).read(frame, 20, 4, hint=screen)
    assert read.text == screen.text


def test_text_sizes_itself_or_takes_cols_rows(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    txt = tmp_path / "t.txt"
    txt.write_text("hello\nwide 日本\n", encoding="utf-8")
    out = tmp_path / "a.png"
    assert run(["--text", str(txt), "--out", str(out)], capsys)[0] == 0
    assert read_png(out).shape == (2 * 16, 9 * 8, 3)
    assert run(["--text", str(txt), "--cols", "30", "--rows", "5", "--out", str(out)],
               capsys)[0] == 0
    assert read_png(out).shape == (5 * 16, 30 * 8, 3)


def test_theme_font_size_cursor_and_seed(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    txt = tmp_path / "t.txt"
    txt.write_text("abc\n")
    out = tmp_path / "b.png"
    code, err = run(["--text", str(txt), "--theme", "light", "--font-size", "20", "--cursor",
                     "bar", "--seed", "3", "--out", str(out)], capsys)
    assert code == 0, err
    spec = FontSpec.sized(20)
    frame = read_png(out)
    assert frame.shape == (spec.cell_h, 3 * spec.cell_w, 3)
    assert tuple(frame[0, -1]) == (250, 250, 245)  # the light theme's background
    theme = tmp_path / "mine.json"
    theme.write_text(json.dumps({"fg": "#ff0000", "bg": "#000010",
                                 "palette": ":".join(["#000000"] * 16)}))
    assert run(["--text", str(txt), "--theme", str(theme), "--out", str(out)], capsys)[0] == 0
    assert tuple(read_png(out)[0, 0]) == (0, 0, 16)


def test_stdin_text(tmp_path: Path) -> None:
    out = tmp_path / "s.png"
    proc = subprocess.run([sys.executable, "-m", "hybrid_nc", "render", "--text", "-", "--out",
                           str(out)], input=b"from stdin\n", capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert read_png(out).shape == (16, 10 * 8, 3)


BAD = [
    (["--screen", "{dir}/missing.json"], 1, "no such file"),
    (["--screen", "{dir}/bad.json"], 1, "not valid JSON"),
    (["--screen", "{dir}/zero.json"], 1, "out of range"),
    (["--screen", "{dir}/huge.json"], 1, "out of range"),
    (["--text", "{dir}/wide.txt", "--cols", "5"], 1, "more than 5 columns"),
    (["--text", "{dir}/wide.txt", "--cols", "0"], 2, "at least 1"),
    (["--text", "{dir}/ok.txt", "--rows", "1"], 1, "more than 1 rows"),
    (["--text", "{dir}/ansi.txt"], 1, "control character U+001B"),
    (["--text", "{dir}/latin1.txt"], 1, "not UTF-8"),
    (["--text", "{dir}/ok.txt", "--theme", "nope"], 2, "unknown theme 'nope'"),
    (["--text", "{dir}/ok.txt", "--font-size", "1"], 1, "out of range"),
    (["--text", "{dir}/ok.txt", "--renderer", "nope"], 2, "renderer 'nope'"),
    (["--text", "{dir}/ok.txt", "--steps", "2"], 2, "--steps does not apply to --renderer raster"),
    (["--text", "{dir}/ok.txt", "--steps", "0"], 2, "at least 1"),
    (["--text", "{dir}/ok.txt", "--look", "xterm"], 2, "applies to --renderer neural"),
    (["--screen", "{dir}/ok.json", "--cols", "9"], 2, "--cols/--rows apply to --text"),
]


@pytest.fixture()
def inputs(tmp_path: Path) -> Path:
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "zero.json").write_text('{"cols": 0, "rows": 0, "lines": []}')
    (tmp_path / "huge.json").write_text('{"cols": 10000, "rows": 10000, "lines": []}')
    (tmp_path / "ok.json").write_text('{"cols": 4, "rows": 1, "lines": ["ok"]}')
    (tmp_path / "wide.txt").write_text("this is too wide\n")
    (tmp_path / "ok.txt").write_text("one\ntwo\n")
    (tmp_path / "ansi.txt").write_text("\x1b[31mred\x1b[0m\n")
    (tmp_path / "latin1.txt").write_bytes("caf\xe9\n".encode("latin-1"))
    return tmp_path


@pytest.mark.parametrize("args, code, msg", BAD, ids=[b[2] for b in BAD])
def test_bad_input_is_one_line_and_writes_nothing(inputs: Path, args: list[str], code: int,
                                                  msg: str,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    out = inputs / "out.png"
    got, err = run([a.format(dir=inputs) for a in args] + ["--out", str(out)], capsys)
    assert got == code
    assert msg in err and err.count("\n") == 1 and "Traceback" not in err
    assert not out.exists()
    assert not [p for p in inputs.iterdir() if p.name.startswith(".out.png")]


def test_the_default_renderer_is_neural_and_takes_steps_and_seed(
        inputs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = inputs / "n.png"
    code = main(["render", "--text", str(inputs / "ok.txt"), "--steps", "2", "--seed", "4",
                 "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    frame = read_png(out)
    assert frame.shape == (2 * 16, 3 * 8, 3)
    truth = ScreenState.from_lines(["one", "two"], 3, 2)
    read = CellOCR(shared_atlas(FontSpec())).read(frame, 3, 2, hint=truth)
    assert char_accuracy(read.text, truth.text) > 0.8  # drawn by the model, and readable


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["render", "--out", "x.png"])
    assert e.value.code == 2
    with pytest.raises(SystemExit) as e:
        main(["render", "--screen", "a.json", "--text", "b.txt", "--out", "x.png"])
    assert e.value.code == 2
    assert "not allowed with" in capsys.readouterr().err


def test_unwritable_output_leaves_nothing_behind(inputs: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    txt = str(inputs / "ok.txt")
    code, err = run(["--text", txt, "--out", str(inputs / "no" / "dir" / "x.png")], capsys)
    assert code == 1 and "cannot write" in err
    code, err = run(["--text", txt, "--out", str(inputs / "x.jpg")], capsys)
    assert code == 1 and ".png" in err
    code, err = run(["--text", txt, "--out", str(inputs)], capsys)
    assert code == 1 and "directory" in err
    if os.geteuid() != 0:  # root writes anywhere; the read-only case needs a normal user
        ro = inputs / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        code, err = run(["--text", txt, "--out", str(ro / "x.png")], capsys)
        assert code == 1 and "cannot write" in err
        assert list(ro.iterdir()) == []


def test_an_existing_png_is_replaced_whole(inputs: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    out = inputs / "keep.png"
    out.write_bytes(b"old")
    assert run(["--text", str(inputs / "ok.txt"), "--out", str(out)], capsys)[0] == 0
    assert read_png(out).shape == (32, 24, 3)
    mode = out.stat().st_mode & 0o777
    assert mode & 0o044  # readable by others, like any file the user writes


def test_an_overlong_frame_is_refused(inputs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    big = inputs / "big.json"
    big.write_text(json.dumps({"cols": 1000, "rows": 500, "lines": []}))
    code, err = run(["--screen", str(big), "--font-size", "40", "--out",
                     str(inputs / "big.png")], capsys)
    assert code == 1 and "Mpx" in err

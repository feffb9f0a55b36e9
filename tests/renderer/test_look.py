"""The xterm look (renderer/looks.py, renderer/checkpoints/xterm): loading offline, drawing at the
terminal's cell size, the --look flag, and one-line errors."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from hybrid_nc.cli import main
from renderer.capture.metrics import psnr
from renderer.looks import LookError, available_looks, create_look
from renderer.neural import NeuralRenderer
from renderer.ocr import CellOCR
from terminal.screen import BOLD, ScreenState


def _screen() -> ScreenState:
    screen = ScreenState.from_lines(["user@hnc:~$ ls -la", "total 42  │ 日本", "Ok"], 24, 3)
    screen.attrs[2, :2] = BOLD
    screen.fg[1, :5] = 2  # green text
    return screen


def test_shipped_look_loads_offline_and_draws_like_its_terminal(monkeypatch) -> None:
    # no hub, no network: everything the look needs is in the checkpoint folder
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert "xterm" in available_looks()
    r = create_look("xterm", seed=0)
    assert r.cell_size == (17, 8)  # xterm's measured cells, not the default 8x16
    screen = _screen()
    out = r.render(screen)
    assert out.frame.shape == (3 * 17, 24 * 8, 3) and out.frame.dtype == np.uint8
    assert out.info["look"] == "xterm"
    # the terminal's own glyph masks read the frame back exactly ...
    read = CellOCR(r.atlas).read(out.frame, screen.cols, screen.rows, hint=screen)
    assert read.text == screen.text
    # ... and it is close to the glyph lookup of the same terminal, far from our default raster
    lookup = r.make_raster().render(screen).frame
    assert psnr(out.frame, lookup) > 35.0
    assert r.raster.theme.bold_is_bright  # measured from xterm, unlike our "dark" theme
    again = create_look("xterm", seed=0).render(screen).frame
    assert np.array_equal(again, out.frame)  # same seed, same frame
    # a terminal draws a screen one way: the look starts from the noise's mean, so every seed
    # gives that frame (the default renderer's frames do depend on the seed)
    other = create_look("xterm", seed=7).render(screen).frame
    assert np.array_equal(other, out.frame)
    neural = [NeuralRenderer.from_pretrained(seed=s, palette=False).render(screen).frame
              for s in (0, 7)]
    assert not np.array_equal(*neural)


def test_render_flag_draws_at_the_looks_cell_size(tmp_path) -> None:
    text = tmp_path / "t.txt"
    text.write_text("hello\nxterm look\n")
    out = tmp_path / "o.png"
    rc = main(["render", "--look", "xterm", "--text", str(text),  # --look implies neural
               "--out", str(out)])
    assert rc == 0
    assert Image.open(out).size == (10 * 8, 2 * 17)


@pytest.mark.parametrize("argv, message, status", [
    (["--renderer", "neural", "--look", "nosuch"], "unknown look 'nosuch' (available: xterm", 1),
    (["--renderer", "raster", "--look", "xterm"],
     "--look xterm applies to --renderer neural, not 'raster'", 2),  # bad usage
    (["--renderer", "neural", "--look", "xterm", "--theme", "light"],
     "the xterm look draws the colours it was captured with", 1),
])
def test_bad_looks_are_one_line_errors(tmp_path, capsys, argv, message, status) -> None:
    text = tmp_path / "t.txt"
    text.write_text("hi\n")
    rc = main(["render", *argv, "--text", str(text), "--out", str(tmp_path / "o.png")])
    err = capsys.readouterr().err.strip()
    assert rc == status
    assert message in err and "\n" not in err
    with pytest.raises(LookError) as e:
        create_look("nosuch")
    assert "\n" not in str(e.value)


def test_session_uses_the_look_and_its_own_reference() -> None:
    from hybrid_nc import Session

    with Session(renderer="neural", renderer_options={"look": "xterm"},
                 reasoners=("sympy",)) as s:
        step = s.run("calc 2+3")
        assert "5" in step.screen.text
        assert step.frame.size == (80 * 8, 24 * 17)
        assert step.trace["render"]["look"] == "xterm"
        assert step.accuracy["repaired"] == 1.0
        assert s.verifier.raster.cell_size == (17, 8)  # repair composites the look's cells, not 8x16

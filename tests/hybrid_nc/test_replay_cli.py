"""`hybrid-nc replay`: video, GIF, PNG frames and SCREEN.json from a recording; one-line errors
with exit status 1 (bad input) or 2 (bad usage); nothing half-written left behind."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from shared_material import SHARED_DATA  # noqa: E402

from hybrid_nc.cli import main
from orchestrator.recorder import IDLE_TIME_LIMIT
from terminal.recording import Replay, read_cast, screen_at
from terminal.screen import ScreenState

HELLO = SHARED_DATA / "casts" / "r-lib__asciicast__inst__examples__hello.cast"
COLORS = SHARED_DATA / "casts" / "nbedos__termtosvg__docs__examples__casts__colors.cast"


@pytest.fixture
def small_cast(tmp_path: Path) -> Path:
    """A short recording with colour, a resize and an idle pause."""
    events = [[0.0, "o", "$ \x1b[1;32mgreen\x1b[m and 中文\r\n"], [0.3, "o", "$ "],
              [0.5, "r", "24x5"], [0.7, "o", "\x1b[44mblue bg\x1b[m"], [5.0, "o", "!"]]
    path = tmp_path / "small.cast"
    path.write_text("\n".join([json.dumps({"version": 2, "width": 20, "height": 4,
                                           "idle_time_limit": 0.4})]
                              + [json.dumps(e) for e in events]) + "\n")
    return path


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if "partial" in p.name)


def test_prints_the_final_screen(small_cast: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", str(small_cast)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[:2] == ["$ green and 中文", "$ blue bg!"]


def test_screen_out_at_a_moment(small_cast: Path, tmp_path: Path) -> None:
    out = tmp_path / "screen.json"
    assert main(["replay", str(small_cast), "--at", "0.35", "--screen-out", str(out)]) == 0
    screen = ScreenState.load(out)
    assert screen.lines[1].rstrip() == "$" and screen.cols == 20
    assert screen.to_json() == screen_at(read_cast(small_cast), 0.35).to_json()
    assert main(["replay", str(small_cast), "--screen-out", str(out)]) == 0
    end = json.loads(out.read_text())
    assert end["cols"] == 24 and end["lines"][1].rstrip() == "$ blue bg!"
    assert any(run.get("bg") == 4 for run in end["styles"])


def test_frames_dir(small_cast: Path, tmp_path: Path) -> None:
    frames = tmp_path / "frames"
    assert main(["replay", str(small_cast), "--frames-dir", str(frames), "--fps", "5"]) == 0
    pngs = sorted(frames.glob("frame_*.png"))
    cast = read_cast(small_cast)  # 1.1 s after the idle limit: frames at 0, 0.2, ... 1.2
    assert len(pngs) == len(Replay(cast).frame_times(5)) == 7
    first, last = Image.open(pngs[0]), Image.open(pngs[-1])
    assert first.size == last.size == (24 * 8, 5 * 16)  # every frame at the largest size
    assert leftovers(frames) == []


@pytest.mark.parametrize(("flag", "frames"), [
    ([], int((0.5 + IDLE_TIME_LIMIT) * 2) + 1),  # no header: the default cut, as asciinema's
    (["--idle-time-limit", "1"], 4),  # 0.5 s, then the 9.5 s wait cut to 1 s: 0 .. 1.5 s
    (["--idle-time-limit", "0"], 21),  # 0: real time, the whole 10 s
])
def test_idle_time_limit_cuts_the_waits(tmp_path: Path, flag: list[str], frames: int) -> None:
    """A recording whose header sets no limit: long waits are cut in the frames written."""
    cast = tmp_path / "wait.cast"
    cast.write_text("\n".join(json.dumps(e) for e in (
        {"version": 2, "width": 10, "height": 2}, [0.0, "o", "$ "], [0.5, "o", "sleep"],
        [10.0, "o", "\r\n$ "])) + "\n")
    out = tmp_path / "frames"
    assert main(["replay", str(cast), "--frames-dir", str(out), "--fps", "2", *flag]) == 0
    assert len(list(out.glob("frame_*.png"))) == frames


def test_gif(small_cast: Path, tmp_path: Path) -> None:
    out = tmp_path / "a.gif"
    assert main(["replay", str(small_cast), "--out", str(out), "--fps", "5"]) == 0
    gif = Image.open(out)
    assert gif.size == (24 * 8, 5 * 16) and gif.n_frames >= 3
    durations = []
    for i in range(gif.n_frames):
        gif.seek(i)
        durations.append(gif.info["duration"])
    assert sum(durations) == pytest.approx(7 * 200, abs=20)  # identical frames are merged
    assert leftovers(tmp_path) == []


@pytest.mark.integration
def test_mp4_frames_read_back_exactly(tmp_path: Path, shared_data: Path) -> None:
    """H.264 MP4 via imageio-ffmpeg: right frame count and size, and every frame read back by
    the cell-grid OCR against the emulator's screen (colours and all, on a colourful cast)."""
    import imageio

    from renderer.ocr import CellOCR
    from renderer.raster import RasterRenderer

    out = tmp_path / "colors.mp4"
    assert main(["replay", str(COLORS), "--out", str(out), "--fps", "1", "--renderer", "raster"]) == 0
    cast = read_cast(COLORS, idle_time_limit=IDLE_TIME_LIMIT)  # no header: the default cut
    times = Replay(cast).frame_times(1)
    probe = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
                            "-show_entries", "stream=nb_read_frames,width,height,pix_fmt",
                            "-of", "json", str(out)], capture_output=True, text=True, check=True)
    stream = json.loads(probe.stdout)["streams"][0]
    assert int(stream["nb_read_frames"]) == len(times)
    assert (stream["width"], stream["height"]) == (cast.cols * 8 * 2, cast.rows * 16 * 2)
    assert stream["pix_fmt"] == "yuv420p"

    renderer = RasterRenderer(theme=cast.theme)
    ocr = CellOCR(renderer.atlas)
    replay = Replay(cast)
    reader = imageio.get_reader(out)
    n = 0
    for t, img in zip(times, reader, strict=True):
        s = replay.frame(t).screen
        px = np.asarray(img, np.float32)
        px = px.reshape(px.shape[0] // 2, 2, px.shape[1] // 2, 2, 3).mean((1, 3))  # undo scale 2
        got = ocr.read(np.rint(px).astype(np.uint8), s.cols, s.rows, hint=s)
        assert got.cells == s.chars, f"frame at {t}s"
        n += 1
    assert n == len(times)


def test_mp4_scale_and_size(small_cast: Path, tmp_path: Path) -> None:
    import imageio

    out = tmp_path / "s.mp4"
    assert main(["replay", str(small_cast), "--out", str(out), "--fps", "5", "--scale", "1"]) == 0
    frames = [f for f in imageio.get_reader(out)]  # list() would ask len(), which is inf
    assert len(frames) == 7 and frames[0].shape == (5 * 16, 24 * 8, 3)


# -- errors ------------------------------------------------------------------------------
def test_bad_input_exits_1_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                          ) -> None:
    bad = tmp_path / "bad.cast"
    bad.write_text('{"version": 2, "width": 80, "height": 24}\n[0.1, "o", "x"]\n[0.2, "o"\n')
    for argv in (["replay", str(bad)], ["replay", str(tmp_path / "missing.cast")]):
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert err.startswith("hybrid-nc replay: error: ") and err.count("\n") == 1, err
    huge = tmp_path / "huge.cast"
    huge.write_text('{"version": 2, "width": 10000, "height": 10000}\n')
    assert main(["replay", str(huge)]) == 1
    assert "out of range" in capsys.readouterr().err


def test_a_cut_recording_plays_up_to_the_cut(small_cast: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """A recording cut mid-event (a killed recorder) plays, with one line about the rest."""
    cut = tmp_path / "cut.cast"
    cut.write_bytes(small_cast.read_bytes() + b'[6.0, "o", "never fini')
    assert main(["replay", str(cut)]) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines()[:2] == ["$ green and 中文", "$ blue bg!"]
    assert captured.err.startswith("hybrid-nc replay: warning: the recording is cut off at "
                                   "line 7") and captured.err.count("\n") == 1, captured.err
    assert "the rest was unreadable" in captured.err
    out = tmp_path / "screen.json"
    assert main(["replay", str(cut), "--at", "0.35", "--screen-out", str(out)]) == 0
    assert ScreenState.load(out).to_json() == screen_at(read_cast(small_cast), 0.35).to_json()
    assert main(["replay", str(cut), "--renderer", "raster", "--fps", "5",
                 "--frames-dir", str(tmp_path / "frames")]) == 0
    assert len(list((tmp_path / "frames").glob("*.png"))) == 7


@pytest.mark.parametrize("extra", [["--out", "x.avi"], ["--fps", "0"], ["--fps", "abc"],
                                   ["--at", "-1"], ["--theme", "nope"], ["--scale", "9"],
                                   ["--renderer", "nonsense"], ["--steps", "0"],
                                   ["--renderer", "raster", "--steps", "2"]])
def test_bad_usage_exits_2(small_cast: Path, extra: list[str],
                           capsys: pytest.CaptureFixture[str]) -> None:
    try:
        code = main(["replay", str(small_cast), *extra])
    except SystemExit as e:  # argparse's own refusal
        code = e.code
    assert code == 2
    assert capsys.readouterr().err.count("\n") == 1


@pytest.mark.parametrize("target", ["missing-dir/out.mp4", "a-file/out.gif", "a-file/frames"])
def test_unwritable_outputs(small_cast: Path, tmp_path: Path, target: str,
                            capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    flag = "--frames-dir" if target.endswith("frames") else "--out"
    assert main(["replay", str(small_cast), flag, str(tmp_path / target)]) == 1
    err = capsys.readouterr().err
    assert "cannot write" in err and err.count("\n") == 1
    assert leftovers(tmp_path) == []


def test_no_traceback_from_the_real_command(tmp_path: Path) -> None:
    bad = tmp_path / "bad.cast"
    bad.write_bytes(b'{"version": 2, "width": 80, "height": 24}\n[0.1, "o", "\xff"]\n')
    run = subprocess.run([sys.executable, "-m", "hybrid_nc", "replay", str(bad), "--out",
                          str(tmp_path / "o.mp4")], capture_output=True, text=True)
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert "UTF-8" in run.stderr and run.stderr.count("\n") == 1
    assert list(tmp_path.iterdir()) == [bad]


def test_a_failing_renderer_leaves_nothing(small_cast: Path, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure halfway through writing removes the partial video and frames."""
    from hybrid_nc.commands import replay as cmd

    calls = {"n": 0}
    real = cmd.make_renderer

    def flaky(name: str, theme: object) -> object:
        r = real(name, theme)
        render = r.render

        def once_then_fail(*a: object, **k: object) -> object:
            calls["n"] += 1
            if calls["n"] > 2:
                raise RuntimeError("renderer died")
            return render(*a, **k)

        r.render = once_then_fail
        return r

    monkeypatch.setattr(cmd, "make_renderer", flaky)
    out, frames = tmp_path / "v.mp4", tmp_path / "frames"
    assert main(["replay", str(small_cast), "--out", str(out), "--frames-dir", str(frames)]) == 1
    assert not out.exists() and list(frames.iterdir()) == [] and leftovers(tmp_path) == []

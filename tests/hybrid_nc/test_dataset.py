"""`hybrid-nc dataset export` and hybrid_nc/episodes.py: recordings and live sessions as a
Hugging Face dataset that `datasets.load_from_disk` reads back, one row per frame."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from datasets import load_from_disk

from hybrid_nc.cli import main
from hybrid_nc.episodes import COLUMNS, session_frames, training_records, write_episodes
from orchestrator.session import Session
from renderer.raster import RasterRenderer
from terminal.recording import read_cast, screen_at, write_cast
from terminal.screen import ScreenState

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def cast(tmp_path: Path) -> Path:
    events = [(0.1, "o", "$ "), (0.5, "i", "ls\r"), (0.6, "o", "ls\r\nnotes.txt\r\n$ "),
              (0.8, "o", "\x1b[1;31mred\x1b[m"), (1.0, "r", "24x5")]
    return write_cast(tmp_path / "ls.cast", 20, 4, events)


def test_export_reads_back_one_row_per_frame(cast: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "ds"
    assert main(["dataset", "export", str(cast), str(cast), "--out", str(out)]) == 0
    assert "wrote 10 frames of 2 recordings" in capsys.readouterr().err
    ds = load_from_disk(str(out))
    assert tuple(ds.column_names) == COLUMNS and len(ds) == 10
    rows = [ds[i] for i in range(5)]
    assert [r["index"] for r in rows] == [0, 1, 2, 3, 4]
    assert [r["time"] for r in rows] == [0.0, 0.1, 0.6, 0.8, 1.0]
    assert rows[2]["action"] == "ls\r" and rows[1]["action"] == "" and rows[2]["route"] == ""
    recording = read_cast(cast)
    raster = RasterRenderer(theme="dark")
    for r in rows:
        screen = ScreenState.from_json(r["screen"])
        assert screen.to_json() == screen_at(recording, r["time"]).to_json()
        assert np.array_equal(np.asarray(r["image"].convert("RGB")),
                              raster.render(screen).frame)
        assert r["caption"].startswith(f"Terminal {screen.cols}x{screen.rows}")
    assert (rows[-1]["cols"], rows[-1]["rows"]) == (24, 5)
    assert json.loads(rows[3]["screen"])["styles"]  # colours and attributes are kept


def test_a_cut_recording_exports_its_complete_events(cast: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    cut = tmp_path / "cut.cast"
    cut.write_bytes(cast.read_bytes() + b'[1.2, "o", "unfini')
    assert main(["dataset", "export", str(cut), "--out", str(tmp_path / "ds"),
                 "--max-frames", "3"]) == 0
    err = capsys.readouterr().err
    assert "warning: " in err and "the recording is cut off at line 7" in err
    assert len(load_from_disk(str(tmp_path / "ds"))) == 3


def test_bad_input_is_one_line(cast: Path, tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "precious.txt").write_text("keep me")
    assert main(["dataset", "export", str(cast), "--out", str(tmp_path / "busy")]) == 1
    err = capsys.readouterr().err
    assert "is not a dataset" in err and err.count("\n") == 1
    assert (tmp_path / "busy" / "precious.txt").read_text() == "keep me"
    assert main(["dataset", "export", str(tmp_path / "missing.cast"), "--out",
                 str(tmp_path / "ds")]) == 1
    assert "cannot read" in capsys.readouterr().err and not (tmp_path / "ds").exists()
    with pytest.raises(SystemExit) as e:
        main(["dataset", "export", str(cast)])  # --out is required
    assert e.value.code == 2


def test_a_live_session_exports_and_feeds_training(tmp_path: Path) -> None:
    with Session(renderer="raster", reasoners=("sympy",), cols=30, rows=6) as s:
        s.run("98+45")
        s.run("2^10")
        ds = write_episodes(session_frames(s, episode="calc"), tmp_path / "live")
        back = load_from_disk(str(tmp_path / "live"))
        assert len(back) == len(ds) == len(s.steps) == 3
        last = back[2]
        assert last["action"] == "2^10" and last["route"] == "sympy"
        assert "1024" in ScreenState.from_json(last["screen"]).text
        assert np.array_equal(np.asarray(last["image"].convert("RGB")), s.last.frame_array)
    records = list(training_records(back[i] for i in range(len(back))))
    assert records and {"row", "prev", "action", "theme", "source"} <= set(records[0])
    assert any(r["action"] == "2^10" and r["prev"] for r in records)

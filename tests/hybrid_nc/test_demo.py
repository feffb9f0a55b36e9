"""`hybrid-nc demo`: the tour's outputs, a video paced for a viewer (every step held long enough
to read, waits cut), and clean output when stderr is not a terminal."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from hybrid_nc.cli import main
from hybrid_nc.commands import demo

SHORT_TOUR = [("run", "echo hello", "a real shell"), ("type", "98+45", ""),
              ("key", "Enter", "sympy"), ("run", "ask hi", "skipped without an LLM")]


def video_seconds(path: Path) -> float:
    probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration",
                            "-of", "json", str(path)], capture_output=True, text=True, check=True)
    return float(json.loads(probe.stdout)["format"]["duration"])


@pytest.mark.integration
def test_demo_video_holds_each_step(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(demo, "TOUR", SHORT_TOUR)
    out = tmp_path / "demo"
    assert main(["demo", "--renderer", "raster", "--reasoners", "shell,sympy", "--out", str(out),
                 "--hold", "1.5", "--idle-time-limit", "1"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert [s["line"] for s in report["steps"]][-2:] == ["5", "98+45"]
    header = json.loads((out / "session.cast").read_text().splitlines()[0])
    assert header["idle_time_limit"] == 1
    # two steps held 1.5 s each and five keys at the typing pace, whatever the shell's start-up
    # and command times were
    expected = 2 * 1.5 + 5 * demo.TYPE_HOLD
    assert expected <= video_seconds(out / "session.mp4") <= expected + 0.5
    err = capsys.readouterr().err
    assert "\x1b[" not in err  # not a terminal: no colours, no bars
    assert "skipped: no LLM" in err and "a real shell" in err

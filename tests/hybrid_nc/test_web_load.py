"""The web terminal's load script, small: three tabs at once on a real `hybrid-nc serve` for a few
seconds. No tab ever sees another's screen, a fourth tab past the cap is refused with a clear
message, and no sandbox or shell process outlives its tab or the server."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]


def test_three_tabs_are_isolated_capped_and_leave_nothing(tmp_path: Path) -> None:
    out, figures = tmp_path / "web_load.md", tmp_path / "web_load.json"
    done = subprocess.run(
        [sys.executable, "benchmarks/bench_web_load.py", "--sessions", "3", "--seconds", "4",
         "--cap", "3", "--out", str(out), "--json", str(figures)],
        cwd=ROOT, capture_output=True, text=True, timeout=200)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    result = json.loads(figures.read_text())
    (phase,) = result["phases"]
    assert phase["errors"] == [] and phase["keys_lost"] == 0
    assert phase["commands"] >= 3 and phase["keys"] > 30  # every tab typed and ran commands
    assert phase["leaks"] == []  # no tab's token ever appeared on another tab's screen
    assert phase["refused"].startswith("server busy: 3 sessions are open (max 3)")
    assert phase["helpers_peak"] >= 3 and phase["left_after_phase"] == []
    assert result["processes_seen"] >= 3 and result["left_after_stop"] == []
    assert "| 3 |" in out.read_text()

"""Every example runs, as a user would run it: a subprocess from a fresh working directory, with
small N and the raster renderer where the example takes --renderer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]


def run_example(name: str, *args: str, cwd: Path, timeout: float = 300) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run([sys.executable, str(EXAMPLES / name), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{name} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout + proc.stderr


def test_every_example_is_tested() -> None:
    tested = {"helloworld.py", "export_mp4.py", "compare_reasoners.py", "swap_renderer.py",
              "run_tape.py", "batch_sessions.py", "gym_terminal.py"}
    assert {p.name for p in EXAMPLES.glob("*.py")} == tested


def test_helloworld_is_at_most_ten_lines_and_runs(tmp_path: Path) -> None:
    source = (EXAMPLES / "helloworld.py").read_text()
    assert len(source.strip().splitlines()) <= 10
    out = run_example("helloworld.py", cwd=tmp_path)
    assert "hello, world" in out and "\n143\n" in out and "route=shell" in out
    assert Image.open(tmp_path / "hello.png").size == (80 * 8, 24 * 16)


def test_export_mp4(tmp_path: Path) -> None:
    out = run_example("export_mp4.py", "--renderer", "raster", "--out", "s.mp4", cwd=tmp_path)
    assert (tmp_path / "s.mp4").read_bytes()[4:8] == b"ftyp"
    cast = (tmp_path / "s.cast").read_text().splitlines()
    assert json.loads(cast[0])["version"] == 2
    assert "apple\nfig\npear" in out and "5050" in out


def test_compare_reasoners(tmp_path: Path) -> None:
    out = run_example("compare_reasoners.py", "--renderer", "raster", "-n", "4", cwd=tmp_path)
    assert "4/4 agree" in out


def test_swap_renderer(tmp_path: Path) -> None:
    out = run_example("swap_renderer.py", "-n", "2", "--steps", "1", cwd=tmp_path)
    assert "symbolic screens identical across renderers: yes" in out
    rows = [ln.split() for ln in out.splitlines() if ln.startswith(("raster ", "neural "))]
    assert [r[0] for r in rows] == ["raster", "neural"]
    assert float(rows[0][3]) == 1.0  # the raster's frames are exact after repair


def test_run_tape(tmp_path: Path) -> None:
    out = run_example("run_tape.py", str(EXAMPLES / "demo.tape"), "--renderer", "raster",
                      "--out", str(tmp_path), "--fast", cwd=tmp_path)
    assert "Hello from a VHS tape" in out and "1267650600228229401496703205376" in out
    for name in ("demo.mp4", "demo.txt", "demo.png"):
        assert (tmp_path / name).stat().st_size > 0, name
    assert "^C" in (tmp_path / "demo.txt").read_text()


def test_batch_sessions(tmp_path: Path) -> None:
    out = run_example("batch_sessions.py", "-n", "3", "--workers", "2", "--renderer", "raster",
                      cwd=tmp_path)
    assert "3/3 sessions answered right" in out
    assert "session" in out  # tqdm's bar on stderr


def test_gym_terminal(tmp_path: Path) -> None:
    out = run_example("gym_terminal.py", "--renderer", "raster", cwd=tmp_path)
    assert "route=sympy" in out and "\n81\n" in out and "hello from gymnasium" in out

"""Corrupted and truncated neural checkpoints: a clear one-line CheckpointError at load (through
the class, the registry and `hybrid-nc exec --renderer neural` with HYBRID_NC_CHECKPOINT), never a
stray exception. A tiny CellDiT is saved with save_pretrained and then damaged."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from orchestrator.session import Session
from renderer import registry
from renderer.models.cell_dit import CellDiT
from renderer.neural import WEIGHTS_NAME, CheckpointError, NeuralRenderer

pytestmark = pytest.mark.timeout(300)
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def good_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny CellDiT written by save_pretrained (config.json + safetensors), to damage copies of."""
    torch.manual_seed(0)
    model = CellDiT(width=16, depth=1, heads=2, mlp_ratio=1.0, window=1)
    path = tmp_path_factory.mktemp("ckpt") / "good"
    model.save_pretrained(path)
    assert (path / WEIGHTS_NAME).is_file() and (path / "config.json").is_file()
    return path


def _weights(p: Path) -> Path:
    return p / WEIGHTS_NAME


def _header_size(p: Path) -> int:
    return int.from_bytes(_weights(p).read_bytes()[:8], "little")


def _edit_config(**changes: object) -> Callable[[Path], None]:
    def edit(p: Path) -> None:
        cfg = json.loads((p / "config.json").read_text())
        cfg.update(changes)
        (p / "config.json").write_text(json.dumps(cfg))
    return edit


def _poke(offset: int, data: bytes) -> Callable[[Path], None]:
    def edit(p: Path) -> None:
        raw = bytearray(_weights(p).read_bytes())
        raw[offset:offset + len(data)] = data
        _weights(p).write_bytes(bytes(raw))
    return edit


def _truncate_weights(fraction: float) -> Callable[[Path], None]:
    def edit(p: Path) -> None:
        raw = _weights(p).read_bytes()
        _weights(p).write_bytes(raw[:int(len(raw) * fraction)])
    return edit


def _replace_weights_with_directory(p: Path) -> None:
    _weights(p).unlink()
    _weights(p).mkdir()


DAMAGE: dict[str, tuple[Callable[[Path], None], str]] = {
    "weights cut in half": (_truncate_weights(0.5), "are truncated or corrupt"),
    "weights cut to 5 bytes": (_truncate_weights(0.0001), "are truncated or corrupt"),
    "weights one byte short": (lambda p: _weights(p).write_bytes(_weights(p).read_bytes()[:-1]),
                               "are truncated or corrupt"),
    "weights empty": (lambda p: _weights(p).write_bytes(b""), "are truncated or corrupt"),
    "header length garbage": (_poke(0, b"\xff" * 8), "are truncated or corrupt"),
    "header json garbage": (_poke(12, b"#"), "are truncated or corrupt"),
    "weights missing": (lambda p: _weights(p).unlink(), "no neural checkpoint at"),
    "weights is a directory": (_replace_weights_with_directory, "no neural checkpoint at"),
    "config missing": (lambda p: (p / "config.json").unlink(), "no neural checkpoint at"),
    "config truncated": (lambda p: (p / "config.json").write_text(
        (p / "config.json").read_text()[:25]), "is unreadable"),
    "config not utf-8": (lambda p: (p / "config.json").write_bytes(b"\xff\xfe{garbage"),
                         "is unreadable"),
    "config is a list": (lambda p: (p / "config.json").write_text("[]"), "is not a JSON object"),
    "config is null": (lambda p: (p / "config.json").write_text("null"), "is not a JSON object"),
    "another model class": (_edit_config(_class_name="UNet2DModel"), "not a CellDiT"),
    "width of the wrong type": (_edit_config(width="wide"), "does not describe a CellDiT"),
    "negative width": (_edit_config(width=-16), "does not describe a CellDiT"),
    "heads do not divide width": (_edit_config(heads=3), "does not describe a CellDiT"),
    "width differs from the weights": (_edit_config(width=32), "do not match its config"),
    "depth differs from the weights": (_edit_config(depth=2), "do not match its config"),
    "cell size differs": (_edit_config(cell_h=20), "do not match its config"),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damaged_checkpoint_is_a_one_line_error(good_checkpoint: Path, tmp_path: Path,
                                                damage: str) -> None:
    edit, expect = DAMAGE[damage]
    path = tmp_path / "ckpt"
    shutil.copytree(good_checkpoint, path)
    edit(path)
    with pytest.raises(CheckpointError) as err:
        NeuralRenderer.from_pretrained(path)
    message = str(err.value)
    assert expect in message and "\n" not in message and str(path) in message
    with pytest.raises(CheckpointError) as err:  # the same through the renderer registry
        registry.create("neural", checkpoint=str(path))
    assert str(err.value) == message


def test_the_undamaged_copy_loads(good_checkpoint: Path) -> None:
    r = NeuralRenderer.from_pretrained(good_checkpoint)
    assert r.cell_size == (16, 8)


def test_corrupt_tensor_data_is_caught_when_drawing(good_checkpoint: Path, tmp_path: Path) -> None:
    """safetensors has no checksum: bytes damaged inside the tensor data load without error. Set
    to NaN, they are caught at the first frame instead: the session shows the raster frame and
    says why."""
    path = tmp_path / "ckpt"
    shutil.copytree(good_checkpoint, path)
    start = 8 + _header_size(path)
    size = _weights(path).stat().st_size
    _poke(start, b"\xff" * (size - start))(path)  # every float32 = NaN
    renderer = NeuralRenderer.from_pretrained(path)
    with Session(renderer=renderer, reasoners=("sympy",)) as s:
        step = s.run("6*7")
        assert "42" in step.screen.text
        assert step.trace["render"]["fallback"] == "raster (ValueError: renderer returned NaN)"
        assert np.isfinite(step.frame_array).all()


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hybrid_nc", *args], capture_output=True,
                          text=True, timeout=240, cwd=ROOT, env={**os.environ, **env})


@pytest.mark.slow
def test_exec_with_a_damaged_checkpoint_exits_1_with_one_line(good_checkpoint: Path,
                                                              tmp_path: Path) -> None:
    for damage, how in (("weights cut in half", "env"), ("config is a list", "--model")):
        path = tmp_path / how.strip("-")
        shutil.copytree(good_checkpoint, path)
        DAMAGE[damage][0](path)
        # HYBRID_NC_CHECKPOINT names the checkpoint, and so does --model DIR (the option every
        # renderer that loads a model takes)
        where = ["--model", str(path)] if how == "--model" else []
        proc = _cli("exec", "--renderer", "neural", *where, "--reasoners", "sympy", "--", "1+1",
                    env={"HYBRID_NC_CHECKPOINT": str(path)} if how == "env" else {})
        assert proc.returncode == 1, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
        assert lines[0].startswith("hybrid-nc exec: error: ") and str(path) in lines[0]
        assert DAMAGE[damage][1] in lines[0]
        assert proc.stdout == ""


def test_switching_to_a_damaged_checkpoint_mid_session_loses_nothing(good_checkpoint: Path,
                                                                     tmp_path: Path) -> None:
    """A model that fails to load while a session runs: one line, the session keeps the renderer
    and settings it had, and the next step draws as before."""
    path = tmp_path / "damaged"
    shutil.copytree(good_checkpoint, path)
    DAMAGE["weights cut in half"][0](path)
    with Session(renderer="raster", reasoners=("sympy",)) as s:
        before = s.run("6*7")
        with pytest.raises(Exception) as e:
            s.configure(renderer="neural", model=str(path))
        assert "\n" not in str(e.value) and str(path) in str(e.value)
        assert s.config.renderer == "raster" and s.renderer.name == "raster"
        after = s.run("6*8")
        assert "48" in after.screen.text and "42" in after.screen.text
        assert after.accuracy["raw"] == 1.0 and before.index < after.index

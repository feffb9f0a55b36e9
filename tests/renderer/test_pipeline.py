"""TerminalPipeline (renderer/pipeline.py): a diffusers DiffusionPipeline at a tiny config
(save/load round trip, inputs, determinism, progress bar), and on the shipped checkpoint, the
same image as NeuralRenderer's frame for the same screen and seed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from diffusers import DiffusionPipeline, FlowMatchEulerDiscreteScheduler
from tiny_models import tiny

import hybrid_nc
from renderer.models.cell_dit import CellDiT
from renderer.models.cell_net import CellDiTNet
from renderer.neural import CheckpointError, NeuralRenderer, load_model
from renderer.pipeline import TerminalPipeline, load_pipeline
from terminal.screen import BOLD, ScreenState


def tiny_pipeline() -> TerminalPipeline:
    return TerminalPipeline(transformer=tiny(), scheduler=FlowMatchEulerDiscreteScheduler(shift=1.0))


def screen() -> ScreenState:
    s = ScreenState.from_lines(["$ echo hi", "hi", "$"], cols=12, rows=4)
    s.fg[1, :2] = 2
    s.attrs[0, :1] = BOLD
    s.cursor = (2, 2)
    return s


def test_save_and_load_in_diffusers_layout(tmp_path: Path) -> None:
    pipe = tiny_pipeline()
    pipe.save_pretrained(tmp_path / "ckpt")
    index = json.loads((tmp_path / "ckpt" / "model_index.json").read_text())
    assert index["_class_name"] == "TerminalPipeline"
    assert index["transformer"] == ["renderer.models.cell_dit", "CellDiT"]
    assert (tmp_path / "ckpt" / "scheduler" / "scheduler_config.json").is_file()
    again = TerminalPipeline.from_pretrained(tmp_path / "ckpt")
    for a, b in zip(pipe.transformer.parameters(), again.transformer.parameters(), strict=True):
        assert torch.equal(a, b)
    image = pipe(screen(), generator=torch.manual_seed(0), output_type="np").images[0]
    same = again(screen(), generator=torch.manual_seed(0), output_type="np").images[0]
    assert image.shape == (4 * 16, 12 * 8, 3) and np.array_equal(image, same)
    # the renderer loads the same folder as plain torch (CellDiTNet), the trainer as CellDiT
    net = load_model(tmp_path / "ckpt")
    assert isinstance(net, CellDiTNet) and not isinstance(net, CellDiT)
    assert isinstance(load_model(tmp_path / "ckpt", model_class=CellDiT), CellDiT)
    for (name, a), (name_b, b) in zip(pipe.transformer.named_parameters(), net.named_parameters(),
                                      strict=True):
        assert name == name_b and torch.equal(a, b)


@pytest.mark.parametrize("steps", [1, 3])
def test_the_renderer_steps_as_diffusers_scheduler_does(tmp_path: Path, steps: int) -> None:
    """The renderer's own Euler step (no diffusers import) against the pipeline's
    FlowMatchEulerDiscreteScheduler: the same pixels, to the bit, at several steps."""
    pipe = tiny_pipeline()
    pipe.set_progress_bar_config(disable=True)
    pipe.save_pretrained(tmp_path / "ckpt")
    s = screen()
    for palette in (False, True):  # the model's own pixels, and projected
        image = pipe(s, num_inference_steps=steps, generator=torch.manual_seed(0),
                     palette=palette, output_type="np").images[0]
        renderer = NeuralRenderer(load_model(tmp_path / "ckpt"), precision="float32", seed=0,
                                  steps=steps, palette=palette)
        assert np.array_equal(image, renderer.render(s).frame)


def test_inputs_seeds_and_outputs() -> None:
    pipe = tiny_pipeline()
    pipe.set_progress_bar_config(disable=True)
    s = screen()
    a = pipe(s, num_inference_steps=2, generator=torch.manual_seed(0)).images[0]
    b = pipe(s.to_json(), num_inference_steps=2, generator=torch.manual_seed(0)).images[0]
    c = pipe(s, num_inference_steps=2, generator=torch.manual_seed(1)).images[0]
    assert a.size == (12 * 8, 4 * 16)
    assert np.array_equal(np.asarray(a), np.asarray(b))  # a SCREEN.json dict is the same screen
    assert not np.array_equal(np.asarray(a), np.asarray(c))  # the seed picks the noise
    (images,) = pipe(s, generator=torch.manual_seed(0), guidance_scale=2.0, return_dict=False)
    assert images[0].size == a.size
    with pytest.raises(ValueError, match="num_inference_steps"):
        pipe(s, num_inference_steps=0)
    with pytest.raises(TypeError, match="ScreenState"):
        pipe(["not", "a", "screen"])


def test_diffusers_progress_bar(capsys: pytest.CaptureFixture[str]) -> None:
    pipe = tiny_pipeline()
    pipe(screen(), num_inference_steps=3, generator=torch.manual_seed(0))
    assert "3/3" in capsys.readouterr().err


def test_a_broken_pipeline_folder_is_one_line(tmp_path: Path) -> None:
    tiny_pipeline().save_pretrained(tmp_path / "ckpt")
    weights = tmp_path / "ckpt" / "transformer" / "diffusion_pytorch_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    for load in (load_pipeline, load_model):
        with pytest.raises(CheckpointError) as err:
            load(tmp_path / "ckpt")
        assert "\n" not in str(err.value)


def test_the_shipped_checkpoint_draws_what_the_renderer_draws() -> None:
    path = hybrid_nc.checkpoint_path("default")
    assert DiffusionPipeline.load_config(path)["_class_name"] == "TerminalPipeline"
    pipe = hybrid_nc.TerminalPipeline.from_pretrained(path)
    pipe.set_progress_bar_config(disable=True)
    s = screen()
    image = pipe(s, num_inference_steps=1, generator=torch.manual_seed(0)).images[0]
    renderer = NeuralRenderer.from_pretrained(path, precision="float32", seed=0)
    frame = renderer.render(s).frame
    assert np.array_equal(np.asarray(image), frame)
    with pytest.raises(ValueError, match="shipped"):
        hybrid_nc.checkpoint_path("nope")


def test_drawing_with_the_neural_renderer_does_not_import_diffusers() -> None:
    """Start-up: a neural Session loads, draws and closes without diffusers (nor the
    torch._dynamo and scipy.stats its import pulls in)."""
    import subprocess
    import sys

    code = ("import sys\nfrom hybrid_nc import Session\n"
            "with Session(renderer='neural', reasoners=['sympy']) as s:\n"
            "    assert s.run('1+1').accuracy['raw'] == 1.0\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('diffusers', 'scipy', 'transformers') or m.startswith('torch._dynamo')))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"

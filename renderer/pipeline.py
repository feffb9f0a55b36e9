"""`TerminalPipeline`: the neural renderer as a diffusers `DiffusionPipeline`.

    import hybrid_nc, torch
    from hybrid_nc import TerminalPipeline
    pipe = TerminalPipeline.from_pretrained(hybrid_nc.checkpoint_path("default"))
    image = pipe(screen, num_inference_steps=1, generator=torch.manual_seed(0)).images[0]

A checkpoint folder in diffusers' layout holds `model_index.json`, `transformer/` (the CellDiT:
config.json + diffusion_pytorch_model.safetensors) and `scheduler/` (the flow-matching Euler
scheduler); `save_pretrained` writes that layout and `NeuralRenderer` loads such a folder through
this class. A call draws a whole screen as a first frame: every row from its cell-aligned caption,
with no previous frame, through the renderer's own denoising loop (`neural.denoise_rows`), so the
image equals `NeuralRenderer`'s first frame of the same screen with the same seed (the renderer
adds the frame cache, damage and repair on top).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from diffusers import DiffusionPipeline, FlowMatchEulerDiscreteScheduler
from diffusers.pipelines.pipeline_utils import ImagePipelineOutput

from terminal.screen import ScreenState
from terminal.themes import Theme

from .fonts import FontSpec
from .models.cell_dit import CellDiT
from .neural import CellCaptioner, CheckpointError, denoise_rows, patches_to_rows
from .palette import PaletteConfig

PIPELINE_INDEX = "model_index.json"


def is_pipeline_folder(path: str | Path) -> bool:
    """Whether `path` is a checkpoint in diffusers' pipeline layout (has model_index.json)."""
    return (Path(path) / PIPELINE_INDEX).is_file()


class TerminalPipeline(DiffusionPipeline):
    """Draws a terminal screen with a CellDiT.

    Args:
        transformer: the CellDiT that predicts each cell's clean pixels.
        scheduler: a FlowMatchEulerDiscreteScheduler (shift 1: sigmas evenly spaced).
    """

    model_cpu_offload_seq = "transformer"

    def __init__(self, transformer: CellDiT, scheduler: FlowMatchEulerDiscreteScheduler) -> None:
        super().__init__()
        self.register_modules(transformer=transformer, scheduler=scheduler)
        self._captioners: dict[tuple[str, str], CellCaptioner] = {}

    def captioner(self, theme: str | Theme = "dark", font: FontSpec | None = None) -> CellCaptioner:
        """The cell captioner for `theme` (kept: building a glyph atlas takes a moment)."""
        key = (theme.name if isinstance(theme, Theme) else str(theme), repr(font))
        if key not in self._captioners:
            cfg = self.transformer.config
            captioner = CellCaptioner(theme, font, cfg.glyph_style)
            if captioner.raster.atlas.cell != (cfg.cell_h, cfg.cell_w):
                h, w = captioner.raster.atlas.cell
                raise CheckpointError(f"checkpoint cells are {cfg.cell_w}x{cfg.cell_h} px but "
                                      f"the font draws {w}x{h} px cells")
            self._captioners[key] = captioner
        return self._captioners[key]

    @staticmethod
    def check_inputs(screen: Any, num_inference_steps: int, guidance_scale: float) -> ScreenState:
        if isinstance(screen, ScreenState):
            state = screen
        elif isinstance(screen, dict | str):
            state = ScreenState.from_json(screen)
        else:
            raise TypeError(f"screen must be a ScreenState or a SCREEN.json dict, "
                            f"not {type(screen).__name__}")
        if not isinstance(num_inference_steps, int) or num_inference_steps < 1:
            raise ValueError(f"num_inference_steps must be an integer >= 1, "
                             f"got {num_inference_steps!r}")
        if not guidance_scale >= 1.0:
            raise ValueError(f"guidance_scale must be >= 1, got {guidance_scale!r}")
        return state

    @torch.inference_mode()
    def __call__(self, screen: ScreenState | dict[str, Any] | str, num_inference_steps: int = 1,
                 generator: torch.Generator | None = None, *, theme: str | Theme = "dark",
                 guidance_scale: float = 1.0, action: Any = None,
                 palette: bool | PaletteConfig = True,
                 output_type: Literal["pil", "np"] = "pil",
                 return_dict: bool = True) -> ImagePipelineOutput | tuple[list[Any]]:
        """Draw `screen`.

        Args:
            screen: a ScreenState, or a SCREEN.json dict (or its text).
            num_inference_steps: denoising steps (the shipped model is trained for 1-4).
            generator: its seed picks the noise; each row draws from its own generator seeded
                by (seed, row), so a row looks the same whichever rows are drawn with it. None:
                a seed from torch's global generator.
            theme: colour theme of the caption (a name or a Theme).
            guidance_scale: classifier-free guidance (1: none; more costs a second pass).
            action: the action that led to this screen (hashed into the model's action token).
            palette: project each cell onto its bg -> fg segment after the last step, as the
                renderer does (renderer/palette.py); False: the model's pixels untouched.
            output_type: "pil" (PIL images) or "np" ((H, W, 3) uint8 arrays).

        Returns an ImagePipelineOutput with one image (or `(images,)` when not return_dict).
        """
        # 1. check inputs
        state = self.check_inputs(screen, num_inference_steps, guidance_scale)
        cfg = self.transformer.config
        if generator is None:
            seed = int(torch.randint(0, 2**62, (1,)).item())
        else:
            seed = int(generator.initial_seed())
        # 2. the cell-aligned caption of every row
        rows = list(range(state.rows))
        caption = self.captioner(theme).encode(state, rows)
        # 3. the denoising loop (the renderer's own): a first frame, nothing drawn before it
        with self.progress_bar(total=num_inference_steps) as bar:
            patches, finite = denoise_rows(
                self.transformer, self.scheduler, caption, None, rows=rows,
                steps=num_inference_steps, seed=seed, guidance=guidance_scale, action=action,
                on_step=bar.update,
                palette=PaletteConfig.of(palette))
        # 4. pixels; rows whose output is not finite come from the reference rasterizer
        if not finite.all():
            bad = np.flatnonzero(~finite)
            patches[bad] = caption.target()[bad]
        pixels = patches_to_rows(patches, cfg.cell_h, cfg.cell_w)  # (H, W, 3)
        if output_type == "np":
            images: list[Any] = [pixels]
        else:  # not numpy_to_pil: it takes floats in [0, 1]
            from PIL import Image

            images = [Image.fromarray(pixels)]
        self.maybe_free_model_hooks()
        if not return_dict:
            return (images,)
        return ImagePipelineOutput(images=images)


def load_pipeline(path: str | Path) -> TerminalPipeline:
    """`TerminalPipeline.from_pretrained(path)` for a local folder, every problem as a one-line
    CheckpointError (the renderer's loading path for checkpoints in diffusers' layout)."""
    path = Path(path)
    if not is_pipeline_folder(path):
        raise CheckpointError(f"no pipeline checkpoint at {path} (needs {PIPELINE_INDEX})")
    from diffusers.utils import logging as diffusers_logging

    bar_was_on = diffusers_logging.is_progress_bar_enabled()
    diffusers_logging.disable_progress_bar()  # a bar per load would clutter every command
    try:
        pipe = TerminalPipeline.from_pretrained(str(path), local_files_only=True)
    except CheckpointError:
        raise
    except Exception as e:  # diffusers raises many kinds; the renderer wants one line
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(f"checkpoint {path} does not load as a pipeline: {msg[:200]}"
                              ) from None
    finally:
        if bar_was_on:
            diffusers_logging.enable_progress_bar()
    pipe.set_progress_bar_config(disable=True)  # the renderer draws many frames, quietly
    return pipe


__all__ = ["PIPELINE_INDEX", "TerminalPipeline", "is_pipeline_folder", "load_pipeline"]

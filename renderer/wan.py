"""The Wan2.1 adapter: the paper's backbone, reprompted with our detailed captions.

The "Neural Computers" terminal model is Wan2.1 image-to-video fine-tuned on terminal recordings;
told the exact screen content in its prompt ("reprompting") it drew the right text far more often.
`WanRenderer` puts that backbone behind our `Renderer` protocol through diffusers'
`WanImageToVideoPipeline`, loaded from a local diffusers-format directory (never a hub download):

    previous frame (or, before the first one, a raster of the screen)  --image-->  Wan I2V
    caption(screen, damage, tier).text  (renderer/captions.py, prose)  --prompt-->    |
                                                                                      v
                         last generated frame, resized to cols*cell_w x rows*cell_h (uint8 RGB)

The full 14B model is a GPU option (about 28 GB of bf16 weights for the transformer alone); a CPU
is allowed only for tiny test pipelines (`CPU_WEIGHT_LIMIT`). Wan regenerates the whole frame, so
every render reports all rows as redrawn; the orchestrator's verify-and-repair still applies.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from PIL import Image

from terminal.screen import ScreenState
from terminal.themes import get_theme

from .base import RenderOutput
from .captions import Caption, Tier, caption_text, make_caption
from .fonts import FontSpec
from .raster import CursorStyle, RasterConfig, RasterRenderer

PromptMode = Literal["auto", "detailed", "semantic", "caption"]

# Weights (bytes on disk) above which a CPU load is refused: the tiny test pipelines are ~1 MB,
# the real Wan2.1-I2V-14B directory is tens of GB and would not fit this class of machine anyway.
CPU_WEIGHT_LIMIT = 2 * 1024**3
PIPELINE_CLASS = "WanImageToVideoPipeline"
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt")


class WanError(RuntimeError):
    """A Wan model directory, option or device that cannot be used (one-line message)."""


# -- configuration ---------------------------------------------------------------------------
@dataclass(frozen=True)
class WanConfig:
    """How each frame is generated.

    num_frames: video length per call (1 + a multiple of the VAE's temporal factor, 4 for Wan);
        the *last* frame is the output, so at least 5 to move past the conditioning frame.
    height, width: the generation size (multiples of the model's spatial factor x patch, 16 for
        Wan2.1); None: the screen's pixel size rounded to those multiples.
    prompt: where the text prompt comes from (see `WanRenderer.prompt_for`): "auto" (the prose
        caption of the tier asked for, renderer/captions.py; a caller's own text as given),
        "caption", "detailed" or "semantic".
    """

    num_inference_steps: int = 40
    guidance_scale: float = 5.0
    num_frames: int = 5
    height: int | None = None
    width: int | None = None
    seed: int = 0
    prompt: PromptMode = "auto"
    negative_prompt: str = ("blurry text, garbled characters, misspelled words, distorted letters, "
                            "camera shake, noise, watermark")
    max_sequence_length: int = 512
    theme: str = "dark"
    cursor: CursorStyle = "block"
    font: FontSpec = FontSpec()

    def __post_init__(self) -> None:
        if not (isinstance(self.num_inference_steps, int) and self.num_inference_steps >= 1):
            raise WanError(f"num_inference_steps must be an integer >= 1, got {self.num_inference_steps!r}")
        if not (isinstance(self.num_frames, int) and self.num_frames >= 1):
            raise WanError(f"num_frames must be an integer >= 1, got {self.num_frames!r}")
        if not isinstance(self.guidance_scale, int | float) or self.guidance_scale < 0:
            raise WanError(f"guidance_scale must be a number >= 0, got {self.guidance_scale!r}")
        for name in ("height", "width"):
            v = getattr(self, name)
            if v is not None and not (isinstance(v, int) and v > 0):
                raise WanError(f"{name} must be a positive integer, got {v!r}")
        if not (isinstance(self.seed, int) and self.seed >= 0):
            raise WanError(f"seed must be an integer >= 0, got {self.seed!r}")
        if self.prompt not in ("auto", "detailed", "semantic", "caption"):
            raise WanError(f"prompt must be auto, detailed, semantic or caption, got {self.prompt!r}")
        if not (isinstance(self.max_sequence_length, int) and self.max_sequence_length >= 8):
            raise WanError(f"max_sequence_length must be an integer >= 8, got {self.max_sequence_length!r}")
        try:
            get_theme(self.theme)
        except ValueError as e:
            raise WanError(str(e)) from None

    @classmethod
    def from_options(cls, options: dict[str, Any], base: WanConfig | None = None) -> WanConfig:
        """`base` (default: the defaults) with loose options applied; CLI strings such as "4"
        are converted, and an unknown name raises a WanError listing the known ones."""
        base = base or cls()
        known = {f.name: f.default for f in fields(cls)}
        values: dict[str, Any] = {}
        for name, value in options.items():
            if name not in known:
                raise WanError(f"unknown wan renderer option {name!r} "
                               f"(choose from {', '.join(sorted(known))})")
            values[name] = _coerce(name, value, known[name])
        return replace(base, **values) if values else base


def _coerce(name: str, value: Any, default: Any) -> Any:
    if not isinstance(value, str) or isinstance(default, str):
        return value
    if name in ("height", "width") and value.lower() in ("", "none", "auto"):
        return None
    try:
        if name == "guidance_scale":
            return float(value)
        if name in ("num_inference_steps", "num_frames", "height", "width", "seed",
                    "max_sequence_length"):
            return int(value)
    except ValueError:
        raise WanError(f"option {name} needs a number, got {value!r}") from None
    return value


# -- loading ---------------------------------------------------------------------------------
def _weights_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*")
               if p.is_file() and p.name.endswith(WEIGHT_SUFFIXES))


def _resolve_device(device: str | torch.device) -> torch.device:
    name = str(device)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise WanError(f"unknown device {name!r} (use auto, cpu or cuda[:N])") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise WanError(f"device {name!r} was asked for but torch {torch.__version__} sees no "
                       f"CUDA GPU; the Wan renderer needs one for real models")
    return dev


def _resolve_dtype(dtype: str | torch.dtype | None, device: torch.device) -> torch.dtype:
    if dtype is None:
        # bf16 halves GPU memory (diffusers' Wan examples run the transformer in it); on this
        # class of CPU the spike measured bf16 slower than fp32.
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    if isinstance(dtype, torch.dtype):
        return dtype
    table = {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16,
             "bf16": torch.bfloat16, "float16": torch.float16, "fp16": torch.float16}
    try:
        return table[str(dtype)]
    except KeyError:
        raise WanError(f"unknown dtype {dtype!r} (choose from {', '.join(table)})") from None


def check_model_dir(path: str | Path) -> dict[str, Any]:
    """Check that `path` is a diffusers-format Wan image-to-video directory; returns its
    model_index.json. Raises WanError saying what is wrong."""
    root = Path(path).expanduser()
    if not root.exists():
        raise WanError(f"Wan model directory not found: {root}")
    if not root.is_dir():
        raise WanError(f"Wan model path is not a directory: {root}")
    index_file = root / "model_index.json"
    if not index_file.is_file():
        raise WanError(f"{root} is not a diffusers pipeline directory (no model_index.json)")
    try:
        index = json.loads(index_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise WanError(f"cannot read {index_file}: {e}") from None
    if not isinstance(index, dict):
        raise WanError(f"{index_file} is not a JSON object")
    cls_name = index.get("_class_name")
    if cls_name != PIPELINE_CLASS:
        raise WanError(f"{root} holds a {cls_name or 'unknown'} pipeline, not a {PIPELINE_CLASS} "
                       f"(Wan2.1 image-to-video)")
    for part in ("transformer", "vae", "text_encoder", "tokenizer", "scheduler"):
        if not (root / part).is_dir():
            raise WanError(f"{root} has no {part}/ folder: an incomplete Wan pipeline directory")
    return index


def _load_pipeline(root: Path, device: torch.device, dtype: torch.dtype, offload: bool) -> Any:
    try:
        from diffusers import AutoencoderKLWan, WanImageToVideoPipeline
        from diffusers.utils import is_ftfy_available
    except ImportError as e:
        raise WanError(f"the Wan renderer needs diffusers with Wan support: {e}") from None
    if not is_ftfy_available():
        # diffusers' Wan prompt cleaning calls ftfy and fails with a NameError without it
        raise WanError("the Wan renderer needs the ftfy package: pip install 'hybrid-nc[wan]'")
    try:
        import transformers
    except ImportError:
        raise WanError("the Wan renderer needs transformers: pip install 'hybrid-nc[wan]'") from None
    from diffusers.utils import deprecation_utils

    # newer diffusers renamed torch_dtype to dtype (and warn on the old name); older ones only
    # know torch_dtype
    dkw = "dtype" if hasattr(deprecation_utils, "_TORCH_DTYPE_DEPRECATION_MESSAGE") else "torch_dtype"
    try:
        # Wan's VAE and CLIP image encoder stay in fp32 whatever `dtype` says, as diffusers' Wan
        # examples load them: together they are under 3 GiB, so bf16 would save little.
        extra: dict[str, Any] = {
            "vae": AutoencoderKLWan.from_pretrained(root, subfolder="vae", local_files_only=True,
                                                    **{dkw: torch.float32})}
        if (root / "image_encoder").is_dir():
            extra["image_encoder"] = transformers.CLIPVisionModel.from_pretrained(
                root, subfolder="image_encoder", dtype=torch.float32, local_files_only=True)
        pipe = WanImageToVideoPipeline.from_pretrained(root, local_files_only=True, **{dkw: dtype},
                                                       **extra)
    except WanError:
        raise
    except Exception as e:  # truncated safetensors, mismatched shapes, bad configs, ...
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise WanError(f"cannot load the Wan model at {root}: {first[:300]}") from None
    _check_pipeline(pipe, root)
    if offload:
        if device.type != "cuda":
            raise WanError("offload=True moves idle parts to the CPU between uses: it needs a GPU")
        pipe.enable_model_cpu_offload(device=device)
    else:
        pipe.to(device)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def _check_pipeline(pipe: Any, where: Any) -> None:
    """The Wan2.1 I2V layout: the transformer sees noise latents + mask + image latents."""
    transformer = getattr(pipe, "transformer", None)
    vae = getattr(pipe, "vae", None)
    if transformer is None or vae is None:
        raise WanError(f"{where}: the Wan pipeline has no transformer or VAE")
    z = int(vae.config.z_dim)
    expect = 2 * z + int(pipe.vae_scale_factor_temporal)
    if int(transformer.config.in_channels) != expect:
        raise WanError(f"{where}: transformer takes {transformer.config.in_channels} input channels, "
                       f"an image-to-video Wan needs {expect} (is this a text-to-video model?)")


# -- the renderer ----------------------------------------------------------------------------
class WanRenderer:
    """Wan2.1 image-to-video as a `Renderer`: previous frame + detailed caption -> next frame.

    Build it with `WanRenderer.from_pretrained(path, device=..., dtype=...)` (a diffusers-format
    directory such as Wan2.1-I2V-14B-480P-Diffusers), or `WanRenderer(model=pipeline)` around a
    `WanImageToVideoPipeline` already in memory. Options are `WanConfig` fields.

    State: the last frame drawn (the next call's conditioning image), the screen it showed, and
    the frame it was itself conditioned on (so a redraw of the same screen, e.g. a repair with
    another seed, starts from the same frame instead of from the frame it replaces).
    """

    name = "wan"

    def __init__(self, model: str | Path | Any = None, *, config: WanConfig | None = None,
                 device: str | torch.device = "auto", dtype: str | torch.dtype | None = None,
                 offload: bool = False, **options: Any) -> None:
        self.config = WanConfig.from_options(options, base=config)
        if model is None or (isinstance(model, str) and not model.strip()):
            raise WanError("the wan renderer needs a model directory: --renderer wan --model PATH "
                           "(a diffusers-format Wan2.1 I2V directory)")
        if isinstance(model, str | Path):
            root = Path(model).expanduser()
            check_model_dir(root)
            dev = _resolve_device(device)
            weights = _weights_bytes(root)
            if dev.type == "cpu" and weights > CPU_WEIGHT_LIMIT:
                raise WanError(f"the Wan model at {root} has {weights / 1024**3:.1f} GiB of weights: "
                               f"run it on a GPU (device='cuda'); the CPU is only for tiny test models")
            self.pipe = _load_pipeline(root, dev, _resolve_dtype(dtype, dev), offload)
            self.model_path: str | None = str(root)
        else:
            _check_pipeline(model, type(model).__name__)
            self.pipe = model
            self.model_path = None
        try:  # the first frame's conditioning image, and the cell geometry of every frame
            self.raster = RasterRenderer(RasterConfig(theme=self.config.theme, font=self.config.font,
                                                      cursor=self.config.cursor))
        except ValueError as e:  # e.g. an unknown cursor style
            raise WanError(str(e)) from None
        self.reset()

    @classmethod
    def from_pretrained(cls, path: str | Path, *, device: str | torch.device = "auto",
                        dtype: str | torch.dtype | None = None, offload: bool = False,
                        config: WanConfig | None = None, **options: Any) -> WanRenderer:
        """Load a local diffusers-format Wan2.1 I2V directory (offline: local_files_only).

        device: "auto" (CUDA if present), "cpu" or "cuda[:N]"; dtype: None picks bf16 on a GPU and
        fp32 on the CPU; offload: keep idle parts in CPU memory (diffusers' model CPU offload).
        """
        return cls(path, config=config, device=device, dtype=dtype, offload=offload, **options)

    # -- Renderer protocol -----------------------------------------------------------------
    @property
    def cell_size(self) -> tuple[int, int]:
        return self.raster.cell_size

    @property
    def atlas(self) -> Any:
        """The glyph atlas of the font the frames are laid out in (the session's OCR and repair
        raster use the same one)."""
        return self.raster.atlas

    def make_raster(self) -> RasterRenderer:
        """A reference rasterizer of its own in this renderer's font, theme and cursor."""
        return RasterRenderer(self.raster.config)

    def reset(self) -> None:
        self._frame: np.ndarray | None = None
        self._screen: ScreenState | None = None
        self._cond: np.ndarray | None = None  # the image the last frame was conditioned on
        self._cond_source = ""
        self._seed: int | None = None
        self._damage: list[int] | None = None  # what the last frame's prompt called changed

    def generation_size(self, screen: ScreenState) -> tuple[int, int]:
        """(height, width) the model generates at for `screen`: the config's, or the screen's
        pixel size rounded up to the model's multiples (up, so no glyph is shrunk)."""
        mh, mw = self._multiples()
        ch, cw = self.cell_size
        height = self.config.height or -(-screen.rows * ch // mh) * mh
        width = self.config.width or -(-screen.cols * cw // mw) * mw
        if height % mh or width % mw:
            raise WanError(f"height and width must be multiples of {mh} and {mw} for this model, "
                           f"got {height}x{width}")
        return height, width

    def caption(self, screen: ScreenState, *, damage: Iterable[int] | None = None,
                tier: Tier | None = None, action: str = "", route: str | None = None) -> Caption:
        """The prompt as a Caption (prose form, renderer/captions.py): the tier asked for, else
        the config's ("semantic" when `prompt="semantic"`, otherwise detailed)."""
        tier = tier or ("semantic" if self.config.prompt == "semantic" else "detailed")
        return make_caption(tier, screen, damage, action, route, self.config.theme,
                            form="prose", cursor=self.config.cursor)

    def prompt_for(self, screen: ScreenState, damage: Iterable[int] | None = None,
                   caption: Any = None, action: Any = None) -> tuple[str, str]:
        """(prompt, source): the text the model is conditioned on and where it came from.

        "auto": a Caption of the detailed or native tier (this renderer's own, or the plain form
        of another) is said in prose, the same facts in words Wan's text encoder knows, for the
        rows this frame redraws; a string or another tier's text is used as given (None: our
        own detailed prompt).
        "caption" always uses the caller's text; "detailed" / "semantic" always make our own
        prompt of that tier.
        """
        act = "" if action is None else str(action)
        mode = self.config.prompt
        if mode in ("detailed", "semantic"):
            return self.caption(screen, damage=damage, tier=mode, action=act).text, mode
        given = caption_text(caption)
        if (mode == "auto" and isinstance(caption, Caption)
                and caption.tier in ("detailed", "native")):
            # said again for the rows this frame really redraws (a first frame or a resize
            # describes every line, whatever the caller's damage was)
            again = make_caption(caption.tier, screen, damage, act, None, self.config.theme,
                                 withheld=caption.withheld, form="prose", cursor=self.config.cursor)
            return again.text, "detailed"
        if given is not None:
            own = mode == "auto" and isinstance(caption, Caption) and caption.form == "prose"
            return given, caption.tier if own else "caption"
        return self.caption(screen, damage=damage, tier="detailed", action=act).text, "detailed"

    def render(self, screen: ScreenState, *, damage: Iterable[int] | None = None,
               caption: Caption | str | None = None, action: Any = None,
               seed: int | None = None) -> RenderOutput:
        """Generate the frame that shows `screen`, conditioned on the previous frame and the
        caption (what `caption()` gave, a caller's own prompt string, or None: made here).
        `seed` (default: the config's) makes the frame reproducible."""
        t0 = time.perf_counter()
        seed = self.config.seed if seed is None else seed
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
            raise WanError(f"seed must be an integer >= 0, got {seed!r}")
        seed = int(seed)
        ch, cw = self.cell_size
        out_h, out_w = screen.rows * ch, screen.cols * cw
        damage = None if damage is None else sorted(set(damage))

        # 1. Decide what changed. Wan redraws the whole frame; the damage only shapes the prompt.
        prev = self._screen
        same_size = (prev is not None and self._frame is not None
                     and self._frame.shape[:2] == (out_h, out_w))
        redraw = same_size and prev is not None and _same_screen(prev, screen)
        if redraw and not damage and seed == self._seed:
            assert self._frame is not None
            return RenderOutput(self._frame.copy(), [], {"renderer": self.name, "unchanged": True})
        if not same_size:
            damage = None  # nothing to carry over: describe every line
        elif redraw and damage is None:
            damage = self._damage  # a redraw (e.g. repair with another seed) repeats the request
        elif damage is None and prev is not None:
            damage = [r for r in range(screen.rows) if not screen.same_cells(prev, r)]
            if prev.cursor != screen.cursor:
                damage = sorted(set(damage) | {prev.cursor[0], screen.cursor[0]})

        # 2. The conditioning image: the previous frame, or a raster of this screen at the start.
        #    A redraw of the same screen starts from the frame the replaced one started from.
        if redraw and self._cond is not None:
            cond, cond_source = self._cond, self._cond_source
        elif same_size and self._frame is not None:
            cond, cond_source = self._frame, "previous frame"
        else:
            self.raster.reset()
            cond = self.raster.render(screen).frame
            cond_source = "raster of this screen (no previous frame)"

        # 3. The prompt.
        prompt, prompt_source = self.prompt_for(screen, damage, caption, action)
        tokens = self._count_tokens(prompt)

        # 4. Generate.
        height, width = self.generation_size(screen)
        num_frames = self._check_num_frames(self.config.num_frames)
        generator = torch.Generator(device="cpu").manual_seed(seed)
        t1 = time.perf_counter()
        try:
            result = self.pipe(
                image=Image.fromarray(cond), prompt=prompt,
                negative_prompt=self.config.negative_prompt if self.config.guidance_scale > 1 else None,
                height=height, width=width, num_frames=num_frames,
                num_inference_steps=self.config.num_inference_steps,
                guidance_scale=self.config.guidance_scale, generator=generator, output_type="np",
                max_sequence_length=self.config.max_sequence_length)
        except torch.cuda.OutOfMemoryError:
            raise WanError(f"out of GPU memory generating {num_frames} frame(s) at {width}x{height}: "
                           f"lower height/width/num_frames or load with offload=True") from None
        except (RuntimeError, ValueError) as e:  # e.g. a size past the model's rotary table
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            raise WanError(f"the Wan pipeline failed at {width}x{height}, {num_frames} frame(s): "
                           f"{first[:300]}") from None
        t2 = time.perf_counter()
        video = np.asarray(result.frames[0])  # (F, H, W, 3) float in [0, 1]

        # 5. The last frame, at the screen's pixel size.
        info: dict[str, Any] = {
            "renderer": self.name, "model": self.model_path, "seed": seed,
            "steps": self.config.num_inference_steps, "guidance_scale": self.config.guidance_scale,
            "num_frames": num_frames, "height": height, "width": width,
            "conditioning": cond_source, "prompt": prompt, "prompt_source": prompt_source,
            "prompt_tokens": tokens, "prompt_truncated": tokens > self.config.max_sequence_length,
            "changed_rows": damage, "redraw": redraw,
        }
        last = video[-1]
        if not np.isfinite(last).all():
            # a NaN frame would poison every later frame through the conditioning image
            frame = self.raster.render(screen).frame
            info["fallback"] = "raster (the model produced NaN pixels)"
        else:
            frame = np.rint(np.clip(last, 0.0, 1.0) * 255).astype(np.uint8)
            if frame.shape[:2] != (out_h, out_w):
                frame = np.asarray(Image.fromarray(frame).resize((out_w, out_h), Image.LANCZOS))
        info["timings_ms"] = {"generate": round((t2 - t1) * 1e3, 2),
                              "total": round((time.perf_counter() - t0) * 1e3, 2)}
        self._frame, self._cond, self._cond_source = frame, cond, cond_source
        self._screen, self._seed, self._damage = screen.copy(), seed, damage
        return RenderOutput(frame.copy(), list(range(screen.rows)), info)

    # -- helpers ----------------------------------------------------------------------------
    def _multiples(self) -> tuple[int, int]:
        spatial = int(self.pipe.vae_scale_factor_spatial)
        patch = tuple(self.pipe.transformer.config.patch_size)
        return spatial * int(patch[1]), spatial * int(patch[2])

    def _check_num_frames(self, n: int) -> int:
        k = int(self.pipe.vae_scale_factor_temporal)
        if (n - 1) % k:
            # diffusers would silently round; say so instead, with the nearest valid lengths
            lo = (n - 1) // k * k + 1
            raise WanError(f"num_frames must be 1 + a multiple of {k} for this model "
                           f"(e.g. {lo} or {lo + k}), got {n}")
        return n

    def _count_tokens(self, prompt: str) -> int:
        tokenizer = getattr(self.pipe, "tokenizer", None)
        if tokenizer is None:
            return 0
        # the pipeline collapses whitespace before tokenizing; count what it will encode
        return len(tokenizer(" ".join(prompt.split()), add_special_tokens=True).input_ids)


def _same_screen(a: ScreenState, b: ScreenState) -> bool:
    return (a.cols == b.cols and a.rows == b.rows and a.cursor == b.cursor
            and a.cursor_visible == b.cursor_visible
            and all(a.same_cells(b, r) for r in range(a.rows)))

"""The neural renderer: every damaged row is *drawn* by a diffusion model (renderer/models/cell_dit.py)
from a cell-aligned caption, the previous frame and the action.

Data path of one `render` call:

    ScreenState --caption(tier)--> Caption (the text for the report; the tier and withheld rows)
                --CellCaptioner--> CellCaption (glyph masks, colours, attribute bits per cell,
                                   as much as the tier allows)
                                   + previous frame's pixels of those rows (the frame cache)
               --denoising loop (CellDiT -> FlowMatchEulerDiscreteScheduler.step)--> row pixels
               --> written into the frame cache --> RenderOutput

The tier is the model's: a checkpoint trained on regular or semantic captions (the caption ablation)
is drawn with that tier (`tier`, or the checkpoint's variant.json). Only damaged rows are generated, all in one batch; rows never see each other (attention stays in a
row), so no margin rows are needed. Noise comes from a generator seeded per (seed, row, frame index),
so the same session with the same seed gives bit-identical frames (the cache is the runtime state;
`reset()` clears it). Non-finite model output is never passed on: those rows are drawn by the
reference rasterizer and the output says so (info["nan"] = True, info["fallback"] = "raster").
"""

from __future__ import annotations

import json
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from terminal.screen import (
    BOLD,
    INVERSE,
    ITALIC,
    STRIKE,
    TRUECOLOR,
    UNDERLINE,
    ScreenState,
    char_width,
)
from terminal.themes import Theme

from . import palette as cell_palette
from . import pointer as pointer_sprite
from .base import RenderOutput
from .captions import Caption, Tier, check_tier, make_caption, native_withheld
from .fonts import FontSpec
from .raster import RasterConfig, RasterRenderer

DEFAULT_CHECKPOINT = Path(__file__).resolve().parent / "checkpoints" / "default"
WEIGHTS_NAME = "diffusion_pytorch_model.safetensors"
TIER_FILE = "variant.json"  # beside an ablation checkpoint: {"restriction": <tier>, ...}
TRAIN_COMMAND = "hybrid-nc train --config hybrid_nc/configs/train_default.json"


class CheckpointError(RuntimeError):
    """A neural checkpoint that is missing, truncated or does not fit the model/font."""


# -- caption ---------------------------------------------------------------------------------
@dataclass
class CellCaption:
    """Cell-aligned caption tokens of some rows (the model's "detailed caption").

    glyph: (R, C, G) the glyph mask of each cell (styled or regular face), in [0, 1]
    colours: (R, C, 6) fg RGB, bg RGB after theme resolution (before inverse/cursor), in [-1, 1]
    bits: (R, C, 6) bold, italic, underline, inverse, strike, cursor as 0/1
    hint: (R, C, G) the alpha the reference raster draws (the optional glyph-hint plane)
    fg, bg: (R, C, 3) the effective colours the raster draws (after inverse and cursor), 0-255
    two_colour: (R, C) bool, False where a cell is not drawn in fg and bg alone (colour glyphs);
        None: every cell is (renderer/palette.py)
    """

    glyph: np.ndarray
    colours: np.ndarray
    bits: np.ndarray
    hint: np.ndarray
    fg: np.ndarray
    bg: np.ndarray
    two_colour: np.ndarray | None = None

    def target(self) -> np.ndarray:
        """The reference pixels these tokens describe: (R, C, h*w*3) uint8 (the raster's
        composite bg + alpha * (fg - bg), in patch layout)."""
        r, c, g = self.hint.shape
        out = self.bg[:, :, None, :] + self.hint[..., None] * (self.fg - self.bg)[:, :, None, :]
        return np.rint(out).astype(np.uint8).reshape(r, c, g * 3)


def null_cells(glyph: np.ndarray, colours: np.ndarray, bits: np.ndarray, where: np.ndarray,
               *, keep_glyph: bool = False) -> None:
    """Blank the caption of the cells selected by `where` (broadcast over the leading axes) in
    place: glyph mask 0 (unless keep_glyph), colours 0 (mid grey), bits 0. The caption encoder
    is linear, so a constant input carries nothing about the cell."""
    sel = np.broadcast_to(where, glyph.shape[:-1])
    if not keep_glyph:
        glyph[sel] = 0.0
    colours[sel] = 0.0
    bits[sel] = 0.0


def restrict_arrays(tier: str, glyph: np.ndarray, colours: np.ndarray, bits: np.ndarray,
                    withheld_rows: np.ndarray | None = None) -> None:
    """Cut caption arrays (R, C, ...) down to what `tier` tells, in place: regular keeps the
    glyph masks only, semantic nothing, native blanks the `withheld_rows` (R,) bool; detailed
    keeps everything."""
    r = glyph.shape[0]
    everywhere = np.ones((r, 1), bool)
    if tier == "regular":
        null_cells(glyph, colours, bits, everywhere, keep_glyph=True)
    elif tier == "semantic":
        null_cells(glyph, colours, bits, everywhere)
    elif tier == "native" and withheld_rows is not None and withheld_rows.any():
        null_cells(glyph, colours, bits, np.asarray(withheld_rows, bool)[:, None])


def restrict_caption(caption: CellCaption, tier: str, withheld_rows: np.ndarray | None = None
                     ) -> CellCaption:
    """The tokens `tier` allows, as a new CellCaption (the target planes are kept: they are
    the truth the frame is scored against, not something the model sees)."""
    if tier == "detailed" or (tier == "native" and (withheld_rows is None
                                                     or not withheld_rows.any())):
        return caption
    glyph, colours, bits = caption.glyph.copy(), caption.colours.copy(), caption.bits.copy()
    restrict_arrays(tier, glyph, colours, bits, withheld_rows)
    return CellCaption(glyph, colours, bits, caption.hint, caption.fg, caption.bg,
                       caption.two_colour)


class CellCaptioner:
    """Turns screen rows into `CellCaption`s, using the reference rasterizer's glyph atlas and
    theme resolution so caption and ground truth can never disagree.

    Args:
        theme: colour theme (name or Theme).
        font: font spec of the glyph atlas (must match the model's cell size).
        glyph_style: "styled" or "regular" masks in the caption (see CellDiT).
    """

    def __init__(self, theme: str | Theme = "dark", font: FontSpec | None = None,
                 glyph_style: str = "styled", cursor: str = "block") -> None:
        if cursor not in ("block", "none"):
            raise ValueError(f"the neural renderer draws a block cursor or none, not {cursor!r} "
                             "(its model was trained on block cursors)")
        self.raster = RasterRenderer(RasterConfig(theme=theme, font=font or FontSpec(),
                                                  cursor=cursor))
        self.glyph_style = glyph_style

    @property
    def theme(self) -> Theme:
        return self.raster.theme

    def encode(self, screen: ScreenState, rows: list[int], tier: str = "detailed",
               withheld: Iterable[int] = ()) -> CellCaption:
        """Caption tokens for `rows` of `screen`, as much as `tier` tells (`withheld`: the screen
        rows a native caption keeps back)."""
        tokens = self._encode(screen, rows)
        held = set(withheld)
        mask = np.array([r in held for r in rows], bool) if held else None
        return restrict_caption(tokens, tier, mask)

    def _encode(self, screen: ScreenState, rows: list[int]) -> CellCaption:
        raster = self.raster
        fg_eff, bg_eff, alpha = raster.cell_layers(screen, rows)  # (R, C, 3), (R, C, h, w)
        r, c = len(rows), screen.cols
        hint = alpha.reshape(r, c, -1)
        if self.glyph_style == "styled":
            glyph = hint
        else:
            plain = ScreenState(screen.cols, screen.rows, screen.chars, screen.fg, screen.bg,
                                np.zeros_like(screen.attrs))
            idx = raster.glyph_indices(plain, rows)  # first: it may grow the atlas's stack
            glyph = raster.atlas.masks[idx].reshape(r, c, -1)
        attrs = screen.attrs[rows]
        fg_codes = screen.fg[rows]
        theme = raster.theme
        if theme.bold_is_bright:
            dim = (attrs & BOLD != 0) & (fg_codes >= 0) & (fg_codes < 8) & (fg_codes < TRUECOLOR)
            fg_codes = np.where(dim, fg_codes + 8, fg_codes)
        fg = theme.resolve(fg_codes, True).astype(np.float32)
        bg = theme.resolve(screen.bg[rows], False).astype(np.float32)
        colours = np.concatenate([fg, bg], axis=-1) / 127.5 - 1.0
        bits = np.zeros((r, c, 6), np.float32)
        for i, bit in enumerate((BOLD, ITALIC, UNDERLINE, INVERSE, STRIKE)):
            bits[..., i] = (attrs & bit) != 0
        cr, cc = screen.cursor
        if (screen.cursor_visible and raster.config.cursor == "block" and cr in rows
                and 0 <= cc < c):
            ri = rows.index(cr)
            bits[ri, cc, 5] = 1
            text = screen.chars[cr][cc]
            if text and char_width(text) == 2 and cc + 1 < c:
                bits[ri, cc + 1, 5] = 1
        two_colour = None
        if raster.atlas.color:  # colour emoji exist only with FontSpec(color_emoji=True)
            idx = raster.glyph_indices(screen, rows)
            two_colour = ~cell_palette.colour_glyph_cells(raster.atlas, idx)
        return CellCaption(np.ascontiguousarray(glyph, np.float32), colours.astype(np.float32),
                           bits, hint.astype(np.float32), fg_eff, bg_eff, two_colour)


def action_bucket(action: Any, buckets: int) -> int:
    """Stable hashed token of an action (a key, a command line...); 0 means no action."""
    if action is None or action == "":
        return 0
    text = action if isinstance(action, str) else json.dumps(action, sort_keys=True, default=str)
    return 1 + zlib.crc32(text.encode("utf-8", "surrogatepass")) % (buckets - 1)


def row_seed(seed: int, row: int, frame: int) -> int:
    """The noise seed of one row of one frame (so a row's noise does not depend on which other
    rows are drawn with it)."""
    h = zlib.crc32(f"{seed}:{row}:{frame}".encode())
    return (int(seed) * 1_000_003 + h) % (2**63 - 1)


def patches_to_rows(patches: np.ndarray, cell_h: int, cell_w: int) -> np.ndarray:
    """(R, C, h*w*3) -> (R*h, C*w, 3) pixels."""
    r, c, _ = patches.shape
    return patches.reshape(r, c, cell_h, cell_w, 3).transpose(0, 2, 1, 3, 4).reshape(
        r * cell_h, c * cell_w, 3)


def rows_to_patches(pixels: np.ndarray, cell_h: int, cell_w: int) -> np.ndarray:
    """(R*h, C*w, 3) -> (R, C, h*w*3)."""
    hh, ww, _ = pixels.shape
    r, c = hh // cell_h, ww // cell_w
    return pixels.reshape(r, cell_h, c, cell_w, 3).transpose(0, 2, 1, 3, 4).reshape(
        r, c, cell_h * cell_w * 3)


def cpu_has_native_bf16() -> bool:
    """Whether this CPU multiplies bfloat16 in hardware (AVX512-BF16 or AMX-BF16): only then is
    bfloat16 autocast faster than float32 (elsewhere it is emulated, and slower)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return bool(set(line.split(":", 1)[1].split()) & {"avx512_bf16", "amx_bf16"})
    except OSError:
        pass
    return False


# -- the denoising loop ----------------------------------------------------------------------
@torch.inference_mode()
def denoise_rows(model: Any, scheduler: Any | None, caption: CellCaption, prev: np.ndarray | None, *,
                 rows: list[int], steps: int, seed: int, guidance: float = 1.0,
                 action: Any = None, frame_index: int = 0, base: torch.Tensor | None = None,
                 bf16: bool = False, on_step: Callable[[], None] | None = None,
                 palette: cell_palette.PaletteConfig = cell_palette.PaletteConfig(),
                 seeded: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Generate the patches of some rows: CellDiT's x0 prediction, then a flow-matching Euler
    step over evenly spaced sigmas: `scheduler.step` (a diffusers FlowMatchEulerDiscreteScheduler,
    as `TerminalPipeline` holds) or, with scheduler None, the same step computed here (what that
    scheduler computes with shift 1, to the bit; the renderer draws without importing diffusers).

    caption: tokens of the R rows; prev: (R, C, P) uint8 previous pixels or None (a first
    frame); rows: the screen row numbers and frame_index: the frame's number (together with
    seed they seed each row's noise); guidance: classifier-free guidance scale (1: none);
    base: None, or (R, C, P) in [-1, 1] that the model's x0 prediction is a correction of;
    bf16: the model's matrix products under CPU autocast; on_step: called after each step;
    palette: the last move, each cell projected onto its bg -> fg segment (renderer/palette.py);
    seeded: start from seeded Gaussian noise (True) or from the noise's mean, zero, so that the
    frame is the same for every seed (a look's: renderer/looks.py).
    Returns (patches (R, C, P) uint8, finite (R,) bool); non-finite rows are zeroed, not drawn.
    """
    cfg = model.config
    r, c, _ = caption.glyph.shape
    p = model.patch
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    # 1. inputs as tensors
    glyph = torch.from_numpy(caption.glyph)  # (R, C, G)
    colours = torch.from_numpy(caption.colours)  # (R, C, 6)
    bits = torch.from_numpy(caption.bits)  # (R, C, 6)
    hint = torch.from_numpy(caption.hint) if cfg.glyph_hint else None
    if prev is None:
        prev_t = torch.zeros(r, c, p)
    else:
        prev_t = torch.from_numpy(prev).float() / 127.5 - 1.0
    act = torch.full((r,), action_bucket(action, cfg.action_buckets), dtype=torch.long)
    # 2. initial noise, one generator per row, so a row's noise does not depend on its batch
    x = torch.zeros(r, c, p)  # (R, C, P)
    for i, row in enumerate(rows if seeded else ()):
        gen = torch.Generator().manual_seed(row_seed(seed, row, frame_index))
        x[i] = torch.randn(c, p, generator=gen)
    # 3. timesteps: evenly spaced sigmas from 1 (noise) to 0
    sigmas = np.linspace(1.0, 0.0, steps + 1)[:-1].tolist()
    # float32 as the scheduler keeps them, with the final 0 (clean) appended
    ends = torch.tensor([*sigmas, 0.0], dtype=torch.float32)
    if scheduler is not None:
        scheduler.set_timesteps(sigmas=sigmas)
    guided = guidance != 1.0
    for i in range(steps):
        sigma = float(sigmas[i])
        tt = torch.full((r,), sigma)
        # 4. x0 prediction (a doubled batch for classifier-free guidance)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            if guided:
                both = lambda a: None if a is None else torch.cat([a, a])  # noqa: E731
                mask = torch.cat([torch.ones(r), torch.zeros(r)])
                out = model(both(x), both(tt), both(prev_t), both(glyph), both(colours),
                            both(bits), both(act), both(hint), caption_mask=mask).float()
                x0_c, x0_u = out[:r], out[r:]
                x0 = x0_u + guidance * (x0_c - x0_u)
            else:
                x0 = model(x, tt, prev_t, glyph, colours, bits, act, hint).float()
        if base is not None:
            x0 = x0 + base
        # 5. flow-matching Euler step along the velocity (noise - x0)
        v = (x - x0) / sigma
        if scheduler is not None:
            x = scheduler.step(v, scheduler.timesteps[i], x, return_dict=False)[0]
        else:
            x = x + (ends[i + 1] - ends[i]) * v
        if on_step is not None:
            on_step()
    # 6. pixels
    finite = torch.isfinite(x).flatten(1).all(1).numpy()
    x = torch.nan_to_num(x, nan=0.0, posinf=1.0, neginf=-1.0).clamp(-1, 1)
    if palette.enabled:
        where = (cell_palette.projectable(caption.colours, caption.two_colour)
                 & cell_palette.contrasted(caption.fg, caption.bg, palette.min_contrast))
        anchor = caption.hint if palette.anchor == "glyph" else None
        x = cell_palette.project(x, caption.fg, caption.bg, where, palette.snap, anchor)
    patches = ((x + 1) * 127.5).round().to(torch.uint8).numpy()
    return patches, finite


# -- checkpoint ------------------------------------------------------------------------------
def weights_path(path: str | Path) -> Path:
    """The CellDiT weights file of a checkpoint folder: transformer/ in diffusers' pipeline
    layout (model_index.json), else the folder itself."""
    path = Path(path)
    if (path / "model_index.json").is_file():
        return path / "transformer" / WEIGHTS_NAME
    return path / WEIGHTS_NAME


def _pipeline_transformer(path: Path) -> Path:
    """The transformer/ folder of a checkpoint in diffusers' pipeline layout, once its
    model_index.json says it holds a CellDiT."""
    try:
        index = json.loads((path / "model_index.json").read_text())
        if not isinstance(index, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as e:
        raise CheckpointError(f"checkpoint index {path / 'model_index.json'} is unreadable: "
                              f"{e}") from None
    if list(index.get("transformer") or [])[-1:] != ["CellDiT"]:
        raise CheckpointError(f"checkpoint {path} holds no CellDiT transformer "
                              f"(model_index.json says {index.get('transformer')!r})")
    return path / "transformer"


def load_model(path: str | Path, model_class: type | None = None) -> Any:
    """Load a CellDiT checkpoint, strictly: a folder in diffusers' pipeline layout
    (model_index.json, the weights in transformer/) or a model folder (config.json +
    safetensors). model_class: None for the plain-torch `CellDiTNet` the renderer runs (no
    diffusers import), or `CellDiT` for diffusers' ModelMixin (to train on or save). Every
    problem becomes a one-line CheckpointError."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from .models.cell_net import CellDiTNet

    path = Path(path)
    if (path / "model_index.json").is_file():
        path = _pipeline_transformer(path)
    cfg_path, weights = path / "config.json", path / WEIGHTS_NAME
    if not path.is_dir() or not cfg_path.is_file() or not weights.is_file():
        raise CheckpointError(f"no neural checkpoint at {path} (needs config.json and "
                              f"{WEIGHTS_NAME}); train one with `{TRAIN_COMMAND}`")
    try:
        config = json.loads(cfg_path.read_text())
    except (OSError, ValueError) as e:
        raise CheckpointError(f"checkpoint config {cfg_path} is unreadable: {e}") from None
    if not isinstance(config, dict):  # e.g. a config.json overwritten with `[]` or `null`
        raise CheckpointError(f"checkpoint config {cfg_path} is not a JSON object")
    if config.get("_class_name", "CellDiT") != "CellDiT":
        raise CheckpointError(f"checkpoint {path} holds a {config.get('_class_name')}, not a CellDiT")
    try:
        model = (model_class or CellDiTNet).from_config(config)
    except (TypeError, ValueError, RuntimeError) as e:  # RuntimeError: torch refuses a size
        raise CheckpointError(f"checkpoint config {cfg_path} does not describe a CellDiT: {e}") from None
    try:
        state = load_file(str(weights))
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise CheckpointError(f"checkpoint weights {weights} are truncated or corrupt: "
                              f"{str(e).splitlines()[0]}") from None
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
        detail = lines[1] if len(lines) > 1 else lines[0]
        raise CheckpointError(f"checkpoint weights {weights} do not match its config: "
                              f"{detail[:160]}") from None
    model.eval()
    return model


def checkpoint_tier(path: str | Path) -> Tier:
    """The caption tier a checkpoint was trained with: its variant.json's, else "detailed"."""
    meta = Path(path) / TIER_FILE
    if not meta.is_file():
        return "detailed"
    try:
        data = json.loads(meta.read_text())
    except (OSError, ValueError) as e:
        raise CheckpointError(f"{meta} is not valid JSON: {e}") from None
    tier = data.get("restriction", "detailed") if isinstance(data, dict) else "detailed"
    try:
        return check_tier(str(tier))
    except ValueError as e:
        raise CheckpointError(f"{meta}: {e}") from None


# -- renderer --------------------------------------------------------------------------------
class NeuralRenderer:
    """Renderer (renderer.base.Renderer) drawing rows with a CellDiT diffusion model.

    Args:
        model: a CellDiT (or use `from_pretrained`).
        theme: colour theme (name or Theme); default "dark".
        steps: denoising steps per frame (1-4 is the intended range).
        seed: default seed when `render` gets none.
        guidance: classifier-free guidance scale (1 = none; >1 costs a second forward pass).
        threads: torch CPU threads (None leaves torch's setting alone). One thread is the
            default: on a shared 2-core machine two threads stall on each other (measured in
            benchmarks/results/neural.md).
        font: the glyph atlas's font (its cells must match the checkpoint's).
        cursor: "block" or "none".
        precision: "float32", "bfloat16" (the model's matrix products under CPU autocast), or
            "auto": bfloat16 where the CPU multiplies bfloat16 natively (AVX512-BF16 or AMX),
            else float32. Measured here: a full 80x24 frame about twice as fast, pixels within
            a few 1/255 levels of float32 (benchmarks/results/neural.md).
        tier: the caption tier the model was trained with (renderer/captions.py): what its cell
            tokens tell when `caption`/`render` are not given another.
        palette: project each drawn cell onto its bg -> fg segment after the last step
            (renderer/palette.py): True (default), False (the model's pixels, for ablation), or a
            PaletteConfig.
    """

    name = "neural"
    seeded = True  # frames from seeded noise (denoise_rows); a look draws from the noise's mean

    def __init__(self, model: Any, *, theme: str | Theme = "dark", steps: int = 1, seed: int = 0,
                 guidance: float = 1.0, threads: int | None = 1,
                 font: FontSpec | None = None, cursor: str = "block",
                 precision: str = "auto", tier: Tier = "detailed",
                 palette: bool | cell_palette.PaletteConfig = True) -> None:
        if precision not in ("auto", "float32", "bfloat16"):
            raise ValueError(f"precision must be auto, float32 or bfloat16, not {precision!r}")
        self.precision = (("bfloat16" if cpu_has_native_bf16() else "float32")
                          if precision == "auto" else precision)

        if threads is not None:
            torch.set_num_threads(int(threads))
        self.model = model.eval()
        cfg = model.config
        self.captioner = CellCaptioner(theme, font, cfg.glyph_style, cursor)
        atlas_cell = self.captioner.raster.atlas.cell
        if atlas_cell != (cfg.cell_h, cfg.cell_w):
            raise CheckpointError(f"checkpoint cells are {cfg.cell_w}x{cfg.cell_h} px but the font "
                                  f"draws {atlas_cell[1]}x{atlas_cell[0]} px cells")
        self.steps = int(steps)
        self.seed = int(seed)
        self.guidance = float(guidance)
        self.tier: Tier = check_tier(tier)
        self.palette = cell_palette.PaletteConfig.of(palette)
        self.reset()

    @classmethod
    def from_pretrained(cls, path: str | Path = DEFAULT_CHECKPOINT, **options: Any) -> NeuralRenderer:
        """Load a checkpoint directory (default: the shipped one), drawn with the caption tier it
        was trained with unless `tier` says otherwise."""
        options.setdefault("tier", checkpoint_tier(path))
        return cls(load_model(path), **options)

    @property
    def cell_size(self) -> tuple[int, int]:
        return int(self.model.config.cell_h), int(self.model.config.cell_w)

    @property
    def theme(self) -> Theme:
        return self.captioner.theme

    @property
    def raster(self) -> RasterRenderer:
        """The reference rasterizer with the same font and theme (for fallbacks and repair)."""
        return self.captioner.raster

    def make_raster(self) -> RasterRenderer:
        """A reference rasterizer of its own with this renderer's font, theme and cursor (a
        session's fallback and verifier keep their own last frame)."""
        return RasterRenderer(self.captioner.raster.config)

    def reset(self) -> None:
        self._frame: np.ndarray | None = None
        self._screen: ScreenState | None = None
        self._frame_index = 0

    # -- caption -----------------------------------------------------------------------------
    def caption(self, screen: ScreenState, *, damage: Iterable[int] | None = None,
                tier: Tier | None = None, action: str = "", route: str | None = None) -> Caption:
        """The caption the model is conditioned on for `screen`: the tier (default: the
        model's), and for the native tier the rows it withholds, judged against the last frame
        drawn. Its `.text` says the same in words."""
        tier = check_tier(tier or self.tier)
        return make_caption(tier, screen, damage, action, route, self.theme.name,
                            withheld=self._withheld(screen, tier, action))

    def _withheld(self, screen: ScreenState, tier: str, action: Any) -> list[int]:
        return native_withheld(self._screen, screen, action) if tier == "native" else []

    def _tokens(self, screen: ScreenState, rows: list[int], caption: Caption | None,
                action: Any) -> CellCaption:
        if caption is None:  # called without the caption step: the model's own tier
            tier, held = self.tier, self._withheld(screen, self.tier, action)
        else:
            tier, held = caption.tier, caption.withheld
        return self.captioner.encode(screen, rows, tier, held)

    # -- the pipeline: an explicit denoising loop (denoise_rows) ----------------------------
    @torch.inference_mode()
    def denoise(self, caption: CellCaption, prev: np.ndarray | None, *, rows: list[int],
                steps: int, seed: int, guidance: float = 1.0, action: Any = None,
                frame_index: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Generate the patches of some rows with this renderer's model, precision, palette,
        noise and x0 base, the Euler step taken by `denoise_rows` itself (arguments and result
        as `denoise_rows`)."""
        return denoise_rows(self.model, None, caption, prev, rows=rows, steps=steps,
                            seed=seed, guidance=guidance, action=action,
                            frame_index=frame_index, base=self.x0_base(caption),
                            bf16=self.precision == "bfloat16", palette=self.palette,
                            seeded=self.seeded)

    def x0_base(self, caption: CellCaption) -> torch.Tensor | None:
        """What the model's x0 prediction is a correction of, in [-1, 1]: nothing here; a look
        (renderer/looks.py) predicts a residual over its glyph-template composite."""
        return None

    def render_rows(self, screen: ScreenState, rows: Iterable[int], *, steps: int | None = None,
                    seed: int | None = None, guidance: float | None = None,
                    action: Any = None, caption: Caption | None = None) -> np.ndarray:
        """Draw some rows without touching the frame cache (used by repair).

        Returns (len(rows) * cell_h, cols * cell_w, 3) uint8, without the mouse pointer (the
        verifier checks and draws it); rows whose output was not finite come from the reference
        rasterizer.
        """
        rows = list(rows)
        prev = self._prev_patches(screen, rows)
        tokens = self._tokens(screen, rows, caption, action)
        patches, finite = self._draw(tokens, rows, prev, steps, seed, guidance, action)
        return patches_to_rows(patches, *self.cell_size)

    def patch_frame(self, frame: np.ndarray) -> None:
        """Replace the cached frame by a repaired one of the same size (verify & repair calls
        this, so repaired rows are carried over and used as the next frame's context)."""
        if self._frame is not None and frame.shape == self._frame.shape:
            frame = np.array(frame, np.uint8, copy=True)
            pointer = self._screen.pointer if self._screen is not None else None
            if pointer is not None:  # the cache stays pointer-free: it is the model's context
                under = pointer_sprite.mask(pointer, frame.shape[0], frame.shape[1])
                frame[under] = self._frame[under]
            self._frame = frame

    def _prev_patches(self, screen: ScreenState, rows: list[int]) -> np.ndarray | None:
        frame = self._frame
        h, w = self.cell_size
        if frame is None or frame.shape != (screen.rows * h, screen.cols * w, 3):
            return None
        return np.stack([rows_to_patches(frame[r * h:(r + 1) * h], h, w)[0] for r in rows])

    def _draw(self, caption: CellCaption, rows: list[int], prev: np.ndarray | None,
              steps: int | None, seed: int | None, guidance: float | None,
              action: Any) -> tuple[np.ndarray, np.ndarray]:
        patches, finite = self.denoise(
            caption, prev, rows=rows, steps=steps or self.steps,
            seed=self.seed if seed is None else int(seed),
            guidance=self.guidance if guidance is None else float(guidance),
            action=action, frame_index=self._frame_index)
        if not finite.all():
            bad = np.flatnonzero(~finite)
            patches[bad] = caption.target()[bad]
        return patches, finite

    def render(self, screen: ScreenState, *, damage: Iterable[int] | None = None,
               caption: Caption | None = None, action: Any = None,
               seed: int | None = None) -> RenderOutput:
        """Draw `screen`: damaged rows are generated (one batch), the rest comes from the cache.

        caption: what `caption()` gave for this screen; the rows drawn get the cell tokens of its
        tier (its withheld rows none). None: the model's own tier.
        """
        t0 = time.perf_counter()
        h, w = self.cell_size
        shape = (screen.rows * h, screen.cols * w, 3)
        prev_screen = self._screen
        if self._frame is None or self._frame.shape != shape or prev_screen is None:
            rows = list(range(screen.rows))
            prev = None
            self._frame = np.zeros(shape, np.uint8)
        else:
            todo = (set(damage) if damage is not None else
                    {r for r in range(screen.rows) if not screen.same_cells(prev_screen, r)})
            if (prev_screen.cursor != screen.cursor
                    or prev_screen.cursor_visible != screen.cursor_visible):
                todo |= {prev_screen.cursor[0], screen.cursor[0]}
            if prev_screen.pointer != screen.pointer:  # the cells it uncovers are drawn anew
                todo |= (pointer_sprite.rows_under(prev_screen.pointer, h, screen.rows)
                         | pointer_sprite.rows_under(screen.pointer, h, screen.rows))
            rows = sorted(r for r in todo if 0 <= r < screen.rows)
            prev = self._prev_patches(screen, rows) if rows else None
        used_seed = self.seed if seed is None else int(seed)
        info: dict[str, Any] = {"renderer": self.name, "steps": self.steps, "seed": used_seed,
                                "rows": rows, "frame_index": self._frame_index,
                                "precision": self.precision}
        if rows:
            tokens = self._tokens(screen, rows, caption, action)
            patches, finite = self._draw(tokens, rows, prev, None, used_seed, None, action)
            if not finite.all():
                info["nan"] = True
                info["fallback"] = "raster"
                info["nan_rows"] = [rows[i] for i in np.flatnonzero(~finite)]
            pixels = patches_to_rows(patches, h, w)
            for i, r in enumerate(rows):
                self._frame[r * h:(r + 1) * h] = pixels[i * h:(i + 1) * h]
        self._screen = screen.copy()
        self._frame_index += 1
        # the pointer is composited exactly over the drawn cells; the cache keeps the cells only
        out = pointer_sprite.draw(self._frame.copy(), screen.pointer)
        info["ms"] = (time.perf_counter() - t0) * 1000.0
        return RenderOutput(out, rows, info)

"""CellDiT: a diffusion transformer over the cells of one terminal row.

One token per cell. A token's input is the cell's noisy pixel patch (cell_h x cell_w x 3), the same
cell's pixels in the previous frame (the autoregressive context of GameNGen/DIAMOND, noise-augmented
and sometimes dropped during training) and, optionally, a glyph-hint plane (the target's alpha mask,
the paper's reference-image trick). The detailed caption is cell-aligned: per cell the glyph's
*shape* (its atlas mask, through a linear glyph encoder, so characters never seen in training are
still specified exactly), fg/bg RGB after theme resolution, and attribute bits (bold, italic,
underline, inverse, strike, cursor). The flow-matching time and a hashed action token modulate every
block (adaLN-Zero, as in DiT). The model predicts the clean patch (x0).

Attention stays inside the row and inside a window of +-`window` cells with a learned relative-position
bias per head: a glyph may spill into its neighbours (italics, wide characters), the model works at
any number of columns, and a cell far away cannot disturb a cell's pixels.

The caption reaches the network in one of the paper's four injection modes (`injection`):

    external    caption tokens are added to the input tokens
    contextual  caption tokens are extra tokens in every self-attention
    residual    a ControlNet-style branch reads input + caption; its blocks' outputs are added to the
                main blocks through zero-initialised projections
    internal    cross-attention from the input tokens to the caption tokens in every block

Shapes: B rows, C cells per row, P = cell_h * cell_w * 3 pixels per patch, G = cell_h * cell_w.
"""

from __future__ import annotations

from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin

from .cell_net import CAPTION_BITS, CAPTION_COLOURS, INJECTIONS, CellDiTLayers, Injection

__all__ = ["CAPTION_BITS", "CAPTION_COLOURS", "INJECTIONS", "CellDiT", "Injection"]


class CellDiT(CellDiTLayers, ModelMixin, ConfigMixin):
    """Predicts clean cell patches of terminal rows from noisy ones, the previous frame and the
    cell-aligned caption.

    Args:
        cell_h, cell_w: cell size in pixels (must match the glyph atlas the captions come from).
        width, depth, heads, mlp_ratio: transformer size.
        window: attention reaches +-window cells.
        injection: how the caption enters (see the module docstring).
        glyph_hint: take the target's alpha plane as an extra input per cell.
        glyph_style: "styled" (caption masks already bold/italic/underlined, as the raster draws
            them) or "regular" (the regular-face mask; styles learned from the attribute bits).
        action_buckets: size of the hashed action vocabulary (bucket 0 = no action).
        output_head: "linear" (a linear map from each token to its patch) or "factorized": the patch as
            a free linear term plus `head_rank` products of a spatial plane (cell_h x cell_w)
            and an RGB colour, all predicted from the token. A terminal cell is two colours
            blended by a glyph's coverage, bg + alpha * (fg - bg): a rank-2 product; a linear
            head must approximate those products through the MLP, and loses precision on
            coloured text.
        head_rank: planes of the factorized head.
        font: the font's name and size the model was trained on, checked when it is loaded.
    """

    config_name = "config.json"

    # the arguments repeat CellDiTLayers._build's: diffusers' register_to_config records a
    # model's config from this signature (and from_config passes it back through it)
    @register_to_config
    def __init__(self, cell_h: int = 16, cell_w: int = 8, width: int = 192, depth: int = 4,
                 heads: int = 4, mlp_ratio: float = 4.0, window: int = 3,
                 injection: str = "external", glyph_hint: bool = False,
                 glyph_style: str = "styled", action_buckets: int = 512,
                 font: str = "DejaVuSansMono.ttf@13.0", output_head: str = "linear",
                 head_rank: int = 4) -> None:
        super().__init__()
        self._build(**{k: v for k, v in locals().items() if k not in ("self", "__class__")})

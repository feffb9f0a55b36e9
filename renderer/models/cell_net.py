"""The CellDiT network in plain torch: its layers, its forward pass, and `CellDiTNet`, the
class the renderer runs. renderer/models/cell_dit.py wraps the same layers in diffusers'
ModelMixin (`CellDiT`: training, `save_pretrained`, `TerminalPipeline`); both load the same
checkpoint with the same parameter names and compute the same pixels. The renderer loads
`CellDiTNet` so that drawing a frame never imports diffusers (whose import, with torch._dynamo,
scipy.stats and transformers behind it, was half of `Session()`'s start-up).

The model is described in renderer/models/cell_dit.py.
"""

from __future__ import annotations

import inspect
import math
from types import SimpleNamespace
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

Injection = Literal["external", "contextual", "residual", "internal"]
INJECTIONS: tuple[str, ...] = ("external", "contextual", "residual", "internal")
CAPTION_COLOURS = 6  # fg RGB, bg RGB
CAPTION_BITS = 6  # bold, italic, underline, inverse, strike, cursor


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal features of flow-matching times t in [0, 1]: (B,) -> (B, dim)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32) / half)
    args = (t.float() * 1000.0)[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    # x (B, N, D); shift/scale (B, D) broadcast over the tokens
    return x * (1 + scale[:, None]) + shift[:, None]


class WindowBias(nn.Module):
    """Additive attention mask: a learned bias per head and relative offset inside +-window,
    -inf outside. Built for (query positions, key positions) so self- and cross-attention and
    the contextual mode's doubled sequence all share it."""

    def __init__(self, heads: int, window: int) -> None:
        super().__init__()
        self.window = window
        self.table = nn.Parameter(torch.zeros(heads, 2 * window + 1))

    def forward(self, q_pos: torch.Tensor, k_pos: torch.Tensor) -> torch.Tensor:
        rel = k_pos[None, :] - q_pos[:, None]  # (Nq, Nk)
        inside = rel.abs() <= self.window
        idx = (rel.clamp(-self.window, self.window) + self.window)
        bias = self.table[:, idx]  # (H, Nq, Nk)
        return bias.masked_fill(~inside[None], float("-inf"))


class Attention(nn.Module):
    """Multi-head attention with an additive (H, Nq, Nk) bias; queries and keys may differ."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(width, width)
        self.kv = nn.Linear(width, 2 * width)
        self.out = nn.Linear(width, width)

    def forward(self, x: torch.Tensor, context: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        m = context.shape[1]
        h = self.heads
        q = self.q(x).view(b, n, h, d // h).transpose(1, 2)  # (B, H, N, Dh)
        k, v = self.kv(context).view(b, m, 2, h, d // h).permute(2, 0, 3, 1, 4)  # (B, H, M, Dh)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=bias[None].to(q.dtype))
        return self.out(y.transpose(1, 2).reshape(b, n, d))


class MLP(nn.Module):
    """The transformer's feed-forward layer."""

    def __init__(self, width: int, ratio: float) -> None:
        super().__init__()
        hidden = int(width * ratio)
        self.fc1 = nn.Linear(width, hidden)
        self.fc2 = nn.Linear(hidden, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.fc1(x)
        # in bfloat16 the exact (erf) GELU and the tanh form trained with differ by less than
        # one rounding step (< 5e-4 against 2^-8 relative), and torch's bfloat16 tanh form is
        # ~6x slower on CPU: a sixth of a full frame
        return self.fc2(F.gelu(h, approximate="none" if h.dtype == torch.bfloat16 else "tanh"))


class Block(nn.Module):
    """A DiT block (adaLN-Zero) with windowed self-attention and, for the internal mode,
    cross-attention to the caption tokens."""

    def __init__(self, width: int, heads: int, mlp_ratio: float, cross: bool) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
        self.attn = Attention(width, heads)
        self.norm2 = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
        self.mlp = MLP(width, mlp_ratio)
        self.ada = nn.Linear(width, 6 * width)
        nn.init.zeros_(self.ada.weight)
        nn.init.zeros_(self.ada.bias)
        self.cross = None
        if cross:
            self.norm_x = nn.LayerNorm(width, eps=1e-6)
            self.cross = Attention(width, heads)
            nn.init.zeros_(self.cross.out.weight)
            nn.init.zeros_(self.cross.out.bias)

    def forward(self, x: torch.Tensor, cond: torch.Tensor, bias: torch.Tensor,
                caption: torch.Tensor | None = None, cross_bias: torch.Tensor | None = None
                ) -> torch.Tensor:
        s1, c1, g1, s2, c2, g2 = self.ada(cond).chunk(6, dim=-1)  # each (B, D)
        y = modulate(self.norm1(x), s1, c1)
        x = x + g1[:, None] * self.attn(y, y, bias)
        if self.cross is not None and caption is not None and cross_bias is not None:
            x = x + self.cross(self.norm_x(x), caption, cross_bias)
        x = x + g2[:, None] * self.mlp(modulate(self.norm2(x), s2, c2))
        return x


class CellDiTLayers:
    """The layers and forward pass of CellDiT, shared by `CellDiTNet` (plain torch) and
    `CellDiT` (diffusers); a class that mixes it in is an nn.Module with a `config` that has
    the `_build` arguments as attributes."""

    config: Any

    def _build(self, cell_h: int = 16, cell_w: int = 8, width: int = 192, depth: int = 4,
                 heads: int = 4, mlp_ratio: float = 4.0, window: int = 3,
                 injection: str = "external", glyph_hint: bool = False,
                 glyph_style: str = "styled", action_buckets: int = 512,
                 font: str = "DejaVuSansMono.ttf@13.0", output_head: str = "linear",
                 head_rank: int = 4) -> None:
        """Create the layers (the arguments are documented on CellDiT)."""
        if injection not in INJECTIONS:
            raise ValueError(f"unknown injection mode {injection!r} (choose from {', '.join(INJECTIONS)})")
        if glyph_style not in ("styled", "regular"):
            raise ValueError(f"glyph_style must be 'styled' or 'regular', not {glyph_style!r}")
        if output_head not in ("linear", "factorized"):
            raise ValueError(f"output_head must be 'linear' or 'factorized', not {output_head!r}")
        if width % heads:
            raise ValueError(f"width {width} is not a multiple of heads {heads}")
        self.patch = cell_h * cell_w * 3
        self.glyph = cell_h * cell_w
        in_dim = 2 * self.patch + (self.glyph if glyph_hint else 0)
        self.embed_in = nn.Linear(in_dim, width)
        # the caption encoder is linear on purpose: a glyph's mask maps to a token the same way
        # for every character, seen in training or not
        self.embed_caption = nn.Linear(self.glyph + CAPTION_COLOURS + CAPTION_BITS, width)
        self.time_mlp = nn.Sequential(nn.Linear(128, width), nn.SiLU(), nn.Linear(width, width))
        self.action = nn.Embedding(action_buckets, width)
        nn.init.normal_(self.action.weight, std=0.02)
        self.bias = WindowBias(heads, window)
        cross = injection == "internal"
        self.blocks = nn.ModuleList(Block(width, heads, mlp_ratio, cross) for _ in range(depth))
        if injection == "contextual":
            self.caption_type = nn.Parameter(torch.zeros(width))
        if injection == "residual":
            self.branch = nn.ModuleList(Block(width, heads, mlp_ratio, False) for _ in range(depth))
            self.branch_out = nn.ModuleList(nn.Linear(width, width) for _ in range(depth))
            for lin in self.branch_out:
                nn.init.zeros_(lin.weight)
                nn.init.zeros_(lin.bias)
        self.norm_out = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
        self.ada_out = nn.Linear(width, 2 * width)
        nn.init.zeros_(self.ada_out.weight)
        nn.init.zeros_(self.ada_out.bias)
        self.head = nn.Linear(width, self.patch)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)
        if output_head == "factorized":
            # planes start random and colours at zero (as LoRA's A and B): the output starts at
            # zero but both factors get gradients
            self.out_planes = nn.Linear(width, head_rank * self.glyph)
            self.out_colours = nn.Linear(width, head_rank * 3)
            nn.init.zeros_(self.out_colours.weight)
            nn.init.zeros_(self.out_colours.bias)
        self._bias_cache: dict[tuple[int, str], torch.Tensor] = {}

    def _window_bias(self, n: int, kind: str) -> torch.Tensor:
        # the bias depends only on the parameters and the row length: cache it at inference
        key = (n, kind)
        if not self.training and key in self._bias_cache:
            return self._bias_cache[key]
        pos = torch.arange(n)
        if kind == "context":
            both = torch.cat([pos, pos])
            bias = self.bias(both, both)
        else:
            bias = self.bias(pos, pos)
        if not self.training:
            self._bias_cache[key] = bias.detach()
        return bias

    def train(self, mode: bool = True) -> Any:
        self._bias_cache.clear()
        return super().train(mode)

    def forward(self, sample: torch.Tensor, timestep: torch.Tensor, prev: torch.Tensor,
                glyph: torch.Tensor, colours: torch.Tensor, bits: torch.Tensor,
                action: torch.Tensor | None = None, hint: torch.Tensor | None = None,
                caption_mask: torch.Tensor | None = None) -> torch.Tensor:
        """x0 prediction.

        sample, prev: (B, C, P) in [-1, 1]; timestep: (B,) in [0, 1] (1 = pure noise);
        glyph: (B, C, G) in [0, 1]; colours: (B, C, 6) in [-1, 1]; bits: (B, C, 6) in {0, 1};
        action: (B,) int64 buckets; hint: (B, C, G) when the model takes one;
        caption_mask: (B,) 0/1, 0 drops the caption (the unconditional branch of guidance).
        Returns (B, C, P).
        """
        b, c, _ = sample.shape
        # 1. input tokens: noisy patch, previous frame, optional hint
        parts = [sample, prev]
        if self.config.glyph_hint:
            if hint is None:
                raise ValueError("this model takes a glyph hint; pass hint=")
            parts.append(hint * 2 - 1)
        x = self.embed_in(torch.cat(parts, dim=-1))  # (B, C, D)
        # 2. caption tokens
        cap = self.embed_caption(torch.cat([glyph * 2 - 1, colours, bits], dim=-1))  # (B, C, D)
        if caption_mask is not None:
            cap = cap * caption_mask.to(cap.dtype)[:, None, None]
        # 3. conditioning vector: time + action
        cond = self.time_mlp(timestep_embedding(timestep, 128))
        if action is not None:
            cond = cond + self.action(action)
        cond = F.silu(cond)
        # 4. blocks, by injection mode
        mode = self.config.injection
        bias = self._window_bias(c, "self")
        if mode == "external":
            x = x + cap
            for blk in self.blocks:
                x = blk(x, cond, bias)
        elif mode == "contextual":
            x = torch.cat([x, cap + self.caption_type], dim=1)  # (B, 2C, D)
            both = self._window_bias(c, "context")
            for blk in self.blocks:
                x = blk(x, cond, both)
            x = x[:, :c]
        elif mode == "internal":
            for blk in self.blocks:
                x = blk(x, cond, bias, caption=cap, cross_bias=bias)
        else:  # residual
            h = x + cap
            for blk, side, out in zip(self.blocks, self.branch, self.branch_out, strict=True):
                h = side(h, cond, bias)
                x = blk(x, cond, bias) + out(h)
        # 5. output patch
        shift, scale = self.ada_out(cond).chunk(2, dim=-1)
        x = modulate(self.norm_out(x), shift, scale)
        out = self.head(x)
        if self.config.output_head == "factorized":
            k = self.config.head_rank
            planes = self.out_planes(x).view(b, c, k, self.glyph)  # (B, C, K, G)
            rgb = self.out_colours(x).view(b, c, k, 3)  # (B, C, K, 3)
            # patch layout is (cell_h, cell_w, 3) flattened: pixel-major, channel last
            out = out + torch.einsum("bckg,bckr->bcgr", planes, rgb).reshape(b, c, self.patch)
        return out


class CellDiTNet(CellDiTLayers, nn.Module):
    """CellDiT as a plain torch module: what the renderer runs (see the module docstring).

    Args: those of CellDiT (renderer/models/cell_dit.py); a checkpoint's config.json gives them.
    """

    def __init__(self, **config: Any) -> None:
        super().__init__()
        bound = inspect.signature(self._build).bind(**config)  # TypeError on an unknown key
        bound.apply_defaults()
        self.config = SimpleNamespace(**bound.arguments)
        self._build(**bound.arguments)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> CellDiTNet:
        """The network a checkpoint's config.json describes (its "_class_name"-style keys are
        diffusers' bookkeeping and ignored)."""
        return cls(**model_args(config))


def model_args(config: Any) -> dict[str, Any]:
    """A CellDiT config (a dict, or a model's `config`) as constructor arguments: without the
    keys diffusers keeps for its own bookkeeping ("_class_name", "_diffusers_version", ...)."""
    return {k: v for k, v in dict(config).items() if not k.startswith("_")}

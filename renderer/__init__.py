"""Renderers: a symbolic screen in, an RGB frame out (reference rasterizer, neural renderer, Wan)."""

from .base import Renderer, RenderOutput
from .screen import ScreenState

__all__ = ["Renderer", "RenderOutput", "ScreenState"]

"""Renderers: a symbolic screen in, an RGB frame out (reference rasterizer, neural renderer, Wan)."""

from terminal.screen import ScreenState

from .base import Renderer, RenderOutput

__all__ = ["Renderer", "RenderOutput", "ScreenState"]

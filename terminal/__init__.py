"""The symbolic terminal: program output bytes in, the exact screen out.

The ground floor of hybrid-nc: it imports none of the other packages (renderer, reasoner,
orchestrator, hybrid_nc), and they all speak its types.

    terminal.screen     `ScreenState`, the exact screen (cells, colours, attributes, cursor), SCREEN.json
    terminal.themes     colour themes (16 colours, the 256 palette, truecolor)
    terminal.parser     VT500 parser: bytes -> screen operations
    terminal.operations the screen operations on pyte's screen model
    terminal.emulator   `Terminal`, the facade: feed bytes, snapshot, damage, replies
    terminal.recording  asciicast v1/v2/v3 reader, v2 writer, replay
"""

from .emulator import Terminal, screen_from_bytes
from .screen import ScreenError, ScreenState
from .themes import THEMES, Theme, get_theme

__all__ = ["THEMES", "ScreenError", "ScreenState", "Terminal", "Theme", "get_theme", "screen_from_bytes"]

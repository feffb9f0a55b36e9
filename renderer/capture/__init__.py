"""Real-terminal captures: xterm and rxvt-unicode under Xvfb, paired with our symbolic screens.

The pipeline (`capture_dataset`) shows the same byte streams to a real terminal and to our
emulator, grabs the terminal's pixels, checks each pair with a cell-grid OCR built on the
terminal's own glyphs, and stores the kept pairs as a Hugging Face dataset. Calibration also tunes
our reference rasterizer's font to the terminal, the baseline a learned "look" is measured against.
"""

from .calibrate import ColourFacts, Grid, TemplateAtlas
from .pairing import PairCheck, PairChecker
from .pipeline import (
    CaptureConfig,
    CaptureStore,
    CaptureSummary,
    build_dataset,
    capture_dataset,
    checker_from_folder,
    load_pairs,
)
from .sources import Item, Source, all_sources
from .terminals import TerminalProfile, TerminalSession
from .tune import TuneResult, tune_font
from .xserver import CaptureError, VirtualDisplay

__all__ = [
    "CaptureConfig", "CaptureError", "CaptureStore", "CaptureSummary", "ColourFacts", "Grid",
    "Item", "PairCheck", "PairChecker", "Source", "TemplateAtlas", "TerminalProfile",
    "TerminalSession", "TuneResult", "VirtualDisplay", "all_sources", "build_dataset",
    "capture_dataset", "checker_from_folder", "load_pairs", "tune_font",
]

"""`hybrid-nc render`: draw one screen (SCREEN.json or plain text) to a PNG."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import unicodedata
from pathlib import Path
from typing import Any

from ._common import UsageError, add_render_args, check_theme, renderer_name, renderer_options

MAX_PIXELS = 1 << 26  # 64 Mpx: larger frames are a mistake, not a screenshot


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register `render` with the CLI."""
    p = sub.add_parser(
        "render", help="draw one screen (SCREEN.json or a text file) to a PNG",
        description="Draws one screen. SCREEN.json = {\"cols\": C, \"rows\": R, \"lines\": [...], "
        "\"cursor\": [row, col]} with optional style runs (terminal/screen.py); --text FILE = "
        "plain lines (\"-\" reads stdin), size from the text or --cols/--rows.")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--screen", metavar="SCREEN.json", help="the screen to draw")
    src.add_argument("--text", metavar="FILE", help="plain text lines to draw")
    p.add_argument("--out", metavar="OUT.png", required=True, help="where to write the PNG")
    add_render_args(p, size_help="screen (--text only)")
    p.add_argument("--font-size", type=float, metavar="PX",
                   help="main font size in pixels; the cell size follows (default 13 px: 8x16)")
    p.add_argument("--cursor", choices=["block", "underline", "bar", "hollow", "none"],
                   help="cursor style (default block)")
    p.add_argument("--color-emoji", action="store_true",
                   help="draw wide emoji in colour (Noto Color Emoji) instead of monochrome")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Load the screen, draw it, write the PNG atomically."""
    name = renderer_name(args)
    check_theme(args.theme)
    _check_out(args.out)  # before any work
    screen = _load_screen(args)
    renderer = _make_renderer(args, name)
    h, w = renderer.cell_size
    if screen.cols * w * screen.rows * h > MAX_PIXELS:
        raise ValueError(f"a {screen.cols}x{screen.rows} screen of {w}x{h} px cells is "
                         f"{screen.cols * w}x{screen.rows * h} px, more than {MAX_PIXELS >> 20} Mpx")
    out = renderer.render(screen, seed=args.seed)
    _write_png(out.frame, args.out)
    return 0


def _load_screen(args: argparse.Namespace) -> Any:
    from terminal.screen import ScreenError, ScreenState

    if args.screen is not None:
        if args.cols is not None or args.rows is not None:
            raise UsageError("--cols/--rows apply to --text; SCREEN.json carries its own size")
        if not Path(args.screen).is_file():
            raise ScreenError(f"cannot read {args.screen}: no such file")
        return ScreenState.load(args.screen)
    text = _read_text(args.text)
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the final newline ends the last line, it does not start another
    for i, line in enumerate(lines, 1):
        line = line.rstrip("\r")
        bad = next((ch for ch in line if ch != "\t" and unicodedata.category(ch) == "Cc"), None)
        if bad is not None:
            raise ScreenError(f"{args.text}: line {i} holds control character U+{ord(bad):04X} "
                              "(plain text only; use --screen for colours and attributes)")
    if args.cols is None and args.rows is None and not lines:
        lines = [""]
    return ScreenState.from_lines(lines, args.cols, args.rows)


def _read_text(path: str) -> str:
    from terminal.screen import ScreenError

    try:
        data = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as e:
        raise ScreenError(f"cannot read {path}: {e.strerror or e}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ScreenError(f"{path} is not UTF-8 text (byte {e.start})") from None


def _make_renderer(args: argparse.Namespace, name: str) -> Any:
    from renderer import registry
    from renderer.fonts import FontSpec
    from terminal.themes import get_theme

    extra: dict[str, Any] = {"cursor": args.cursor}
    if args.font_size is not None or args.color_emoji:
        font = FontSpec.sized(args.font_size) if args.font_size is not None else FontSpec()
        extra["font"] = font.with_(color_emoji=True) if args.color_emoji else font
    options = renderer_options(args, name, **extra)
    return registry.create(name, options, theme=get_theme(args.theme) if args.theme else None)


def _check_out(out: str) -> Path:
    path = Path(out)
    if path.is_dir():
        raise ValueError(f"cannot write {out}: it is a directory")
    if path.suffix.lower() != ".png":
        raise ValueError(f"--out must name a .png file, got {out!r}")
    if not path.parent.is_dir():
        raise ValueError(f"cannot write {out}: no such directory {str(path.parent)!r}")
    return path


def _write_png(frame: Any, out: str) -> None:
    """Write atomically: a temporary file beside OUT, renamed over it when complete, so a failed
    write never leaves a partial PNG behind."""
    from PIL import Image

    path = _check_out(out)
    folder = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as e:
        raise ValueError(f"cannot write {out}: {e.strerror or e}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            Image.fromarray(frame).save(f, format="PNG")
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # what a plain open() would have given the file
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError):
            raise ValueError(f"cannot write {out}: {e.strerror or e}") from None
        raise

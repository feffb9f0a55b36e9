"""The symbolic screen: what every renderer draws and every judge reads back.

A `ScreenState` is a grid of cells (character, colours, attributes) plus a cursor. It is the
renderer's *input* type, so it lives here; the orchestrator's terminal emulator produces it, and
`hybrid-nc render --screen SCREEN.json` reads it from disk.

Colours are plain ints so that whole screens stay numpy arrays:

    -1                      the theme's default colour (DEFAULT)
    0 .. 255                an xterm palette index (0-15 come from the theme)
    TRUECOLOR | 0xRRGGBB    a 24-bit colour

SCREEN.json (DESIGN.md): {"cols": C, "rows": R, "lines": [...], "cursor": [row, col]} with optional
"cursor_visible", "title", "pointer" ({"x", "y", "shape"}: the mouse pointer's hotspot in pixels,
"arrow" or "ibeam") and "styles": a list of runs {"row", "col", "len", "fg", "bg", "bold",
"italic", "underline", "inverse", "strike", "blink"}; colours in JSON are "default", an int 0-255
or "#rrggbb". Lines are display strings: a wide character appears once and covers two cells.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from wcwidth import wcwidth

DEFAULT = -1
TRUECOLOR = 1 << 24

BOLD, ITALIC, UNDERLINE, INVERSE, STRIKE, BLINK = 1, 2, 4, 8, 16, 32
ATTR_NAMES = {"bold": BOLD, "italic": ITALIC, "underline": UNDERLINE, "inverse": INVERSE,
              "strike": STRIKE, "blink": BLINK}

POINTER_SHAPES = ("arrow", "ibeam")
PointerShape = Literal["arrow", "ibeam"]

MAX_COLS = 1000
MAX_ROWS = 500


class ScreenError(ValueError):
    """A screen description that cannot be drawn (bad size, malformed JSON, ...)."""


def check_size(cols: int, rows: int) -> None:
    """Reject sizes no terminal has: 0x0, negative, or absurdly large."""
    if not (isinstance(cols, int) and isinstance(rows, int)) or isinstance(cols, bool) \
            or isinstance(rows, bool):  # true/false in SCREEN.json are not sizes (found by fuzzing)
        raise ScreenError(f"screen size must be integers, got {cols!r}x{rows!r}")
    if not (1 <= cols <= MAX_COLS and 1 <= rows <= MAX_ROWS):
        raise ScreenError(
            f"screen size {cols}x{rows} is out of range (1..{MAX_COLS} cols, 1..{MAX_ROWS} rows)")


def char_width(ch: str) -> int:
    """Cells a character occupies: 2 for wide (CJK, most emoji), 0 for combining, else 1."""
    if not ch:
        return 0
    w = wcwidth(ch[0])
    if w < 0:  # control characters: drawn as nothing, but never shift the grid
        return 1
    return w


def split_cells(line: str, cols: int) -> list[str]:
    """Lay a display string out on `cols` cells: wide chars take two cells (the second is "")
    and combining marks join the previous cell. Raises if the text does not fit."""
    cells: list[str] = []
    for ch in line:
        w = char_width(ch)
        if w == 0 and unicodedata.combining(ch) and cells:
            i = len(cells) - 1
            if cells[i] == "" and i > 0:
                i -= 1
            cells[i] = unicodedata.normalize("NFC", cells[i] + ch)
            continue
        if w == 0:
            continue
        cells.append(ch)
        if w == 2:
            cells.append("")
    if len(cells) > cols:
        raise ScreenError(f"line is {len(cells)} cells wide, more than {cols} columns: {line[:40]!r}")
    cells.extend(" " * (cols - len(cells)))
    return cells


def color_to_json(code: int) -> str | int:
    if code == DEFAULT:
        return "default"
    if code & TRUECOLOR:
        return f"#{code & 0xFFFFFF:06x}"
    return int(code)


def color_from_json(value: Any) -> int:
    if value is None or value == "default":
        return DEFAULT
    if isinstance(value, bool):
        raise ScreenError(f"bad colour {value!r}")
    if isinstance(value, int):
        if not 0 <= value <= 255:
            raise ScreenError(f"palette colour {value} is out of range 0..255")
        return value
    if isinstance(value, str) and value.startswith("#") and len(value) == 7:
        try:
            return TRUECOLOR | int(value[1:], 16)
        except ValueError:
            pass
    raise ScreenError(f"bad colour {value!r} (use \"default\", 0..255 or \"#rrggbb\")")


@dataclass(frozen=True)
class Pointer:
    """The mouse pointer on a frame: its hotspot at pixel (x, y) and its shape ("arrow" while a
    program takes the mouse, "ibeam" over text). It is part of the screen as the cursor is: decided
    symbolically, drawn by the renderer, checked by the verifier."""

    x: int
    y: int
    shape: PointerShape = "arrow"

    def to_json(self) -> dict[str, Any]:
        return {"x": self.x, "y": self.y, "shape": self.shape}

    @classmethod
    def from_json(cls, data: Any) -> Pointer:
        if (not isinstance(data, dict) or not all(isinstance(data.get(k), int)
                                                  and not isinstance(data.get(k), bool)
                                                  for k in ("x", "y"))):
            raise ScreenError("\"pointer\" must be {\"x\": int, \"y\": int, \"shape\": ...}")
        shape = data.get("shape", "arrow")
        if shape not in POINTER_SHAPES:
            raise ScreenError(f"unknown pointer shape {shape!r} (arrow or ibeam)")
        return cls(int(data["x"]), int(data["y"]), shape)


@dataclass
class ScreenState:
    """A terminal screen: `rows` x `cols` cells and a cursor.

    chars[r][c] is the cell's text ("" for the right half of a wide character, " " for blank);
    fg, bg are int32 colour codes and attrs uint8 attribute bits, each shaped (rows, cols);
    pointer: the mouse pointer, when the mouse has been used.
    """

    cols: int
    rows: int
    chars: list[list[str]]
    fg: np.ndarray
    bg: np.ndarray
    attrs: np.ndarray
    cursor: tuple[int, int] = (0, 0)
    cursor_visible: bool = True
    title: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
    pointer: Pointer | None = None

    # -- construction --------------------------------------------------------------------
    @classmethod
    def blank(cls, cols: int = 80, rows: int = 24) -> ScreenState:
        check_size(cols, rows)
        return cls(cols, rows, [[" "] * cols for _ in range(rows)],
                   np.full((rows, cols), DEFAULT, np.int32),
                   np.full((rows, cols), DEFAULT, np.int32),
                   np.zeros((rows, cols), np.uint8))

    @classmethod
    def from_lines(cls, lines: list[str], cols: int | None = None, rows: int | None = None,
                   cursor: tuple[int, int] | None = None) -> ScreenState:
        """Plain text lines on a grid; the size defaults to the text's own extent."""
        lines = [ln.rstrip("\r\n").expandtabs(8) for ln in lines]
        widths = [_cells_used(ln) for ln in lines]
        cols = cols or max([*widths, 1])
        rows = rows or max(len(lines), 1)
        screen = cls.blank(cols, rows)
        if len(lines) > rows:
            raise ScreenError(f"text has {len(lines)} lines, more than {rows} rows")
        for r, ln in enumerate(lines):
            screen.chars[r] = split_cells(ln, cols)
        if cursor is None:
            last = max(len(lines) - 1, 0)
            cursor = (last, min(_cells_used(lines[last]) if lines else 0, cols - 1))
        screen.cursor = cursor
        return screen

    @classmethod
    def from_json(cls, data: dict[str, Any] | str) -> ScreenState:
        """Parse the SCREEN.json format (a dict or its JSON text); raises ScreenError."""
        if isinstance(data, str):
            try:
                data = json.loads(data)
            except json.JSONDecodeError as e:
                raise ScreenError(f"not valid JSON: {e.msg} (line {e.lineno})") from None
        if not isinstance(data, dict):
            raise ScreenError("SCREEN.json must be an object with cols, rows and lines")
        lines = data.get("lines")
        if not isinstance(lines, list) or not all(isinstance(x, str) for x in lines):
            raise ScreenError("SCREEN.json needs \"lines\": a list of strings")
        cols, rows = data.get("cols"), data.get("rows")
        if cols is None or rows is None:
            raise ScreenError("SCREEN.json needs integer \"cols\" and \"rows\"")
        check_size(cols, rows)
        cursor = data.get("cursor", [0, 0])
        if (not isinstance(cursor, list | tuple) or len(cursor) != 2
                or not all(isinstance(v, int) for v in cursor)):
            raise ScreenError("\"cursor\" must be [row, col]")
        screen = cls.from_lines(lines, cols, rows, cursor=(int(cursor[0]), int(cursor[1])))
        screen.cursor = (min(max(cursor[0], 0), rows - 1), min(max(cursor[1], 0), cols - 1))
        screen.cursor_visible = bool(data.get("cursor_visible", True))
        screen.title = str(data.get("title", ""))
        if data.get("pointer") is not None:
            screen.pointer = Pointer.from_json(data["pointer"])
        styles = data.get("styles", [])
        if not isinstance(styles, list):
            raise ScreenError("\"styles\" must be a list of runs")
        for run in styles:
            screen._apply_style_run(run)
        return screen

    @classmethod
    def load(cls, path: str | Path) -> ScreenState:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise ScreenError(f"cannot read {path}: {e}") from None
        return cls.from_json(text)

    def _apply_style_run(self, run: Any) -> None:
        if not isinstance(run, dict):
            raise ScreenError("each style run must be an object")
        try:
            r, c, n = int(run["row"]), int(run.get("col", 0)), int(run.get("len", 1))
        except (KeyError, TypeError, ValueError):
            raise ScreenError(f"style run needs integer row/col/len: {run!r}") from None
        if not (0 <= r < self.rows and 0 <= c < self.cols and n >= 0):
            raise ScreenError(f"style run outside the screen: {run!r}")
        sl = slice(c, min(c + n, self.cols))
        if "fg" in run:
            self.fg[r, sl] = color_from_json(run["fg"])
        if "bg" in run:
            self.bg[r, sl] = color_from_json(run["bg"])
        for name, bit in ATTR_NAMES.items():
            if run.get(name):
                self.attrs[r, sl] |= bit

    # -- views ---------------------------------------------------------------------------
    def line(self, row: int) -> str:
        """Display string of one row (wide characters once), full width."""
        return "".join(self.chars[row])

    @property
    def lines(self) -> list[str]:
        return [self.line(r) for r in range(self.rows)]

    @property
    def text(self) -> str:
        """The screen's text: rows joined by newlines, trailing spaces stripped per row."""
        return "\n".join(ln.rstrip() for ln in self.lines)

    def style_runs(self, row: int) -> list[tuple[int, int, tuple[int, int, int]]]:
        """Maximal runs of equal (fg, bg, attrs) in a row that are not all default, as
        (start, end, key) with `end` exclusive."""
        fg, bg, attrs = self.fg[row], self.bg[row], self.attrs[row]
        runs: list[tuple[int, int, tuple[int, int, int]]] = []
        c = 0
        while c < self.cols:
            key = (int(fg[c]), int(bg[c]), int(attrs[c]))
            start = c
            while c < self.cols and (int(fg[c]), int(bg[c]), int(attrs[c])) == key:
                c += 1
            if key != (DEFAULT, DEFAULT, 0):
                runs.append((start, c, key))
        return runs

    def to_json(self) -> dict[str, Any]:
        """The SCREEN.json form, with style runs only where cells are not default."""
        styles: list[dict[str, Any]] = []
        for r in range(self.rows):
            for start, end, key in self.style_runs(r):
                run: dict[str, Any] = {"row": r, "col": start, "len": end - start}
                if key[0] != DEFAULT:
                    run["fg"] = color_to_json(key[0])
                if key[1] != DEFAULT:
                    run["bg"] = color_to_json(key[1])
                for name, bit in ATTR_NAMES.items():
                    if key[2] & bit:
                        run[name] = True
                styles.append(run)
        out: dict[str, Any] = {"cols": self.cols, "rows": self.rows, "lines": self.lines,
                               "cursor": [self.cursor[0], self.cursor[1]]}
        if not self.cursor_visible:
            out["cursor_visible"] = False
        if self.title:
            out["title"] = self.title
        if self.pointer is not None:
            out["pointer"] = self.pointer.to_json()
        if styles:
            out["styles"] = styles
        return out

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_json(), ensure_ascii=False, indent=1) + "\n",
                              encoding="utf-8")

    def copy(self) -> ScreenState:
        return ScreenState(self.cols, self.rows, [list(r) for r in self.chars], self.fg.copy(),
                           self.bg.copy(), self.attrs.copy(), self.cursor, self.cursor_visible,
                           self.title, dict(self.meta), self.pointer)

    def same_cells(self, other: ScreenState, row: int) -> bool:
        """True when a row is identical in both screens (text, colours, attributes)."""
        return (self.chars[row] == other.chars[row]
                and bool(np.array_equal(self.fg[row], other.fg[row]))
                and bool(np.array_equal(self.bg[row], other.bg[row]))
                and bool(np.array_equal(self.attrs[row], other.attrs[row])))


def _cells_used(line: str) -> int:
    return sum(max(char_width(ch), 0) if not unicodedata.combining(ch) else 0 for ch in line)

"""The mouse: the reporting modes a program asked for, and the bytes xterm sends in them.

A program turns mouse reporting on with DECSET (the emulator keeps the modes, one tracking mode
and one encoding at a time, as xterm does); `Mouse` turns user actions at a cell into exactly the
bytes xterm would write to the program's input, following xterm's ctlseqs ("Mouse Tracking"):

    tracking    9 X10 (press only)   1000 normal (press, release)   1001 highlight (as normal)
                1002 button-event (+ motion while a button is held)  1003 any-event (+ all motion)
    encoding    default  ESC [ M Cb Cx Cy, each value + 32 as one byte (1-based positions up to
                         223; beyond, a 0 byte)
                1005     the same, values from 128 as two UTF-8 bytes (positions up to 2014)
                1006     ESC [ < b ; x ; y M, release ends in m and keeps the button number
                1015     ESC [ Cb ; x ; y M, decimal, Cb = b + 32
    1004        focus in / out: ESC [ I, ESC [ O
    1007        alternate scroll: with no tracking, the wheel in the alternate screen sends cursor
                keys, five per notch (xterm's <Btn4Down>: scroll-back(5,line,m))

With no mode on, nothing is sent. Button codes: 0 left, 1 middle, 2 right, 3 release (default,
1005, 1015), 64 wheel up, 65 wheel down, +32 for motion; wheel releases are never reported, and X10
reports neither wheel nor motion. Motion is reported only when the pointer enters another cell.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from terminal.screen import Pointer, PointerShape

Tracking = Literal["off", "x10", "normal", "highlight", "button", "any"]
Encoding = Literal["default", "utf8", "sgr", "urxvt"]
Button = Literal["left", "middle", "right", "none"]
Action = Literal["press", "release", "click", "move", "wheel_up", "wheel_down"]

TRACKING_MODES: dict[int, Tracking] = {9: "x10", 1000: "normal", 1001: "highlight",
                                       1002: "button", 1003: "any"}
ENCODING_MODES: dict[int, Encoding] = {1005: "utf8", 1006: "sgr", 1015: "urxvt"}
BUTTONS: dict[str, int] = {"left": 0, "middle": 1, "right": 2}
ACTIONS: tuple[str, ...] = ("press", "release", "click", "move", "wheel_up", "wheel_down")
WHEEL = {"wheel_up": 64, "wheel_down": 65}
RELEASE, MOTION = 3, 32
WHEEL_LINES = 5
_LIMIT = {"default": 255 - 32, "utf8": 2047 - 32}  # xterm's MOUSE_LIMIT, EXT_MOUSE_LIMIT


class MouseError(ValueError):
    """An unknown button or action, or a position that is not a cell: one line."""


@dataclass(frozen=True)
class MouseMode:
    """What the program asked the terminal to report (read from its DECSET modes).

    tracking: which mouse events are reported ("off": none); encoding: how they are written;
    focus: focus in/out events (1004); alternate_scroll: the wheel sends cursor keys in the
    alternate screen (1007); alternate_screen and app_cursor (DECCKM) decide those keys.
    """

    tracking: Tracking = "off"
    encoding: Encoding = "default"
    focus: bool = False
    alternate_scroll: bool = False
    alternate_screen: bool = False
    app_cursor: bool = False

    @classmethod
    def from_modes(cls, is_set: Callable[[int], bool], alternate_screen: bool) -> MouseMode:
        """The mouse modes of a terminal whose private modes `is_set(n)` answers."""
        tracking: Tracking = next((t for n, t in TRACKING_MODES.items() if is_set(n)), "off")
        encoding: Encoding = next((e for n, e in ENCODING_MODES.items() if is_set(n)), "default")
        return cls(tracking, encoding, is_set(1004), is_set(1007), alternate_screen, is_set(1))

    @property
    def pointer_shape(self) -> PointerShape:
        """The pointer a terminal shows: an arrow while a program takes the mouse (the cells are
        buttons now), an I-beam over plain text."""
        return "arrow" if self.tracking != "off" else "ibeam"


def encode_report(mode: MouseMode, code: int, col: int, row: int, release: bool = False) -> bytes:
    """One mouse report in `mode`'s encoding: `code` is the button code (0-2 buttons, 64/65 wheel,
    +32 motion), col/row 0-based and already clamped to the screen; `release` marks a button
    release (code 3 in the byte encodings, a final `m` in SGR)."""
    if mode.encoding == "sgr":
        return f"\x1b[<{code};{col + 1};{row + 1}{'m' if release else 'M'}".encode()
    if release:
        code = RELEASE
    if mode.encoding == "urxvt":
        return f"\x1b[{code + 32};{col + 1};{row + 1}M".encode()
    out = bytearray(b"\x1b[M")
    utf8 = mode.encoding == "utf8"
    value = code + 32
    if utf8 and value >= 128:
        out += bytes((0xC0 + (value >> 6), 0x80 + (value & 0x3F)))
    else:
        out.append(value & 0xFF)
    for v in (col, row):
        v = min(v, _LIMIT[mode.encoding])
        if v == _LIMIT[mode.encoding]:
            out.append(0)  # xterm's past-the-end marker for a position it cannot encode
        elif utf8 and v >= 127 - 32:
            v += 33
            out += bytes((0xC0 + (v >> 6), 0x80 + (v & 0x3F)))
        else:
            out.append(v + 33)
    return bytes(out)


def focus_report(mode: MouseMode, focused: bool) -> bytes:
    """ESC [ I / ESC [ O when the program asked for focus events (1004), else nothing."""
    if not mode.focus:
        return b""
    return b"\x1b[I" if focused else b"\x1b[O"


def scroll_keys(mode: MouseMode, lines: int) -> bytes:
    """What one wheel notch sends with no tracking on: cursor keys in the alternate screen with
    alternate scroll (1007), nothing otherwise (lines < 0: up)."""
    if mode.tracking != "off" or not (mode.alternate_scroll and mode.alternate_screen):
        return b""
    key = (b"\x1bO" if mode.app_cursor else b"\x1b[") + (b"A" if lines < 0 else b"B")
    return key * abs(lines)


class Mouse:
    """The pointer and the held buttons of one terminal; `act` gives the bytes of one action."""

    def __init__(self) -> None:
        self.held: list[int] = []  # pressed buttons, oldest first
        self.cell: tuple[int, int] | None = None  # (col, row) of the pointer
        self._reported: tuple[int, int] | None = None  # the cell of the last report sent

    def act(self, mode: MouseMode, col: int, row: int, button: str = "left",
            action: str = "click", *, cols: int, rows: int) -> bytes:
        """Move the pointer to the 0-based cell (col, row) of a `cols` x `rows` screen and do
        `action` (press|release|click|move|wheel_up|wheel_down) with `button` (left|middle|
        right; ignored by move and the wheel); returns what the program gets (maybe nothing)."""
        if action not in ACTIONS:
            raise MouseError(f"unknown mouse action {action!r} (choose from {', '.join(ACTIONS)})")
        if action in ("press", "release", "click") and button not in BUTTONS:
            raise MouseError(f"unknown mouse button {button!r} (left, middle or right)")
        if isinstance(col, bool) or isinstance(row, bool) or not (isinstance(col, int)
                                                                  and isinstance(row, int)):
            raise MouseError(f"mouse position must be integer cells, got {col!r}, {row!r}")
        col, row = min(max(col, 0), cols - 1), min(max(row, 0), rows - 1)
        moved = self._motion(mode, col, row) if self._reported != (col, row) else b""
        self.cell = (col, row)
        if action == "move":
            return moved
        if action in WHEEL:
            if mode.tracking == "off":
                return moved + scroll_keys(mode, -WHEEL_LINES if action == "wheel_up"
                                           else WHEEL_LINES)
            if mode.tracking == "x10":  # X10 reports buttons 1-3 only
                return moved
            return moved + self._report(mode, WHEEL[action], col, row)
        code = BUTTONS[button]
        out = moved
        if action in ("press", "click"):
            if code not in self.held:
                self.held.append(code)
            if mode.tracking != "off":
                out += self._report(mode, code, col, row)
        if action in ("release", "click"):
            if code in self.held:
                self.held.remove(code)
            if mode.tracking not in ("off", "x10"):
                out += self._report(mode, code, col, row, release=True)
        return out

    def pointer(self, mode: MouseMode, cell_size: tuple[int, int]) -> Pointer | None:
        """The pointer drawn on the frame: its hotspot at the centre of its cell, in pixels, and
        the shape the mode calls for; None before the mouse has been used."""
        if self.cell is None:
            return None
        h, w = cell_size
        col, row = self.cell
        return Pointer(col * w + w // 2, row * h + h // 2, mode.pointer_shape)

    def _motion(self, mode: MouseMode, col: int, row: int) -> bytes:
        if mode.tracking == "any" or (mode.tracking == "button" and self.held):
            code = MOTION + (self.held[0] if self.held else RELEASE)
            return self._report(mode, code, col, row)
        return b""

    def _report(self, mode: MouseMode, code: int, col: int, row: int,
                release: bool = False) -> bytes:
        self._reported = (col, row)
        return encode_report(mode, code, col, row, release)


__all__ = ["ACTIONS", "BUTTONS", "Mouse", "MouseError", "MouseMode", "encode_report",
           "focus_report", "scroll_keys"]

"""The web terminal's wire protocol: client messages in, JSON and binary frame updates out.

WebSocket (`/ws?token=T&cols=C&rows=R`), client -> server JSON:

    {"type": "keys", "keys": ["l", "s", "Enter", "ctrl+c", "alt+b", "Up", "F5"]}   # Session key names
    {"type": "text", "data": "..."}          # typed character by character (IME input)
    {"type": "paste", "data": "..."}         # Session.paste (bracketed when the program asks)
    {"type": "resize", "cols": C, "rows": R}
    {"type": "config", "view": "neural"|"raster"|"side", "steps": N, "seed": N, "theme": "dark"}
    {"type": "mouse", "col": C, "row": R, "button": "left", "action": "click"}   # Session.mouse
    {"type": "select", "anchor": [row, col], "head": [row, col], "unit": "cell"|"word"|"line"}
    {"type": "select"}                       # no anchor: clear the selection
    {"type": "ping"}

server -> client: JSON `hello` (session id, size, cell size, renderer, notice), `step` (the symbolic
screen's lines, cursor, wrong cells, route, reason, caption, timings, accuracy, trace, the mouse
tracking the program asked for, the selection with its exact text), `selection` (the answer to a
`select`: its exact text), `config`, `error`, `closed`, `pong`; and binary frame updates: a 13-byte
header (channel u8: 0 = the session's renderer, 1 = the raster reference; frame width, frame
height, y offset: u32 big-endian) followed by a PNG of the changed band of rows. A frame whose size
changed is sent whole.
"""

from __future__ import annotations

import io
import json
import struct
from typing import Any, Protocol

import numpy as np

VIEWS = ("neural", "raster", "side")
UNITS = ("cell", "word", "line")  # what a drag, a double-click, a triple-click select
HEADER = struct.Struct(">BIII")  # channel, frame width, frame height, y offset
MAX_WRONG = 4000  # cells highlighted per step at most
MAX_CAPTION = 4000  # caption characters sent per step at most


class ProtocolError(ValueError):
    """A client message that is not part of the protocol."""


class Limits(Protocol):
    """The bounds a client message must keep (`ServeConfig` has them)."""

    @property
    def max_paste(self) -> int: ...
    @property
    def max_cols(self) -> int: ...
    @property
    def max_rows(self) -> int: ...


def one_line(e: BaseException) -> str:
    """An error as the one line the page shows."""
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


# -- client messages --------------------------------------------------------------------------
def parse_client_message(raw: str, config: Limits) -> dict[str, Any]:
    """Validate one client message; ProtocolError (one line) when it is not in the protocol."""
    try:
        msg = json.loads(raw)
    except ValueError:
        raise ProtocolError("message is not JSON") from None
    if not isinstance(msg, dict) or not isinstance(msg.get("type"), str):
        raise ProtocolError("message needs a \"type\"")
    kind = msg["type"]
    if kind == "keys":
        keys = msg.get("keys")
        if not (isinstance(keys, list) and keys and len(keys) <= 1024
                and all(isinstance(k, str) and 0 < len(k) <= 32 for k in keys)):
            raise ProtocolError("keys: a list of 1-1024 key names is needed")
        return {"type": kind, "keys": keys}
    if kind in ("text", "paste"):
        data = msg.get("data")
        if not isinstance(data, str):
            raise ProtocolError(f"{kind}: \"data\" must be a string")
        if len(data) > config.max_paste:
            raise ProtocolError(f"{kind}: {len(data)} characters is more than the limit of "
                                f"{config.max_paste}")
        return {"type": kind, "data": data}
    if kind == "resize":
        cols, rows = msg.get("cols"), msg.get("rows")
        if not (isinstance(cols, int) and isinstance(rows, int)) or isinstance(cols, bool):
            raise ProtocolError("resize: cols and rows must be integers")
        if not (2 <= cols <= config.max_cols and 2 <= rows <= config.max_rows):
            raise ProtocolError(f"resize: {cols}x{rows} is outside 2..{config.max_cols} columns, "
                                f"2..{config.max_rows} rows")
        return {"type": kind, "cols": cols, "rows": rows}
    if kind == "config":
        out: dict[str, Any] = {"type": kind}
        if "view" in msg:
            if msg["view"] not in VIEWS:
                raise ProtocolError(f"config: view must be one of {', '.join(VIEWS)}")
            out["view"] = msg["view"]
        for name, lo, hi in (("steps", 1, 64), ("seed", 0, 2**31 - 1)):
            if name in msg:
                v = msg[name]
                if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
                    raise ProtocolError(f"config: {name} must be an integer in {lo}..{hi}")
                out[name] = v
        if "theme" in msg:
            from terminal.themes import THEMES

            if msg["theme"] not in THEMES:
                raise ProtocolError(f"config: theme must be one of {', '.join(THEMES)}")
            out["theme"] = msg["theme"]
        return out
    if kind == "mouse":
        from terminal.mouse import ACTIONS, BUTTONS

        col, row = msg.get("col"), msg.get("row")
        if not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 10000
                   for v in (col, row)):
            raise ProtocolError("mouse: col and row must be cell numbers")
        button, action = msg.get("button", "left"), msg.get("action", "click")
        if button not in BUTTONS or action not in ACTIONS:
            raise ProtocolError(f"mouse: button must be one of {', '.join(BUTTONS)}, action one "
                                f"of {', '.join(ACTIONS)}")
        return {"type": kind, "col": col, "row": row, "button": button, "action": action}
    if kind == "select":
        if msg.get("anchor") is None:
            return {"type": kind, "anchor": None}
        cells = [msg.get("anchor"), msg.get("head", msg.get("anchor"))]
        if not all(isinstance(cell, list) and len(cell) == 2
                   and all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 10000
                           for v in cell) for cell in cells):
            raise ProtocolError("select: anchor and head must be [row, col] cell numbers")
        unit = msg.get("unit", "cell")
        if unit not in UNITS:
            raise ProtocolError(f"select: unit must be one of {', '.join(UNITS)}")
        return {"type": kind, "anchor": cells[0], "head": cells[1], "unit": unit}
    if kind == "ping":
        return {"type": kind}
    raise ProtocolError(f"unknown message type {kind!r}")


# -- frames -----------------------------------------------------------------------------------
def png_bytes(pixels: np.ndarray) -> bytes:
    """PNG of an (H, W, 3) uint8 array; compression level 1 - speed matters more than size."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels)).save(buf, "PNG", compress_level=1)
    return buf.getvalue()


def frame_updates(prev: np.ndarray | None, frame: np.ndarray, channel: int = 0,
                  merge_gap: int = 8) -> list[bytes]:
    """Binary messages that turn `prev` into `frame` on the page: the changed bands of pixel rows
    (bands closer than `merge_gap` rows are joined), or the whole frame when the size changed."""
    h, w = frame.shape[:2]
    if prev is None or prev.shape != frame.shape:
        return [HEADER.pack(channel, w, h, 0) + png_bytes(frame)]
    changed = np.flatnonzero((prev != frame).any(axis=(1, 2)))
    if not len(changed):
        return []
    bands: list[list[int]] = [[int(changed[0]), int(changed[0]) + 1]]
    for y in changed[1:].tolist():
        if y - bands[-1][1] <= merge_gap:
            bands[-1][1] = y + 1
        else:
            bands.append([y, y + 1])
    return [HEADER.pack(channel, w, h, y0) + png_bytes(frame[y0:y1]) for y0, y1 in bands]


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def cell_span(chars: list[str], col: int) -> tuple[int, int]:
    """Where cell `col` sits in the row's display string, as JavaScript string offsets (UTF-16
    code units) [start, end): the page slices `line.substring(start, end)`. The right half of a
    wide character maps to the character itself."""
    while col > 0 and chars[col] == "":
        col -= 1
    start = sum(_utf16(c) for c in chars[:col])
    return start, start + max(_utf16(chars[col]), 1)


def cursor_span(screen: Any) -> list[int] | None:
    """The cursor as [row, start, end] (see `cell_span`), or None when it is not shown."""
    r, c = screen.cursor
    if not (screen.cursor_visible and 0 <= r < screen.rows and 0 <= c < screen.cols):
        return None
    return [r, *cell_span(screen.chars[r], c)]


def wrong_cells(step: Any) -> tuple[list[list[int]], int, str]:
    """The cells a step drew wrong before repair, from its own verification report: as
    [row, start, end] (see `cell_span`), the total count, and where they came from ("verify",
    or "none" when the session does not verify). The report lists the first few cells; the
    total counts them all."""
    screen = step.screen
    verify = step.trace.get("verify") if isinstance(step.trace, dict) else None
    if not isinstance(verify, dict):
        return [], 0, "none"
    out = []
    for cell in (verify.get("wrong_cells") or [])[:MAX_WRONG]:
        r, c = int(cell[0]), int(cell[1])
        if 0 <= r < screen.rows and 0 <= c < screen.cols:
            out.append([r, *cell_span(screen.chars[r], c)])
    total = verify.get("wrong_before")
    return out, total if isinstance(total, int) else len(out), "verify"


def selection_message(selection: Any, screen: Any) -> dict[str, Any] | None:
    """A `terminal.selection.Selection` as the page sees it, with the exact text a copy of it
    gives on `screen` (None when nothing is selected)."""
    if selection is None:
        return None
    from terminal.selection import selection_text

    return {"anchor": list(selection.anchor), "head": list(selection.head),
            "unit": selection.unit, "text": selection_text(screen, selection)}


def step_message(step: Any, renderer: str, notice: str | None, *, mouse: str = "off",
                 selection: Any = None) -> dict[str, Any]:
    """The `step` message of one frame: the exact screen beside what was drawn of it. `mouse`:
    the tracking mode the program asked for ("off": the page selects text with the mouse);
    `selection`: the Selection shown on this frame, sent with its text."""
    data = step.to_json()
    screen = step.screen
    caption = data.pop("caption", "") or ""
    wrong, total, source = wrong_cells(step)
    render_info = step.trace.get("render", {}) if isinstance(step.trace, dict) else {}
    fallback = render_info.get("fallback")
    data.update({
        "type": "step", "action": data.pop("line", ""),
        "caption": caption if len(caption) <= MAX_CAPTION else caption[:MAX_CAPTION] + " …",
        "lines": list(screen.lines), "cursor": list(screen.cursor),
        "cursor_span": cursor_span(screen),
        "cursor_visible": bool(screen.cursor_visible), "cols": screen.cols,
        "rows": screen.rows, "title": screen.title,
        "pointer": screen.pointer.to_json() if screen.pointer is not None else None,
        "wrong": wrong, "wrong_source": source, "wrong_total": total,
        "mouse": mouse, "selection": selection_message(selection, screen),
        "renderer": renderer,
        "notice": notice or (fallback and f"this frame fell back to the raster: {fallback}"),
    })
    return data


def encode(item: Any) -> str:
    """A JSON message as sent on the socket."""
    return json.dumps(item, ensure_ascii=False)

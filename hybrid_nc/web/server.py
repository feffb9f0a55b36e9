"""The web terminal: a serving object that owns sessions, and a thin FastAPI router over it.

Shape (vLLM's entrypoints): `TerminalService` holds every browser tab's `WebSession`; `create_app`
only translates HTTP and WebSocket traffic into calls on it, so tests drive the service directly or
through FastAPI's TestClient, and `hybrid-nc serve` is a few lines around uvicorn.

Each tab is one `Session` (orchestrator/session.py) on its own worker thread: Session calls block
(drawing, verifying, a reasoner's answer), so they never run on the event loop. Input waits in a bounded queue;
the worker applies *every* queued action in order and sends only the newest frame when a burst is
done (frames may be skipped, keys never are). While idle the worker polls the session, so output
that arrives on its own (`top`, a background job) reaches the page. Enter returns as soon as the
command has started (`Session.key(..., wait=False)`), so a running command's output streams in
through those polls and Ctrl+C is an ordinary key, applied in order.

WebSocket protocol (`/ws?token=T&cols=C&rows=R`), client -> server JSON:

    {"type": "keys", "keys": ["l", "s", "Enter", "ctrl+c", "alt+b", "Up", "F5"]}   # Session key names
    {"type": "text", "data": "..."}          # typed character by character (IME input)
    {"type": "paste", "data": "..."}         # Session.paste (bracketed when the program asks)
    {"type": "resize", "cols": C, "rows": R}
    {"type": "config", "view": "neural"|"raster"|"side", "steps": N, "seed": N, "theme": "dark"}
    {"type": "ping"}

server -> client: JSON `hello` (session id, size, cell size, renderer, notice), `step` (the symbolic
screen's lines, cursor, wrong cells, route, reason, caption, timings, accuracy, trace), `config`,
`error`, `closed`, `pong`; and binary frame updates: a 13-byte header (channel u8: 0 = the session's
renderer, 1 = the raster reference; frame width, frame height, y offset: u32 big-endian) followed by
a PNG of the changed band of rows. A frame whose size changed is sent whole.

HTTP: `GET /` the page, `GET /api/info`, `GET /api/sessions/{id}/recording.cast|.mp4`.
Bound to a loopback address no token is needed (but the Host header must be a loopback name, which
stops DNS rebinding); bound to any other address a token is required on every request.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import io
import ipaddress
import json
import queue
import secrets
import shutil
import struct
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
from fastapi import FastAPI, HTTPException, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.background import BackgroundTask

STATIC = Path(__file__).resolve().parent / "static"
VIEWS = ("neural", "raster", "side")
RUNNING_POLL = 0.03  # seconds between polls while a command runs (its output streams)
HEADER = struct.Struct(">BIII")  # channel, frame width, frame height, y offset

Send = Callable[[Any], None]


class ServiceBusy(RuntimeError):
    """No room for another session (max sessions reached)."""


class QueueFull(RuntimeError):
    """A tab sent more input than its queue holds."""


class ProtocolError(ValueError):
    """A client message that is not part of the protocol."""


def is_loopback(host: str) -> bool:
    """True for localhost, 127.0.0.0/8 and ::1."""
    if host.strip("[]").lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ServeConfig:
    """Everything `hybrid-nc serve` is made of.

    host/port: where to listen (127.0.0.1 by default). token: required on every request when set;
    generated when the host is not loopback and none is given. max_sessions: tabs at once.
    max_queue: pending input messages per tab. idle_timeout: seconds without input before a tab's
    session closes. poll_interval: seconds between background polls of an idle session.
    frame_interval: least time between frames sent during a burst. max_paste: characters per paste.
    max_cols/max_rows: the largest terminal a tab may ask for. session_options: SessionConfig
    overrides for every session (renderer, reasoners, theme, ...).
    """

    host: str = "127.0.0.1"
    port: int = 8765
    token: str | None = None
    max_sessions: int = 8
    max_queue: int = 512
    idle_timeout: float = 1800.0
    poll_interval: float = 0.1
    frame_interval: float = 0.05
    max_paste: int = 65536
    max_cols: int = 300
    max_rows: int = 120
    session_options: tuple[tuple[str, Any], ...] = ()

    @property
    def needs_token(self) -> bool:
        return not is_loopback(self.host)


def _one_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


# -- client messages --------------------------------------------------------------------------
def parse_client_message(raw: str, config: ServeConfig) -> dict[str, Any]:
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


# -- one tab ----------------------------------------------------------------------------------
class _Call:
    """Work the server itself queues for a session (downloads): not a client message."""

    def __init__(self, fn: Callable[[Any], Any]) -> None:
        self.fn = fn
        self.future: concurrent.futures.Future[Any] = concurrent.futures.Future()


_STOP = object()
CLOSE = object()  # put on a tab's outbox after its last message: the router closes the socket


class WebSession:
    """One browser tab: a `Session` on a worker thread, an input queue, and the frames sent so far.

    Args:
        sid: the session id (random; it names the tab's downloads).
        service: the owning TerminalService.
        send: called (from the worker thread) with each outgoing message: a dict (JSON), bytes
            (a frame update) or CLOSE.
        options: SessionConfig overrides for this tab (cols, rows).
    """

    def __init__(self, sid: str, service: TerminalService, send: Send,
                 options: dict[str, Any] | None = None) -> None:
        self.id = sid
        self.service = service
        self.config = service.config
        self._send = send
        self._options = dict(options or {})
        self._inbox: queue.Queue[Any] = queue.Queue(maxsize=self.config.max_queue)
        self._closing = threading.Event()
        self.closed = threading.Event()
        self.close_reason = "closed"
        self.session: Any = None
        self.created = self.last_input = time.monotonic()
        self.notice: str | None = None
        self.primary = "neural"
        self.view = "neural"
        self.theme = "dark"
        self._renderer_options: dict[str, Any] = {}
        self.frames_sent = 0
        self._ready = False
        self._latest: Any = None
        self._published: Any = None
        self._last_pub = 0.0
        self._sent: dict[int, np.ndarray] = {}
        self._reference: Any = None
        self._ocr: Any = None
        self._thread = threading.Thread(target=self._run, name=f"hybrid-nc-web-{sid[:8]}",
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    # -- called from the event loop --------------------------------------------------------
    def receive(self, msg: dict[str, Any]) -> None:
        """Queue a validated client message; QueueFull when the tab is too far behind."""
        self.last_input = time.monotonic()
        try:
            self._inbox.put_nowait(msg)
        except queue.Full:
            raise QueueFull(f"input queue is full ({self.config.max_queue} messages waiting); "
                            "this input was not applied") from None

    def call(self, fn: Callable[[Any], Any]) -> concurrent.futures.Future[Any]:
        """Run `fn(session)` on the worker, in order with the input; returns a Future."""
        item = _Call(fn)
        if self._closing.is_set():
            item.future.set_exception(RuntimeError("the session is closed"))
            return item.future
        try:
            self._inbox.put_nowait(item)
        except queue.Full:
            item.future.set_exception(QueueFull("the session is busy; try again"))
        return item.future

    def close(self, reason: str) -> None:
        """Ask the worker to end the session (and the shell with everything it runs)."""
        if self._closing.is_set():
            return
        self.close_reason = reason
        self._closing.set()
        with contextlib.suppress(queue.Full):
            self._inbox.put_nowait(_STOP)

    def join(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    # -- the worker thread ----------------------------------------------------------------
    def _run(self) -> None:
        try:
            self._start_session()
        except Exception as e:
            self._emit({"type": "error", "message": f"the session could not start: {_one_line(e)}",
                        "fatal": True})
            self.close_reason = "the session could not start"
            self._finish()
            return
        try:
            self._loop()
        finally:
            with contextlib.suppress(Exception):
                self.session.close()
            self._finish()

    def _finish(self) -> None:
        self._closing.set()
        while True:  # downloads still waiting get an answer instead of a timeout
            try:
                item = self._inbox.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, _Call):
                item.future.set_exception(RuntimeError(f"the session is closed: {self.close_reason}"))
        self.closed.set()
        self._emit({"type": "closed", "reason": self.close_reason})
        self._emit(CLOSE)
        self.service._forget(self.id)

    def _start_session(self) -> None:
        from orchestrator.session import Session, SessionConfig

        opts = dict(self.config.session_options)
        opts.update(self._options)
        self.primary = str(opts.pop("renderer", None) or SessionConfig.renderer)
        self.theme = str(opts.get("theme") or SessionConfig.theme)
        options = opts.get("renderer_options") or ()
        self._renderer_options = dict(options.items() if isinstance(options, dict) else options)
        renderer = self._make_renderer(self.primary, self.theme)
        self.view = "raster" if _name(renderer) == "raster" else "neural"
        s = Session(renderer=renderer, on_frame=self._on_frame, **opts)
        self.session = s
        self._emit({
            "type": "hello", "session": self.id, "cols": s.terminal.cols, "rows": s.terminal.rows,
            "cell": list(s.renderer.cell_size), "renderer": _name(s.renderer),
            "primary": self.primary, "view": self.view, "renderers": _renderers(),
            "themes": _themes(), "theme": self.theme, "seed": s.config.seed,
            "steps": getattr(s.renderer, "steps", None), "notice": self.notice,
            "reasoners": list(s.config.reasoners),
            "limits": {"max_cols": self.config.max_cols, "max_rows": self.config.max_rows,
                       "max_paste": self.config.max_paste, "max_queue": self.config.max_queue,
                       "idle_timeout": self.config.idle_timeout},
        })
        self._ready = True
        if self._latest is not None:
            self._publish(self._latest)

    def _make_renderer(self, name: str, theme: str) -> Any:
        """The named renderer; when a non-raster one cannot load (no checkpoint), the raster with
        a notice the page shows."""
        # the page's own renderer keeps the options it was served with (--look, --model)
        options = dict(self._renderer_options) if name == self.primary else {}
        options.pop("theme", None)
        try:
            return _create_renderer(name, theme, **options)
        except Exception as e:
            if name == "raster":
                raise
            self.notice = (f"the {name} renderer is unavailable ({_one_line(e)}); "
                           "showing the raster renderer")
            return _create_renderer("raster", theme)

    def _loop(self) -> None:
        while not self._closing.is_set():
            shell = getattr(self.session, "shell", None)
            running = shell is not None and not shell.at_prompt
            try:
                first = self._inbox.get(timeout=RUNNING_POLL if running
                                        else self.config.poll_interval)
            except queue.Empty:
                self._poll()
                continue
            batch = [first]
            while True:
                try:
                    batch.append(self._inbox.get_nowait())
                except queue.Empty:
                    break
            if _STOP in batch:
                batch = batch[:batch.index(_STOP)]
                self._closing.set()
            self._apply_batch(batch)

    def _poll(self) -> None:
        try:
            self.session.poll(0.0)
        except Exception as e:
            self._emit({"type": "error", "message": _one_line(e)})
        self._flush()
        shell = getattr(self.session, "shell", None)
        if shell is not None and not shell.alive():
            self.close_reason = "the shell exited"
            self._closing.set()

    def _apply_batch(self, batch: list[Any]) -> None:
        batch = _merge_keys(batch)
        for i, msg in enumerate(batch):
            if isinstance(msg, dict) and msg["type"] == "resize" and i + 1 < len(batch) \
                    and isinstance(batch[i + 1], dict) and batch[i + 1]["type"] == "resize":
                continue  # only the last of consecutive resizes matters
            try:
                self._apply(msg)
            except Exception as e:
                self._emit({"type": "error", "message": _one_line(e)})
        self._flush()

    def _apply(self, msg: Any) -> None:
        s = self.session
        if isinstance(msg, _Call):
            try:
                msg.future.set_result(msg.fn(s))
            except Exception as e:
                msg.future.set_exception(e)
            return
        kind = msg["type"]
        if kind == "keys":
            errors = []
            for run in _runs_of_text(msg["keys"]):
                if len(run) > 1:
                    s.keys("".join(run))
                    continue
                try:
                    # Enter returns once the command has started: the worker stays free, the
                    # command's output streams in through polls, and Ctrl+C is just a key
                    s.key(run[0], wait=False)
                except ValueError as e:  # an unknown key name skips that key only
                    errors.append(_one_line(e))
            if errors:
                self._emit({"type": "error", "message": errors[0]})
        elif kind == "text":
            s.keys(msg["data"])
        elif kind == "paste":
            s.paste(msg["data"])
        elif kind == "resize":
            if (msg["cols"], msg["rows"]) != (s.terminal.cols, s.terminal.rows):
                s.resize(msg["cols"], msg["rows"])
        elif kind == "config":
            self._configure(msg)

    def _configure(self, msg: dict[str, Any]) -> None:
        s = self.session
        redraw = False
        if "seed" in msg and msg["seed"] != s.config.seed:
            s.config = replace(s.config, seed=msg["seed"])
            redraw = True
        theme = msg.get("theme", self.theme)
        view = msg.get("view", self.view)
        want = "raster" if view == "raster" else self.primary
        if theme != self.theme or want != _name(s.renderer):
            self.notice = None
            renderer = self._make_renderer(want, theme)
            s.set_renderer(renderer, theme)
            if theme != self.theme:  # the reference is drawn in the new theme too
                self._reference = None
                self._sent.pop(1, None)
            self.theme = theme
            redraw = True
        if view != self.view:
            self.view = view
            self._reference = None
            self._sent.pop(1, None)
            redraw = True
        if "steps" in msg:
            if not hasattr(s.renderer, "steps"):
                raise ValueError(f"the {_name(s.renderer)} renderer has no sampling steps")
            if msg["steps"] != s.renderer.steps:
                s.renderer.steps = msg["steps"]
                redraw = True
        self._emit({"type": "config", "view": self.view, "renderer": _name(s.renderer),
                    "theme": self.theme, "seed": s.config.seed,
                    "steps": getattr(s.renderer, "steps", None), "notice": self.notice,
                    "cell": list(s.renderer.cell_size)})
        if redraw:  # a same-size resize redraws every row with the new settings
            s.resize(s.terminal.cols, s.terminal.rows)

    # -- frames out ---------------------------------------------------------------------------
    def _on_frame(self, step: Any) -> None:
        self._latest = step
        if self._ready and time.monotonic() - self._last_pub >= self.config.frame_interval:
            self._publish(step)

    def _flush(self) -> None:
        if self._ready and self._latest is not None and self._latest is not self._published:
            self._publish(self._latest)

    def _publish(self, step: Any) -> None:
        self._published = step
        self._last_pub = time.monotonic()
        for msg in frame_updates(self._sent.get(0), step.frame_array, 0):
            self._emit(msg)
        self._sent[0] = step.frame_array
        if self.view == "side":
            ref = self._reference_frame(step.screen)
            for msg in frame_updates(self._sent.get(1), ref, 1):
                self._emit(msg)
            self._sent[1] = ref
        self.frames_sent += 1
        self._emit(self._step_message(step))

    def _reference_frame(self, screen: Any) -> np.ndarray:
        if self._reference is None:
            from renderer.raster import RasterRenderer

            self._reference = RasterRenderer(theme=self.theme)
        out: np.ndarray = self._reference.render(screen).frame
        return out

    def _step_message(self, step: Any) -> dict[str, Any]:
        data = step.to_json()
        screen = step.screen
        caption = data.pop("caption", "") or ""
        wrong, source = self._wrong_cells(step)
        verify = step.trace.get("verify") if isinstance(step.trace, dict) else None
        total = verify.get("wrong_before") if isinstance(verify, dict) else None
        render_info = step.trace.get("render", {}) if isinstance(step.trace, dict) else {}
        data.update({
            "type": "step", "action": data.pop("line", ""),
            "caption": caption if len(caption) <= 4000 else caption[:4000] + " …",
            "lines": list(screen.lines), "cursor": list(screen.cursor),
            "cursor_span": _cursor_span(screen),
            "cursor_visible": bool(screen.cursor_visible), "cols": screen.cols,
            "rows": screen.rows, "title": screen.title,
            "wrong": wrong, "wrong_source": source,
            "wrong_total": total if isinstance(total, int) else len(wrong),
            "renderer": _name(self.session.renderer),
            "notice": self.notice or (render_info.get("fallback") and
                                      f"this frame fell back to the raster: {render_info['fallback']}"),
        })
        return data

    def _wrong_cells(self, step: Any) -> tuple[list[list[int]], str]:
        """Cells drawn wrong before repair, as [row, start, end] (see `cell_span`): from the
        verify trace when it names them, else read back from the frame with the cell OCR."""
        screen = step.screen
        verify = step.trace.get("verify") if isinstance(step.trace, dict) else None
        cells = None
        if isinstance(verify, dict):
            for key in ("wrong_before", "wrong_cells_before", "wrong_cells", "wrong"):
                if isinstance(verify.get(key), list):
                    cells, source = verify[key], "verify"
                    break
        if cells is None and step.accuracy.get("raw") == 1.0:
            cells, source = [], "verify"  # read back exactly: nothing was drawn wrong
        if cells is None:
            cells, source = self._ocr_wrong(step), "ocr"
        out = []
        for cell in cells[:4000]:
            r, c = int(cell[0]), int(cell[1])
            if 0 <= r < screen.rows and 0 <= c < screen.cols:
                out.append([r, *cell_span(screen.chars[r], c)])
        return out, source

    def _ocr_wrong(self, step: Any) -> list[tuple[int, int]]:
        from renderer.ocr import CellOCR

        screen, frame = step.screen, step.frame_array
        atlas = _atlas_of(self.session.renderer)
        if self._ocr is None or self._ocr.atlas is not atlas:
            self._ocr = CellOCR(atlas)
        ch, cw = atlas.cell
        if frame.shape[0] < screen.rows * ch or frame.shape[1] < screen.cols * cw:
            return []
        read = self._ocr.read(frame, screen.cols, screen.rows, hint=screen)
        return [(r, c) for r in range(screen.rows) for c in range(screen.cols)
                if read.cells[r][c] != screen.chars[r][c] and screen.chars[r][c] != ""]

    def _emit(self, item: Any) -> None:
        with contextlib.suppress(Exception):  # the page may be gone; the session goes on
            self._send(item)


# -- helpers over the renderer and session APIs ---------------------------------------------
def _merge_keys(batch: list[Any]) -> list[Any]:
    """Adjacent keys messages as one (their order kept), so a burst is typed in one go."""
    out: list[Any] = []
    for msg in batch:
        if isinstance(msg, dict) and msg["type"] == "keys" and out \
                and isinstance(out[-1], dict) and out[-1]["type"] == "keys":
            out[-1] = {"type": "keys", "keys": out[-1]["keys"] + msg["keys"]}
        else:
            out.append(msg)
    return out


def _runs_of_text(keys: list[str]) -> list[list[str]]:
    """Split key names into runs: consecutive printable characters together, every other key
    (Enter, arrows, Ctrl/Alt combinations, which depend on the terminal's modes) alone."""
    runs: list[list[str]] = []
    for k in keys:
        plain = len(k) == 1 and k.isprintable()
        if plain and runs and len(runs[-1][0]) == 1 and runs[-1][0].isprintable():
            runs[-1].append(k)
        else:
            runs.append([k])
    return runs


def _cursor_span(screen: Any) -> list[int] | None:
    r, c = screen.cursor
    if not (screen.cursor_visible and 0 <= r < screen.rows and 0 <= c < screen.cols):
        return None
    return [r, *cell_span(screen.chars[r], c)]


def _name(renderer: Any) -> str:
    return str(getattr(renderer, "name", type(renderer).__name__))


def _renderers() -> list[str]:
    try:
        from renderer import registry

        return list(registry.available())
    except Exception:
        return ["raster"]


def _themes() -> list[str]:
    from terminal.themes import THEMES

    return list(THEMES)


def _create_renderer(name: str, theme: str, **options: Any) -> Any:
    try:
        from renderer import registry
    except ImportError:
        registry = None  # type: ignore[assignment]
    if registry is not None:
        return registry.create(name, theme=theme, **options)
    if name != "raster":
        raise ValueError(f"renderer {name!r} is not available (no renderer registry)")
    from renderer.raster import RasterRenderer

    return RasterRenderer(theme=theme)


def _atlas_of(renderer: Any) -> Any:
    atlas = getattr(renderer, "atlas", None) or getattr(getattr(renderer, "raster", None),
                                                        "atlas", None)
    if atlas is None:
        from renderer.fonts import FontSpec
        from renderer.raster import shared_atlas

        atlas = shared_atlas(FontSpec())
    return atlas


# -- the serving object -----------------------------------------------------------------------
class TerminalService:
    """Owns every tab's session: opens, finds, reaps and closes them, within the limits.

    Args:
        config: a ServeConfig (limits, token, session options).
    """

    def __init__(self, config: ServeConfig | None = None) -> None:
        self.config = config or ServeConfig()
        self.token = self.config.token or (secrets.token_urlsafe(24) if self.config.needs_token
                                           else None)
        self._sessions: dict[str, WebSession] = {}
        self._lock = threading.Lock()

    @property
    def sessions(self) -> dict[str, WebSession]:
        with self._lock:
            return dict(self._sessions)

    def warm_up(self) -> str | None:
        """Create the default renderer once, so that its imports and weights are loaded before
        the first tab asks (the neural one takes ~25 s cold on a CPU, 0.2 s warm). Returns why it
        cannot load, if it cannot: tabs then show the raster renderer with a notice."""
        from orchestrator.session import SessionConfig

        opts = dict(self.config.session_options)
        name = str(opts.get("renderer") or SessionConfig.renderer)
        try:
            _create_renderer(name, str(opts.get("theme") or SessionConfig.theme))
        except Exception as e:
            return f"the {name} renderer is unavailable ({_one_line(e)})"
        return None

    def authorized(self, token: str | None) -> bool:
        """Whether a request's token is good (always, when the service has none)."""
        if self.token is None:
            return True
        return token is not None and secrets.compare_digest(token.encode(), self.token.encode())

    def open(self, send: Send, *, cols: int | None = None, rows: int | None = None) -> WebSession:
        """Start a session for a new tab; ServiceBusy when max_sessions are open."""
        options: dict[str, Any] = {}
        if cols is not None and rows is not None:
            options["cols"] = max(2, min(int(cols), self.config.max_cols))
            options["rows"] = max(2, min(int(rows), self.config.max_rows))
        with self._lock:
            if len(self._sessions) >= self.config.max_sessions:
                raise ServiceBusy(f"server busy: {len(self._sessions)} sessions are open "
                                  f"(max {self.config.max_sessions}); close a tab and reload")
            ws = WebSession(uuid.uuid4().hex, self, send, options)
            self._sessions[ws.id] = ws
        ws.start()
        return ws

    def get(self, sid: str) -> WebSession | None:
        with self._lock:
            return self._sessions.get(sid)

    def close(self, sid: str, reason: str) -> None:
        ws = self.get(sid)
        if ws is not None:
            ws.close(reason)

    def _forget(self, sid: str) -> None:
        with self._lock:
            self._sessions.pop(sid, None)

    def reap(self, now: float | None = None) -> list[str]:
        """Close sessions idle for longer than idle_timeout; returns their ids."""
        now = time.monotonic() if now is None else now
        idle = [ws for ws in self.sessions.values()
                if now - ws.last_input > self.config.idle_timeout]
        for ws in idle:
            ws.close(f"closed after {self.config.idle_timeout:g} s without input")
        return [ws.id for ws in idle]

    def shutdown(self, timeout: float = 10.0) -> None:
        """Close every session and wait (up to `timeout` s in all) for their workers."""
        sessions = list(self.sessions.values())
        for ws in sessions:
            ws.close("the server is shutting down")
        deadline = time.monotonic() + timeout
        for ws in sessions:
            ws.join(max(0.0, deadline - time.monotonic()))


# -- the router -------------------------------------------------------------------------------
def _request_problem(service: TerminalService, headers: Any, token: str | None) -> str | None:
    """Why a request may not reach a session (None when it may)."""
    if not service.authorized(token):
        return "a valid ?token= is required (it was printed when the server started)"
    host = headers.get("host", "")
    if service.token is None:
        # no token: only loopback names, so a DNS-rebound page cannot reach the shell
        hostname = urlsplit(f"//{host}").hostname or ""
        if not is_loopback(hostname):
            return f"host {host!r} is not a loopback name; start the server with a token"
    origin = headers.get("origin")
    if origin and urlsplit(origin).netloc.lower() != host.lower():
        return f"cross-origin request from {origin!r} refused"
    return None


def create_app(service: TerminalService | None = None) -> FastAPI:
    """The FastAPI app: the page, its static files, /api/info, downloads and the WebSocket."""
    service = service or TerminalService()

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        async def reaper() -> None:
            while True:
                await asyncio.sleep(min(5.0, max(service.config.idle_timeout / 4, 0.05)))
                service.reap()

        task = asyncio.create_task(reaper())
        try:
            yield
        finally:
            task.cancel()
            await asyncio.to_thread(service.shutdown)

    app = FastAPI(title="hybrid-nc", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.state.service = service
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    def check(request: Request) -> None:
        problem = _request_problem(service, request.headers, request.query_params.get("token"))
        if problem:
            raise HTTPException(status_code=403, detail=problem)

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    @app.get("/api/info")
    def info(request: Request) -> JSONResponse:
        check(request)
        atlas = _atlas_of(None)
        return JSONResponse({
            "cell": list(atlas.cell), "renderers": _renderers(), "themes": _themes(),
            "sessions": len(service.sessions), "max_sessions": service.config.max_sessions,
            "token_required": service.token is not None,
        })

    @app.get("/api/sessions/{sid}/recording.{ext}")
    async def recording(sid: str, ext: str, request: Request) -> FileResponse:
        check(request)
        if ext not in ("cast", "mp4"):
            raise HTTPException(status_code=404, detail="recordings are .cast or .mp4")
        ws = service.get(sid)
        if ws is None or ws.session is None:
            raise HTTPException(status_code=404, detail="no such session")
        tmp = Path(tempfile.mkdtemp(prefix="hybrid-nc-web-"))
        path = tmp / f"hybrid-nc-{sid[:8]}.{ext}"
        fn = (lambda s: s.save(path)) if ext == "cast" else (lambda s: s.export(path))
        try:
            await asyncio.wait_for(asyncio.wrap_future(ws.call(fn)), timeout=300)
        except Exception as e:
            shutil.rmtree(tmp, ignore_errors=True)
            raise HTTPException(status_code=409, detail=_one_line(e)) from None
        media = "application/x-asciicast" if ext == "cast" else "video/mp4"
        return FileResponse(path, media_type=media, filename=path.name,
                            background=BackgroundTask(shutil.rmtree, tmp, True))

    @app.websocket("/ws")
    async def terminal(websocket: WebSocket) -> None:
        problem = _request_problem(service, websocket.headers,
                                   websocket.query_params.get("token"))
        if problem:
            await websocket.close(code=1008, reason=problem[:120])
            return
        await websocket.accept()
        loop = asyncio.get_running_loop()
        outbox: asyncio.Queue[Any] = asyncio.Queue()

        def send(item: Any) -> None:
            loop.call_soon_threadsafe(outbox.put_nowait, item)

        try:
            cols = int(websocket.query_params.get("cols", "")) or None
            rows = int(websocket.query_params.get("rows", "")) or None
        except ValueError:
            cols = rows = None
        try:
            ws = service.open(send, cols=cols, rows=rows)
        except ServiceBusy as e:
            await websocket.send_text(json.dumps({"type": "error", "message": str(e),
                                                  "fatal": True}))
            await websocket.close(code=1013)
            return
        sender = asyncio.create_task(_pump(websocket, outbox))
        try:
            while True:
                event = await websocket.receive()
                if event["type"] == "websocket.disconnect":
                    break
                text = event.get("text")
                if text is None:
                    send({"type": "error", "message": "binary messages are not part of the protocol"})
                    continue
                try:
                    msg = parse_client_message(text, service.config)
                    if msg["type"] == "ping":
                        send({"type": "pong"})
                    else:
                        ws.receive(msg)
                except (ProtocolError, QueueFull) as e:
                    send({"type": "error", "message": str(e)})
        except WebSocketDisconnect:
            pass
        finally:
            ws.close("the page was closed")
            if not sender.done():
                with contextlib.suppress(asyncio.TimeoutError, Exception):
                    await asyncio.wait_for(sender, timeout=0.5)
                sender.cancel()

    return app


async def _pump(websocket: Any, outbox: asyncio.Queue[Any]) -> None:
    """Send a tab's outgoing messages in order; close the socket after CLOSE."""
    try:
        while True:
            item = await outbox.get()
            if item is CLOSE:
                await websocket.close()
                return
            if isinstance(item, bytes):
                await websocket.send_bytes(item)
            else:
                await websocket.send_text(json.dumps(item, ensure_ascii=False))
    except Exception:
        return  # the page went away; the receive loop notices and closes the session

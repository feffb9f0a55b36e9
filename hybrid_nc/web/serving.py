"""The serving object of the web terminal: `TerminalService` owns every browser tab's `WebSession`,
each a `Session` (orchestrator/session.py) driven only through its public API.

Each tab's Session runs on its own worker thread: Session calls block (drawing, verifying, a
reasoner's answer), so they never run on the event loop. Input waits in a bounded queue; the worker
applies *every* queued action in order and sends only the newest frame when a burst is done (frames
may be skipped, keys never are). While idle the worker polls the session, so output that arrives on
its own (`top`, a background job) reaches the page. Enter returns as soon as the command has
started (`Session.key(..., wait=False)`), so a running command's output streams in through those
polls and Ctrl+C is an ordinary key, applied in order. Settings from the page (`config` messages)
go to `Session.configure`, which rebuilds the renderer and draws the screen again.

A selection (`select` messages: a drag, a double- or triple-click while the program has not asked
for the mouse) is kept on the terminal, so the renderer draws it as inverse cells and its text is
read from the symbolic screen. Like xterm, it is dropped once the text under it changes.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import ipaddress
import queue
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from renderer.registry import RendererOptions

from .protocol import frame_updates, one_line, selection_message, step_message

RUNNING_POLL = 0.03  # seconds between polls while a command runs (its output streams)

Send = Callable[[Any], None]


class ServiceBusy(RuntimeError):
    """No room for another session (max sessions reached)."""


class QueueFull(RuntimeError):
    """A tab sent more input than its queue holds."""


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
    # a tab costs ~85 MiB here (its Session keeps its latest 64 frames) and ~60 MiB of sandboxed
    # shell: 16 tabs are ~2.4 GiB (benchmarks/results/web_load.md)
    max_sessions: int = 16
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


class _Call:
    """Work the server itself queues for a session (downloads): not a client message."""

    def __init__(self, fn: Callable[[Any], Any]) -> None:
        self.fn = fn
        self.future: concurrent.futures.Future[Any] = concurrent.futures.Future()


_STOP = object()
CLOSE = object()  # put on a tab's outbox after its last message: the router closes the socket


# -- one tab ----------------------------------------------------------------------------------
class WebSession:
    """One browser tab: a `Session` on a worker thread, an input queue, and the frames sent so far.

    Args:
        sid: the session id (random; it names the tab's downloads).
        service: the owning TerminalService.
        send: called (from the worker thread) with each outgoing message: a dict (JSON), bytes
            (a frame update) or CLOSE.
        options: Session overrides for this tab (cols, rows).
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
        self.frames_sent = 0
        self._ready = False
        self._latest: Any = None
        self._published: Any = None
        self._last_pub = 0.0
        self._sent: dict[int, np.ndarray] = {}
        self._reference: Any = None
        self._selection: Any = None  # the terminal.selection.Selection shown, and its text then
        self._selection_text = ""
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
            self._emit({"type": "error", "message": f"the session could not start: {one_line(e)}",
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
        from orchestrator.session import Session

        opts = dict(self.config.session_options)
        opts.update(self._options)
        self.primary, _ = self.service.renderer_choice()
        opts["renderer"] = self.primary
        try:
            s = Session(on_frame=self._on_frame, **opts)
        except Exception as e:
            if self.primary == "raster":
                raise
            # the page still works with the exact raster; it says why
            s = Session(on_frame=self._on_frame, **{**opts, "renderer": "raster"})
            self.notice = (f"the {self.primary} renderer is unavailable ({one_line(e)}); "
                           "showing the raster renderer")
        self.session = s
        self.view = "raster" if s.config.renderer == "raster" else "neural"
        self._emit({
            "type": "hello", "session": self.id, "cols": s.terminal.cols, "rows": s.terminal.rows,
            "cell": list(s.renderer.cell_size), "renderer": _name(s.renderer),
            "primary": self.primary, "view": self.view, "renderers": renderers(),
            "themes": themes(), "theme": s.config.theme, "seed": s.config.seed,
            "steps": _steps(s), "notice": self.notice, "reasoners": list(s.config.reasoners),
            "limits": {"max_cols": self.config.max_cols, "max_rows": self.config.max_rows,
                       "max_paste": self.config.max_paste, "max_queue": self.config.max_queue,
                       "idle_timeout": self.config.idle_timeout},
        })
        self._ready = True
        if self._latest is not None:
            self._publish(self._latest)

    def _loop(self) -> None:
        while not self._closing.is_set():
            shell = self.session.shell
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
            self._emit({"type": "error", "message": one_line(e)})
        self._flush()
        shell = self.session.shell
        if shell is not None and not shell.alive():
            self.close_reason = "the shell exited"
            self._closing.set()

    def _apply_batch(self, batch: list[Any]) -> None:
        batch = _merge_keys(batch)
        for i, msg in enumerate(batch):
            if i + 1 < len(batch) and _superseded(msg, batch[i + 1]):
                continue
            try:
                self._apply(msg)
            except Exception as e:
                self._emit({"type": "error", "message": one_line(e)})
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
                    errors.append(one_line(e))
            if errors:
                self._emit({"type": "error", "message": errors[0]})
        elif kind == "text":
            s.keys(msg["data"])
        elif kind == "paste":
            s.paste(msg["data"])
        elif kind == "resize":
            if (msg["cols"], msg["rows"]) != (s.terminal.cols, s.terminal.rows):
                if self._selection is not None:  # its cells would name other text now
                    self._selection = None
                    s.terminal.select(None)
                s.resize(msg["cols"], msg["rows"])
        elif kind == "mouse":
            s.mouse(msg["col"], msg["row"], msg["button"], msg["action"])
        elif kind == "select":
            self._select(msg)
        elif kind == "config":
            self._configure(msg)

    def _select(self, msg: dict[str, Any]) -> None:
        """A `select` message: show the selection (or clear it), answer with its exact text."""
        from terminal.selection import Selection

        s = self.session
        sel = None if msg["anchor"] is None else Selection(
            tuple(msg["anchor"]), tuple(msg["head"]), msg["unit"])
        self._selection = sel
        self._selection_text = s.terminal.select(sel)
        s.poll(0.0)  # a frame with the selected cells drawn inverted
        answer = selection_message(sel, s.screen) or {"anchor": None, "head": None,
                                                     "unit": None, "text": ""}
        self._emit({"type": "selection", **answer})

    def _drop_stale_selection(self) -> None:
        """Clear the selection once the text under it changed (output, scrolling, typing)."""
        from terminal.selection import selection_text

        s = self.session
        if self._selection is None or s is None:
            return
        if selection_text(s.screen, self._selection) != self._selection_text:
            self._selection, self._selection_text = None, ""
            s.terminal.select(None)
            s.poll(0.0)

    def _configure(self, msg: dict[str, Any]) -> None:
        """A `config` message: the view is the page's; the rest is `Session.configure`'s."""
        s = self.session
        view = msg.get("view", self.view)
        primary = "raster" if self.notice and self.notice.startswith(f"the {self.primary} ") \
            else self.primary
        want = "raster" if view == "raster" else primary
        changes: dict[str, Any] = {k: msg[k] for k in ("seed", "theme", "steps") if k in msg}
        if want != s.config.renderer:
            changes["renderer"] = want
        if "theme" in changes or view != self.view:  # the reference is drawn anew
            self._reference = None
            self._sent.pop(1, None)
        if changes or view != self.view:
            self.view = view
            try:
                s.configure(**changes)
            except Exception as e:
                if changes.get("renderer") in (None, "raster"):
                    raise
                self.notice = (f"the {want} renderer is unavailable ({one_line(e)}); "
                               "showing the raster renderer")
                s.configure(**{**changes, "renderer": "raster", "steps": None})
        self._emit({"type": "config", "view": self.view, "renderer": _name(s.renderer),
                    "theme": s.config.theme, "seed": s.config.seed, "steps": _steps(s),
                    "notice": self.notice, "cell": list(s.renderer.cell_size)})

    # -- frames out ---------------------------------------------------------------------------
    def _on_frame(self, step: Any) -> None:
        self._latest = step
        if self._ready and time.monotonic() - self._last_pub >= self.config.frame_interval:
            self._publish(step)

    def _flush(self) -> None:
        with contextlib.suppress(Exception):  # a selection check must not stop the frames
            self._drop_stale_selection()
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
        self._emit(step_message(step, _name(self.session.renderer), self.notice,
                                mouse=self.session.terminal.mouse_mode.tracking,
                                selection=self._selection))

    def _reference_frame(self, screen: Any) -> np.ndarray:
        """The side view's second canvas: the exact raster of the same screen."""
        if self._reference is None:
            from renderer import registry

            self._reference = registry.create("raster", theme=self.session.config.theme)
        out: np.ndarray = self._reference.render(screen).frame
        return out

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


def _superseded(msg: Any, following: Any) -> bool:
    """Whether `following` makes `msg` moot: of consecutive resizes, selections or pointer moves
    only the last matters (a drag sends many while the worker is busy drawing)."""
    if not (isinstance(msg, dict) and isinstance(following, dict)):
        return False
    kind = msg["type"]
    if kind != following["type"]:
        return False
    if kind == "mouse":
        return msg["action"] == following["action"] == "move"
    return kind in ("resize", "select")


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


def _name(renderer: Any) -> str:
    return str(getattr(renderer, "name", type(renderer).__name__))


def _steps(session: Any) -> int | None:
    """The denoising steps the page shows, or None when the renderer does not sample."""
    from renderer import registry

    if not registry.takes(session.config.renderer, "steps"):
        return None
    steps = session.config.renderer_options.steps or getattr(session.renderer, "steps", None)
    return steps if isinstance(steps, int) else None


def renderers() -> list[str]:
    """Renderer names the page may offer."""
    from renderer import registry

    return list(registry.available())


def themes() -> list[str]:
    """Theme names the page may offer."""
    from terminal.themes import THEMES

    return list(THEMES)


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
        from renderer import registry

        name, options = self.renderer_choice()
        try:
            registry.create(name, registry.applicable(name, options))
        except Exception as e:
            return f"the {name} renderer is unavailable ({one_line(e)})"
        return None

    def renderer_choice(self) -> tuple[str, RendererOptions]:
        """The renderer every tab asks for first, and what it is made with."""
        from orchestrator.session import SessionConfig

        opts = dict(self.config.session_options)
        name = str(opts.get("renderer") or SessionConfig.renderer)
        theme = opts.get("theme") or SessionConfig.theme
        return name, RendererOptions.of(opts.get("renderer_options")).merged(theme=theme)

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

"""The session loop: route -> reason -> state -> caption -> render -> verify & repair.

`Session` is an environment (DIAMOND's `WorldModelEnv`): `reset()` gives the first frame and
`step(action)` the next; `run`, `type`, `key`, `paste`, `resize` and `poll` are the convenient forms.

The terminal owner is the sandboxed shell when "shell" is among the reasoners: keystrokes go to its
pty and its output bytes go to the emulator. A line that the router sends elsewhere (sympy, the LLM,
a plugin) is taken out of the shell's line editor at Enter (`discard_line`), answered, written to the
emulator, and followed by a fresh shell prompt - so the screen reads like one terminal throughout.
Without a shell, a minimal line editor with a "> " prompt stands in (handy for sympy-only sessions).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from reasoner.base import Context, ReasonerError, Reply, create
from terminal import Terminal
from terminal.screen import ScreenState

from .captions import Caption, Tier, make_caption
from .framestore import RowCompressor, decompress
from .procwatch import foreground_group, foreground_waiting_for_input

# -- keys ------------------------------------------------------------------------------------
_KEYS = {
    "enter": "\r", "return": "\r", "tab": "\t", "backspace": "\x7f", "escape": "\x1b",
    "esc": "\x1b", "space": " ", "delete": "\x1b[3~", "insert": "\x1b[2~", "home": "\x1b[H",
    "end": "\x1b[F", "pageup": "\x1b[5~", "pagedown": "\x1b[6~",
    "up": "\x1b[A", "down": "\x1b[B", "right": "\x1b[C", "left": "\x1b[D",
    "f1": "\x1bOP", "f2": "\x1bOQ", "f3": "\x1bOR", "f4": "\x1bOS", "f5": "\x1b[15~",
    "f6": "\x1b[17~", "f7": "\x1b[18~", "f8": "\x1b[19~", "f9": "\x1b[20~", "f10": "\x1b[21~",
    "f11": "\x1b[23~", "f12": "\x1b[24~",
}


class UnknownKeyError(ValueError):
    """An unknown key name."""


def key_bytes(name: str, app_cursor: bool = False) -> bytes:
    """The bytes a terminal sends for a key name: "Enter", "ctrl+c", "alt+x", "Up", "F5"...

    Raises ValueError (one line) for an unknown name.
    """
    parts = [p for p in name.replace("-", "+").split("+") if p] if len(name) > 1 else [name]
    *mods, base = parts or [""]
    mods = [m.lower() for m in mods]
    low = base.lower()
    if low in _KEYS:
        seq = _KEYS[low]
        if app_cursor and low in ("up", "down", "right", "left", "home", "end"):
            seq = "\x1bO" + seq[-1]
    elif len(base) == 1:
        seq = base
    else:
        raise UnknownKeyError(f"unknown key {name!r} (e.g. Enter, Tab, Up, F5, ctrl+c, alt+x)")
    for m in mods:
        if m in ("ctrl", "control", "c"):
            if len(seq) != 1:
                raise UnknownKeyError(f"ctrl+ only combines with a character key, not {base!r}")
            ch = seq.upper() if seq.isalpha() else seq
            code = {"@": 0, " ": 0, "?": 0x7F}.get(ch, ord(ch) & 0x1F)
            seq = chr(code)
        elif m in ("alt", "meta", "m"):
            seq = "\x1b" + seq
        elif m == "shift":
            seq = "\x1b[Z" if seq == "\t" else seq.upper() if len(seq) == 1 else seq  # back-tab
        else:
            raise UnknownKeyError(f"unknown modifier {m!r} in key {name!r} (ctrl, alt, shift)")
    return seq.encode()


# -- configuration and outputs ---------------------------------------------------------------
@dataclass(frozen=True)
class SessionConfig:
    """Everything a session is made of. `Session(**overrides)` replaces fields of the default."""

    cols: int = 80
    rows: int = 24
    renderer: str = "neural"
    reasoners: tuple[str, ...] = ("shell", "sympy")
    theme: str = "dark"
    seed: int = 0
    verify: bool = True
    caption_tier: Tier = "detailed"
    unsafe_no_sandbox: bool = False
    command_timeout: float = 30.0
    llm_url: str | None = None
    llm_model: str | None = None
    llm_api_key: str | None = None
    rules: tuple[tuple[str, str], ...] = ()  # (regex, route) checked before built-in routing
    record: str | None = None  # path of an asciicast written as the session goes (append-only)
    max_frames: int = 2000  # frames kept for export() (compressed); older ones are dropped
    renderer_options: tuple[tuple[str, Any], ...] = ()


@dataclass
class StepOutput:
    """One step of the loop.

    screen: the exact symbolic screen; frame: the drawn frame (PIL image); route/reason: which
    reasoner answered and why; caption: what the renderer was told; timings: milliseconds per stage;
    accuracy: {"raw", "repaired"} char accuracy of the frame against the screen; trace: the rest.
    """

    index: int
    kind: str
    action: str
    screen: ScreenState
    frame_array: np.ndarray
    route: str | None
    reason: str
    caption: Caption
    timings: dict[str, float]
    accuracy: dict[str, float]
    trace: dict[str, Any] = field(default_factory=dict)

    @property
    def frame(self) -> Any:
        """The drawn frame as a PIL.Image."""
        from PIL import Image

        return Image.fromarray(self.frame_array)

    @property
    def text(self) -> str:
        return self.screen.text

    def to_json(self) -> dict[str, Any]:
        """The report.json entry of DESIGN.md (line, route, caption, timings, accuracy) + trace."""
        return {
            "index": self.index, "kind": self.kind, "line": self.action, "route": self.route,
            "reason": self.reason, "caption": self.caption.text,
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
            "accuracy": {k: round(v, 6) for k, v in self.accuracy.items()},
            "trace": _jsonable(self.trace),
        }


def _jsonable(obj: Any) -> Any:
    try:
        json.dumps(obj)
        return obj
    except TypeError:
        if isinstance(obj, dict):
            return {str(k): _jsonable(v) for k, v in obj.items()}
        if isinstance(obj, list | tuple):
            return [_jsonable(v) for v in obj]
        if isinstance(obj, np.generic):
            return obj.item()
        return str(obj)


class SessionError(RuntimeError):
    """The session cannot start or continue (no sandbox, renderer missing...): one line."""


# -- the session ------------------------------------------------------------------------------
class Session:
    """A hybrid neural terminal you can script.

        with Session() as s:                 # shell + sympy, neural renderer
            step = s.run("python3 -c 'print(98+45)'")
            step.screen.text, step.frame, step.route, step.accuracy

    Args:
        config: a SessionConfig; keyword overrides replace its fields (e.g. renderer="raster").
        renderer: a Renderer instance to use instead of `config.renderer`.
        on_frame: called with every StepOutput as it is produced (the web UI streams these).
    """

    def __init__(self, config: SessionConfig | None = None, *, renderer: Any = None,
                 on_frame: Callable[[StepOutput], None] | None = None, **overrides: Any) -> None:
        if isinstance(renderer, str):  # Session(renderer="raster") names one (DESIGN.md)
            overrides["renderer"], renderer = renderer, None
        if "reasoners" in overrides and overrides["reasoners"] is not None:
            overrides["reasoners"] = tuple(overrides["reasoners"])
        if "rules" in overrides:
            overrides["rules"] = tuple(tuple(r) for r in overrides["rules"])
        if isinstance(overrides.get("renderer_options"), dict):
            overrides["renderer_options"] = tuple(overrides["renderer_options"].items())
        self.config = replace(config or SessionConfig(), **overrides)
        self.on_frame = on_frame
        self.terminal = Terminal(self.config.cols, self.config.rows)
        self._closed = False
        self._t0 = time.monotonic()
        self._events: list[tuple[float, str, str]] = []
        self._record_file: Any = None
        self._frames: deque[tuple[float, tuple[int, ...], tuple[bytes, ...]]] = deque(
            maxlen=self.config.max_frames)
        self._compressor = RowCompressor()  # row strips: a keystroke compresses one row
        # the latest steps with their frames (~0.7 MiB each at 80x24), and a longer, light
        # history for report(): a 10,000-step soak held 700 MiB of pixels with 1000 full steps
        self.steps: deque[StepOutput] = deque(maxlen=64)
        self._records: deque[dict[str, Any]] = deque(maxlen=1000)
        self._index = 0
        self._local_line = ""
        self._history: list[str] = []
        self.shell: Any = None
        self.reasoners: dict[str, Any] = {}
        self._renderer_fallback: str | None = None
        try:
            self.renderer = renderer if renderer is not None else self._make_renderer()
            self._raster = self._make_raster()
            self._start_reasoners()
            from .router import Router

            llm = self.reasoners.get("llm")
            self.router = Router(rules=list(self.config.rules), llm_available=llm is not None,
                                 reasoners=list(self.reasoners),
                                 simulate_programs=bool(getattr(llm, "simulate_programs", False)))
            if self.config.record:
                self._open_record(self.config.record)
        except BaseException:
            self.close()
            raise
        self._last: StepOutput | None = None
        self.reset()

    # -- construction helpers -----------------------------------------------------------
    def _make_renderer(self) -> Any:
        name = self.config.renderer
        options = dict(self.config.renderer_options)
        options.setdefault("theme", self.config.theme)
        try:
            from renderer import registry
        except ImportError:
            registry = None  # type: ignore[assignment]
        if registry is not None:
            return registry.create(name, **options)
        if name != "raster":
            raise SessionError(f"renderer {name!r} is not available (only 'raster' is built)")
        from renderer.raster import RasterRenderer

        return RasterRenderer(theme=options["theme"])

    def _make_raster(self) -> Any:
        from renderer.raster import RasterConfig, RasterRenderer

        make = getattr(self.renderer, "make_raster", None)
        if callable(make):  # a look (renderer/looks.py): its own cells, glyphs and colours
            return make()
        font = getattr(getattr(self.renderer, "atlas", None), "spec", None)
        if font is not None:
            return RasterRenderer(RasterConfig(theme=self.config.theme, font=font))
        return RasterRenderer(theme=self.config.theme)

    def _start_reasoners(self) -> None:
        for name in self.config.reasoners:
            if name == "shell":
                try:
                    self.shell = create("shell", unsafe=self.config.unsafe_no_sandbox,
                                        command_timeout=self.config.command_timeout)
                    self.shell.start(self.config.cols, self.config.rows)
                except ReasonerError as e:
                    raise SessionError(str(e)) from None
            elif name == "llm":
                opts = {k: v for k, v in (("url", self.config.llm_url),
                                          ("model", self.config.llm_model),
                                          ("api_key", self.config.llm_api_key)) if v}
                self.reasoners[name] = create(name, **opts)
            else:
                self.reasoners[name] = create(name)

    # -- public API -----------------------------------------------------------------------
    @property
    def screen(self) -> ScreenState:
        """The exact symbolic screen now."""
        return self.terminal.snapshot()

    @property
    def last(self) -> StepOutput | None:
        return self._last

    def reset(self) -> StepOutput:
        """Start over on the screen as it is (first frame); drawn in full."""
        if hasattr(self.renderer, "reset"):
            self.renderer.reset()
        if self.shell is not None:
            self._pump(lambda: bool(self.shell.at_prompt), timeout=15.0)
        else:
            self._feed("> ")
        self.terminal.take_damage()
        return self._frame_step("reset", "", None, "session start", {}, damage=None)

    def step(self, action: Any) -> StepOutput:
        """Apply one action: a str (a line to run) or a dict {"line"|"text"|"key"|"paste"|
        "resize": ...}; returns the frame after it."""
        if isinstance(action, str):
            return self.run(action)
        if isinstance(action, dict):
            if "line" in action:
                return self.run(action["line"])
            if "text" in action:
                return self.type(action["text"])[-1]
            if "key" in action:
                return self.key(action["key"])
            if "paste" in action:
                return self.paste(action["paste"])
            if "resize" in action:
                cols, rows = action["resize"]
                return self.resize(int(cols), int(rows))
        raise ValueError(f"unknown action {action!r}")

    def run(self, line: str, timeout: float | None = None) -> StepOutput:
        """Type `line`, press Enter, wait for the answer; one frame of the final screen."""
        self._check_open()
        line = line.replace("\r\n", "\n").rstrip("\n")
        self._drain()
        if self.shell is not None and not self.shell.at_prompt:
            # a program (python3, cat, vi...) is reading: the line is just typed at it
            self._input(line.encode() + b"\r")
            self._settle(timeout)
            return self._frame_step("line", line, "program", "a program in the shell is reading "
                                    "input", {}, damage=self.terminal.take_damage())
        route = self.router.route(line)
        if route.name == "shell" and self.shell is not None:
            self._input(line.encode() + b"\r")
            self._wait_command(timeout)
            self._history.append(line)
            return self._frame_step("line", line, "shell", route.reason, {},
                                    damage=self.terminal.take_damage())
        # a line reasoner answers: show it typed, then the answer, then a new prompt
        if self.shell is not None:
            self._input(line.encode())
            self._pump(lambda: False, timeout=0.5, quiet=0.03)
            self.shell.discard_line()
        else:
            self._feed(line)
        return self._answer(line, route)

    def type(self, text: str) -> list[StepOutput]:
        """Type characters one by one; one frame per character."""
        self._check_open()
        return [self._keystroke(ch.encode(), ch) for ch in text]

    def keys(self, text: str) -> StepOutput:
        """Type a burst of characters at once, as a terminal's typeahead does: one write, one
        frame (`type` draws a frame per character)."""
        self._check_open()
        if len(text) == 1:
            return self.type(text)[-1]
        return self._keystroke(text.encode(), text)

    def set_renderer(self, renderer: Any, theme: str | None = None) -> None:
        """Swap the renderer (a registry name or a Renderer) and optionally the theme, keeping
        the shell and the screen; the next frame is drawn in full."""
        self._check_open()
        if theme is not None:
            self.config = replace(self.config, theme=theme)
        if isinstance(renderer, str):
            self.config = replace(self.config, renderer=renderer)
            renderer = self._make_renderer()
        self.renderer = renderer
        self._raster = self._make_raster()
        self._ocr = None
        if hasattr(renderer, "reset"):
            renderer.reset()

    def key(self, name: str, wait: bool = True) -> StepOutput:
        """Press a key: "Enter", "Tab", "Up", "ctrl+c", "alt+b", "F5"... Enter at the shell
        prompt is routed like run(); with wait=False it returns once the command has started
        instead of when it is done (so a script can press ctrl+c next)."""
        self._check_open()
        app = self.terminal.mode(1)  # DECCKM: application cursor keys
        data = key_bytes(name, app_cursor=app)
        if data == b"\r":
            self._drain()
        if data == b"\r" and self._at_line_prompt():
            try:
                line = self.shell.peek_line() if self.shell is not None else self._local_line
            except ReasonerError:  # the line editor did not answer: plain Enter
                return self._keystroke(data, name)
            route = self.router.route(line) if line.strip() else None
            if route is None or (route.name == "shell" and self.shell is not None):
                shell_group = self._foreground()
                self._input(b"\r")
                if wait:
                    self._wait_command(None)
                else:
                    self._until_started(shell_group)
                if line.strip():
                    self._history.append(line)
                return self._frame_step("key", name, "shell" if line.strip() else None,
                                        route.reason if route else "empty line", {"line": line},
                                        damage=self.terminal.take_damage())
            if self.shell is not None:
                self.shell.discard_line()
            return self._answer(line, route)
        return self._keystroke(data, name)

    def paste(self, text: str) -> StepOutput:
        """Paste text (bracketed when the program asked for it); one frame."""
        self._check_open()
        data = text.replace("\r\n", "\r").replace("\n", "\r").encode()
        if self.terminal.mode(2004):
            data = b"\x1b[200~" + data + b"\x1b[201~"
        if self.shell is None:
            for ch in text:
                self._local_edit(ch.encode())
        else:
            self._input(data)
            self._pump(lambda: False, timeout=1.0, quiet=0.03, idle=0.01)
        return self._frame_step("paste", text, None, "paste", {}, damage=self.terminal.take_damage())

    def resize(self, cols: int, rows: int) -> StepOutput:
        """Resize the terminal (the program gets SIGWINCH); one full frame."""
        self._check_open()
        self.terminal.resize(cols, rows)
        if self.shell is not None:
            self.shell.resize(cols, rows)
            self._pump(lambda: False, timeout=0.5, quiet=0.1)
        self._event("r", f"{cols}x{rows}")
        if hasattr(self.renderer, "reset"):
            self.renderer.reset()
        self.terminal.take_damage()
        return self._frame_step("resize", f"{cols}x{rows}", None, "resize", {}, damage=None)

    def poll(self, timeout: float = 0.0) -> StepOutput | None:
        """Read output that arrived on its own (a clock, `top`, a background job); a new frame
        when the screen changed, else None."""
        self._check_open()
        if self.shell is None:
            return None
        self._pump(lambda: False, timeout=timeout, quiet=0.0)
        damage = self.terminal.take_damage()
        if not damage:
            return None
        return self._frame_step("poll", "", None, "program output", {}, damage=damage)

    def report(self) -> dict[str, Any]:
        """Everything the session did, in the report.json format of DESIGN.md."""
        steps = list(self._records)
        raw = [s["accuracy"]["raw"] for s in steps if s["accuracy"]]
        rep = [s["accuracy"]["repaired"] for s in steps if s["accuracy"]]
        return {
            "renderer": getattr(self.renderer, "name", type(self.renderer).__name__),
            "config": _jsonable(asdict(self.config)),
            "steps": steps,
            "summary": {"steps": len(steps),
                        "accuracy_raw_mean": float(np.mean(raw)) if raw else None,
                        "accuracy_repaired_mean": float(np.mean(rep)) if rep else None},
        }

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the session as an asciicast v2 recording."""
        from terminal.recording import write_cast

        return Path(write_cast(path, self.config.cols, self.config.rows, self._events,
                               title="hybrid-nc session", env={"TERM": "xterm-256color"}))

    def export(self, path: str | os.PathLike[str], fps: float = 10.0) -> Path:
        """Write the drawn frames as a video (.mp4) or animation (.gif)."""
        from hybrid_nc.media import write_video

        frames = list(self._frames)
        if not frames:
            raise SessionError("no frames to export")

        def decode() -> Iterable[np.ndarray]:
            for _t, shape, blobs in frames:
                yield decompress(shape, blobs)

        times = [t for t, _s, _b in frames]
        return Path(write_video(path, decode(), times=times, fps=fps))

    def close(self) -> None:
        """End the shell (and everything it started) and close reasoners and recordings."""
        if getattr(self, "_closed", True):
            return
        self._closed = True
        if self.shell is not None:
            with contextlib.suppress(Exception):
                self.shell.close()
        for r in self.reasoners.values():
            with contextlib.suppress(Exception):
                r.close()
        if self._record_file is not None:
            self._record_file.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()

    # -- the loop's parts ---------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise SessionError("the session is closed")

    def _at_line_prompt(self) -> bool:
        return bool(self.shell.at_prompt) if self.shell is not None else True

    def _event(self, code: str, data: str) -> None:
        t = time.monotonic() - self._t0
        self._events.append((t, code, data))
        if self._record_file is not None:
            self._record_file.event(code, data, t)  # append-only, flushed per event

    def _open_record(self, path: str) -> None:
        from terminal.recording import CastWriter

        self._record_file = CastWriter(path, self.config.cols, self.config.rows,
                                       title="hybrid-nc session", env={"TERM": "xterm-256color"})

    def _feed(self, data: bytes | str) -> None:
        if isinstance(data, str):
            data = data.encode()
        self.terminal.feed(data)
        self._event("o", data.decode("utf-8", "replace"))

    def _input(self, data: bytes) -> None:
        self._event("i", data.decode("utf-8", "replace"))
        self.shell.write(data)

    def _pump(self, done: Callable[[], bool], timeout: float, quiet: float | None = None,
              idle: float | None = None) -> None:
        """Move shell output into the emulator until `done()`, `timeout` seconds, `quiet`
        seconds without output after some output arrived, or `idle` seconds with none at all."""
        if self.shell is None:
            return
        start = last = time.monotonic()
        got = False
        while True:
            data = self.shell.read(0.005)
            now = time.monotonic()
            if data:
                self._feed(data)
                got, last = True, now
                if self.terminal.replies:
                    replies, self.terminal.replies[:] = list(self.terminal.replies), []
                    self.shell.write("".join(replies).encode())
            if done():
                # take what is already buffered (the prompt's tail) before stopping
                while (data := self.shell.read(0.0)):
                    self._feed(data)
                return
            if quiet is not None and (got or quiet == 0.0) and now - last >= quiet:
                return
            if idle is not None and not got and now - start >= idle:
                return
            if now - start >= timeout:
                return
            if not self.shell.alive():
                return

    def _drain(self) -> None:
        """Take in output still arriving from the last action (a program exiting after Ctrl+D,
        a prompt being drawn), so routing decisions see the shell's current state."""
        self._pump(lambda: False, timeout=1.0, quiet=0.03, idle=0.01)

    def _wait_command(self, timeout: float | None) -> None:
        """After Enter: until the prompt is back, or the program waits for input (a REPL, an
        editor); a command that runs too long is interrupted by the shell backend itself."""
        limit = (timeout if timeout is not None else self.config.command_timeout) + 5.0
        self._until_idle(limit, settle=0.15)

    def _settle(self, timeout: float | None) -> None:
        self._until_idle(timeout if timeout is not None else self.config.command_timeout,
                         settle=0.15)

    def _until_idle(self, limit: float, settle: float = 0.04) -> None:
        """Pump until the prompt is back, or the foreground program has been waiting for input,
        with no output, for `settle` seconds (one look is not enough: editors poll briefly for
        typeahead before they act on a key)."""
        deadline = time.monotonic() + limit
        idle_since: float | None = None
        while time.monotonic() < deadline:
            before = self.terminal.bytes_fed
            self._pump(lambda: False, timeout=0.01, quiet=0.0)
            now = time.monotonic()
            if self.shell.at_prompt or not self.shell.alive():
                self._pump(lambda: False, timeout=0.2, quiet=0.005, idle=0.005)
                return
            if self.terminal.bytes_fed != before or not self._waiting_for_input():
                idle_since = None
            elif idle_since is None:
                idle_since = now
            elif now - idle_since >= settle:
                return

    def _shell_fd(self) -> int | None:
        fd = self.shell.fileno() if callable(getattr(self.shell, "fileno", None)) else \
            getattr(self.shell, "_fd", None)
        return fd if isinstance(fd, int) else None

    def _foreground(self) -> int | None:
        fd = self._shell_fd()
        return foreground_group(fd) if fd is not None else None

    def _until_started(self, shell_group: int | None, limit: float = 2.0) -> None:
        """After Enter with wait=False: return once the command owns the terminal (its process
        group is the pty's foreground) or the prompt is back. A Ctrl+C sent earlier, while bash
        was still forking, reaches bash instead of the command, which then runs on. A builtin
        keeps bash in the foreground: waiting for input (`read`) ends the wait too, and a busy
        one (a `while` loop) costs at most `limit`."""
        self._pump(lambda: False, timeout=0.3, quiet=0.05, idle=0.05)
        deadline = time.monotonic() + limit
        while shell_group is not None and time.monotonic() < deadline:
            if self.shell.at_prompt or not self.shell.alive():
                return
            group = self._foreground()
            if group is None or group != shell_group or self._waiting_for_input():
                return
            self._pump(lambda: False, timeout=0.01, quiet=0.0)

    def _waiting_for_input(self) -> bool:
        """True when the foreground program is blocked reading the terminal (a REPL, an editor,
        `cat`), so waiting longer would not change the screen."""
        fd = self._shell_fd()
        if fd is not None:
            waiting = foreground_waiting_for_input(fd)
            if waiting is not None:
                return waiting
        return self.terminal.in_alternate_screen

    def _keystroke(self, data: bytes, label: str) -> StepOutput:
        if self.shell is None:
            self._local_edit(data)
        else:
            self._input(data)
            # a printable key is answered by its echo within a millisecond; Enter and control
            # keys may make a program redraw or exit, which takes longer
            if len(data) == 1 and b" " <= data < b"\x7f":
                self._pump(lambda: False, timeout=0.5, quiet=0.004)
            else:  # full-screen programs poll briefly (vi: ~0.1 s) before acting on a key
                self._until_idle(limit=2.0, settle=0.15 if self.terminal.in_alternate_screen
                                 else 0.04)
        return self._frame_step("key", label, None, "keystroke", {},
                                damage=self.terminal.take_damage())

    def _local_edit(self, data: bytes) -> None:
        """The stand-in line editor used when there is no shell."""
        if data in (b"\x7f", b"\x08"):
            if self._local_line:
                self._local_line = self._local_line[:-1]
                self._feed("\b \b")
        elif data == b"\x03":
            self._local_line = ""
            self._feed("^C\r\n> ")
        elif data == b"\r":
            pass
        elif data[:1] != b"\x1b" and data >= b" ":
            text = data.decode("utf-8", "replace")
            self._local_line += text
            self._feed(text)

    def _answer(self, line: str, route: Any) -> StepOutput:
        """Show a line reasoner's answer below the typed line, then a new prompt."""
        t0 = time.perf_counter()
        self._history.append(line)
        self._local_line = ""
        self._feed("\r\n")
        simulate = route.name == "simulate"
        reasoner = self.reasoners.get("llm" if simulate else route.name)
        trace: dict[str, Any] = {"line": route.line}
        streamed = False
        if route.name == "error":  # the router explains why the line cannot be answered
            reply = Reply(route.reason, error=True)
        elif reasoner is None:
            reply = Reply(f"[{route.name}] not configured: {route.reason}", error=True)
        else:
            ctx = Context(cols=self.terminal.cols, rows=self.terminal.rows,
                          cwd=getattr(self.shell, "cwd", None), history=self._history[-20:],
                          screen_text=self.terminal.text)
            try:
                stream = getattr(reasoner, "simulate_stream" if simulate else "stream", None)
                if callable(stream) and self.on_frame is not None:
                    reply = self._stream_reply(reasoner, stream, route, ctx)
                    streamed = True
                elif simulate:
                    reply = reasoner.simulate(route.line, ctx)
                else:
                    reply = reasoner.answer(route.line, ctx)
            except ReasonerError as e:
                reply = Reply(f"[{route.name}] {e}", error=True)
            except Exception as e:  # a reasoner bug must not end the session
                reply = Reply(f"[{route.name}] internal error: {type(e).__name__}: {e}", error=True)
        trace.update(reply.trace)
        trace["error"] = reply.error
        trace["simulated"] = reply.simulated
        if not streamed:
            text = reply.text.replace("\r\n", "\n").replace("\n", "\r\n")
            if reply.simulated and "simulated" not in text:
                text = "\x1b[2m[simulated by LLM]\x1b[0m\r\n" + text
            self._feed(text)
        reason_ms = (time.perf_counter() - t0) * 1000
        if self.shell is not None:
            self._feed("\r\n")
            prompt = self.shell.fresh_prompt()
            self._feed(prompt)
        else:
            self._feed("\r\n> ")
        step = self._frame_step("line", line, route.name, route.reason, trace,
                                damage=self.terminal.take_damage())
        step.timings["reason"] = reason_ms
        return step

    def _stream_reply(self, reasoner: Any, stream: Callable[..., Iterable[str]], route: Any,
                      ctx: Context) -> Reply:
        """Feed a streamed reply to the screen piece by piece, a frame each."""
        parts: list[str] = []
        for piece in stream(route.line, ctx):
            parts.append(piece)
            self._feed(piece.replace("\r\n", "\n").replace("\n", "\r\n"))
            self._frame_step("stream", route.line, route.name, "streaming reply", {},
                             damage=self.terminal.take_damage())
        full = getattr(reasoner, "last_reply", None)  # the trace and error flag of the stream
        if isinstance(full, Reply):
            return full
        return Reply("".join(parts), trace={"streamed": True})

    # -- state -> caption -> render -> verify ------------------------------------------------
    def _frame_step(self, kind: str, action: str, route: str | None, reason: str,
                    trace: dict[str, Any], damage: set[int] | None) -> StepOutput:
        timings: dict[str, float] = {}
        t = time.perf_counter()
        screen = self.terminal.snapshot()
        timings["state"] = (time.perf_counter() - t) * 1000

        t = time.perf_counter()
        caption = make_caption(self.config.caption_tier, screen, damage, action, route,
                               self.config.theme)
        timings["caption"] = (time.perf_counter() - t) * 1000

        t = time.perf_counter()
        try:
            out = self.renderer.render(screen, damage=damage, caption=caption, action=action,
                                       seed=self.config.seed)
            frame, rows, info = out.frame, out.rows, dict(out.info)
            if info.get("nan") or (frame.dtype.kind == "f" and not np.isfinite(frame).all()):
                raise ValueError("renderer returned NaN")
        except Exception as e:  # a renderer failure falls back to the raster, and says so
            if isinstance(e, KeyboardInterrupt):
                raise
            out = self._raster.render(screen, damage=None)
            frame, rows, info = out.frame, out.rows, {"fallback": f"raster ({type(e).__name__}: {e})"}
            if hasattr(self.renderer, "reset"):
                self.renderer.reset()
        timings["render"] = (time.perf_counter() - t) * 1000

        t = time.perf_counter()
        frame, accuracy, vtrace = self._verify(screen, frame, rows)
        timings["verify"] = (time.perf_counter() - t) * 1000
        timings["total"] = sum(timings.values())

        trace = dict(trace)
        trace["render"] = info
        if vtrace:
            trace["verify"] = vtrace
        self._index += 1
        step = StepOutput(self._index, kind, action, screen, frame, route, reason, caption,
                          timings, accuracy, trace)
        self._frames.append((time.monotonic() - self._t0, frame.shape,
                             self._compressor.compress(frame, screen.rows)))
        self.steps.append(step)
        self._records.append(step.to_json())
        self._last = step
        if self.on_frame is not None:
            self.on_frame(step)
        return step

    def _verify(self, screen: ScreenState, frame: np.ndarray, rows: list[int]
                ) -> tuple[np.ndarray, dict[str, float], dict[str, Any]]:
        if not self.config.verify:
            return frame, {}, {}
        try:
            from .verify import verify_and_repair
        except ImportError:
            verify_and_repair = None  # type: ignore[assignment]
        if verify_and_repair is not None:
            frame, report = verify_and_repair(self.renderer, screen, frame, rows,
                                              raster=self._raster)
            acc = {"raw": float(report.raw), "repaired": float(report.repaired)}
            return frame, acc, _jsonable(report.to_json() if hasattr(report, "to_json")
                                         else asdict(report))
        from renderer.ocr import CellOCR, char_accuracy

        ocr = getattr(self, "_ocr", None) or CellOCR(self._raster.atlas)
        self._ocr = ocr
        read = ocr.read(frame, screen.cols, screen.rows, hint=screen)
        acc = char_accuracy(read.text, screen.text)
        return frame, {"raw": acc, "repaired": acc}, {}

"""The session loop: route -> reason -> state -> caption -> render -> verify & repair.

`Session` is an environment (DIAMOND's `WorldModelEnv`): `reset()` gives the first frame and
`step(action)` the next; `run`, `type`, `key`, `paste`, `resize` and `poll` are the convenient forms.

The terminal owner is the sandboxed shell when "shell" is among the reasoners: keystrokes go to its
pty and its output bytes go to the emulator. A line that the router sends elsewhere (sympy, the LLM,
a plugin) is taken out of the shell's line editor at Enter (`discard_line`), answered, written to the
emulator, and followed by a fresh shell prompt - so the screen reads like one terminal throughout.
Without a shell, a minimal line editor with a "> " prompt stands in (handy for sympy-only sessions).
`Console` moves the bytes between the owner and the emulator; how long to wait for them is the
shell's `send(data, sink, until=...)`; `Verifier` reads frames back and repairs them;
`FrameDrawer` (orchestrator/frames.py) draws each frame while the next action runs.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from reasoner.backends.llm import LLMReasoner, LLMSettings
from reasoner.base import (
    Context,
    InteractiveShell,
    Reasoner,
    ReasonerError,
    SimulatingReasoner,
    create,
)
from renderer import registry
from renderer.base import Renderer
from renderer.captions import Tier
from renderer.registry import RendererOptions
from terminal import Terminal
from terminal.screen import ScreenState

from .config import llm_settings
from .console import Console
from .frames import FrameDrawer, FrameJob, StepOutput, jsonable
from .lines import answer, printable, shown, terminal_text
from .recorder import IDLE_TIME_LIMIT, Recorder
from .router import Route, Router
from .verify import Verifier, reference_raster

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
    reasoners: tuple[str, ...] = ("shell", "sympy", "llm")
    theme: str = "dark"
    seed: int = 0
    verify: bool = True
    caption_tier: Tier | None = None  # None: the renderer's own (a model's training tier)
    unsafe_no_sandbox: bool = False
    command_timeout: float = 30.0
    llm_url: str | None = None
    llm_model: str | None = None
    llm_api_key: str | None = None
    llm: LLMSettings | None = None  # None: resolved from env and config file (orchestrator/config)
    rules: tuple[tuple[str, str], ...] = ()  # (regex, route) checked before built-in routing
    record: str | None = None  # path of an asciicast written as the session goes (append-only)
    max_frames: int = 2000  # frames kept for export() (compressed); older ones are dropped
    renderer_options: RendererOptions = RendererOptions()  # steps, look, model, ... (theme: above)
    overlap: bool = True  # draw and verify a frame while the next action runs (orchestrator/frames)


def _configured(config: SessionConfig, overrides: dict[str, Any]) -> SessionConfig:
    """`config` with keyword overrides, lists and dicts turned into the config's frozen forms."""
    if overrides.get("reasoners") is not None:
        overrides["reasoners"] = tuple(overrides["reasoners"])
    if "rules" in overrides:
        overrides["rules"] = tuple(tuple(r) for r in overrides["rules"])
    if "renderer_options" in overrides:
        overrides["renderer_options"] = RendererOptions.of(overrides["renderer_options"])
    return replace(config, **overrides)


class SessionError(RuntimeError):
    """The session cannot start or continue (no sandbox, renderer missing...): one line."""


def _start_reasoners(config: SessionConfig) -> tuple[InteractiveShell | None,
                                                    dict[str, Reasoner], str | None]:
    """The terminal owner (the sandboxed shell, started at the session's size), the line
    reasoners that `config.reasoners` names, and why the LLM is off when it was asked for but
    cannot run here."""
    shell: InteractiveShell | None = None
    reasoners: dict[str, Reasoner] = {}
    llm_off: str | None = None
    try:
        for name in config.reasoners:
            if name == "shell":
                shell = _start_shell(config)
            elif name == "llm":
                llm, llm_off = _start_llm(config)
                if llm is not None:
                    reasoners[name] = llm
            else:
                reasoners[name] = create(name)
    except BaseException:
        _close_all(shell, reasoners)
        raise
    return shell, reasoners, llm_off


def _start_llm(config: SessionConfig) -> tuple[Reasoner | None, str | None]:
    """The LLM reasoner on `config.llm` (else the settings resolved from the environment and the
    config file), with llm_url / llm_model / llm_api_key on top. (None, why), after one line on
    stderr, when the embedded model cannot run here: the session goes on without it."""
    given: dict[str, Any] = {k: v for k, v in (("url", config.llm_url), ("model", config.llm_model),
                                               ("api_key", config.llm_api_key)) if v}
    settings = replace(config.llm, **given) if config.llm is not None else llm_settings(given)
    llm = create("llm", settings=settings)
    why = llm.unavailable() if isinstance(llm, LLMReasoner) else None
    if isinstance(llm, LLMReasoner) and why:
        llm.progress(f"hybrid-nc: llm: off: {why}")
        llm.close()
        return None, why
    return llm, None


def _close_all(shell: InteractiveShell | None, reasoners: dict[str, Reasoner]) -> None:
    closers: list[Reasoner | InteractiveShell] = [*reasoners.values()]
    for r in ([shell] if shell is not None else []) + closers:
        with contextlib.suppress(Exception):
            r.close()


def _start_shell(config: SessionConfig) -> InteractiveShell:
    try:
        shell = create("shell", unsafe=config.unsafe_no_sandbox,
                       command_timeout=config.command_timeout)
        if not isinstance(shell, InteractiveShell):
            raise SessionError("the shell backend is not an interactive shell")
        try:
            shell.start(config.cols, config.rows)
        except BaseException:
            shell.close()
            raise
        return shell
    except ReasonerError as e:
        raise SessionError(str(e)) from None


# -- the session ------------------------------------------------------------------------------
class Session:
    """A hybrid neural terminal you can script.

        with Session() as s:                 # shell + sympy + the embedded LLM, neural renderer
            step = s.run("python3 -c 'print(98+45)'")
            step.screen.text, step.frame, step.route, step.accuracy

    Args:
        config: a SessionConfig; keyword overrides replace its fields (e.g. renderer="raster").
        renderer: a Renderer instance to use instead of `config.renderer`.
        on_frame: called with every StepOutput as it is produced (the web UI streams these).
    """

    def __init__(self, config: SessionConfig | None = None, *, renderer: Renderer | str | None = None,
                 on_frame: Callable[[StepOutput], None] | None = None, **overrides: Any) -> None:
        if isinstance(renderer, str):  # Session(renderer="raster") names one (DESIGN.md)
            overrides["renderer"], renderer = renderer, None
        self._closed = True  # until there is something for close() to end
        self.config = _configured(config or SessionConfig(), overrides)
        self.on_frame = on_frame
        self.terminal = Terminal(self.config.cols, self.config.rows)
        self.recorder = Recorder(self.config.cols, self.config.rows,
                                 max_frames=self.config.max_frames)
        # the latest steps with their frames (~0.7 MiB each at 80x24); report() keeps a longer,
        # light history: a 10,000-step soak held 700 MiB of pixels with 1000 full steps
        self.steps: deque[StepOutput] = deque(maxlen=64)
        self._index = 0
        self._history: list[str] = []
        self.shell: InteractiveShell | None = None
        self.reasoners: dict[str, Reasoner] = {}
        self._last: StepOutput | None = None
        self.frames = FrameDrawer(self.recorder, overlap=self.config.overlap)
        self._closed = False
        try:
            self.renderer: Renderer = renderer if renderer is not None else self._make_renderer()
            self.verifier = Verifier(reference_raster(self.renderer, self.config.theme))
            self.shell, self.reasoners, llm_off = _start_reasoners(self.config)
            llm = self.reasoners.get("llm")
            self.router = Router(rules=list(self.config.rules), llm_off=llm_off,
                                 reasoners=list(self.reasoners), simulate_programs=isinstance(
                                     llm, SimulatingReasoner) and llm.simulate_programs)
            if self.config.record:
                self.recorder.record_to(self.config.record)
        except BaseException:
            self.close()
            raise
        self.console = Console(self.terminal, self.recorder, self.shell)
        self.reset()

    # -- construction helpers -----------------------------------------------------------
    def _make_renderer(self) -> Any:
        name = self.config.renderer
        # the seed goes with every frame; options this renderer does not take wait for the next
        options = self.config.renderer_options.merged(theme=self.config.theme)
        return registry.create(name, registry.applicable(name, options))

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
        self.frames.wait()
        self.renderer.reset()
        self.console.start()
        self.terminal.take_damage()
        return self._frame_step("reset", "", None, "session start", {}, damage=None)

    def step(self, action: str | dict[str, Any]) -> StepOutput:
        """Apply one action: a str (a line to run) or a dict {"line"|"text"|"key"|"paste"|
        "resize"|"mouse": ...} ("mouse": {"col", "row", "button", "action"}); returns the frame
        after it."""
        if isinstance(action, str):
            return self.run(action)
        kinds: dict[str, Callable[[Any], StepOutput]] = {
            "line": self.run, "text": lambda text: self.type(text)[-1], "key": self.key,
            "paste": self.paste, "resize": lambda size: self.resize(*map(int, size)),
            "mouse": lambda mouse: self.mouse(**mouse)}
        for kind, act in kinds.items():
            if isinstance(action, dict) and kind in action:
                return act(action[kind])
        raise ValueError(f"unknown action {action!r}")

    def run(self, line: str, timeout: float | None = None) -> StepOutput:
        """Type `line`, press Enter, wait for the answer; one frame of the final screen."""
        self._check_open()
        line = line.replace("\r\n", "\n").rstrip("\n")
        if self.shell is None:  # the stand-in line editor keeps printable text only
            line = printable(line)
        self.console.drain()
        limit = timeout if timeout is not None else self.config.command_timeout
        if not self.console.at_line_prompt:
            # a program (python3, cat, vi...) is reading: the line is just typed at it
            self.console.send(line.encode() + b"\r", "idle", limit, settle=0.15)
            return self._shown("line", line, "program", "a program in the shell is reading input")
        route = self.router.route(line)
        if route.name == "shell" and self.shell is not None:
            # a command that runs too long is interrupted by the shell backend itself
            self.console.send(line.encode() + b"\r", "idle", limit + 5.0, settle=0.15)
            self._history.append(line)
            return self._shown("line", line, "shell", route.reason)
        # a line reasoner answers: show it typed, then the answer, then a new prompt
        if self.shell is not None:
            self.console.send(line.encode(), "echo", 0.5)
        else:
            self.console.feed(line)
        self.console.take_line()
        return self._answer(line, route)

    def type(self, text: str) -> list[StepOutput]:
        """Type characters one by one; one frame per character."""
        self._check_open()
        return [self._keystroke(ch.encode(), ch) for ch in text]

    def keys(self, text: str) -> StepOutput:
        """Type a burst of characters at once, as a terminal's typeahead does: one write, one
        frame (`type` draws a frame per character)."""
        self._check_open()
        return self.type(text)[-1] if len(text) == 1 else self._keystroke(text.encode(), text)

    def set_renderer(self, renderer: Renderer | str, theme: str | None = None) -> None:
        """Swap the renderer (a registry name or a Renderer) and optionally the theme, keeping
        the shell and the screen; the next frame is drawn in full."""
        self._check_open()
        self.frames.wait()
        if theme is not None:
            self.config = replace(self.config, theme=theme)
        if isinstance(renderer, str):
            self.config = replace(self.config, renderer=renderer)
        self.renderer = self._make_renderer() if isinstance(renderer, str) else renderer
        self.verifier = Verifier(reference_raster(self.renderer, self.config.theme))
        self.renderer.reset()

    def configure(self, *, renderer: str | None = None, theme: str | None = None,
                  seed: int | None = None, steps: int | None = None, look: str | None = None,
                  model: str | None = None) -> StepOutput:
        """Change settings live: the renderer is rebuilt through the registry when what it is
        made of changes (a seed only changes the next frames), and the screen is drawn again in
        full. Returns that frame. A setting the renderer does not take is a ValueError."""
        self._check_open()
        name = renderer or self.config.renderer
        for option, value in (("steps", steps), ("look", look), ("model", model)):
            if value is not None and not registry.takes(name, option):
                raise ValueError(f"the {name} renderer does not take {option}")
        options = self.config.renderer_options.merged(steps=steps, look=look, model=model)
        changes: dict[str, Any] = {k: v for k, v in (
            ("renderer", renderer), ("theme", theme), ("seed", seed)) if v is not None}
        old = self.config
        self.frames.wait()
        self.config = replace(old, renderer_options=options, **changes)
        if (self.config.renderer, self.config.theme, options) != (old.renderer, old.theme,
                                                                   old.renderer_options):
            try:
                self.set_renderer(self.config.renderer)
            except BaseException:
                self.config = old
                raise
        self.renderer.reset()
        return self._frame_step("configure", "", None, "settings changed", {}, damage=None)

    def key(self, name: str, wait: bool = True) -> StepOutput:
        """Press a key: "Enter", "Tab", "Up", "ctrl+c", "alt+b", "F5"... Enter at the shell
        prompt is routed like run(); with wait=False it returns once the command has started
        instead of when it is done (so a script can press ctrl+c next)."""
        self._check_open()
        data = key_bytes(name, app_cursor=self.terminal.mode(1))  # DECCKM: application cursor
        if data == b"\r":
            self.console.drain()
        if data != b"\r" or not self.console.at_line_prompt:
            return self._keystroke(data, name)
        try:
            line = self.console.typed_line()
        except ReasonerError:  # the line editor did not answer: plain Enter
            return self._keystroke(data, name)
        route = self.router.route(line) if line.strip() else None
        if route is not None and (route.name != "shell" or self.shell is None):
            self.console.take_line()
            return self._answer(line, route)
        if self.shell is None:
            self.console.new_prompt()
        elif wait:
            self.console.send(b"\r", "idle", self.config.command_timeout + 5.0, settle=0.15)
        else:
            self.console.send(b"\r", "started", 2.0)
        if line.strip():
            self._history.append(line)
        return self._shown("key", name, "shell" if route else None,
                           route.reason if route else "empty line", {"line": line})

    def paste(self, text: str) -> StepOutput:
        """Paste text (bracketed when the program asked for it); one frame."""
        self._check_open()
        self.console.paste(text)
        return self._shown("paste", text, None, "paste")

    def mouse(self, col: int, row: int, button: str = "left", action: str = "click") -> StepOutput:
        """A mouse action at the 0-based cell (col, row): press|release|click|move|wheel_up|
        wheel_down. The program gets bytes only in the mouse mode it asked for
        (terminal.mouse); the pointer is drawn there; one frame."""
        self._check_open()
        data = self.terminal.mouse_input(col, row, button, action,
                                         cell_size=self.renderer.cell_size)
        if data and self.shell is not None:
            self.console.key(data)
        return self._shown("mouse", f"{action} {button} {col},{row}", None, "mouse")

    def resize(self, cols: int, rows: int) -> StepOutput:
        """Resize the terminal (the program gets SIGWINCH); one full frame."""
        self._check_open()
        try:
            self.console.resize(cols, rows)
        except ReasonerError as e:  # a size the shell cannot work at
            raise SessionError(str(e)) from None
        self.frames.wait()
        self.renderer.reset()
        self.terminal.take_damage()
        return self._frame_step("resize", f"{cols}x{rows}", None, "resize", {}, damage=None)

    def poll(self, timeout: float = 0.0) -> StepOutput | None:
        """Read output that arrived on its own (a clock, `top`, a background job); a new frame
        when the screen changed, else None."""
        self._check_open()
        self.console.send(b"", "output", timeout, settle=0.0)
        damage = self.terminal.take_damage()
        return self._frame_step("poll", "", None, "program output", {}, damage=damage) \
            if damage else None

    def report(self) -> dict[str, Any]:
        """Everything the session did, in the report.json format of DESIGN.md."""
        self.frames.wait()
        return {"renderer": self.renderer.name, "config": jsonable(asdict(self.config)),
                **self.recorder.report()}

    def save(self, path: str | os.PathLike[str],
             idle_time_limit: float | None = IDLE_TIME_LIMIT) -> Path:
        """Write the session as an asciicast v2 recording (real times; players cut pauses
        longer than `idle_time_limit` seconds, None or 0: none)."""
        return self.recorder.save(path, idle_time_limit)

    def export(self, path: str | os.PathLike[str], fps: float = 10.0, *,
               idle_time_limit: float | None = IDLE_TIME_LIMIT,
               holds: Mapping[int, float] | None = None) -> Path:
        """Write the drawn frames as a video (.mp4) or animation (.gif).

        idle_time_limit: pauses longer than this many seconds are cut to it (None or 0: real
            time, start-up waits included).
        holds: step index (StepOutput.index) -> the least seconds its frame stays on screen,
            so a viewer can read it (a scripted tour's pace).
        """
        self.frames.wait()
        if not self.recorder.frames:
            raise SessionError("no frames to export")
        return self.recorder.export(path, fps, idle_time_limit=idle_time_limit, holds=holds)

    def close(self) -> None:
        """End the shell (and everything it started) and close reasoners and recordings."""
        if self._closed:
            return
        self._closed = True
        self.frames.close()
        _close_all(self.shell, self.reasoners)
        self.recorder.close()

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

    def _shown(self, kind: str, action: str, route: str | None, reason: str,
               trace: dict[str, Any] | None = None) -> StepOutput:
        """The frame of what the last action changed."""
        return self._frame_step(kind, action, route, reason, trace or {},
                                damage=self.terminal.take_damage())

    def _keystroke(self, data: bytes, label: str) -> StepOutput:
        self.console.key(data)
        return self._shown("key", label, None, "keystroke")

    def _answer(self, line: str, route: Route) -> StepOutput:
        """Show a line reasoner's answer below the typed line, then a new prompt."""
        t0 = time.perf_counter()
        self._history.append(line)
        self.console.feed("\r\n")
        ctx = Context(cols=self.terminal.cols, rows=self.terminal.rows,
                      cwd=self.shell.cwd if self.shell is not None else None,
                      history=self._history[-20:], screen_text=self.terminal.text)

        def piece(text: str) -> None:  # a frame per streamed piece
            self.console.feed(terminal_text(text))
            self._shown("stream", route.line, route.name, "streaming reply")

        reasoner = self.reasoners.get("llm" if route.name == "simulate" else route.name)
        reply, streamed = answer(reasoner, route, ctx, piece if self.on_frame else None)
        if not streamed:
            self.console.feed(shown(reply))
        reason_ms = (time.perf_counter() - t0) * 1000
        self.console.new_prompt()
        step = self._shown("line", line, route.name, route.reason, {
            "line": route.line, **reply.trace, "error": reply.error, "simulated": reply.simulated})
        step.timings["reason"] = reason_ms
        return step

    # -- state -> caption -> render -> verify ------------------------------------------------
    def _frame_step(self, kind: str, action: str, route: str | None, reason: str,
                    trace: dict[str, Any], damage: set[int] | None) -> StepOutput:
        """The step of the screen as it is now; its frame is drawn by `self.frames`."""
        t = time.perf_counter()
        screen = self.terminal.snapshot()
        state_ms = (time.perf_counter() - t) * 1000
        self._index += 1
        step = StepOutput.drawing(self._index, kind, action, screen, route, reason)
        job = FrameJob(self.renderer, self.verifier, damage, trace, {"state": state_ms},
                       self.config.caption_tier, self.config.seed, self.config.verify)
        self.frames.draw(step, job, inline=self.on_frame is not None)
        self.steps.append(step)
        self._last = step
        if self.on_frame is not None:
            self.on_frame(step)
        return step


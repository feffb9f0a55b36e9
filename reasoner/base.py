"""The Reasoner protocol and registry: who decides what the screen says.

Two kinds of reasoner exist:

* the **terminal owner** (the shell backend): a real program in a pty. Keystrokes go to it and its
  output bytes go straight to the terminal emulator. It implements `TerminalBackend`.
* **line reasoners** (sympy, the LLM, plugins): a whole input line in, the text to show out. They
  implement `Reasoner.answer`, and optionally `Reasoner.stream` for replies that should start to
  appear at once.

Backends register by name: built-ins in `BUILTINS` (imported lazily inside the factory, so a heavy
backend costs nothing until it is used) and third-party ones through the entry-point group
`hybrid_nc.reasoners`, whose objects are factories `(**options) -> Reasoner`. The contract is
checked when a backend is created (`check_reasoner`), as pyte's `Stream.attach` checks its screen.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Literal, Protocol, runtime_checkable

ENTRY_POINT_GROUP = "hybrid_nc.reasoners"


class ReasonerError(RuntimeError):
    """A reasoner failed in a way the user should see as one line (server down, bad reply...)."""


@dataclass
class Reply:
    """What a line reasoner answers.

    text: what to show, plain or with ANSI escapes; "\\n" line breaks (the orchestrator converts).
    trace: facts for the step's trace (e.g. {"expression": "98+45", "result": "143"}).
    error: True when `text` is an error message rather than an answer.
    simulated: True when the output is made up by a model, not computed (always shown as such).
    """

    text: str
    trace: dict[str, Any] = field(default_factory=dict)
    error: bool = False
    simulated: bool = False


@dataclass
class Context:
    """What a line reasoner may know about the session: size, working directory, history."""

    cols: int = 80
    rows: int = 24
    cwd: str | None = None
    history: list[str] = field(default_factory=list)
    screen_text: str = ""


@runtime_checkable
class Reasoner(Protocol):
    """A line reasoner. `name` is its registry name; `answer` must not raise for bad input:
    it returns a Reply with error=True. It may raise ReasonerError for infrastructure failures."""

    name: str

    def answer(self, line: str, context: Context) -> Reply: ...

    def close(self) -> None: ...


@runtime_checkable
class StreamingReasoner(Reasoner, Protocol):
    """A line reasoner that can also yield its reply in pieces as they are produced;
    `last_reply` holds the whole Reply (trace, error flag) once the stream has ended."""

    last_reply: Reply | None

    def stream(self, line: str, context: Context) -> Iterator[str]: ...


@runtime_checkable
class SimulatingReasoner(Reasoner, Protocol):
    """A line reasoner (the LLM) that can also make up the output of a program the sandbox does
    not have; `simulate_programs` says whether the router should send such lines to it."""

    @property
    def simulate_programs(self) -> bool: ...

    def simulate(self, line: str, context: Context) -> Reply: ...

    def simulate_stream(self, line: str, context: Context) -> Iterator[str]: ...


@runtime_checkable
class TerminalBackend(Protocol):
    """The program that owns the terminal (the sandboxed shell).

    start(cols, rows) starts it; write(data) sends keystrokes/bytes to its pty; read(timeout)
    returns whatever output is available within `timeout` seconds (b"" if none); resize() sends
    SIGWINCH; alive() tells whether it still runs; close() ends it and everything it started.
    """

    name: str

    def start(self, cols: int, rows: int) -> None: ...

    def write(self, data: bytes) -> None: ...

    def read(self, timeout: float) -> bytes: ...

    def resize(self, cols: int, rows: int) -> None: ...

    def alive(self) -> bool: ...

    def close(self) -> None: ...


OutputSink = Callable[[bytes], bytes]
"""Takes program output for the screen; returns what the terminal owes the program in answer
(replies to its queries: cursor position, device attributes), to be written back at once."""

Until = Literal["prompt", "output", "echo", "idle", "started"]
"""How long `InteractiveShell.send` keeps moving output (its docstring says each)."""


@runtime_checkable
class InteractiveShell(TerminalBackend, Protocol):
    """A terminal owner that is a shell with a prompt protocol (reasoner.backends.shell).

    at_prompt: bash waits at its primary prompt; last_status / cwd: from the last prompt.
    send(data, sink, until=...) writes keystrokes and moves the output that follows into `sink`
    until the shell or its program is done with them (the session loop's one way in and out);
    fileno() -> the pty (its foreground process group says which program has the terminal);
    peek_line() -> the readline buffer; discard_line() clears it invisibly (into history);
    fresh_prompt() -> the bytes of a new prompt (what bash printed before it is dropped);
    run(line) -> all output of one typed command; interrupt() is Ctrl+C for the foreground job.
    """

    @property
    def at_prompt(self) -> bool: ...

    last_status: int | None
    cwd: str

    def send(self, data: bytes, sink: OutputSink, *, until: Until = "output",
             timeout: float = 1.0, settle: float = 0.03) -> None: ...

    def fileno(self) -> int: ...

    def peek_line(self, timeout: float = 2.0) -> str: ...

    def discard_line(self) -> None: ...

    def fresh_prompt(self, timeout: float = 2.0) -> bytes: ...

    def run(self, line: str, timeout: float | None = None) -> bytes: ...

    def interrupt(self) -> None: ...


Factory = Callable[..., Any]

# name -> "module:attribute" of a factory; imported only when used
BUILTINS: dict[str, str] = {
    "shell": "reasoner.backends.shell:ShellBackend",
    "sympy": "reasoner.backends.sympy_calc:SympyReasoner",
    "llm": "reasoner.backends.llm:LLMReasoner",
}

_EXTRA: dict[str, Factory] = {}


def register(name: str, factory: Factory) -> None:
    """Register a backend factory in-process (tests, notebooks)."""
    _EXTRA[name] = factory


def available() -> list[str]:
    """Names of every backend that can be created: built-ins, registered, entry points."""
    names = set(BUILTINS) | set(_EXTRA)
    names |= {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)}
    return sorted(names)


def _factory(name: str) -> Factory:
    if name in _EXTRA:
        return _EXTRA[name]
    if name in BUILTINS:
        module, attr = BUILTINS[name].split(":")
        return getattr(importlib.import_module(module), attr)  # type: ignore[no-any-return]
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == name:
            try:
                return ep.load()  # type: ignore[no-any-return]
            except Exception as e:
                raise ReasonerError(f"reasoner plugin {name!r} failed to load: {e}") from None
    raise ReasonerError(f"unknown reasoner {name!r} (available: {', '.join(available())})")


def check_reasoner(obj: Any, name: str) -> None:
    """Fail early and clearly when a backend does not implement the protocol."""
    if isinstance(obj, TerminalBackend):
        return
    missing = [m for m in ("answer", "close") if not callable(getattr(obj, m, None))]
    if missing or not isinstance(getattr(obj, "name", None), str):
        what = ", ".join(missing) if missing else "a str `name`"
        raise ReasonerError(f"reasoner {name!r} does not implement the Reasoner protocol: "
                            f"missing {what}")


def create(name: str, **options: Any) -> Any:
    """Create a backend by registry name, checking its contract."""
    obj = _factory(name)(**options)
    check_reasoner(obj, name)
    return obj

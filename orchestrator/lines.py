"""Lines that a line reasoner answers (sympy, the LLM, a plugin), and the line editor that stands
in for the shell in a session without one.

`answer` asks the reasoner a route names and never raises: a reasoner that fails, or one that is
not configured, gives an error reply the screen shows like any other. A reasoner that streams
hands its reply over piece by piece, so the first words are on the screen before the last exist.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from reasoner.base import (
    Context,
    Reasoner,
    ReasonerError,
    Reply,
    SimulatingReasoner,
    StreamingReasoner,
)

from .router import Route

SIMULATED = "\x1b[2m[simulated by LLM]\x1b[0m\r\n"


def answer(reasoner: Reasoner | None, route: Route, context: Context,
           on_piece: Callable[[str], None] | None = None) -> tuple[Reply, bool]:
    """The reply to `route.line` from `reasoner` (the one the route names, None when the session
    has none), and whether it was streamed: with `on_piece`, a streaming reasoner's pieces go to
    it as they come and the reply's text is already shown when this returns."""
    if route.name == "error":  # the router explains why the line cannot be answered
        return Reply(route.reason, error=True), False
    if reasoner is None:
        return Reply(f"[{route.name}] not configured: {route.reason}", error=True), False
    try:
        if route.name == "simulate":
            if not isinstance(reasoner, SimulatingReasoner):
                return Reply(f"[{route.name}] {reasoner.name} cannot simulate programs",
                             error=True), False
            if on_piece is None:
                return reasoner.simulate(route.line, context), False
            return _streamed(reasoner.simulate_stream(route.line, context), reasoner, on_piece), True
        if on_piece is not None and isinstance(reasoner, StreamingReasoner):
            return _streamed(reasoner.stream(route.line, context), reasoner, on_piece), True
        return reasoner.answer(route.line, context), False
    except ReasonerError as e:
        return Reply(f"[{route.name}] {e}", error=True), False
    except Exception as e:  # a reasoner bug must not end the session
        return Reply(f"[{route.name}] internal error: {type(e).__name__}: {e}", error=True), False


def _streamed(pieces: Iterator[str], reasoner: Reasoner, on_piece: Callable[[str], None]) -> Reply:
    parts: list[str] = []
    for piece in pieces:
        parts.append(piece)
        on_piece(piece)
    full = reasoner.last_reply if isinstance(reasoner, StreamingReasoner) else None
    return full if isinstance(full, Reply) else Reply("".join(parts), trace={"streamed": True})


def terminal_text(text: str) -> str:
    """Reply text with the line breaks a terminal needs (CR LF)."""
    return text.replace("\r\n", "\n").replace("\n", "\r\n")


def shown(reply: Reply) -> str:
    """What the screen shows for a whole (not streamed) reply: made-up output always says so."""
    text = terminal_text(reply.text)
    return SIMULATED + text if reply.simulated and "simulated" not in text else text


class LineEditor:
    """The stand-in for the shell in a session without one: a "> " prompt, printable
    characters, Backspace and Ctrl+C; `line` is what has been typed."""

    prompt = "> "

    def __init__(self) -> None:
        self.line = ""

    def edit(self, data: bytes) -> str:
        """Apply a keystroke (or a burst of them); returns the output a terminal would echo."""
        if data in (b"\x7f", b"\x08"):
            if not self.line:
                return ""
            self.line = self.line[:-1]
            return "\b \b"
        if data == b"\x03":
            self.line = ""
            return "^C\r\n" + self.prompt
        if data[:1] == b"\x1b" or data < b" ":  # Enter is answered by the session, not here
            return ""
        text = data.decode("utf-8", "replace")
        self.line += text
        return text

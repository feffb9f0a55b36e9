"""Lines that a line reasoner answers (sympy, the LLM, a plugin), and the line editor that stands
in for the shell in a session without one.

`answer` asks the reasoner a route names and never raises: a reasoner that fails, or one that is
not configured, gives an error reply the screen shows like any other. A reasoner that streams
hands its reply over piece by piece, so the first words are on the screen before the last exist.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from reasoner.base import (
    Context,
    Reasoner,
    ReasonerError,
    Reply,
    SimulatingReasoner,
    StreamingReasoner,
)
from terminal.cells import char_cells

from .router import Route

SIMULATED = "\x1b[2m[simulated by LLM]\x1b[0m\r\n"
# one escape sequence: CSI, OSC/DCS/SOS/PM/APC strings (to their terminator), SS3 + a key, or
# ESC + one character; an unterminated one runs to the end of the text
_ESCAPE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]?|[\]P^_X][^\x07\x1b]*(?:\x07|\x1b\\)?|O.?"
                     r"|[ -/]*[0-~]?)", re.DOTALL)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1a\x1c-\x1f\x7f-\x9f]")  # not TAB LF CR ESC
_SGR = re.compile(r"\x1b\[[0-9;:]*m")


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


def _kept(ch: str) -> bool:
    """A typed character the stand-in line editor keeps: printable, not a control."""
    return ch >= " " and not _CONTROL.match(ch)


def printable(line: str) -> str:
    """A typed line (its newlines kept) without what the stand-in line editor drops: escape
    sequences and control characters."""
    return "".join(ch for ch in _ESCAPE.sub("", line) if ch == "\n" or _kept(ch))


def terminal_text(text: str) -> str:
    """Reply text as a terminal shows it: CR LF line breaks, colours (SGR) kept, and every other
    escape sequence and control character dropped, so that no reply (an LLM's, or an error
    quoting the typed line) can move the cursor or change the terminal's modes."""
    text = _ESCAPE.sub(lambda m: m[0] if _SGR.fullmatch(m[0]) else "", _CONTROL.sub("", text))
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
        """Apply a keystroke or a burst of them (typeahead); returns what a terminal in cooked
        mode would echo. Only printable text is echoed and kept: an escape sequence (an arrow
        or function key) is consumed whole and other control characters are ignored, so typed
        bytes never move the cursor or change the terminal's modes. Enter is answered by the
        session, not here."""
        text, out, i = data.decode("utf-8", "replace"), [], 0
        while i < len(text):
            ch = text[i]
            if ch == "\x1b":
                i = _ESCAPE.match(text, i).end()  # type: ignore[union-attr]  # always matches
                continue
            i += 1
            if ch in "\x7f\x08":
                if self.line:
                    width = char_cells(self.line[-1])
                    self.line = self.line[:-1]
                    out.append("\b" * width + " " * width + "\b" * width)
            elif ch == "\x03":
                self.line = ""
                out.append("^C\r\n" + self.prompt)
            elif _kept(ch):
                self.line += ch
                out.append(ch)
        return "".join(out)

"""The terminal and its owner: keystrokes go to the sandboxed shell (or, in a session without
one, to a stand-in line editor with a "> " prompt), the output that follows goes into the
emulator, and both are recorded as asciicast events.

How long to wait for that output is the shell's business (`InteractiveShell.send`); what to wait
for is said here, once per kind of input: a printable key until its echo, other keys until the
program in front is idle, a pasted text until its output pauses.
"""

from __future__ import annotations

from reasoner.base import InteractiveShell, Until
from terminal import Terminal

from .lines import LineEditor
from .recorder import Recorder


class Console:
    """A `Terminal` fed by its owner.

    Args:
        terminal: the emulator holding the symbolic screen.
        recorder: where input, output and resizes are recorded.
        shell: the interactive shell that owns the terminal (None: the stand-in line editor).
    """

    def __init__(self, terminal: Terminal, recorder: Recorder,
                 shell: InteractiveShell | None) -> None:
        self.terminal = terminal
        self.recorder = recorder
        self.shell = shell
        self.editor = LineEditor()

    @property
    def at_line_prompt(self) -> bool:
        """The shell (or the line editor) waits for a command line, no program is reading."""
        return self.shell.at_prompt if self.shell is not None else True

    def feed(self, data: bytes | str) -> None:
        """Output to the screen (and the recording)."""
        if isinstance(data, str):
            data = data.encode()
        self.terminal.feed(data)
        self.recorder.event("o", data.decode("utf-8", "replace"))

    def _sink(self, data: bytes) -> bytes:
        self.feed(data)
        replies, self.terminal.replies[:] = "".join(self.terminal.replies), []
        return replies.encode()

    def send(self, data: bytes, until: Until, timeout: float, settle: float = 0.03) -> None:
        """Keystrokes to the shell, and its output to the screen until `until` (see
        `InteractiveShell.send`); without a shell, keystrokes to the line editor."""
        if data:
            self.recorder.event("i", data.decode("utf-8", "replace"))
        if self.shell is not None:
            self.shell.send(data, self._sink, until=until, timeout=timeout, settle=settle)
        elif data:
            self.feed(self.editor.edit(data))

    def start(self) -> None:
        """Wait for the first prompt (the line editor prints its own)."""
        if self.shell is not None:
            self.send(b"", "prompt", 15.0)
        else:
            self.feed(self.editor.prompt)

    def drain(self) -> None:
        """Take in output still arriving from the last action (a program exiting after Ctrl+D,
        a prompt being drawn), so routing decisions see the shell's current state."""
        self.send(b"", "output", 1.0)

    def key(self, data: bytes) -> None:
        """A keystroke. A printable key is answered by its echo within a millisecond; Enter and
        control keys may make a program redraw or exit, which takes longer, and full-screen
        programs poll briefly (vi: ~0.1 s) before they act on a key."""
        if len(data) == 1 and b" " <= data < b"\x7f":
            self.send(data, "echo", 0.5, settle=0.004)
        else:
            self.send(data, "idle", 2.0, settle=0.15 if self.terminal.in_alternate_screen
                      else 0.04)

    def paste(self, text: str) -> None:
        """Pasted text, bracketed when the program asked for it (pasted newlines run nothing)."""
        data = text.replace("\r\n", "\r").replace("\n", "\r").encode()
        if self.terminal.mode(2004):
            data = b"\x1b[200~" + data + b"\x1b[201~"
        if self.shell is None:
            self.feed("".join(self.editor.edit(ch.encode()) for ch in text))
        else:
            self.send(data, "output", 1.0)

    def typed_line(self) -> str:
        """The command line typed so far (raises ReasonerError when the shell does not say)."""
        return self.shell.peek_line() if self.shell is not None else self.editor.line

    def take_line(self) -> None:
        """Take the typed line out of the line editor, leaving it on the screen (a line
        reasoner answers it instead of the shell)."""
        if self.shell is not None:
            self.shell.discard_line()
        self.editor.line = ""

    def new_prompt(self) -> None:
        """A fresh prompt on the next line (after a line reasoner's answer)."""
        self.feed("\r\n")
        self.feed(self.shell.fresh_prompt() if self.shell is not None else self.editor.prompt)

    def resize(self, cols: int, rows: int) -> None:
        """Resize the pty first (a size the shell refuses changes nothing), then the screen."""
        if self.shell is not None:
            self.shell.resize(cols, rows)
        self.terminal.resize(cols, rows)
        self.send(b"", "echo", 0.5, settle=0.1)
        self.recorder.event("r", f"{cols}x{rows}")

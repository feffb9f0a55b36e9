"""The shell backend: a real bash in a pty, inside a bubblewrap sandbox.

The orchestrator writes keystrokes with `write()` and feeds what `read()` returns to its terminal
emulator. In between, this backend

* speaks a private protocol with bash: every prompt carries invisible OSC markers
  (ESC ] 7770 ; <token> ; ... BEL) with the exit status and cwd, PS2 one more, and private key
  sequences bound with `bind -x` report or clear the readline buffer. The markers are removed from
  the output (also when split across reads), so the emulator never sees them;
* watches each command: a wall-clock timeout (from Enter to the prompt; programs that put the
  terminal in raw mode — editors, pagers, REPLs, top — are interactive and exempt), an output-flood
  cap, a process-count check against fork bombs, and a binary-output check. Each writes a visible
  notice line, `[hybrid-nc: ...]`, into the output and stops what misbehaves (SIGINT to the
  foreground job, then SIGKILL of every sandbox process but the shell) so the shell stays usable;
* keeps a shell alive: when bash exits (Ctrl+D at an empty prompt, `exit`), a supervisor inside the
  sandbox starts a new one at once and a notice says so; home, /tmp and history survive.

`send(data, sink, until=...)` is what the session loop uses: keystrokes in, the output that follows
handed to the emulator until the command has started, finished or gone idle (`procwatch.Pump`).
`run(line)` is the scripted convenience: type a line, get all output up to the next prompt.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import re
import secrets
import select
import signal
import termios
import time
from typing import Any
from urllib.parse import unquote_to_bytes

from ptyprocess import PtyProcess

from reasoner.backends.procwatch import Pump, foreground_group
from reasoner.backends.sandbox import (
    OSC,
    ProcessTable,
    Sandbox,
    SandboxError,
    ShellLimits,
    bwrap_problem,
    prepare_child,
)
from reasoner.base import OutputSink, ReasonerError, Until
from terminal.screen import MAX_COLS, MAX_ROWS

__all__ = ["ShellBackend", "ShellLimits", "SandboxError", "printable"]

KEY_PEEK = b"\x1b[9991~"
KEY_DISCARD = b"\x1b[9992~"
KEY_REDRAW = b"\x1b[9993~"
PASTE_START = b"\x1b[200~"
PASTE_END = b"\x1b[201~"

_GRACE = 1.0  # seconds between SIGINT and SIGKILL, and between SIGKILL and killing the shell
_PROC_CHECK_EVERY = 1.0  # seconds between process counts (fork bomb check)
_READ_CHUNK = 16384
# bytes taken from the pty per read(): the emulator digests only ~0.1 MB/s of scrolling text,
# so a flood must come in small pieces for a keystroke (Ctrl+C) never to wait long behind it
_READ_CAP = 16 * 1024
_HELD_FLUSH = 0.05  # a held-back partial marker that stays incomplete this long is passed on
_START_TIMEOUT = 20.0
# readline scrolls a one-row line sideways, cutting the prompt's markers off, and takes a width
# of one for 80; the emulator itself allows any size down to 1x1
MIN_COLS, MIN_ROWS = 2, 2
_DEAD = "the sandbox has ended; start a new session"
# Undo what binary output may have switched on, so the notice and the prompt after it are
# readable: UTF-8 mode (ESC % G), G0 charset + shift-in, SGR, cursor shown, autowrap, insert off,
# normal cursor keys and keypad, mouse reports off. None of this moves the cursor.
_SANE = (b"\x1b%G\x1b(B\x0f\x1b[0m\x1b[?25h\x1b[?7h\x1b[4l\x1b[?1l\x1b>"
         b"\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?1006l")
# Binary output that also held escape sequences may have moved the cursor, set scroll margins or
# origin mode, or switched screens: nothing on the screen can be trusted, so (like `reset`) the
# main screen is restored, the margins freed and the screen cleared before the notice.
_RESET = b"\x1b[?47l\x1b[r\x1b[?6l" + _SANE + b"\x1b[H\x1b[2J"
# answers a terminal sends to a program: device attributes, status and cursor reports, mode
# reports (DECRPM), window size, DCS version strings; 7-bit or 8-bit (S8C1T, UTF-8 encoded)
_REPLIES = re.compile(
    rb"(?:(?:\x1b\[|\xc2\x9b|\x9b)[?>]?[0-9;]*\$?[cRnty]"
    rb"|(?:\x1bP|\xc2\x90|\x90)[^\x1b\x9c]*(?:\x1b\\|\xc2\x9c|\x9c))+")


_CONTROLS = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[ -/]*[0-~])?")


def printable(text: str) -> str:
    """`text` without escape sequences and control characters (fit for a one-line message)."""
    return "".join(ch for ch in _CONTROLS.sub("", text) if ch.isprintable())


def _notice(text: str) -> bytes:
    """A visible one-line notice. CAN first, so it cannot end up inside a cut-off escape
    sequence, then UTF-8 mode and the ASCII charset, so garbage before it cannot turn it into
    line-drawing symbols."""
    return (b"\x18\x1b%G\x1b(B\x0f\x1b[0m\r\n\x1b[1;33m[hybrid-nc: " + text.encode()
            + b"]\x1b[0m\r\n")


class _Event:
    """A marker from bash: kind (A prompt start, B prompt end, C continuation, L line, D line
    discarded, X shell exited) and its fields."""

    __slots__ = ("kind", "fields")

    def __init__(self, kind: str, fields: list[bytes]) -> None:
        self.kind = kind
        self.fields = fields


class ShellBackend:
    """A sandboxed interactive bash behind a pty (registry name "shell").

    Args:
        workdir: host directory used as the shell's home (/home/user inside; created if missing,
            kept afterwards). None: a private size-limited tmpfs home that lives as long as the
            backend (in unsafe mode a temporary host directory, removed by close()).
        unsafe: run bash directly on the host, without a sandbox (CLI `--unsafe-no-sandbox`).
            Without it, start() refuses to run when bubblewrap cannot create a sandbox.
        command_timeout: seconds from Enter to the prompt before a command is interrupted
            (timer restarts at every keystroke; paused while a program has the terminal in raw
            mode; 0 disables it).
        max_output: bytes a command may print (counted since Enter or the last keystroke)
            before it is stopped and the rest of its output dropped.
        limits: resource limits of the sandbox (`ShellLimits`).

    State for the loop: `at_prompt`, `at_continuation`, `last_status`, `cwd`, `restarts`,
    `bracketed_paste`, `sandboxed`.
    """

    name = "shell"

    def __init__(self, *, workdir: str | None = None, unsafe: bool = False,
                 command_timeout: float = 30.0, max_output: int = 2_000_000,
                 limits: ShellLimits | None = None) -> None:
        if command_timeout is None or command_timeout < 0:
            raise ValueError(f"command_timeout must be >= 0 seconds, got {command_timeout!r}")
        if max_output < 1024:
            raise ValueError(f"max_output must be at least 1024 bytes, got {max_output!r}")
        self.workdir = workdir
        self.unsafe = unsafe
        self.command_timeout = float(command_timeout)
        self.max_output = int(max_output)
        self.limits = limits or ShellLimits()
        self.last_status: int | None = None
        self.cwd = "~"
        self.restarts = 0
        self.bracketed_paste = False
        self._token = secrets.token_hex(8)
        self._prefix = f"\x1b]{OSC};".encode()
        self._tok = self._token.encode() + b";"
        self._proc: PtyProcess | None = None
        self._fd = -1
        self._sandbox: Sandbox | None = None
        self._table: ProcessTable | None = None
        self._phase = "new"  # new starting prompt continuation running dead closed
        self._fresh = True  # the next prompt is the first of a new bash
        self._queued_enters = 0
        self._in_paste = False
        self._deadline: float | None = None
        self._cmd_timeout = self.command_timeout
        self._next_timeout: float | None = None
        self._stop_stage = 0  # 1: SIGINT sent, 2: all but bash killed, 3: bash killed
        self._stop_at = 0.0
        self._out_count = 0
        self._discarding = False
        self._binary = False
        self._escapes = False  # the running command's output held escape sequences
        self._flooded = False
        self._drop_replies = False
        self._utf8 = codecs.getincrementaldecoder("utf-8")("strict")
        self._held = b""
        self._held_since = 0.0
        self._outq = bytearray()
        self._wq = bytearray()
        self._capture: list[bytes | _Event] | None = None
        self._next_proc_check = 0.0
        self._cols, self._rows = 80, 24

    # -- public state ----------------------------------------------------------------------------
    @property
    def at_prompt(self) -> bool:
        """True when bash waits at its primary prompt (the readline line may hold typed text)."""
        return self._phase == "prompt"

    @property
    def at_continuation(self) -> bool:
        """True when bash waits for the rest of a command at its PS2 prompt ("> ")."""
        return self._phase == "continuation"

    @property
    def sandboxed(self) -> bool:
        """True when the shell runs inside bubblewrap (False only with unsafe=True)."""
        return not self.unsafe

    @property
    def pid(self) -> int | None:
        """Host pid of the spawned process (bwrap, or the supervisor in unsafe mode)."""
        return self._proc.pid if self._proc is not None else None

    # -- life cycle ------------------------------------------------------------------------------
    def start(self, cols: int = 80, rows: int = 24) -> None:
        """Start the sandbox and bash at `cols` x `rows`; returns once the first prompt is up
        (its bytes wait for the first read()). Raises SandboxError with a one-line reason when no
        sandbox can be made (and unsafe is False)."""
        if self._phase != "new":
            raise ReasonerError("the shell backend was already started")
        self._check_size(cols, rows)
        if not self.unsafe:
            problem = bwrap_problem()
            if problem:
                raise SandboxError(f"cannot start the sandboxed shell: {problem}; pass "
                                   "--unsafe-no-sandbox (unsafe=True) to run it without one")
        self._sandbox = Sandbox(self._token, self.limits, self.workdir, self.unsafe)
        self._cols, self._rows = cols, rows
        try:
            argv = self._sandbox.argv()
            self._proc = PtyProcess.spawn(argv, cwd=self._sandbox.cwd(),
                                          env=self._sandbox.env(), dimensions=(rows, cols),
                                          preexec_fn=prepare_child,
                                          pass_fds=self._sandbox.pass_fds())
        except OSError as e:
            self._sandbox.cleanup()
            raise SandboxError(f"cannot start the shell: {e}") from None
        self._sandbox.spawned()
        self._fd = self._proc.fd
        os.set_blocking(self._fd, False)
        self._table = ProcessTable(self._proc.pid, self.unsafe)
        self._phase = "starting"
        end = time.monotonic() + _START_TIMEOUT
        while self._phase not in ("prompt", "dead") and time.monotonic() < end:
            self._pump(min(0.1, max(0.0, end - time.monotonic())))
        if self._phase != "prompt":
            said = bytes(self._outq).replace(_notice(_DEAD), b"")
            text = said.decode("utf-8", "replace").strip().splitlines()
            self.close()
            why = printable(text[-1]).strip() if text else ""
            raise SandboxError(f"the shell did not start: {why[:200] or 'no prompt appeared'}")
        for _ in range(50):
            if self._table.locate():
                break
            time.sleep(0.01)
        if self.unsafe:
            self._outq[:0] = _notice("NO SANDBOX (--unsafe-no-sandbox) - commands can change "
                                     "this machine")

    def alive(self) -> bool:
        """True while the sandbox runs (a shell that exited is replaced, so this stays True)."""
        return self._proc is not None and self._phase not in ("dead", "closed") \
            and self._proc.isalive()

    def close(self) -> None:
        """Kill the whole sandbox (every process in it) and remove its private files."""
        if self._phase == "closed":
            return
        proc, self._proc = self._proc, None
        self._phase = "closed"
        if proc is not None:
            if self.unsafe and self._table is not None:
                for pid in self._table.members():
                    with contextlib.suppress(OSError):
                        os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(OSError):
                os.kill(proc.pid, signal.SIGKILL)  # bwrap: --die-with-parent takes the rest
            with contextlib.suppress(Exception):
                proc.wait()
            with contextlib.suppress(Exception):
                proc.close(force=True)
        if self._sandbox is not None:
            self._sandbox.cleanup()
            self._sandbox = None

    def __enter__(self) -> ShellBackend:
        if self._phase == "new":
            self.start(self._cols, self._rows)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()

    # -- terminal operations ---------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        """Send keystrokes / pasted bytes to the pty (never blocks: what the pty cannot take yet
        is queued and sent during read())."""
        if self._phase in ("new", "dead", "closed") or not data:
            return
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        now = time.monotonic()
        if self._phase == "starting":
            # a Ctrl+C between two shells would hit bwrap itself: drop signal keys for that moment
            data = data.translate(None, b"\x03\x1a\x1c")
        if (self._phase == "prompt" or self._drop_replies) and _REPLIES.fullmatch(data):
            # readline never queries the terminal, so a reply arriving at the prompt (or after
            # binary output) answers escape sequences in some garbage and would be typed in
            return
        enters = self._count_enters(data)
        if enters and self._phase in ("prompt", "continuation"):
            self._begin_command(now)
            self._queued_enters += enters - 1
        elif self._phase == "running" and self._deadline is not None:
            self._deadline = max(self._deadline, now + self._cmd_timeout)
        self._out_count = 0
        self._wq += data
        self._flush_writes()

    def read(self, timeout: float) -> bytes:
        """Output for the emulator that arrives within `timeout` seconds (b"" if none): markers
        removed, notices inserted. Returns as soon as something is there."""
        end = time.monotonic() + max(0.0, timeout)
        while True:
            self._housekeeping()
            if self._outq or self._phase in ("closed", "new"):
                if self._outq and len(self._outq) < _READ_CAP:
                    self._pump(0.0)
                out = bytes(self._outq)
                self._outq.clear()
                return out
            now = time.monotonic()
            if now >= end:
                return b""
            wait = end - now
            for t in (self._deadline, self._stop_at if self._stop_stage else None):
                if t is not None:
                    wait = min(wait, max(0.0, t - now) + 0.001)
            if self._held:
                wait = min(wait, _HELD_FLUSH)
            wait = min(wait, max(0.0, self._next_proc_check - now) + 0.001)
            if self._phase == "dead":
                time.sleep(wait)
                continue
            self._pump(wait)

    def resize(self, cols: int, rows: int) -> None:
        """Set the pty size; the kernel sends SIGWINCH to the foreground job."""
        self._check_size(cols, rows)
        self._cols, self._rows = cols, rows
        if self._proc is not None and self._phase not in ("dead", "closed"):
            with contextlib.suppress(OSError):
                self._proc.setwinsize(rows, cols)

    def interrupt(self) -> None:
        """Ctrl+C for the foreground job: typed as ^C when the terminal turns it into SIGINT,
        sent as SIGINT directly when a raw-mode program has switched that off."""
        if self._proc is None or self._phase in ("dead", "closed", "new"):
            return
        lflag = self._lflag()
        if lflag is not None and lflag & termios.ISIG:
            self.write(b"\x03")
            return
        with contextlib.suppress(OSError):
            pgrp = os.tcgetpgrp(self._fd)
            if pgrp > 0:
                os.killpg(pgrp, signal.SIGINT)

    # -- line-level helpers for the loop ---------------------------------------------------------
    def peek_line(self, timeout: float = 2.0) -> str:
        """The text of the readline buffer now (what the user has typed at the prompt). The
        query's output (bash clears and redraws the line) is consumed, never shown."""
        items = self._query(KEY_PEEK, "L", timeout, line_tail=True)
        for item in items:
            if isinstance(item, _Event) and item.kind == "L" and len(item.fields) >= 2:
                return unquote_to_bytes(item.fields[1]).decode("utf-8", "replace")
        raise ReasonerError("the shell did not report its input line")  # pragma: no cover

    def discard_line(self, timeout: float = 2.0) -> None:
        """Clear the readline buffer without visible output (the screen keeps what was typed),
        adding the line to the shell's history."""
        self._query(KEY_DISCARD, "D", timeout)

    def fresh_prompt(self, timeout: float = 2.0) -> bytes:
        """Make bash print a new prompt (after discard_line) and return exactly the prompt's
        bytes; what bash prints before it (the newline of the accepted empty line) is dropped."""
        items = self._query(b"\r", "A", timeout)
        prompt = bytearray()
        inside = False
        for item in items:
            if isinstance(item, _Event):
                if item.kind == "A":
                    inside, prompt = True, bytearray()
                elif item.kind == "B":
                    inside = False
            elif inside:
                prompt += item
        return bytes(prompt)

    def run(self, line: str, timeout: float | None = None) -> bytes:
        """Type `line` and Enter; return all output (including any not read before) until bash
        is back at a prompt, or until the command was stopped after `timeout` seconds
        (default: command_timeout)."""
        if self._phase not in ("prompt", "continuation"):
            raise ReasonerError("run(): the shell is not waiting at its prompt")
        out = bytearray(self.read(0.0))
        limit = timeout if timeout is not None else self.command_timeout
        self._next_timeout = limit
        try:
            self.write(line.encode("utf-8", "surrogateescape") + b"\r")
        finally:
            self._next_timeout = None
        give_up = time.monotonic() + (limit + 4 * _GRACE + 10 if limit else float("inf"))
        while time.monotonic() < give_up:
            out += self.read(0.05)
            if self._phase in ("prompt", "continuation", "dead") and not self._outq:
                out += self.read(0.0)
                break
        return bytes(out)

    def fileno(self) -> int:
        """The pty's file descriptor (-1 before start)."""
        return self._fd

    def send(self, data: bytes, sink: OutputSink, *, until: Until = "output",
             timeout: float = 1.0, settle: float = 0.03) -> None:
        """Write `data` (b"": nothing) and move the output that follows into `sink`, writing
        back what it returns (the terminal's answers to queries), until `timeout` seconds or:

        "prompt": bash is back at its primary prompt;
        "output": the output paused for `settle` seconds (or none came within 10 ms);
        "echo": output came and then paused for `settle` seconds (a keystroke's echo);
        "idle": the prompt is back, or the program in front has waited for input, with no
            output, for `settle` seconds (a command's end, a REPL's or an editor's prompt);
        "started": the command just entered owns the terminal, or the prompt is back (so a
            Ctrl+C pressed next reaches the command, not bash).
        """
        pump = Pump(self, sink)
        group = foreground_group(self._fd) if until == "started" else None
        if data:
            self.write(data)
        if until == "prompt":
            pump.until(timeout, done=lambda: self.at_prompt)
        elif until == "output":
            pump.until(timeout, quiet=settle, idle=min(settle, 0.01))
        elif until == "echo":
            pump.until(timeout, quiet=settle)
        elif until == "idle":
            pump.until_idle(timeout, settle)
        else:
            pump.until_started(group, timeout)

    # -- internals: pty I/O ----------------------------------------------------------------------
    @staticmethod
    def _check_size(cols: int, rows: int) -> None:
        if not (isinstance(cols, int) and isinstance(rows, int) and MIN_COLS <= cols <= MAX_COLS
                and MIN_ROWS <= rows <= MAX_ROWS):
            raise ReasonerError(f"terminal size {cols}x{rows} is out of range for the shell "
                                f"({MIN_COLS}..{MAX_COLS} columns, {MIN_ROWS}..{MAX_ROWS} rows)")

    def _lflag(self) -> int | None:
        try:
            return int(termios.tcgetattr(self._fd)[3])
        except (termios.error, OSError):
            return None

    def _flush_writes(self) -> None:
        while self._wq:
            try:
                n = os.write(self._fd, self._wq[:4096])
            except BlockingIOError:
                return
            except OSError:
                self._wq.clear()
                return
            del self._wq[:n]

    def _pump(self, wait: float) -> None:
        """Wait up to `wait` s for output, then take what is there (at most _READ_CAP bytes)."""
        if self._phase in ("dead", "closed", "new"):
            return
        self._flush_writes()
        try:
            r, w, _ = select.select([self._fd], [self._fd] if self._wq else [], [], wait)
        except (OSError, ValueError):
            self._on_dead()
            return
        if w:
            self._flush_writes()
        if not r:
            self._flush_held()
            return
        got = 0
        while got < _READ_CAP - len(self._outq):
            try:
                data = os.read(self._fd, min(_READ_CHUNK, _READ_CAP - got - len(self._outq)))
            except BlockingIOError:
                break
            except OSError:
                self._on_dead()
                return
            if not data:
                self._on_dead()
                return
            got += len(data)
            self._ingest(data)
            if self._wq:
                self._flush_writes()

    def _on_dead(self) -> None:
        if self._phase in ("dead", "closed"):
            return
        self._flush_held(force=True)
        self._phase = "dead"
        self._deadline = None
        self._stop_stage = 0
        self._outq += _notice(_DEAD)

    # -- internals: marker parsing ---------------------------------------------------------------
    def _ingest(self, data: bytes) -> None:
        buf = self._held + data if self._held else data
        if self._held:
            self._held = b""
        prefix = self._prefix
        i = 0
        n = len(buf)
        while i < n:
            j = buf.find(prefix, i)
            if j < 0:
                keep = self._partial_prefix(buf, i)
                if i < n - keep:
                    self._data(buf[i:n - keep])
                if keep:
                    self._hold(buf[n - keep:])
                return
            if j > i:
                self._data(buf[i:j])
            k = buf.find(b"\x07", j)
            if k < 0:
                if n - j > 8192:  # far too long for one of ours: not a marker
                    self._data(buf[j:j + len(prefix)])
                    i = j + len(prefix)
                    continue
                self._hold(buf[j:])
                return
            body = buf[j + len(prefix):k]
            if body.startswith(self._tok) and len(body) > len(self._tok):
                rest = body[len(self._tok):]
                parts = rest.split(b";")
                self._event(_Event(parts[0].decode("ascii", "replace"), parts[1:]))
            else:
                self._data(buf[j:k + 1])  # someone else's OSC 7770: not ours to remove
            i = k + 1

    def _partial_prefix(self, buf: bytes, start: int) -> int:
        """Length of the longest tail of buf[start:] that is a proper prefix of the marker."""
        prefix = self._prefix
        for size in range(min(len(prefix) - 1, len(buf) - start), 0, -1):
            if buf.endswith(prefix[:size]):
                return size
        return 0

    def _hold(self, part: bytes) -> None:
        self._held = part
        self._held_since = time.monotonic()

    def _flush_held(self, force: bool = False) -> None:
        if self._held and (force or time.monotonic() - self._held_since > _HELD_FLUSH):
            held, self._held = self._held, b""
            if not held.startswith(self._prefix) or force:
                self._data(held)
            else:
                self._held = held  # an incomplete marker: keep waiting for its end

    # -- internals: output and events ------------------------------------------------------------
    def _data(self, data: bytes) -> None:
        if b"\x1b[?2004" in data:
            h, lo = data.rfind(b"\x1b[?2004h"), data.rfind(b"\x1b[?2004l")
            self.bracketed_paste = h > lo
        if self._capture is not None:
            self._capture.append(data)
            return
        if self._discarding:
            return
        self._out_count += len(data)
        if self._out_count > self.max_output:
            cut = max(0, len(data) - (self._out_count - self.max_output))
            self._outq += data[:cut]
            self._flood()
            return
        if self._phase == "running" and not self._escapes and (b"\x1b" in data or b"\x9b" in data):
            # readline's own bracketed-paste switches around every command do not count
            rest = data.replace(b"\x1b[?2004h", b"").replace(b"\x1b[?2004l", b"")
            self._escapes = b"\x1b" in rest or b"\x9b" in rest
        if self._phase == "running" and not self._binary:
            try:
                self._utf8.decode(data)
                if b"\x00" in data:
                    self._binary = True
            except UnicodeDecodeError:
                self._binary = True
            if self._binary:
                self._drop_replies = True
        if b"fork: " in data:
            self._next_proc_check = 0.0  # bash reports failing forks: count processes now
        self._outq += data

    def _event(self, ev: _Event) -> None:
        if self._capture is not None:
            self._capture.append(ev)
        kind = ev.kind
        if kind == "A":
            status = ev.fields[0] if ev.fields else b""
            if not self._fresh and status.isdigit():
                self.last_status = int(status)
            self._fresh = False
            if len(ev.fields) > 1:
                self.cwd = unquote_to_bytes(ev.fields[1]).decode("utf-8", "replace")
            self._command_done()
        elif kind in ("B", "C"):
            if self._phase in ("starting", "running", "prompt", "continuation"):
                if self._queued_enters > 0:
                    self._queued_enters -= 1
                    self._begin_command(time.monotonic())
                else:
                    self._phase = "prompt" if kind == "B" else "continuation"
                    self._deadline = None
                    self._stop_stage = 0
        elif kind == "X":
            status = ev.fields[0] if ev.fields else b""
            self.last_status = int(status) if status.isdigit() else None
            self.restarts += 1
            self._fresh = True
            self._command_done()
            self._queued_enters = 0
            self._phase = "starting"
            self._outq += _notice(f"shell exited (status {self.last_status}) - started a new "
                                  "one, files kept")

    def _begin_command(self, now: float) -> None:
        self._phase = "running"
        self._cmd_timeout = self._next_timeout if self._next_timeout is not None \
            else self.command_timeout
        self._deadline = now + self._cmd_timeout if self._cmd_timeout > 0 else None
        self._stop_stage = 0
        self._out_count = 0
        self._binary = self._escapes = self._flooded = False
        self._drop_replies = False
        self._utf8.reset()

    def _command_done(self) -> None:
        self._deadline = None
        self._stop_stage = 0
        self._discarding = False
        if self._binary:
            if self._escapes:
                text = (f"output limit ({self.max_output} bytes) reached; binary data - "
                        "screen reset" if self._flooded
                        else "the command printed binary data; the screen was reset")
                self._outq += _RESET + _notice(text)
            else:
                self._outq += _SANE + _notice("the command printed binary data; terminal "
                                              "attributes were reset")
        self._binary = self._escapes = self._flooded = False

    # -- internals: guarding the session ---------------------------------------------------------
    def _housekeeping(self) -> None:
        if self._phase in ("new", "dead", "closed"):
            return
        now = time.monotonic()
        if self._wq:
            self._flush_writes()
        if self._held:
            self._flush_held()
        if self._phase == "running" and self._deadline is not None and now >= self._deadline \
                and self._stop_stage == 0:
            lflag = self._lflag()
            if lflag is not None and not lflag & termios.ICANON:
                self._deadline = now + self._cmd_timeout  # an interactive program: keep waiting
            else:
                secs = f"{self._cmd_timeout:g}"
                self._outq += _notice(f"command timed out after {secs} s - interrupted")
                self._stop()
        if self._stop_stage and now >= self._stop_at:
            self._escalate()
        if now >= self._next_proc_check and self._table is not None:
            self._next_proc_check = now + _PROC_CHECK_EVERY
            self._check_processes()

    def _flood(self) -> None:
        self._flooded = True
        self._outq += _notice(f"output limit ({self.max_output} bytes) reached - command "
                              "stopped")
        self._out_count = 0
        if self._phase == "running":
            self._discarding = True
            self._stop()
        else:  # a background job floods the prompt
            if self._table is not None:
                self._table.kill_all_but_shell(freeze=False)
            self._redraw()

    def _stop(self) -> None:
        """Interrupt the foreground job; _escalate() follows up if the prompt does not return."""
        table = self._table
        shell = table.shell() if table is not None else None
        try:
            pgrp = os.tcgetpgrp(self._fd)
        except OSError:
            pgrp = -1
        if pgrp > 0 and pgrp != shell:
            with contextlib.suppress(OSError):
                os.killpg(pgrp, signal.SIGINT)
            self._stop_stage = 1
        else:  # bash itself runs the command (a builtin loop) or nothing is in front
            if shell is not None:
                with contextlib.suppress(OSError):
                    os.kill(shell, signal.SIGINT)
            if table is not None:
                table.kill_all_but_shell(freeze=False)
            self._stop_stage = 2
        self._stop_at = time.monotonic() + _GRACE

    def _escalate(self) -> None:
        if self._phase not in ("running", "starting"):
            self._stop_stage = 0
            return
        table = self._table
        if table is None:
            return
        if self._stop_stage == 1:
            table.kill_all_but_shell(freeze=False)
            self._stop_stage = 2
        elif self._stop_stage == 2:
            shell = table.shell()
            if shell is not None:  # bash ignores SIGINT in a builtin loop: replace the shell
                table.kill_pid(shell, signal.SIGKILL)
            self._stop_stage = 3
        else:
            self._stop_stage = 0
            return
        self._stop_at = time.monotonic() + _GRACE

    def _check_processes(self) -> None:
        table = self._table
        if table is None:
            return
        if table.resident() > self.limits.memory:
            self._memory_exceeded(table)
            return
        if table.count() < self.limits.processes - 2:
            return
        killed = table.kill_all_but_shell()
        # what the killed processes wrote is still in the pty: show it first, so the notice
        # ends up last on the screen, above the prompt
        end = time.monotonic() + 0.2
        while time.monotonic() < end and self._quiet_for(0.02) is False:
            self._pump(0.0)
        self._outq += _notice(f"process limit ({self.limits.processes}) reached - {killed} "
                              "processes killed")
        if self._phase == "prompt":
            self._redraw()

    def _memory_exceeded(self, table: ProcessTable) -> None:
        """The sandbox's processes together hold more than limits.memory (RLIMIT_AS
        caps each process, not their sum): kill all but the shell, and the shell as well when it
        alone is over (the supervisor starts a new one)."""
        killed = table.kill_all_but_shell()
        if table.resident() > self.limits.memory:
            shell = table.shell()
            if shell is not None and table.kill_pid(shell, signal.SIGKILL):
                killed += 1
        self._outq += _notice(f"memory limit ({self.limits.memory >> 20} MiB for all processes) "
                              f"reached - {killed} processes killed")
        if self._phase == "prompt":
            self._redraw()

    def _redraw(self) -> None:
        """Have readline redraw the prompt and the line (after a notice at the prompt)."""
        if self._phase == "prompt":
            self._wq += KEY_REDRAW
            self._flush_writes()

    def _count_enters(self, data: bytes) -> int:
        """Enter presses in `data` outside bracketed pastes (pasted newlines are not Enter)."""
        n = 0
        i = 0
        while i < len(data):
            if self._in_paste:
                j = data.find(PASTE_END, i)
                if j < 0:
                    return n
                self._in_paste = False
                i = j + len(PASTE_END)
                continue
            j = data.find(PASTE_START, i)
            seg = data[i:j if j >= 0 else len(data)]
            n += seg.count(b"\r") + seg.count(b"\n")
            if j < 0:
                break
            self._in_paste = True
            i = j + len(PASTE_START)
        return n

    def _query(self, key: bytes, want: str, timeout: float, line_tail: bool = False
               ) -> list[bytes | _Event]:
        """Send a private key and consume its output: everything until the `want` marker, the
        prompt redraw after it, and (line_tail) the redrawn line. On failure the captured bytes
        go back to the output so nothing the screen needs is lost."""
        if self._phase != "prompt":
            raise ReasonerError("the shell is not waiting at its prompt")
        self._pump(0.0)  # output already there belongs to the screen, not to the query
        items: list[bytes | _Event] = []
        self._capture = items
        ok = False
        try:
            if key == b"\r":
                self.write(key)
            else:
                self._wq += key
                self._flush_writes()
            end = time.monotonic() + timeout
            while self._phase not in ("dead", "closed"):
                wait = self._query_done(items, want, line_tail)
                if wait is None:
                    ok = True
                    break
                remaining = end - time.monotonic()
                if remaining <= 0:
                    break
                self._pump(min(wait, remaining))
        finally:
            self._capture = None
        if not ok:
            for item in items:
                if isinstance(item, bytes):
                    self._outq += item
            raise ReasonerError(f"the shell did not answer within {timeout:g} s")
        return items

    def _query_done(self, items: list[bytes | _Event], want: str, line_tail: bool
                    ) -> float | None:
        """None when the query's output is complete, else how long to wait for more."""
        seen_want = False
        after_b: bytearray | None = None
        line = b""
        point = 0
        for item in items:
            if isinstance(item, _Event):
                if item.kind == want:
                    seen_want = True
                    if item.kind == "L" and len(item.fields) >= 2:
                        with contextlib.suppress(ValueError):
                            point = int(item.fields[0])
                        line = unquote_to_bytes(item.fields[1])
                elif item.kind == "B" and seen_want:
                    after_b = bytearray()
            elif after_b is not None:
                after_b += item
        if after_b is None:
            return 1.0
        if not line_tail or not line:
            return None
        # readline redraws the line and moves the cursor back to READLINE_POINT
        chars = line.decode("utf-8", "replace")
        back = len(chars) - point
        if bytes(after_b) == line + b"\x08" * back:
            return None
        if len(after_b) >= len(line) and self._quiet_for(0.02):
            return None
        return 0.005

    def _quiet_for(self, secs: float) -> bool:
        try:
            r, _, _ = select.select([self._fd], [], [], secs)
        except (OSError, ValueError):
            return True
        return not r

"""Asciicast recordings: read v1, v2 and v3, write v2, and replay them through the `Terminal`.

The three formats (docs.asciinema.org/manual/asciicast):

* v1 — one JSON object; ``"stdout"`` is a list of ``[delay, data]`` with delays between frames;
* v2 — newline-delimited JSON: a header ``{"version": 2, "width", "height", ...}`` then events
  ``[time, code, data]`` with times from the start;
* v3 — like v2, but the size is ``"term": {"cols", "rows", "theme"}``, event times are intervals
  since the previous event, and lines starting with ``#`` are comments.

Event codes: ``o`` output, ``i`` input, ``m`` marker, ``r`` resize (``"COLSxROWS"``), ``x`` exit;
other codes are ignored. `read_cast` returns a `Cast` whose event times are absolute seconds with
the idle time limit applied (gaps longer than it are capped). Anything malformed raises
`CastError` with one line saying what and where, except a v2/v3 recording cut off mid-event
(what a killed recorder leaves): it is read up to its last complete event, and `Cast.unreadable`
says in one line what was left out.

`CastWriter` writes v2 append-only, flushing every event, so a killed process leaves a valid
prefix. `Replay` feeds a cast's events through a `Terminal` and gives the screen (and the rows
that changed) at chosen moments; `screen_at(cast, seconds)` is the one-shot form.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, NamedTuple

from terminal.screen import MAX_COLS, MAX_ROWS, ScreenState
from terminal.themes import Theme

from .emulator import Terminal

CODES = frozenset("oimrx")


class CastError(ValueError):
    """A recording that cannot be read: the message is one line naming the problem."""


class Event(NamedTuple):
    """One event: `time` in seconds from the start, `code` (o, i, m, r, x) and its `data`."""

    time: float
    code: str
    data: str


@dataclass
class Cast:
    """A parsed recording. `events` have absolute times with the idle limit applied."""

    version: int
    cols: int
    rows: int
    events: list[Event]
    header: dict[str, Any] = field(default_factory=dict)
    theme: Theme | None = None
    idle_time_limit: float | None = None
    ignored_events: int = 0  # events with codes we do not know
    unreadable: str = ""  # one line about a cut-off tail that was left out ("" when none)

    @property
    def duration(self) -> float:
        """Time of the last event (0 for an empty recording)."""
        return self.events[-1].time if self.events else 0.0

    @property
    def title(self) -> str:
        """The recording's title from its header ("" when none)."""
        value = self.header.get("title")
        return value if isinstance(value, str) else ""

    def sizes(self) -> list[tuple[int, int]]:
        """Every terminal size the recording uses: the initial one, then each resize."""
        out = [(self.cols, self.rows)]
        out += [parse_size(e.data) for e in self.events if e.code == "r"]
        return out


# -- reading -----------------------------------------------------------------------------
def parse_size(text: str, where: str = "resize") -> tuple[int, int]:
    """"COLSxROWS" -> (cols, rows); raises CastError when malformed or out of range."""
    cols_s, sep, rows_s = str(text).strip().partition("x")
    # isascii: str.isdigit accepts superscripts and other digits int() refuses ("15x\u00b95")
    if not sep or not (cols_s + rows_s).isascii() or not cols_s.isdigit() or not rows_s.isdigit():
        raise CastError(f"{where}: bad size {text!r} (expected COLSxROWS)")
    return check_cast_size(int(cols_s), int(rows_s), where)


def check_cast_size(cols: Any, rows: Any, where: str = "header") -> tuple[int, int]:
    """Reject sizes that are not integers or that no terminal has (0x0, 10000x10000)."""
    if (not isinstance(cols, int) or not isinstance(rows, int) or isinstance(cols, bool)
            or isinstance(rows, bool)):
        raise CastError(f"{where}: terminal size must be integers, got {cols!r}x{rows!r}")
    if not (1 <= cols <= MAX_COLS and 1 <= rows <= MAX_ROWS):
        raise CastError(f"{where}: terminal size {cols}x{rows} is out of range "
                        f"(1..{MAX_COLS} columns, 1..{MAX_ROWS} rows)")
    return cols, rows


def read_cast(source: str | os.PathLike[str] | IO[bytes], *,
              idle_time_limit: float | None = None) -> Cast:
    """Read an asciicast v1, v2 or v3 file (a path or a binary file object).

    idle_time_limit: cap on the pause between events; None uses the header's value (if any).
    """
    name = str(source) if isinstance(source, str | os.PathLike) else getattr(source, "name", "cast")
    try:
        if isinstance(source, str | os.PathLike):
            raw = Path(source).read_bytes()
        else:
            raw = source.read()
    except OSError as e:
        raise CastError(f"cannot read {name}: {e.strerror or e}") from None
    return parse_cast(raw, idle_time_limit=idle_time_limit)


def parse_cast(raw: bytes | str, *, idle_time_limit: float | None = None) -> Cast:
    """Parse the text of an asciicast (any version); see `read_cast`."""
    if idle_time_limit is not None and not (idle_time_limit > 0):
        raise CastError(f"idle time limit must be a positive number of seconds, "
                        f"got {idle_time_limit!r}")
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            lineno = raw[: e.start].count(b"\n") + 1
            if e.end != len(raw) or b"\n" not in raw[: e.start]:
                raise CastError(f"line {lineno}: not valid UTF-8 (byte {e.start})") from None
            # cut inside a multi-byte character: without it the last line is an unfinished
            # event, which the cut-off handling below leaves out
            text = raw[: e.start].decode("utf-8", errors="replace")
    else:
        text = raw
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise CastError("the recording is empty")
    lines = text.split("\n")
    try:
        header = json.loads(lines[0])
    except json.JSONDecodeError:
        header = None
    if header is None or (isinstance(header, dict) and header.get("version") == 1):
        return _parse_v1(text, idle_time_limit)
    if not isinstance(header, dict):
        raise CastError("line 1: the header must be a JSON object")
    version = header.get("version")
    if version not in (2, 3) or isinstance(version, bool):
        raise CastError(f"line 1: unsupported asciicast version {version!r} (1, 2 or 3)")
    if version == 2:
        cols, rows = check_cast_size(header.get("width"), header.get("height"), "line 1")
        theme_obj = header.get("theme")
    else:
        term = header.get("term")
        if not isinstance(term, dict):
            raise CastError("line 1: a v3 header needs \"term\": {\"cols\", \"rows\"}")
        cols, rows = check_cast_size(term.get("cols"), term.get("rows"), "line 1")
        theme_obj = term.get("theme")
    limit = idle_time_limit if idle_time_limit is not None else _header_limit(header)
    events: list[Event] = []
    ignored = 0
    clock = 0.0  # absolute time in the file's own timeline
    shown = 0.0  # absolute time after capping idle gaps
    unreadable = ""
    for n, line in enumerate(lines[1:], 2):
        if not line.strip() or (version == 3 and line.lstrip().startswith("#")):
            continue
        try:
            ev = _parse_event(line, n)
        except CastError:
            if n != len(lines):  # a bad line with more after it is damage, not a cut
                raise
            k = len(events)
            unreadable = (f"the recording is cut off at line {n}: it plays up to its last "
                          f"complete event ({k} event{'s' if k != 1 else ''}, {shown:.2f} s); "
                          "the rest was unreadable")
            break
        if version == 2:
            gap = ev[0] - clock
            clock = max(clock, ev[0])
        else:
            gap = ev[0]
            clock += gap
        gap = max(gap, 0.0)
        shown += min(gap, limit) if limit else gap
        if ev[1] not in CODES:
            ignored += 1
            continue
        if ev[1] == "r":
            parse_size(ev[2], f"line {n}")
        events.append(Event(shown, ev[1], ev[2]))
    return Cast(version, cols, rows, events, header, _theme(theme_obj), limit, ignored,
                unreadable)


def _parse_v1(text: str, idle_time_limit: float | None) -> Cast:
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        where = "line 1" if e.lineno == 1 else f"line {e.lineno}"
        raise CastError(f"{where}: not valid JSON ({e.msg}); the recording may be truncated"
                        ) from None
    if not isinstance(obj, dict):
        raise CastError("the recording must be a JSON object (v1) or start with a header (v2/v3)")
    if obj.get("version") != 1:
        raise CastError(f"unsupported asciicast version {obj.get('version')!r} (1, 2 or 3)")
    cols, rows = check_cast_size(obj.get("width"), obj.get("height"), "v1 header")
    frames = obj.get("stdout")
    if not isinstance(frames, list):
        raise CastError("v1 recording needs \"stdout\": a list of [delay, data] frames")
    limit = idle_time_limit if idle_time_limit is not None else _header_limit(obj)
    events: list[Event] = []
    shown = 0.0
    for i, frame in enumerate(frames):
        if (not isinstance(frame, list) or len(frame) != 2 or not _is_number(frame[0])
                or not isinstance(frame[1], str)):
            raise CastError(f"stdout frame {i}: must be [delay, \"data\"], got {_short(frame)}")
        delay = float(frame[0])
        if delay < 0:
            raise CastError(f"stdout frame {i}: negative delay {delay}")
        shown += min(delay, limit) if limit else delay
        events.append(Event(shown, "o", frame[1]))
    return Cast(1, cols, rows, events, {k: v for k, v in obj.items() if k != "stdout"},
                _theme(obj.get("theme")), limit)


def _parse_event(line: str, n: int) -> tuple[float, str, str]:
    try:
        ev = json.loads(line)
    except json.JSONDecodeError as e:
        raise CastError(f"line {n}: not valid JSON ({e.msg}); the recording may be truncated"
                        ) from None
    if not isinstance(ev, list) or len(ev) != 3:
        raise CastError(f"line {n}: an event must be [time, code, data], got {_short(ev)}")
    t, code, data = ev
    if not _is_number(t):
        raise CastError(f"line {n}: event time must be a number, got {_short(t)}")
    if not math.isfinite(t) or t < 0:
        raise CastError(f"line {n}: event time must be finite and not negative, got {t}")
    if not isinstance(code, str) or not isinstance(data, str):
        raise CastError(f"line {n}: event code and data must be strings, got {_short(ev)}")
    return float(t), code, data


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _header_limit(header: dict[str, Any]) -> float | None:
    v = header.get("idle_time_limit")
    if v is None:
        return None
    if not _is_number(v) or v <= 0:
        raise CastError(f"header: idle_time_limit must be a positive number, got {_short(v)}")
    return float(v)


def _theme(obj: Any) -> Theme | None:
    if obj is None:
        return None
    if not isinstance(obj, dict):
        raise CastError(f"header: theme must be an object with fg, bg and palette, got {_short(obj)}")
    try:
        return Theme.from_asciicast(obj)
    except (KeyError, TypeError, ValueError) as e:
        raise CastError(f"header: bad theme ({e})") from None


def _short(v: Any) -> str:
    s = json.dumps(v, ensure_ascii=True) if not isinstance(v, str) else repr(v)
    return s if len(s) <= 60 else s[:57] + "..."


# -- writing -----------------------------------------------------------------------------
class CastWriter:
    """Write an asciicast v2 file as events happen.

    Each event is one line, flushed at once: a process killed mid-recording leaves a valid
    recording of everything before. Times default to seconds since the writer was opened.

        with CastWriter("session.cast", 80, 24, title="demo") as rec:
            rec.output("$ ls\\r\\n")
            rec.resize(100, 30)
    """

    def __init__(self, path: str | os.PathLike[str], cols: int, rows: int, *,
                 title: str | None = None, command: str | None = None,
                 env: dict[str, str] | None = None, theme: Theme | None = None,
                 idle_time_limit: float | None = None, timestamp: int | None = None) -> None:
        check_cast_size(cols, rows, "writer")
        header: dict[str, Any] = {"version": 2, "width": cols, "height": rows,
                                  "timestamp": int(time.time() if timestamp is None else timestamp)}
        if idle_time_limit is not None:
            header["idle_time_limit"] = float(idle_time_limit)
        if command:
            header["command"] = command
        if title:
            header["title"] = title
        if env:
            header["env"] = dict(env)
        if theme is not None:
            header["theme"] = {"fg": _hex(theme.fg), "bg": _hex(theme.bg),
                               "palette": ":".join(_hex(c) for c in theme.palette)}
        self.path = Path(path)
        # unbuffered: each event is one write(2) of a whole line, so a kill -9 between events
        # leaves only whole lines, and a failed write can be cut off again (see _write)
        self._file = open(self.path, "wb", buffering=0)  # noqa: SIM115 - kept open on purpose
        self._size = 0  # bytes of whole lines written so far
        self._start = time.monotonic()
        self._last = 0.0
        self._write(json.dumps(header, ensure_ascii=False))

    def _write(self, line: str) -> None:
        data = memoryview((line + "\n").encode("utf-8"))
        try:
            while data:
                data = data[self._file.write(data):]
        except OSError as e:
            # the disk is full or a file-size limit was hit: cut the half-written line
            # off, so the file stays a valid recording of every event before, and say so
            with contextlib.suppress(OSError):
                self._file.truncate(self._size)
                self._file.seek(self._size)
            raise CastError(f"cannot write the recording {self.path}: {e.strerror or e} "
                            "(every event before this one is intact)") from None
        self._size = self._file.tell()

    def event(self, code: str, data: str, t: float | None = None) -> None:
        """Append one event (code o, i, m, r or x); `t` in seconds from the start."""
        if self._file.closed:
            raise CastError("the recording is closed")
        if t is None:
            t = time.monotonic() - self._start
        if not _is_number(t) or t < 0:
            raise CastError(f"event time must be a finite number >= 0, got {t!r}")
        t = max(float(t), self._last)  # v2 times never go backwards
        self._last = t
        self._write(json.dumps([round(t, 6), code, data], ensure_ascii=False))

    def output(self, data: str, t: float | None = None) -> None:
        """Program output."""
        self.event("o", data, t)

    def input(self, data: str, t: float | None = None) -> None:
        """Keyboard input."""
        self.event("i", data, t)

    def marker(self, label: str = "", t: float | None = None) -> None:
        """A marker (a chapter point)."""
        self.event("m", label, t)

    def resize(self, cols: int, rows: int, t: float | None = None) -> None:
        """The terminal changed size."""
        check_cast_size(cols, rows, "resize")
        self.event("r", f"{cols}x{rows}", t)

    def exit(self, status: int, t: float | None = None) -> None:
        """The recorded program exited with `status`."""
        self.event("x", str(int(status)), t)

    def close(self) -> None:
        """Close the file (what was written stays valid)."""
        if not self._file.closed:
            self._file.close()

    def __enter__(self) -> CastWriter:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def write_cast(path: str | os.PathLike[str], cols: int, rows: int,
               events: Iterable[tuple[float, str, str]], **header: Any) -> Path:
    """Write a whole recording as asciicast v2 (events are (time, code, data)); returns the path.
    Header keywords as for `CastWriter` (title, command, env, theme, idle_time_limit)."""
    with CastWriter(path, cols, rows, **header) as rec:
        for t, code, data in events:
            rec.event(code, data, t)
    return Path(path)


def _hex(rgb: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


# -- replay ------------------------------------------------------------------------------
@dataclass
class ReplayFrame:
    """The screen at `time`, and the rows that changed since the previous frame."""

    time: float
    screen: ScreenState
    damage: set[int]
    resized: bool = False  # the terminal changed size since the previous frame


class Replay:
    """Plays a `Cast` through a `Terminal`, forward only.

        replay = Replay(cast)
        for frame in replay.frames(fps=10):
            render(frame.screen, damage=frame.damage)
    """

    def __init__(self, cast: Cast, scrollback: int = 1000) -> None:
        self.cast = cast
        self.terminal = Terminal(cast.cols, cast.rows, scrollback)
        self.time = 0.0
        self._next = 0  # index of the next event to apply
        self._resized = False

    def advance(self, seconds: float) -> None:
        """Apply every event up to and including `seconds`."""
        events = self.cast.events
        term = self.terminal
        while self._next < len(events) and events[self._next].time <= seconds:
            ev = events[self._next]
            self._next += 1
            if ev.code == "o":
                term.feed(ev.data)
                term.replies.clear()  # nobody answers a recording
            elif ev.code == "r":
                cols, rows = parse_size(ev.data)
                if (cols, rows) != (term.cols, term.rows):
                    term.resize(cols, rows)
                    self._resized = True
        self.time = max(self.time, seconds)

    def frame(self, seconds: float) -> ReplayFrame:
        """The screen at `seconds` (not earlier than the last call)."""
        if seconds < self.time:
            raise ValueError(f"replay is at {self.time:.3f}s; it cannot go back to {seconds:.3f}s")
        self.advance(seconds)
        resized, self._resized = self._resized, False
        return ReplayFrame(seconds, self.terminal.snapshot(), self.terminal.take_damage(),
                           resized)

    def frame_times(self, fps: float) -> list[float]:
        """Sample times at `fps` from 0 until one reaches the end of the recording, so the
        last frame shows the final screen."""
        if not (fps > 0 and math.isfinite(fps)):
            raise ValueError(f"fps must be a positive number, got {fps!r}")
        n = int(math.ceil(self.cast.duration * fps - 1e-9)) + 1
        return [i / fps for i in range(n)]

    def frames(self, fps: float | None = None,
               times: Iterable[float] | None = None) -> Iterator[ReplayFrame]:
        """Frames at a fixed `fps` over the whole recording, or at the given `times`."""
        if times is None:
            times = self.frame_times(fps if fps is not None else 10.0)
        for t in times:
            yield self.frame(t)


def screen_at(cast: Cast, seconds: float | None = None) -> ScreenState:
    """The symbolic screen at `seconds` into the recording (default: the end)."""
    replay = Replay(cast)
    replay.advance(cast.duration if seconds is None else seconds)
    return replay.terminal.snapshot()


__all__ = ["CODES", "Cast", "CastError", "CastWriter", "Event", "Replay", "ReplayFrame",
           "parse_cast", "parse_size", "read_cast", "screen_at", "write_cast"]

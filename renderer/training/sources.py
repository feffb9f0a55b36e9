"""Where the neural renderer's training rows come from: real terminal sessions replayed through the
terminal emulator (`terminal`), rendered later by the reference rasterizer (dataset.py).

Sources:
* asciicast recordings (../shared/data/casts), frame by frame: the rows each output event changed,
  with the same rows one frame earlier; HELDOUT_CASTS are never trained on;
* conformance inputs (../shared/data/conformance: pyte's captured programs, xterm.js escape-sequence
  files, alacritty's reference recordings), snapshotted as the bytes are fed;
* a scripted session of real commands in a pty (typed one keystroke at a time, so typing rows -
  the common case at run time - are well represented).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from terminal import Terminal
from terminal.screen import ScreenState
from terminal.themes import THEMES, Theme

from .dataset import screen_records

# held out for evaluation: never trained on (one per source kind, plus the glyph-test assets)
HELDOUT_CASTS = (
    "nbedos__termtosvg__docs__examples__casts__ipython.cast",
    "nbedos__termtosvg__docs__examples__casts__htop.cast",
    "r-lib__asciicast__inst__examples__errors.cast",
    "asciinema__asciinema-player__tests__assets__theme.cast",
    "asciinema__asciinema-player__tests__assets__powerline-extra-symbols.cast",
    "asciinema__asciinema-player__tests__assets__raster-symbol-groups.cast",
)

Record = dict[str, Any]


class CastError(ValueError):
    """An asciicast file that cannot be read."""


def read_cast(path: str | Path) -> tuple[dict[str, Any], list[tuple[float, str, str]]]:
    """(header, [(time, code, data)]) of an asciicast v1, v2 or v3 file."""
    text = Path(path).read_text(encoding="utf-8", errors="replace")
    first, _, rest = text.partition("\n")
    try:
        head = json.loads(first)
    except json.JSONDecodeError:
        head = None
    if isinstance(head, dict) and head.get("version") == 1 or head is None:
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as e:
            raise CastError(f"{path}: not an asciicast ({e.msg})") from None
        events, t = [], 0.0
        for delay, data in doc.get("stdout", []):
            t += float(delay)
            events.append((t, "o", data))
        return doc, events
    events, t = [], 0.0
    for line in rest.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            ev = json.loads(line)
            stamp, code, data = float(ev[0]), str(ev[1]), ev[2]
        except (json.JSONDecodeError, IndexError, TypeError, ValueError):
            continue
        t = t + stamp if head.get("version") == 3 else stamp  # v3 stores intervals
        events.append((t, code, data if isinstance(data, str) else json.dumps(data)))
    if head.get("version") == 3:
        term = head.get("term", {})
        head = {**head, "width": term.get("cols", 80), "height": term.get("rows", 24),
                "theme": term.get("theme")}
    return head, events


def _cast_theme(head: dict[str, Any]) -> Theme:
    theme = head.get("theme")
    if isinstance(theme, dict):
        try:
            return Theme.from_asciicast(theme)
        except (KeyError, ValueError):
            pass
    return THEMES["dark"]


def _replay(term: Terminal, chunks: Iterator[tuple[bytes, str]], theme: Theme, source: str,
            max_frames: int) -> Iterator[Record]:
    prev: ScreenState | None = None
    for i, (data, action) in enumerate(chunks):
        if i >= max_frames:
            break
        term.feed(data)
        damage = term.take_damage()
        screen = term.snapshot()
        rows = range(screen.rows) if prev is None else sorted(damage)
        yield from screen_records(prev, screen, rows, action, theme, source)
        prev = screen


def cast_frames(path: str | Path) -> tuple[dict[str, Any], Iterator[tuple[bytes, str]]]:
    """(header, frames) of a recording: each frame is the output bytes of events less than
    1/60 s apart, with the last input event ("i") before it as its action."""
    head, events = read_cast(path)

    def frames() -> Iterator[tuple[bytes, str]]:
        buf, action, last = "", "", None
        for t, code, data in events:
            if code == "i":
                action = data
            if code != "o":
                continue
            if last is not None and t - last > 1 / 60 and buf:
                yield buf.encode("utf-8", "surrogateescape"), action
                buf, action = "", ""
            buf += data
            last = t
        if buf:
            yield buf.encode("utf-8", "surrogateescape"), action

    return head, frames()


def cast_terminal(head: dict[str, Any]) -> Terminal:
    """A terminal the size a recording's header says."""
    return Terminal(int(head.get("width", 80)), int(head.get("height", 24)))


def cast_theme(head: dict[str, Any]) -> Theme:
    """The recording's own theme when its header has one, else "dark"."""
    return _cast_theme(head)


def cast_records(path: str | Path, max_frames: int = 2000) -> Iterator[Record]:
    """Rows of a recording, frame by frame (see cast_frames)."""
    head, frames = cast_frames(path)
    yield from _replay(cast_terminal(head), frames, _cast_theme(head), f"cast:{Path(path).name}",
                       max_frames)


def _chunked(data: bytes, size: int) -> Iterator[tuple[bytes, str]]:
    for i in range(0, len(data), size):
        yield data[i:i + size], ""


def conformance_records(root: str | Path, chunk: int = 512) -> Iterator[Record]:
    """Rows of the conformance inputs, snapshotted every `chunk` bytes."""
    root = Path(root)
    dark = THEMES["dark"]
    for f in sorted((root / "pyte_captured").glob("*.input")):
        yield from _replay(Terminal(80, 24), _chunked(f.read_bytes(), chunk), dark,
                           f"conformance:pyte/{f.stem}", 400)
    for f in sorted((root / "xtermjs_escape_sequence_files").glob("*.in")):
        data = f.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")  # ONLCR
        yield from _replay(Terminal(80, 25), _chunked(data, chunk), dark,
                           f"conformance:xtermjs/{f.stem}", 100)
    for d in sorted((root / "alacritty_ref").iterdir()):
        rec, size = d / "alacritty.recording", d / "size.json"
        if not rec.is_file() or not size.is_file():
            continue
        s = json.loads(size.read_text())
        cols, rows = int(s.get("columns", 80)), int(s.get("screen_lines", 24))
        if not (1 <= cols <= 300 and 1 <= rows <= 100):
            continue
        yield from _replay(Terminal(cols, rows), _chunked(rec.read_bytes(), chunk), dark,
                           f"conformance:alacritty/{d.name}", 100)


COMMANDS = [
    "ls -la /usr/lib/python3* | head -20",
    "ls --color=always -l /etc | head -25",
    "python3 -c 'print(98+45)'",
    "python3 -c 'import sys; print(sys.version)'",
    "seq 1 7 60 | paste - - - -",
    "printf '\\033[1;31mred bold\\033[0m \\033[4;32munder green\\033[0m \\033[7minverse\\033[0m\\n'",
    "for i in 1 2 3; do printf '\\033[38;5;%dmcolour %d\\033[0m\\n' $((i*40)) $i; done",
    "echo $((2**40)) && echo 'hello, world'",
    "grep --color=always -n def /usr/lib/python3*/json/__init__.py | head",
    "cat /etc/os-release",
    "python3 -c 'import this' | head -12",
    "df -h / | cat",
    "printf 'col1\\tcol2\\tcol3\\nalpha\\tbeta\\tgamma\\n'",
    "python3 -c \"print('\\n'.join(f'{i:4d} {i*i:8d} {2**i:12d}' for i in range(20)))\"",
    "ls nonexistent-file",
    "python3 -c 'raise ValueError(\"bad value\")'",
    "printf '\\033[3mitalic\\033[0m \\033[9mstrike\\033[0m \\033[38;2;255;128;0mtruecolour\\033[0m\\n'",
    "history | tail -5",
    "clear",
    "head -c 600 /usr/share/common-licenses/GPL-3 2>/dev/null || echo no licence",
]


class PtyBash:
    """Bash in a plain pty: enough for COMMANDS, which only read. `hybrid-nc train` hands
    `command_records` the product's sandboxed shell instead when one can start."""

    name = "pty-bash"

    def start(self, cols: int, rows: int) -> None:
        import pexpect

        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "TERM": "xterm-256color",
               "LANG": "C.UTF-8", "HOME": tempfile.gettempdir(),
               "PS1": r"\[\e[1;32m\]user@hnc\[\e[0m\]:\[\e[1;34m\]\w\[\e[0m\]$ "}
        self._tmp = tempfile.TemporaryDirectory()
        self._child = pexpect.spawn(shutil.which("bash") or "/bin/bash",
                                    ["--norc", "--noprofile", "-i"], env=env, cwd=self._tmp.name,
                                    dimensions=(rows, cols), encoding=None)

    def write(self, data: bytes) -> None:
        self._child.send(data)

    def read(self, timeout: float) -> bytes:
        import pexpect

        try:
            return bytes(self._child.read_nonblocking(65536, timeout=timeout))
        except (pexpect.TIMEOUT, pexpect.EOF):
            return b""

    def close(self) -> None:
        self._child.close(force=True)
        self._tmp.cleanup()


def command_records(cols: int = 80, rows: int = 24, commands: list[str] | None = None,
                    timeout: float = 5.0, shell: Any = None) -> Iterator[Record]:
    """Rows of a real shell session: each command typed one keystroke per frame, then Enter and
    its output.

    Args:
        shell: an unstarted shell with start(cols, rows) / write / read(timeout) / close / name
            (default: `PtyBash`); it is started here and closed at the end.
    """
    theme = THEMES["dark"]
    shell = shell or PtyBash()
    shell.start(cols, rows)
    term = Terminal(cols, rows)
    prev: ScreenState | None = None
    source = f"commands:{shell.name}"

    def pump(action: str, wait: float) -> Iterator[Record]:
        nonlocal prev
        deadline = time.monotonic() + wait
        got = False
        while time.monotonic() < deadline:
            data = shell.read(0.05)
            if data:
                term.feed(data)
                got = True
            elif got:
                break
        damage = term.take_damage()
        screen = term.snapshot()
        todo = range(screen.rows) if prev is None else sorted(damage)
        yield from screen_records(prev, screen, todo, action, theme, source)
        prev = screen

    try:
        yield from pump("", 2.0)
        for cmd in commands or COMMANDS:
            for ch in cmd:
                shell.write(ch.encode())
                yield from pump(ch, 0.5)
            shell.write(b"\r")
            yield from pump("Enter", timeout)
    finally:
        shell.close()


def all_groups(shared: str | Path, synthetic: int, seed: int, with_commands: bool = True,
               shell: Any = None) -> list[tuple[Iterator[Record], bool]]:
    """Every source as (records, is_heldout) groups for renderer.training.build_dataset
    (`shell`: see `command_records`)."""
    from .dataset import synthetic_records

    shared = Path(shared)
    casts = sorted((shared / "casts").glob("*.cast"))
    if not casts:
        raise FileNotFoundError(f"no asciicast files in {shared / 'casts'}")
    groups: list[tuple[Iterator[Record], bool]] = [
        (cast_records(p), p.name in HELDOUT_CASTS) for p in casts]
    groups.append((conformance_records(shared / "conformance"), False))
    if with_commands:
        groups.append((command_records(shell=shell), False))
    groups.append((synthetic_records(synthetic, 80, seed), False))
    return groups

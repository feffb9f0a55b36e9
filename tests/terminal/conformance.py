"""Public terminal conformance suites, run against our `Terminal` (or plain pyte, for comparison).

Four suites live in ../shared/data/conformance (five checks) (formats in its SOURCES.tsv):

* ``xtermjs``   — xterm.js escape-sequence files: ``tNNNN-name.in`` is written through a pty
  (ONLCR: ``\\n`` becomes ``\\r\\n``) to an 80x25 terminal; ``.text`` is xterm's visible screen,
  compared right-trimmed line by line.
* ``alacritty`` — alacritty's ref tests: ``alacritty.recording`` (raw pty bytes), ``size.json``,
  ``expected_display.json`` (the screen rows in pyte's ``display`` convention) and, for some,
  ``expected_history.json`` (the scrollback).
* ``alacritty-attrs`` — the same recordings, checked against alacritty's own grid dump
  (``grid.json``): every visible cell's foreground, background and attributes (bold, italic,
  underline of any style, inverse, strikeout).
* ``libvterm``  — neovim/libvterm's ``t/*.test`` scripts. A small language: commands in capitals
  (``PUSH "bytes"``, ``RESET``, ``RESIZE rows,cols`` ...), expected callbacks in lower case
  (``output``, ``putglyph``, ``settermprop`` ...) and assertions starting with ``?``
  (``?cursor``, ``?screen_row``, ``?screen_cell`` ...). Every ``!Title`` section is one case; it
  runs the whole script up to its end and checks only its own expectations. Expectations on
  callbacks that have no observable effect on a screen (parser events, damage rectangles, mouse
  and keyboard encodings) are not checked; a section with nothing checkable is skipped.
* ``pyte``      — pyte's captured sessions: ``.input`` bytes, ``.output`` = 24 display rows.

`load_cases(data_dir)` lists every case; `run_case(case, factory)` runs one against an emulator
built by `factory(cols, rows)` (`TerminalEmulator` for ours, `PyteEmulator` for plain pyte) and
returns the list of mismatches (empty: pass). The test suite and benchmarks/bench_conformance.py
both use this module, so the numbers they report come from the same checks.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from terminal.screen import BLINK, BOLD, DEFAULT, INVERSE, ITALIC, STRIKE, TRUECOLOR, UNDERLINE

SUITES = ("xtermjs", "alacritty", "alacritty-attrs", "libvterm", "pyte")


# -- emulators under test ----------------------------------------------------------------
@dataclass(frozen=True)
class CellInfo:
    """One cell as the suites see it: text ("" when empty), width, attrs and colour codes."""

    text: str
    width: int
    attrs: int
    fg: int
    bg: int


@dataclass(frozen=True)
class PenInfo:
    """The current drawing attributes (what the next printed character gets)."""

    bold: bool
    underline: int  # 0 none, 1 single, 2 double, 3 curly
    italic: bool
    blink: bool
    reverse: bool
    fg: int
    bg: int


class Emulator(Protocol):
    """What the suites need from a terminal emulator (None: the emulator has no such thing)."""

    def feed(self, data: bytes) -> None:
        """Process program output."""

    def resize(self, cols: int, rows: int) -> None:
        """Change the screen size."""

    def reset(self) -> None:
        """A full reset (RIS)."""

    def size(self) -> tuple[int, int]:
        """(cols, rows)."""

    def display(self) -> list[str]:
        """Screen rows as display strings (wide characters once, full width)."""

    def cursor(self) -> tuple[int, int]:
        """(row, col), clamped to the screen."""

    def cell(self, row: int, col: int) -> CellInfo:
        """One cell."""

    def pen(self) -> PenInfo | None:
        """The current drawing attributes."""

    def take_replies(self) -> str:
        """Answers owed to the program since the last call, concatenated."""

    def scrollback(self) -> list[str] | None:
        """Lines that scrolled off the top, oldest first."""

    def title(self) -> str:
        """The window title."""

    def cursor_visible(self) -> bool:
        """Whether the cursor is shown (DECTCEM)."""

    def in_alternate_screen(self) -> bool | None:
        """Whether the alternate screen is active."""


EmulatorFactory = Callable[[int, int], Emulator]


class TerminalEmulator:
    """`terminal.Terminal` seen through the `Emulator` interface (the methods are
    documented there)."""

    name = "hybrid-nc"

    def __init__(self, cols: int, rows: int) -> None:
        from terminal import Terminal

        self.term = Terminal(cols, rows, scrollback=100000)

    def feed(self, data: bytes) -> None:
        self.term.feed(data)

    def resize(self, cols: int, rows: int) -> None:
        self.term.resize(cols, rows)

    def reset(self) -> None:
        self.term.reset()

    def size(self) -> tuple[int, int]:
        return self.term.cols, self.term.rows

    def display(self) -> list[str]:
        return self.term.lines

    def cursor(self) -> tuple[int, int]:
        return self.term.cursor

    def cell(self, row: int, col: int) -> CellInfo:
        snap = self.term.snapshot()
        text = snap.chars[row][col]
        width = 2 if text and col + 1 < snap.cols and snap.chars[row][col + 1] == "" else 1
        return CellInfo("" if text == " " else text, width, int(snap.attrs[row, col]),
                        int(snap.fg[row, col]), int(snap.bg[row, col]))

    def pen(self) -> PenInfo | None:
        p = self.term.pen
        return PenInfo(bool(p.attrs & BOLD), p.underline, bool(p.attrs & ITALIC),
                       bool(p.attrs & BLINK), bool(p.attrs & INVERSE), p.fg, p.bg)

    def take_replies(self) -> str:
        out = "".join(self.term.replies)
        self.term.replies.clear()
        return out

    def scrollback(self) -> list[str] | None:
        return self.term.scrollback

    def title(self) -> str:
        return self.term.title

    def cursor_visible(self) -> bool:
        return self.term.snapshot().cursor_visible

    def in_alternate_screen(self) -> bool | None:
        return self.term.in_alternate_screen


class PyteEmulator:
    """Plain pyte 0.8.2 (`pyte.Screen` + `pyte.ByteStream`), the baseline we compare against.

    Only what the interface needs is added: replies are collected instead of dropped, and pyte's
    colour names / hex strings are mapped back to palette codes.
    """

    name = "pyte"

    def __init__(self, cols: int, rows: int) -> None:
        import pyte

        replies: list[str] = []

        class _Screen(pyte.Screen):
            def write_process_input(self, data: str) -> None:
                replies.append(data)

        self.screen = _Screen(cols, rows)
        self.stream = pyte.ByteStream(self.screen)
        self.replies = replies

    def feed(self, data: bytes) -> None:
        self.stream.feed(data)  # exceptions propagate: pyte failing on input is a failure

    def resize(self, cols: int, rows: int) -> None:
        self.screen.resize(rows, cols)

    def reset(self) -> None:
        self.screen.reset()

    def size(self) -> tuple[int, int]:
        return self.screen.columns, self.screen.lines

    def display(self) -> list[str]:
        return list(self.screen.display)

    def cursor(self) -> tuple[int, int]:
        s = self.screen
        return min(s.cursor.y, s.lines - 1), min(s.cursor.x, s.columns - 1)

    def cell(self, row: int, col: int) -> CellInfo:
        ch = self.screen.buffer[row][col]
        nxt = self.screen.buffer[row][col + 1].data if col + 1 < self.screen.columns else None
        width = 2 if nxt == "" and ch.data else 1
        attrs = ((BOLD if ch.bold else 0) | (ITALIC if ch.italics else 0)
                 | (UNDERLINE if ch.underscore else 0) | (INVERSE if ch.reverse else 0)
                 | (BLINK if ch.blink else 0) | (STRIKE if ch.strikethrough else 0))
        return CellInfo("" if ch.data == " " else ch.data, width, attrs,
                        _pyte_color(ch.fg, True), _pyte_color(ch.bg, False))

    def pen(self) -> PenInfo | None:
        a = self.screen.cursor.attrs
        return PenInfo(a.bold, 1 if a.underscore else 0, a.italics, a.blink, a.reverse,
                       _pyte_color(a.fg, True), _pyte_color(a.bg, False))

    def take_replies(self) -> str:
        out = "".join(self.replies)
        self.replies.clear()
        return out

    def scrollback(self) -> list[str] | None:
        return None  # pyte.Screen keeps none (pyte.HistoryScreen is a different class)

    def title(self) -> str:
        return str(self.screen.title)

    def cursor_visible(self) -> bool:
        return not self.screen.cursor.hidden

    def in_alternate_screen(self) -> bool | None:
        return None  # pyte has no alternate screen


_PYTE_NAMES = ["black", "red", "green", "brown", "blue", "magenta", "cyan", "white"]


def _pyte_color(value: str, is_fg: bool) -> int:
    from pyte.graphics import FG_BG_256

    if value == "default":
        return DEFAULT
    if value in _PYTE_NAMES:
        return _PYTE_NAMES.index(value)
    if value.startswith("bright") and value[6:] in _PYTE_NAMES:
        return 8 + _PYTE_NAMES.index(value[6:])
    if value in FG_BG_256:
        return FG_BG_256.index(value)
    try:
        return TRUECOLOR | int(value, 16)
    except ValueError:
        return DEFAULT


# -- cases -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    """One conformance case. `check(factory)` returns mismatches ([] = pass)."""

    suite: str
    name: str
    check: Callable[[EmulatorFactory], list[str]] = field(compare=False, repr=False)
    skip: str | None = None  # why there is nothing to check, when that is so

    @property
    def id(self) -> str:
        return f"{self.suite}/{self.name}"


def run_case(case: Case, factory: EmulatorFactory) -> list[str]:
    """Run one case; an exception from the emulator is reported as a mismatch, not raised."""
    try:
        return case.check(factory)
    except Exception as e:  # the emulator crashed on the input: that is a failure of the case
        return [f"emulator raised {type(e).__name__}: {e}"]


def load_cases(data_dir: str | Path, suites: tuple[str, ...] = SUITES) -> list[Case]:
    """Every case of the named suites under `data_dir` (the conformance folder)."""
    root = Path(data_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"conformance data not found at {root}")
    loaders = {"xtermjs": _xtermjs_cases, "alacritty": _alacritty_cases,
               "alacritty-attrs": _alacritty_attr_cases, "libvterm": _libvterm_cases,
               "pyte": _pyte_cases}
    cases: list[Case] = []
    for suite in suites:
        cases.extend(loaders[suite](root))
    return cases


def _compare_lines(got: list[str], want: list[str], what: str = "row") -> list[str]:
    errors = []
    for i in range(max(len(got), len(want))):
        g = got[i] if i < len(got) else "<missing>"
        w = want[i] if i < len(want) else "<missing>"
        if g != w:
            errors.append(f"{what} {i}: got {g!r}, want {w!r}")
    return errors


# xterm.js ---------------------------------------------------------------------------------
def _xtermjs_cases(root: Path) -> list[Case]:
    folder = root / "xtermjs_escape_sequence_files"
    cases = []
    for src in sorted(folder.glob("*.in")):
        expected = src.with_suffix(".text")
        if expected.exists():
            cases.append(Case("xtermjs", src.stem, _xtermjs_check(src, expected)))
    return cases


def _xtermjs_check(src: Path, expected: Path) -> Callable[[EmulatorFactory], list[str]]:
    def check(factory: EmulatorFactory) -> list[str]:
        # the files are written through a pty: its ONLCR output processing makes \n a \r\n
        data = src.read_bytes().replace(b"\n", b"\r\n")
        want = [ln.rstrip() for ln in expected.read_text("utf-8", "replace").split("\n")]
        want = want[:25] + [ln for ln in want[25:] if ln]  # extra non-empty lines must fail
        emu = factory(80, 25)
        emu.feed(data)
        got = [ln.rstrip() for ln in emu.display()]
        return _compare_lines(got, want)

    return check


# alacritty ------------------------------------------------------------------------------
def _alacritty_cases(root: Path) -> list[Case]:
    folder = root / "alacritty_ref"
    return [Case("alacritty", d.name, _alacritty_check(d))
            for d in sorted(folder.iterdir()) if (d / "expected_display.json").exists()]


def _alacritty_check(d: Path) -> Callable[[EmulatorFactory], list[str]]:
    def check(factory: EmulatorFactory) -> list[str]:
        size = json.loads((d / "size.json").read_text())
        emu = factory(int(size["columns"]), int(size["screen_lines"]))
        emu.feed((d / "alacritty.recording").read_bytes())
        errors = _compare_lines(emu.display(), json.loads((d / "expected_display.json").read_text()))
        hist_file = d / "expected_history.json"
        if hist_file.exists():
            history_size = json.loads((d / "config.json").read_text()).get("history_size", 0)
            want = [ln.rstrip() for ln in json.loads(hist_file.read_text())]
            got = emu.scrollback()
            if got is None:
                errors.append("no scrollback kept")
            else:
                got = [ln.rstrip() for ln in got][-history_size:] if history_size else []
                # alacritty's history is a ring of history_size rows, blank until used
                got = [""] * (history_size - len(got)) + got
                errors += _compare_lines(got, want, "history line")
        return errors

    return check


# alacritty, colours and attributes ------------------------------------------------------
_ALACRITTY_NAMED = ["Black", "Red", "Green", "Yellow", "Blue", "Magenta", "Cyan", "White"]
_ALACRITTY_FLAGS = {"BOLD": BOLD, "ITALIC": ITALIC, "INVERSE": INVERSE, "STRIKEOUT": STRIKE,
                    "UNDERLINE": UNDERLINE, "DOUBLE_UNDERLINE": UNDERLINE,
                    "UNDERCURL": UNDERLINE, "DOTTED_UNDERLINE": UNDERLINE,
                    "DASHED_UNDERLINE": UNDERLINE}
_CHECKED_BITS = BOLD | ITALIC | INVERSE | STRIKE | UNDERLINE  # alacritty keeps no blink


def _alacritty_attr_cases(root: Path) -> list[Case]:
    folder = root / "alacritty_ref"
    return [Case("alacritty-attrs", d.name, _alacritty_attr_check(d))
            for d in sorted(folder.iterdir()) if (d / "grid.json").exists()]


def _alacritty_color(value: dict[str, Any]) -> int | None:
    """alacritty's serialized colour as our int code (None: a named colour we do not model)."""
    if "Spec" in value:
        c = value["Spec"]
        return TRUECOLOR | (int(c["r"]) << 16) | (int(c["g"]) << 8) | int(c["b"])
    if "Indexed" in value:
        return int(value["Indexed"])
    name = value.get("Named", "")
    if name in ("Foreground", "Background"):
        return DEFAULT
    bright = name.startswith("Bright")
    base = name[6:] if bright else name
    if base in _ALACRITTY_NAMED:
        return _ALACRITTY_NAMED.index(base) + (8 if bright else 0)
    return None


def _alacritty_grid(d: Path) -> list[list[tuple[int | None, int | None, int]]]:
    """The visible screen of grid.json as rows of (fg, bg, attribute bits), top to bottom.

    alacritty's storage is a ring holding screen lines bottom-up from `zero`; wide-character
    spacers are the right halves of wide characters (compared like any cell).
    """
    grid = json.loads((d / "grid.json").read_text())
    raw, lines = grid["raw"], int(grid["lines"])
    inner, zero = raw["inner"], int(raw["zero"])
    out = []
    for i in range(lines):
        row = inner[(zero + lines - 1 - i) % len(inner)]["inner"]
        cells = []
        for c in row:
            bits = 0
            for flag in str(c["flags"]).split(" | "):
                bits |= _ALACRITTY_FLAGS.get(flag.strip(), 0)
            cells.append((_alacritty_color(c["fg"]), _alacritty_color(c["bg"]), bits))
        out.append(cells)
    return out


def _alacritty_attr_check(d: Path) -> Callable[[EmulatorFactory], list[str]]:
    def check(factory: EmulatorFactory) -> list[str]:
        size = json.loads((d / "size.json").read_text())
        cols, rows = int(size["columns"]), int(size["screen_lines"])
        emu = factory(cols, rows)
        emu.feed((d / "alacritty.recording").read_bytes())
        errors = []
        for r, row in enumerate(_alacritty_grid(d)[:rows]):
            for c, (fg, bg, bits) in enumerate(row[:cols]):
                cell = emu.cell(r, c)
                got = (cell.fg, cell.bg, cell.attrs & _CHECKED_BITS)
                want = (cell.fg if fg is None else fg, cell.bg if bg is None else bg, bits)
                if got != want:
                    errors.append(f"cell {r},{c} {cell.text!r}: (fg, bg, attrs) {got}, "
                                  f"want {want}")
        return errors

    return check


# pyte -----------------------------------------------------------------------------------
def _pyte_cases(root: Path) -> list[Case]:
    folder = root / "pyte_captured"
    return [Case("pyte", p.stem, _pyte_check(p, p.with_suffix(".output")))
            for p in sorted(folder.glob("*.input")) if p.with_suffix(".output").exists()]


def _pyte_check(src: Path, expected: Path) -> Callable[[EmulatorFactory], list[str]]:
    def check(factory: EmulatorFactory) -> list[str]:
        emu = factory(80, 24)
        emu.feed(src.read_bytes())
        return _compare_lines(emu.display(), json.loads(expected.read_text("utf-8")))

    return check


# libvterm -------------------------------------------------------------------------------
_PERL_ESC = {"e": "\x1b", "n": "\n", "r": "\r", "t": "\t", "a": "\x07", "b": "\b",
             "f": "\f", "0": "\0", "\\": "\\", '"': '"', "$": "$", "@": "@", "#": "#"}


def perl_string(expr: str) -> bytes:
    """Evaluate the Perl string expressions the libvterm tests use: "..." literals with
    escapes, joined by `.` and repeated by `x N`. Code points above 0xFF are UTF-8 encoded."""
    pos, out = 0, b""
    expr = expr.strip()
    while pos < len(expr):
        m = re.compile(r'\s*"((?:[^"\\]|\\.)*)"\s*(?:x\s*(\d+))?\s*(\.)?').match(expr, pos)
        if not m:
            raise ValueError(f"cannot parse Perl string {expr!r}")
        out += _perl_literal(m.group(1)) * int(m.group(2) or 1)
        pos = m.end()
    return out


def _perl_literal(body: str) -> bytes:
    out = bytearray()
    i = 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out += c.encode("utf-8")
            i += 1
            continue
        nxt = body[i + 1]
        if nxt == "x":
            if body[i + 2] == "{":
                end = body.index("}", i)
                code = int(body[i + 3:end], 16)
                i = end + 1
            else:
                m = re.compile(r"[0-9a-fA-F]{1,2}").match(body, i + 2)
                assert m
                code = int(m.group(0), 16)
                i = m.end()
            out += bytes([code]) if code < 256 else chr(code).encode("utf-8")
        elif nxt in "0" and i + 2 < len(body) and body[i + 2].isdigit():
            m = re.compile(r"[0-7]{1,3}").match(body, i + 1)
            assert m
            out.append(int(m.group(0), 8))
            i = m.end()
        elif nxt == "c":
            out.append(ord(body[i + 2].upper()) ^ 0x40)
            i += 3
        else:
            out += _PERL_ESC.get(nxt, nxt).encode("latin-1")
            i += 2
    return bytes(out)


# libvterm's default palette (src/pen.c) and default colours, for ?screen_cell rgb(...)
_VT_ANSI = [(0, 0, 0), (224, 0, 0), (0, 224, 0), (224, 224, 0), (0, 0, 224), (224, 0, 224),
            (0, 224, 224), (224, 224, 224), (128, 128, 128), (255, 64, 64), (64, 255, 64),
            (255, 255, 64), (64, 64, 255), (255, 64, 255), (64, 255, 255), (255, 255, 255)]
_VT_RAMP6 = [0x00, 0x33, 0x66, 0x99, 0xCC, 0xFF]
_VT_RAMP24 = [0x00, 0x0B, 0x16, 0x21, 0x2C, 0x37, 0x42, 0x4D, 0x58, 0x63, 0x6E, 0x79,
              0x85, 0x90, 0x9B, 0xA6, 0xB1, 0xBC, 0xC7, 0xD2, 0xDD, 0xE8, 0xF3, 0xFF]
_UNCHECKED = {
    "text": "parser callbacks", "control": "parser callbacks", "escape": "parser callbacks",
    "csi": "parser callbacks", "osc": "parser callbacks", "dcs": "parser callbacks",
    "apc": "parser callbacks", "pm": "parser callbacks", "sos": "parser callbacks",
    "damage": "damage rectangles", "moverect": "move rectangles",
    "scrollrect": "scroll rectangles", "erase": "erase callbacks", "encout": "decoder output",
    "sb_popline": "scrollback pop callbacks", "sb_clear": "scrollback clear callbacks",
    "selection-query": "selection callbacks", "selection-set": "selection callbacks",
}
_INPUT_COMMANDS = {"INKEY", "INCHAR", "MOUSEMOVE", "MOUSEBTN", "PASTE", "FOCUS", "SELECTION",
                   "ENCIN", "WANTENCODING"}
_UNCHECKED_ASSERTIONS = {"lineinfo": "line info (double-width lines, continuation flags)",
                         "screen_attrs_extent": "attribute extents"}


@dataclass
class _Step:
    line: int
    kind: str  # "cmd", "expect" or "assert"
    text: str
    section: int


def _libvterm_expand(lines: list[str]) -> list[tuple[int, str]]:
    """Strip comments, stop at __END__ and expand $SEQ / $REP into plain lines."""
    out: list[tuple[int, str]] = []

    def add(n: int, line: str) -> None:
        m = re.match(r"\$SEQ\s+(\d+)\s+(\d+):\s*(.*)$", line)
        if m:
            for v in range(int(m.group(1)), int(m.group(2)) + 1):
                add(n, m.group(3).replace("\\#", str(v)))
            return
        m = re.match(r"\$REP\s+(\d+):\s*(.*)$", line)
        if m:
            for _ in range(int(m.group(1))):
                add(n, m.group(2))
            return
        out.append((n, line))

    for n, raw in enumerate(lines, 1):
        line = raw.strip()
        if line == "__END__":
            break
        if not line or line.startswith("#"):
            continue
        add(n, line)
    return out


def _libvterm_cases(root: Path) -> list[Case]:
    cases = []
    for path in sorted((root / "libvterm_t").glob("*.test")):
        lines = _libvterm_expand(path.read_text("utf-8").splitlines())
        steps: list[_Step] = []
        titles: list[str] = ["(start)"]
        for n, line in lines:
            if line.startswith("!"):
                titles.append(line[1:].strip())
                continue
            kind = ("assert" if line.startswith("?") else
                    "cmd" if line[0].isupper() else "expect")
            steps.append(_Step(n, kind, line, len(titles) - 1))
        seen: dict[str, int] = {}
        for k, title in enumerate(titles):
            own = [s for s in steps if s.section == k]
            if k == 0 and not any(s.kind != "cmd" for s in own):
                continue  # a preamble without expectations is not a case
            base = f"{path.stem}:{title}"
            seen[base] = seen.get(base, 0) + 1
            name = base if seen[base] == 1 else f"{base}#{seen[base]}"
            skip = _libvterm_skip_reason(own)
            cases.append(Case("libvterm", name, _libvterm_check(steps, k), skip))
    return cases


def _libvterm_skip_reason(own: list[_Step]) -> str | None:
    cmds = {s.text.split()[0] for s in own if s.kind == "cmd"}
    if cmds & _INPUT_COMMANDS:
        return ("exercises keyboard/mouse/selection input encoding "
                f"({', '.join(sorted(cmds & _INPUT_COMMANDS))}), which the pty owner does, "
                "not the emulator")
    checkable = [s for s in own if _checkable(s)]
    if checkable:
        return None
    kinds = sorted({_UNCHECKED.get(s.text.split()[0], s.text.split()[0].lstrip("?"))
                    for s in own if s.kind != "cmd"})
    if not kinds:
        return "no expectations in this section"
    return f"only expects {', '.join(kinds)}, which a screen does not expose"


def _checkable(step: _Step) -> bool:
    if step.kind == "assert":
        word = step.text[1:].split()[0]
        return word not in _UNCHECKED_ASSERTIONS
    if step.kind == "expect":
        word = step.text.split()[0]
        if word == "settermprop":
            return step.text.split()[1] in ("1", "3") or _title_fragment(step.text) is not None
        return word in ("output", "putglyph", "movecursor", "sb_pushline")
    return False


def _title_fragment(text: str) -> str | None:
    m = re.match(r'settermprop\s+4\s+\[(".*")\]\s*$', text)
    return perl_string(m.group(1)).decode("utf-8") if m else None


class _VTermRun:
    """State of one run through a libvterm script."""

    def __init__(self, factory: EmulatorFactory) -> None:
        self.factory = factory
        self.emu: Emulator | None = None
        self.utf8 = False
        self.encoding_sent: bool | None = None
        self.default_fg = (240, 240, 240)
        self.default_bg = (0, 0, 0)
        self.scrollback_at_cmd = 0
        self.replies = ""

    def command(self, text: str) -> None:
        word, _, rest = text.partition(" ")
        if word == "INIT":
            if self.emu is None:
                self.emu = self.factory(80, 25)
            return
        assert self.emu is not None, "script ran a command before INIT"
        sb = self.emu.scrollback()
        self.scrollback_at_cmd = len(sb) if sb is not None else 0
        self.replies = ""
        if word == "UTF8":
            self.utf8 = rest.strip() == "1"
        elif word == "RESET":
            self.emu.reset()
            self.encoding_sent = None
        elif word == "RESIZE":
            rows, cols = (int(v) for v in rest.split(","))
            self.emu.resize(cols, rows)
        elif word == "PUSH":
            if self.encoding_sent != self.utf8:
                # libvterm starts in 8-bit (non-UTF-8) mode; ESC % @ / ESC % G select it
                self.emu.feed(b"\x1b%G" if self.utf8 else b"\x1b%@")
                self.encoding_sent = self.utf8
            self.emu.feed(perl_string(rest))
        elif word == "SETDEFAULTCOL":
            found = re.findall(r"rgb\((\d+),(\d+),(\d+)\)", rest)
            if found:
                self.default_fg = tuple(int(v) for v in found[0])  # type: ignore[assignment]
            if len(found) > 1:
                self.default_bg = tuple(int(v) for v in found[1])  # type: ignore[assignment]
        self.replies = self.emu.take_replies()

    def rgb(self, code: int, is_fg: bool) -> tuple[int, int, int]:
        if code == DEFAULT:
            return self.default_fg if is_fg else self.default_bg
        if code >= TRUECOLOR:
            v = code & 0xFFFFFF
            return (v >> 16) & 255, (v >> 8) & 255, v & 255
        if code < 16:
            return _VT_ANSI[code]
        if code < 232:
            i = code - 16
            return _VT_RAMP6[i // 36 % 6], _VT_RAMP6[i // 6 % 6], _VT_RAMP6[i % 6]
        return (_VT_RAMP24[code - 232],) * 3  # type: ignore[return-value]

    # -- reading the screen the way libvterm's harness does ------------------------------
    def chars(self, r0: int, c0: int, r1: int, c1: int) -> str:
        assert self.emu is not None
        out = []
        for r in range(r0, r1):
            padding = 0
            for c in range(c0, c1):
                cell = self.emu.cell(r, c)
                if cell.text == "":
                    if c > 0 and self.emu.cell(r, c - 1).width == 2:
                        continue  # right half of a wide character
                    padding += 1
                    continue
                out.append(" " * padding + cell.text)
                padding = 0
            if r < r1 - 1:
                out.append("\n")
        return "".join(out)


def _expected_chars(value: str) -> str:
    value = value.strip()
    if value.startswith('"'):
        return perl_string(value).decode("utf-8")
    if not value:
        return ""
    return "".join(chr(int(v, 16)) for v in value.split(","))


def _nfc(s: str) -> str:
    # we store combining sequences composed (é as U+00E9); canonically equal text is equal
    return unicodedata.normalize("NFC", s)


def _libvterm_check(steps: list[_Step], section: int) -> Callable[[EmulatorFactory], list[str]]:
    def check(factory: EmulatorFactory) -> list[str]:
        run = _VTermRun(factory)
        errors: list[str] = []
        pending: list[_Step] = []  # expectations of the last command

        def settle() -> None:
            if pending:
                errors.extend(_check_expectations(run, pending))
                pending.clear()

        for step in steps:
            if step.section > section:
                break
            mine = step.section == section
            if step.kind == "cmd":
                settle()
                run.command(step.text)
            elif step.kind == "expect":
                if mine:
                    pending.append(step)
            else:
                settle()
                if mine and _checkable(step):
                    err = _check_assertion(run, step.text)
                    if err:
                        errors.append(f"line {step.line}: {err}")
        settle()
        return errors

    return check


def _check_expectations(run: _VTermRun, steps: list[_Step]) -> list[str]:
    emu = run.emu
    assert emu is not None
    errors = []
    outputs = [s for s in steps if s.text.startswith("output")]
    if outputs:
        want = b"".join(perl_string(s.text.split(None, 1)[1]) for s in outputs)
        got = run.replies.encode("utf-8", "surrogateescape")
        if _c1_to_8bit(got) != want:
            errors.append(f"line {outputs[0].line}: replied {got!r}, want {want!r}")
    moves = [s for s in steps if s.text.startswith("movecursor")]
    if moves:
        r, c = (int(v) for v in moves[-1].text.split()[1].split(","))
        if emu.cursor() != (r, c):
            errors.append(f"line {moves[-1].line}: cursor at {emu.cursor()}, want {(r, c)}")
    glyphs = [s for s in steps if s.text.startswith("putglyph")]
    final: dict[tuple[int, int], tuple[_Step, str, int]] = {}
    for s in glyphs:
        m = re.match(r"putglyph\s+(\S+)\s+(\d+)\s+(\d+),(\d+)", s.text)
        if not m:
            continue
        text = _expected_chars(m.group(1) if m.group(1).startswith('"') else
                               ",".join(m.group(1).split(",")))
        final[(int(m.group(3)), int(m.group(4)))] = (s, text, int(m.group(2)))
    for (r, c), (s, text, width) in final.items():
        cell = emu.cell(r, c)
        # a written space and an empty cell look the same on a screen
        if (_nfc(cell.text or " ") != _nfc(text or " ")
                or (width == 2) != (cell.width == 2)):
            errors.append(f"line {s.line}: cell {r},{c} holds {cell.text!r} width {cell.width},"
                          f" want {text!r} width {width}")
    for s in steps:
        parts = s.text.split()
        if parts[0] != "settermprop":
            continue
        if parts[1] == "1" and emu.cursor_visible() != (parts[2] == "true"):
            errors.append(f"line {s.line}: cursor visible is {emu.cursor_visible()}")
        if parts[1] == "3" and emu.in_alternate_screen() != (parts[2] == "true"):
            errors.append(f"line {s.line}: alternate screen is {emu.in_alternate_screen()}")
        title = _title_fragment(s.text)
        if title is not None and emu.title() != title:
            errors.append(f"line {s.line}: title {emu.title()!r}, want {title!r}")
    pushed = [s for s in steps if s.text.startswith("sb_pushline")]
    if pushed:
        sb = emu.scrollback()
        if sb is None:
            errors.append(f"line {pushed[0].line}: no scrollback kept")
        else:
            lines_got = [ln.rstrip() for ln in sb[run.scrollback_at_cmd:]]
            lines_want = ["".join(chr(int(v, 16)) for v in s.text.split("=", 1)[1].split())
                          for s in pushed]
            if lines_got != lines_want:
                errors.append(f"line {pushed[0].line}: scrollback got {lines_got!r}, "
                              f"want {lines_want!r}")
    return errors


def _c1_to_8bit(data: bytes) -> bytes:
    # a reply holding a C1 control as a code point (U+009B) is the 8-bit byte on the wire
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return data
    if any(0x80 <= ord(c) <= 0x9F for c in text):
        return text.encode("latin-1", "replace")
    return data


def _check_assertion(run: _VTermRun, text: str) -> str | None:
    emu = run.emu
    assert emu is not None
    what, _, want = text[1:].partition("=")
    what, want = what.strip(), want.strip()
    word, _, arg = what.partition(" ")
    arg = arg.strip()
    if word == "cursor":
        got = "{},{}".format(*emu.cursor())
        return None if got == want.replace(" ", "") else f"cursor at {got}, want {want}"
    if word == "screen_row":
        row = int(arg)
        got = run.chars(row, 0, row + 1, emu.size()[0])
        exp = _expected_chars(want)
        return None if _nfc(got) == _nfc(exp) else f"row {row} is {got!r}, want {exp!r}"
    if word in ("screen_chars", "screen_text"):
        r0, c0, r1, c1 = (int(v) for v in arg.split(","))
        got = run.chars(r0, c0, r1, c1)
        if word == "screen_chars":
            exp = _expected_chars(want)
        else:
            exp = bytes(int(v, 16) for v in want.split(",") if v).decode("utf-8", "replace")
        return None if _nfc(got) == _nfc(exp) else f"{word} {arg} is {got!r}, want {exp!r}"
    if word == "screen_eol":
        r, c = (int(v) for v in arg.split(","))
        eol = all(emu.cell(r, x).text == "" for x in range(c, emu.size()[0]))
        return None if str(int(eol)) == want else f"eol at {arg} is {int(eol)}, want {want}"
    if word == "screen_cell":
        r, c = (int(v) for v in arg.split(","))
        got = _format_cell(run, emu.cell(r, c))
        exp = re.sub(r"\s+", " ", want)
        m = re.match(r"\{([^}]*)\}(.*)", exp)
        if m and m.group(1):  # compare the text canonically, the rest literally
            cps = "".join(chr(int(v, 16)) for v in m.group(1).split(","))
            exp = "{" + ",".join(f"0x{ord(ch):x}" for ch in _nfc(cps)) + "}" + m.group(2)
        return None if got == exp else f"cell {arg} is {got}, want {exp}"
    if word == "pen":
        pen = emu.pen()
        if pen is None:
            return "pen state not available"
        got = _format_pen(run, pen, arg)
        return None if got == want else f"pen {arg} is {got}, want {want}"
    return f"unsupported assertion ?{word}"


def _format_cell(run: _VTermRun, cell: CellInfo) -> str:
    chars = ",".join(f"0x{ord(ch):x}" for ch in _nfc(cell.text))
    attrs = (("B" if cell.attrs & BOLD else "") + ("U1" if cell.attrs & UNDERLINE else "")
             + ("I" if cell.attrs & ITALIC else "") + ("K" if cell.attrs & BLINK else "")
             + ("R" if cell.attrs & INVERSE else ""))
    fg = "rgb({},{},{})".format(*run.rgb(cell.fg, True))
    bg = "rgb({},{},{})".format(*run.rgb(cell.bg, False))
    return f"{{{chars}}} width={cell.width} attrs={{{attrs}}} fg={fg} bg={bg}"


def _format_pen(run: _VTermRun, pen: PenInfo, what: str) -> str:
    onoff = {True: "on", False: "off"}
    if what in ("bold", "italic", "blink", "reverse"):
        return onoff[bool(getattr(pen, what))]
    if what == "underline":
        return str(pen.underline)
    if what in ("foreground", "background"):
        code = pen.fg if what == "foreground" else pen.bg
        if code == DEFAULT:
            r, g, b = run.rgb(code, what == "foreground")
            return f"rgb({r},{g},{b},is_default_{'fg' if what == 'foreground' else 'bg'})"
        if code >= TRUECOLOR:
            return "rgb({},{},{})".format(*run.rgb(code, True))
        return f"idx({code})"
    if what == "font":
        return "0"
    if what in ("small",):
        return "off"
    if what == "baseline":
        return "normal"
    return "?"


def summarize(results: dict[str, str]) -> dict[str, dict[str, int]]:
    """Counts per suite from {case id: "pass"|"fail"|"skip"}."""
    out: dict[str, dict[str, int]] = {}
    for cid, status in results.items():
        suite = cid.split("/", 1)[0]
        out.setdefault(suite, {"pass": 0, "fail": 0, "skip": 0})[status] += 1
    return out


def run_all(cases: list[Case], factory: EmulatorFactory) -> dict[str, str]:
    """{case id: "pass" | "fail" | "skip"} for every case."""
    results: dict[str, str] = {}
    for case in cases:
        if case.skip:
            results[case.id] = "skip"
        else:
            results[case.id] = "fail" if run_case(case, factory) else "pass"
    return results


__all__ = ["SUITES", "Case", "CellInfo", "Emulator", "PenInfo", "PyteEmulator",
           "TerminalEmulator", "load_cases", "perl_string", "run_all", "run_case", "summarize"]


"""VHS `.tape` files through the hybrid terminal.

VHS (charmbracelet/vhs) scripts a terminal with a tiny language - the paper's clean training data was
recorded with it - so a tape is also the most natural way to script a `Session`:

    Output demo.mp4
    Set Width 1200
    Set Height 600
    Type "echo hello" Sleep 300ms Enter
    Wait+Screen /hello/
    Screenshot hello.png

`parse_tape(text)` turns a tape into `TapeCommand`s (errors name the file and line); `run_tape(path)`
plays it through a `Session` and writes its outputs. Supported: Type[@speed], Enter, Backspace,
Delete, Insert, Escape, Tab, Space, Up/Down/Left/Right, PageUp/PageDown (each with [@speed] [count]),
Ctrl[+Alt][+Shift]+<key>, Alt+<key>, Shift+<key>, Sleep, Wait[+Line|+Screen][@timeout] [/regex/],
Screenshot, Output (.mp4, .gif, .cast, .txt/.ascii, or a folder/ of PNG frames), Set,
Hide/Show, Copy/Paste, Env, Source, Require. Anything else is an error with its line number.
As in VHS, Enter does not wait for the command (`Session.key(..., wait=False)`): a following
Sleep lets it run while its output is drawn, and `Sleep 1` + `Ctrl+C` interrupts it.

Where we differ from VHS, and why:
* Width/Height are pixels as in VHS; they become columns/rows through FontSize, Padding and
  LineHeight with a monospace advance of 0.6 em and a line box of 1.2 em (close to VHS's xterm.js).
* The default WaitPattern is a shell prompt's end (`[$#>%] ?$`), not VHS's `>$`: our prompt is bash's.
* Timestamps of the exported video follow the tape (TypingSpeed per key, Sleep durations), not the
  wall clock, so a tape gives the same video whether it ran fast or slow.
* Cosmetic settings (FontFamily, Margin, WindowBar, BorderRadius, CursorBlink, LoopOffset, ...)
  are accepted and have no effect: the renderer draws the cell grid only.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["TapeCommand", "TapeError", "TapeResult", "TapeRunner", "parse_tape", "run_tape"]

# command name -> Session key name, for the repeatable key presses
KEYS = {
    "Enter": "Enter", "Backspace": "Backspace", "Delete": "Delete", "Insert": "Insert",
    "Escape": "Escape", "Tab": "Tab", "Space": "Space", "Up": "Up", "Down": "Down",
    "Left": "Left", "Right": "Right", "PageUp": "PageUp", "PageDown": "PageDown",
}
OTHER_COMMANDS = ("Type", "Sleep", "Wait", "Ctrl", "Alt", "Shift", "Set", "Output", "Screenshot",
                  "Hide", "Show", "Source", "Require", "Copy", "Paste", "Env")
COMMANDS = (*KEYS, *OTHER_COMMANDS)
KNOWN_UNSUPPORTED = {
    "ScrollUp": "scrolling the view back is not modelled (the renderer draws the live screen)",
    "ScrollDown": "scrolling the view back is not modelled (the renderer draws the live screen)",
    "Subtitle": "subtitles are not drawn",
}
# settings with an effect, and cosmetic ones accepted for compatibility
SETTINGS = ("Shell", "Width", "Height", "FontSize", "Padding", "LineHeight", "LetterSpacing",
            "Theme", "TypingSpeed", "WaitTimeout", "WaitPattern", "Framerate", "PlaybackSpeed")
COSMETIC = ("FontFamily", "Margin", "MarginFill", "WindowBar", "WindowBarSize", "BorderRadius",
            "CursorBlink", "LoopOffset")
MODIFIERS = ("Alt", "Shift")
VIDEO = (".mp4", ".gif")
TEXT = (".txt", ".ascii")


class TapeError(ValueError):
    """A tape that cannot be parsed or played; the message names the file and line."""


@dataclass(frozen=True)
class TapeCommand:
    """One tape command.

    name: the command ("Type", "Enter", "Ctrl", "Set", ...); args: its arguments (the text to
    type, a path, a setting's name and value, the keys of a chord); speed: the @ option in seconds
    (typing delay, or Wait's timeout); repeat: the count of a key press; where: "file:line".
    """

    name: str
    args: tuple[str, ...] = ()
    speed: float | None = None
    repeat: int = 1
    where: str = "<tape>:1"


# -- parsing ----------------------------------------------------------------------------------
_DURATION = re.compile(r"(\d+(?:\.\d+)?|\.\d+)\s*(ms|s|m)?(?![\w.])")


class _Scanner:
    """A cursor over the tape text; the parser pulls words, strings, regexes and durations."""

    def __init__(self, text: str, name: str) -> None:
        self.text, self.name, self.pos, self.line = text, name, 0, 1

    def where(self) -> str:
        return f"{self.name}:{self.line}"

    def fail(self, msg: str) -> TapeError:
        return TapeError(f"{self.where()}: {msg}")

    def skip_blank(self, newlines: bool) -> None:
        """Skip spaces (and newlines and comments when `newlines`)."""
        while self.pos < len(self.text):
            ch = self.text[self.pos]
            if ch == "\n":
                if not newlines:
                    return
                self.line += 1
            elif ch == "#" and newlines:
                end = self.text.find("\n", self.pos)
                self.pos = len(self.text) if end < 0 else end
                continue
            elif not ch.isspace():
                return
            self.pos += 1

    def at_line_end(self) -> bool:
        self.skip_blank(newlines=False)
        return self.pos >= len(self.text) or self.text[self.pos] in "\n#"

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def take(self, ch: str) -> bool:
        if self.peek() == ch:
            self.pos += 1
            return True
        return False

    def word(self) -> str:
        """A bare word: letters, digits and punctuation up to whitespace, '+' or '@'."""
        start = self.pos
        while self.pos < len(self.text) and not self.text[self.pos].isspace() \
                and self.text[self.pos] not in "+@":
            self.pos += 1
        return self.text[start:self.pos]

    def name_word(self) -> str:
        """A command or setting name: letters only, so `Enter@1s` and `Ctrl+C` split right."""
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos].isalpha():
            self.pos += 1
        return self.text[start:self.pos]

    def string(self) -> str | None:
        """A quoted string ("...", '...' or `...`, no escapes, one line) or a bare word."""
        self.skip_blank(newlines=False)
        q = self.peek()
        if q in "\"'`":
            end = self.text.find(q, self.pos + 1)
            nl = self.text.find("\n", self.pos + 1)
            if end < 0 or (0 <= nl < end):
                raise self.fail(f"unterminated string starting with {q}")
            value = self.text[self.pos + 1:end]
            self.pos = end + 1
            return value
        if self.at_line_end():
            return None
        start = self.pos
        while self.pos < len(self.text) and not self.text[self.pos].isspace():
            self.pos += 1
        return self.text[start:self.pos]

    def regex(self) -> str | None:
        """A /regex/ (a backslash escapes a slash), or None when the line has none."""
        if self.at_line_end() or self.peek() != "/":
            return None
        i = self.pos + 1
        out = []
        while i < len(self.text) and self.text[i] not in "/\n":
            if self.text[i] == "\\" and i + 1 < len(self.text) and self.text[i + 1] == "/":
                out.append("/")
                i += 2
                continue
            out.append(self.text[i])
            i += 1
        if i >= len(self.text) or self.text[i] != "/":
            raise self.fail("unterminated /regex/")
        self.pos = i + 1
        pattern = "".join(out)
        try:
            re.compile(pattern)
        except re.error as e:
            raise self.fail(f"invalid regular expression /{pattern}/: {e}") from None
        return pattern

    def duration(self, what: str) -> float:
        """A time: 500ms, 2s, 1m, or a bare number of seconds."""
        self.skip_blank(newlines=False)
        m = _DURATION.match(self.text, self.pos)
        if not m:
            raise self.fail(f"{what} expects a time such as 500ms, 2s or 1.5, "
                            f"got {self.text[self.pos:].split(None, 1)[0] if not self.at_line_end() else 'nothing'!r}")
        self.pos = m.end()
        value = float(m.group(1))
        return value * {"ms": 0.001, "s": 1.0, "m": 60.0, None: 1.0}[m.group(2)]

    def count(self) -> int:
        """An optional repeat count after a key press."""
        if self.at_line_end() or not self.peek().isdigit():
            return 1
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos].isdigit():
            self.pos += 1
        if self.peek() and not self.peek().isspace():
            raise self.fail(f"bad repeat count {self.text[start:self.pos + 1]!r}")
        return int(self.text[start:self.pos])


def _suggest(name: str) -> str:
    for c in (*COMMANDS, *KNOWN_UNSUPPORTED):
        if c.lower() == name.lower():
            return f" (did you mean {c!r}?)"
    return ""


def _is_command_word(s: _Scanner) -> bool:
    """True when the next bare word starts a new command (so `Type ls Enter` stops at Enter)."""
    save = s.pos
    word = s.name_word()
    s.pos = save
    nxt = s.text[save + len(word):save + len(word) + 1]
    return word in COMMANDS and (nxt == "" or nxt.isspace() or nxt in "+@")


def _strings(s: _Scanner, what: str) -> str:
    """One or more strings on the line, joined by spaces (VHS's Type "a" "b" types "a b")."""
    parts: list[str] = []
    while not s.at_line_end():
        if s.peek() not in "\"'`" and _is_command_word(s):
            break
        value = s.string()
        if value is None:
            break
        parts.append(value)
    if not parts:
        raise s.fail(f"{what} expects a string, e.g. {what} \"echo hello\"")
    return " ".join(parts)


def _chord_key(s: _Scanner, what: str) -> str:
    """The key after a '+': one character, or a named key (Enter, Tab, Left...)."""
    if not s.take("+"):
        raise s.fail(f"{what} expects +<key>, e.g. {what}+C")
    q = s.peek()
    if q in "\"'`":
        key = s.string() or ""
    else:
        key = s.name_word() or (s.text[s.pos] if s.pos < len(s.text) else "")
        if key and not key.isalpha():
            s.pos += 1
    if not key or key.isspace():
        raise s.fail(f"{what}+ expects a key")
    return key


def parse_tape(text: str, name: str = "<tape>", *, base: Path | None = None,
               _depth: int = 0, _seen: tuple[Path, ...] = ()) -> list[TapeCommand]:
    """Parse tape text into commands. `Source other.tape` is expanded in place (relative to
    `base`, the tape's folder); its Output commands are skipped, as VHS does.

    Raises TapeError "name:line: message" for anything that is not a valid command.
    """
    s = _Scanner(text, name)
    out: list[TapeCommand] = []
    while True:
        s.skip_blank(newlines=True)
        if s.pos >= len(s.text):
            return out
        where = s.where()
        cmd = s.name_word()
        if not cmd:
            bad = s.word() or s.text[s.pos]
            raise s.fail(f"expected a command, got {bad!r}")
        if cmd in KNOWN_UNSUPPORTED:
            raise s.fail(f"{cmd} is not supported: {KNOWN_UNSUPPORTED[cmd]}")
        if cmd not in COMMANDS:
            rest = s.word()
            raise s.fail(f"unknown command {cmd + rest!r}{_suggest(cmd)}")
        speed = None
        if cmd in KEYS or cmd in ("Type", "Wait"):
            plus = None
            if cmd == "Wait" and s.take("+"):
                plus = s.name_word()
                if plus not in ("Line", "Screen"):
                    raise s.fail(f"Wait+ expects Line or Screen, got {plus!r}")
            if s.take("@"):
                speed = s.duration(f"{cmd}@")
                if cmd == "Wait" and speed <= 0:
                    raise s.fail("Wait@ expects a positive timeout")
        if cmd in KEYS:
            out.append(TapeCommand(cmd, (), speed, s.count(), where))
        elif cmd == "Type":
            out.append(TapeCommand(cmd, (_strings(s, "Type"),), speed, 1, where))
        elif cmd == "Wait":
            pattern = s.regex()
            args = (plus or "Line",) + ((pattern,) if pattern is not None else ())
            out.append(TapeCommand(cmd, args, speed, 1, where))
        elif cmd == "Sleep":
            out.append(TapeCommand(cmd, (), s.duration("Sleep"), 1, where))
        elif cmd == "Ctrl":
            keys = [_chord_key(s, "Ctrl")]
            while keys[-1] in MODIFIERS and s.peek() == "+":
                keys.append(_chord_key(s, "Ctrl+" + "+".join(keys)))
            if keys[-1] in MODIFIERS:
                raise s.fail(f"Ctrl+{'+'.join(keys)} needs a key after the modifiers")
            out.append(TapeCommand(cmd, tuple(keys), None, 1, where))
        elif cmd in ("Alt", "Shift"):
            out.append(TapeCommand(cmd, (_chord_key(s, cmd),), None, 1, where))
        elif cmd == "Set":
            s.skip_blank(newlines=False)
            setting = s.name_word()
            if setting not in SETTINGS and setting not in COSMETIC:
                raise s.fail(f"unknown setting {setting + s.word()!r} "
                             f"(known: {', '.join(SETTINGS + COSMETIC)})")
            s.skip_blank(newlines=False)
            value: str | None
            if setting in ("TypingSpeed", "WaitTimeout"):
                value = str(s.duration(f"Set {setting}"))
            elif setting == "WaitPattern":
                value = s.regex() if s.peek() == "/" else s.string()
                if value is None:
                    raise s.fail("Set WaitPattern expects a /regex/")
                try:
                    re.compile(value)
                except re.error as e:
                    raise s.fail(f"invalid WaitPattern {value!r}: {e}") from None
            elif setting == "Theme" and s.peek() == "{":
                end = s.text.find("\n", s.pos)  # a JSON theme: the rest of the line
                end = len(s.text) if end < 0 else end
                value, s.pos = s.text[s.pos:end].strip(), end
            else:
                value = s.string()
                if value is None:
                    raise s.fail(f"Set {setting} expects a value")
            out.append(TapeCommand(cmd, (setting, value), None, 1, where))
        elif cmd in ("Output", "Screenshot", "Source", "Require"):
            path = s.string()
            if not path:
                raise s.fail(f"{cmd} expects a {'program' if cmd == 'Require' else 'path'}")
            if cmd == "Screenshot" and not path.lower().endswith(".png"):
                raise s.fail(f"Screenshot expects a .png path, got {path!r}")
            if cmd == "Output":
                ext = Path(path).suffix.lower()
                if not path.endswith("/") and ext not in (*VIDEO, *TEXT, ".cast"):
                    raise s.fail(f"Output {path!r}: use .mp4, .gif, .cast, .txt, .ascii or a "
                                 "folder/ for PNG frames (WebM is not written)")
            if cmd == "Source":
                out.extend(_source(path, s, base, _depth, _seen))
                continue
            out.append(TapeCommand(cmd, (path,), None, 1, where))
        elif cmd == "Copy":
            out.append(TapeCommand(cmd, (_strings(s, "Copy"),), None, 1, where))
        elif cmd == "Env":
            key = s.string()
            env_value = s.string()
            if not key or env_value is None or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
                raise s.fail("Env expects a NAME and a \"value\"")
            out.append(TapeCommand(cmd, (key, env_value), None, 1, where))
        else:  # Hide, Show, Paste take nothing
            out.append(TapeCommand(cmd, (), None, 1, where))


def _source(value: str, s: _Scanner, base: Path | None, depth: int,
            seen: tuple[Path, ...]) -> list[TapeCommand]:
    path = Path(value)
    if not path.is_absolute() and base is not None:
        path = base / path
    if path.suffix != ".tape":
        raise s.fail(f"Source expects a .tape file, got {value!r}")
    try:
        resolved = path.resolve()
        text = resolved.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise s.fail(f"cannot read sourced tape {value!r}: {e.strerror if isinstance(e, OSError) else e}") from None
    if resolved in seen or depth >= 8:
        raise s.fail(f"Source {value!r} includes itself")
    cmds = parse_tape(text, str(value), base=resolved.parent, _depth=depth + 1,
                      _seen=(*seen, resolved))
    return [c for c in cmds if c.name != "Output"]


def load_tape(path: str | Path) -> list[TapeCommand]:
    """Parse a tape file; TapeError (one line) when it is missing or invalid."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TapeError(f"tape {str(path)!r} does not exist") from None
    except (OSError, UnicodeDecodeError) as e:
        raise TapeError(f"cannot read tape {str(path)!r}: {e}") from None
    resolved = p.resolve()
    return parse_tape(text, p.name, base=resolved.parent, _seen=(resolved,))


# -- playing ----------------------------------------------------------------------------------
@dataclass
class TapeResult:
    """What a tape produced: files written, the final screen and the session's report."""

    outputs: list[Path] = field(default_factory=list)
    screenshots: list[Path] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    frames: int = 0
    screen: Any = None
    report: dict[str, Any] = field(default_factory=dict)
    duration: float = 0.0  # seconds of tape time (what the video lasts)


@dataclass
class _Settings:
    width: float = 1200.0
    height: float = 600.0
    font_size: float = 22.0
    padding: float = 60.0
    line_height: float = 1.0
    letter_spacing: float = 0.0
    theme: str | None = None
    typing_speed: float = 0.05
    wait_timeout: float = 15.0
    wait_pattern: str = r"[$#>%] ?$"
    framerate: float = 50.0
    playback_speed: float = 1.0

    def grid(self) -> tuple[int, int]:
        """Columns and rows the pixel size gives (see the module docstring)."""
        advance = self.font_size * 0.6 + self.letter_spacing
        line = self.font_size * 1.2 * self.line_height
        cols = int((self.width - 2 * self.padding) // max(advance, 1.0))
        rows = int((self.height - 2 * self.padding) // max(line, 1.0))
        return max(cols, 10), max(rows, 2)


class TapeRunner:
    """Plays parsed tape commands through a `Session` it creates and owns.

    Args:
        commands: from `parse_tape` / `load_tape`.
        out_dir: where relative Output/Screenshot paths go (default: the current directory).
        realtime: wait TypingSpeed between keys as VHS does (False: as fast as the session goes;
            Sleep and Wait still take real time, since programs need it).
        session_options: SessionConfig overrides (renderer=..., reasoners=...); cols/rows/theme
            from the tape's settings are added unless given here.
        on_step: called with every StepOutput (progress display, tests).
    """

    def __init__(self, commands: list[TapeCommand], *, out_dir: str | Path | None = None,
                 realtime: bool = True, session_options: dict[str, Any] | None = None,
                 on_step: Callable[[Any], None] | None = None) -> None:
        self.commands = commands
        self.out_dir = Path(out_dir) if out_dir is not None else Path.cwd()
        self.realtime = realtime
        self.session_options = dict(session_options or {})
        self.on_step = on_step
        self.settings = _Settings()
        self.session: Any = None
        self.result = TapeResult()
        self._outputs: list[tuple[str, str]] = []  # (path, where)
        self._hidden = False
        self._clock = 0.0  # tape time in seconds
        self._frames: list[tuple[float, tuple[int, ...], bytes]] = []
        self._texts: list[str] = []
        self._clipboard = ""
        self._last_frame: np.ndarray | None = None

    # -- driving ---------------------------------------------------------------------------
    def run(self) -> TapeResult:
        """Play every command, write the outputs, close the session; TapeError on failure."""
        try:
            for cmd in self.commands:
                try:
                    self._do(cmd)
                except TapeError:
                    raise
                except Exception as e:  # session errors get the tape line they happened at
                    raise TapeError(f"{cmd.where}: {cmd.name} failed: {_one_line(e)}") from None
            self._ensure_session()
            self._write_outputs()
            self.result.screen = self.session.screen
            self.result.report = self.session.report()
            self.result.duration = self._clock
            return self.result
        finally:
            if self.session is not None:
                self.session.close()

    def _ensure_session(self) -> Any:
        if self.session is None:
            from orchestrator.session import Session

            opts = dict(self.session_options)
            cols, rows = self.settings.grid()
            opts.setdefault("cols", cols)
            opts.setdefault("rows", rows)
            if self.settings.theme is not None:
                opts.setdefault("theme", self.settings.theme)
            self.session = Session(on_frame=self._frame, **opts)
        return self.session

    def _frame(self, step: Any) -> None:
        self._last_frame = step.frame_array
        if self.on_step is not None:
            self.on_step(step)
        if self._hidden:
            return
        self.result.frames += 1
        arr = np.ascontiguousarray(step.frame_array)
        self._frames.append((self._clock, arr.shape, zlib.compress(arr.tobytes(), 1)))
        text = step.screen.text.rstrip("\n")
        if not self._texts or self._texts[-1] != text:
            self._texts.append(text)

    def _advance(self, seconds: float) -> None:
        self._clock += seconds

    def _do(self, cmd: TapeCommand) -> None:
        name = cmd.name
        if name == "Set":
            self._set(cmd)
        elif name == "Output":
            self._outputs.append((cmd.args[0], cmd.where))
        elif name == "Require":
            if shutil.which(cmd.args[0]) is None:
                raise TapeError(f"{cmd.where}: Require: program {cmd.args[0]!r} is not installed")
        elif name == "Hide":
            self._hidden = True
        elif name == "Show":
            self._hidden = False
        elif name == "Copy":
            self._clipboard = cmd.args[0]
        elif name == "Sleep":
            self._ensure_session()
            self._sleep(cmd.speed or 0.0)
        elif name == "Wait":
            self._wait(cmd)
        elif name == "Screenshot":
            self._screenshot(cmd)
        else:
            session = self._ensure_session()
            delay = cmd.speed if cmd.speed is not None else self.settings.typing_speed
            if name == "Type":
                for ch in cmd.args[0]:
                    self._advance(delay)
                    self._pause(delay)
                    session.type(ch)
            elif name in KEYS:
                for _ in range(cmd.repeat):
                    self._advance(delay)
                    self._pause(delay)
                    # as in VHS, Enter does not wait for the command: a following Sleep lets
                    # it run, a Wait watches for its output, a Ctrl+C interrupts it
                    session.key(KEYS[name], wait=False)
            elif name in ("Ctrl", "Alt", "Shift"):
                self._advance(delay)
                session.key(self._chord(cmd))
            elif name == "Paste":
                self._advance(delay)
                session.paste(self._clipboard)
            elif name == "Env":
                self._env(cmd)

    def _pause(self, seconds: float) -> None:
        if self.realtime and seconds > 0:
            time.sleep(seconds)

    def _chord(self, cmd: TapeCommand) -> str:
        from orchestrator.session import UnknownKeyError, key_bytes

        *mods, key = cmd.args if cmd.name == "Ctrl" else (cmd.name, cmd.args[0])
        key = KEYS.get(key, key)
        # Session key names apply modifiers left to right: shift, then ctrl, then alt (ESC prefix)
        order = [m for m in ("shift", "ctrl", "alt")
                 if (m == "ctrl" and cmd.name == "Ctrl") or m.capitalize() in mods]
        name = "+".join([*order, key])
        try:
            key_bytes(name)
        except UnknownKeyError:
            pretty = "+".join([cmd.name, *cmd.args]) if cmd.name == "Ctrl" else f"{cmd.name}+{key}"
            raise TapeError(f"{cmd.where}: {pretty} is not a key a terminal can send "
                            "(Ctrl combines with a character key)") from None
        return name

    def _set(self, cmd: TapeCommand) -> None:
        setting, value = cmd.args
        st = self.settings
        if setting in COSMETIC:
            return
        if setting == "Shell":
            if value not in ("bash", "sh"):
                self.result.warnings.append(f"{cmd.where}: Set Shell {value}: only the sandboxed "
                                            "bash is available; using it")
            return
        if setting == "WaitPattern":
            st.wait_pattern = value
            return
        if setting == "Theme":
            self._set_theme(value, cmd)
            return
        try:
            number = float(value.rstrip("%"))
        except ValueError:
            raise TapeError(f"{cmd.where}: Set {setting} expects a number, got {value!r}") from None
        if number <= 0 and setting not in ("LetterSpacing", "Padding"):
            raise TapeError(f"{cmd.where}: Set {setting} must be positive, got {value!r}")
        attr = {"Width": "width", "Height": "height", "FontSize": "font_size",
                "Padding": "padding", "LineHeight": "line_height",
                "LetterSpacing": "letter_spacing", "TypingSpeed": "typing_speed",
                "WaitTimeout": "wait_timeout", "Framerate": "framerate",
                "PlaybackSpeed": "playback_speed"}[setting]
        setattr(st, attr, number)
        if setting in ("Width", "Height", "FontSize", "Padding", "LineHeight", "LetterSpacing") \
                and self.session is not None:
            cols, rows = st.grid()
            if (cols, rows) != (self.session.terminal.cols, self.session.terminal.rows):
                self.session.resize(cols, rows)

    def _set_theme(self, value: str, cmd: TapeCommand) -> None:
        from terminal.themes import THEMES

        if self.session is not None:
            raise TapeError(f"{cmd.where}: Set Theme must come before the first action")
        if value.lstrip().startswith("{"):
            try:
                json.loads(value)
            except ValueError:
                raise TapeError(f"{cmd.where}: Set Theme: invalid JSON theme") from None
            self.result.warnings.append(f"{cmd.where}: JSON themes are not supported; using the "
                                        "default theme")
            return
        names = {n.lower(): n for n in THEMES}
        key = value.strip().lower().replace(" ", "-")
        if key in names:
            self.settings.theme = names[key]
        else:
            self.result.warnings.append(f"{cmd.where}: unknown theme {value!r} (have "
                                        f"{', '.join(THEMES)}); using the default")

    def _sleep(self, seconds: float) -> None:
        """Let time pass, drawing whatever output arrives on its own meanwhile."""
        self._advance(seconds)
        deadline = time.monotonic() + seconds
        while True:
            self.session.poll(0.0)
            left = deadline - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(0.05, left))

    def _line(self) -> str:
        screen = self.session.screen
        lines = [ln.rstrip() for ln in screen.lines]
        row = screen.cursor[0]
        if 0 <= row < len(lines) and lines[row]:
            return lines[row]
        filled = [ln for ln in lines if ln]
        return filled[-1] if filled else ""

    def _wait(self, cmd: TapeCommand) -> None:
        session = self._ensure_session()
        mode = cmd.args[0]
        pattern = cmd.args[1] if len(cmd.args) > 1 else self.settings.wait_pattern
        timeout = cmd.speed if cmd.speed is not None else self.settings.wait_timeout
        regex = re.compile(pattern, re.MULTILINE)
        start = time.monotonic()
        while True:
            session.poll(0.0)
            text = session.screen.text if mode == "Screen" else self._line()
            if regex.search(text):
                self._advance(time.monotonic() - start)
                return
            if time.monotonic() - start >= timeout:
                raise TapeError(f"{cmd.where}: Wait+{mode} timed out after {timeout:g}s: "
                                f"/{pattern}/ not found (last line: {self._line()[:60]!r})")
            time.sleep(0.05)

    def _screenshot(self, cmd: TapeCommand) -> None:
        from renderer.media import save_png

        self._ensure_session()
        frame = self._last_frame
        if frame is None:
            raise TapeError(f"{cmd.where}: Screenshot: no frame has been drawn yet")
        path = self._target(cmd.args[0])
        save_png(frame, path)
        self.result.screenshots.append(path)

    def _env(self, cmd: TapeCommand) -> None:
        """VHS sets the variable before the shell starts; we export it in the shell, unseen."""
        key, value = cmd.args
        session = self._ensure_session()
        if getattr(session, "shell", None) is None:
            raise TapeError(f"{cmd.where}: Env needs the shell reasoner")
        quoted = "'" + value.replace("'", "'\\''") + "'"
        hidden, self._hidden = self._hidden, True
        try:
            session.run(f"export {key}={quoted}; clear")
        finally:
            self._hidden = hidden

    # -- outputs ---------------------------------------------------------------------------
    def _target(self, value: str) -> Path:
        path = Path(value)
        if not path.is_absolute():
            path = self.out_dir / path
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def _decoded(self) -> Iterator[np.ndarray]:
        for _t, shape, blob in self._frames:
            yield np.frombuffer(zlib.decompress(blob), np.uint8).reshape(shape)

    def _write_outputs(self) -> None:
        from PIL import Image

        for value, where in self._outputs:
            path = self._target(value)
            ext = path.suffix.lower()
            try:
                if value.endswith("/"):
                    path.mkdir(parents=True, exist_ok=True)
                    for i, frame in enumerate(self._decoded()):
                        Image.fromarray(frame).save(path / f"frame-{i:05d}.png")
                elif ext in VIDEO:
                    self._write_video(path)
                elif ext == ".cast":
                    self.session.save(path)
                else:  # .txt / .ascii: every distinct screen, separated like VHS's text output
                    rule = "\n" + "─" * self.session.terminal.cols + "\n"
                    path.write_text(rule.join(self._texts) + "\n", encoding="utf-8")
            except TapeError:
                raise
            except Exception as e:
                raise TapeError(f"{where}: Output {value}: {str(e).strip() or type(e).__name__}") from None
            self.result.outputs.append(path)

    def _write_video(self, path: Path) -> None:
        if not self._frames:
            raise TapeError(f"Output {path.name}: every frame was hidden; nothing to write")
        from renderer.media import write_video

        speed = self.settings.playback_speed
        times = [t / speed for t, _s, _b in self._frames]
        write_video(path, self._decoded(), times=times, fps=min(self.settings.framerate, 30.0))


def _one_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def run_tape(path: str | Path, *, out_dir: str | Path | None = None, realtime: bool = True,
             on_step: Callable[[Any], None] | None = None, **session_options: Any) -> TapeResult:
    """Parse and play a tape file; relative outputs go to `out_dir` (default: the tape's folder).

        result = run_tape("examples/demo.tape", renderer="raster")
        result.outputs, result.screenshots, result.screen.text
    """
    commands = load_tape(path)
    runner = TapeRunner(commands, out_dir=out_dir if out_dir is not None else Path(path).parent,
                        realtime=realtime, session_options=session_options, on_step=on_step)
    return runner.run()


def main(argv: list[str] | None = None) -> int:
    """`python -m hybrid_nc.tape FILE.tape [--renderer R] [--out DIR] [--fast]`."""
    import argparse

    p = argparse.ArgumentParser(prog="python -m hybrid_nc.tape", description=__doc__.splitlines()[0])
    p.add_argument("tape")
    p.add_argument("--renderer", help="renderer name (default: the session default, neural)")
    p.add_argument("--out", help="folder for relative Output/Screenshot paths (default: the tape's)")
    p.add_argument("--fast", action="store_true", help="do not wait TypingSpeed between keys")
    args = p.parse_args(argv)
    opts = {"renderer": args.renderer} if args.renderer else {}
    try:
        result = run_tape(args.tape, out_dir=args.out, realtime=not args.fast, **opts)
    except Exception as e:
        print(f"tape: error: {_one_line(e)}", file=sys.stderr)
        return 1
    for w in result.warnings:
        print(f"tape: warning: {w}", file=sys.stderr)
    for path in [*result.screenshots, *result.outputs]:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())

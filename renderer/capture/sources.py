"""What the terminals are shown: byte streams from recordings, conformance suites, real programs
run in a pty, and screens we generate (colour tables, attributes, Unicode).

Every item is a complete byte stream that starts with RIS (`ESC c`), so each capture starts from a
reset terminal and the symbolic screen is the emulator's screen after exactly those bytes. A
*source* is one recording, one suite file, one scripted session or one generated family variant;
whole sources are held out for the test split (`HELD_OUT`), so no test screen shares its origin
with a training screen.
"""

from __future__ import annotations

import json
import os
import random
import re
import select
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from terminal.screen import char_width

RIS = b"\x1bc"
MOMENTS_PER_RECORDING = 6
MIN_COLS, MIN_ROWS, MAX_COLS, MAX_ROWS = 20, 4, 200, 60


@dataclass(frozen=True)
class Item:
    """One screen to capture: the bytes shown and the terminal size they are shown at."""

    source: str
    index: int
    data: bytes
    cols: int
    rows: int
    split: str
    category: str

    @property
    def id(self) -> str:
        """Stable name: the source made file-safe plus the moment number."""
        return f"{slug(self.source)}-{self.index:03d}"


def slug(name: str) -> str:
    """A file-name-safe form of a source name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_")


@dataclass
class Source:
    """A named origin of items; `make()` yields them (may run programs, so it is lazy)."""

    name: str
    category: str
    make: Callable[[], Iterator[tuple[bytes, int, int]]] = field(repr=False)

    @property
    def split(self) -> str:
        return "test" if self.name in HELD_OUT else "train"

    def items(self) -> Iterator[Item]:
        for i, (data, cols, rows) in enumerate(self.make()):
            yield Item(self.name, i, data, cols, rows, self.split, self.category)


# Whole sources kept out of training: each category is represented, and the Unicode screens
# include box drawing, CJK and emoji.
HELD_OUT = {
    "cast:nbedos__termtosvg__docs__examples__casts__htop",
    "cast:r-lib__asciicast__inst__examples__dplyr",
    "cast:asciinema__asciinema-player__tests__assets__theme-256",
    "conformance:pyte/mc",
    "conformance:pyte/vi",
    "conformance:alacritty/tmux_htop",
    "conformance:alacritty/vim_simple_edit",
    "conformance:alacritty/zsh_tab_completion",
    "session:text",
    "tui:tmux",
    "tui:top",
    "colors:palette16/0",
    "colors:palette256/0",
    "colors:truecolor/0",
    "colors:attributes/0",
    "unicode:box/0",
    "unicode:cjk/0",
    "unicode:emoji/0",
    "unicode:powerline/0",
    "unicode:symbols/0",
    "unicode:mixed/0",
} | {f"conformance:xtermjs/t{n:04d}" for n in range(0, 200, 5)}


def _clamp(cols: int, rows: int) -> tuple[int, int]:
    return min(max(cols, MIN_COLS), MAX_COLS), min(max(rows, MIN_ROWS), MAX_ROWS)


def _complete_utf8(data: bytes) -> bytes:
    """`data` without a trailing partial UTF-8 character (a terminal would hold it back)."""
    for back in range(1, 4):
        if len(data) < back:
            break
        b = data[-back]
        if b < 0x80:
            return data
        if b >= 0xC0:  # a lead byte: is its sequence complete?
            need = 2 if b < 0xE0 else 3 if b < 0xF0 else 4
            return data if back >= need else data[:-back]
    return data


def _moments(n: int, k: int = MOMENTS_PER_RECORDING) -> list[int]:
    """k cut points spread over n events, the last one at the end."""
    if n <= 0:
        return []
    return sorted({max(1, round((j + 1) * n / k)) for j in range(k)})


# -- recordings --------------------------------------------------------------------------------
def read_cast(path: Path) -> tuple[int, int, list[str]]:
    """(cols, rows, output chunks) of an asciicast v1, v2 or v3 file; raises ValueError."""
    text = path.read_text(encoding="utf-8")
    first, _, rest = text.partition("\n")
    head = json.loads(first) if first.strip().startswith("{") else {}
    if head.get("version") == 1 or "stdout" in head:
        head = json.loads(text)
        return int(head["width"]), int(head["height"]), [d for _t, d in head["stdout"]]
    version = head.get("version")
    if version == 3:
        term = head.get("term", {})
        cols, rows = int(term["cols"]), int(term["rows"])
    elif version == 2:
        cols, rows = int(head["width"]), int(head["height"])
    else:
        raise ValueError(f"{path.name}: not an asciicast v1/v2/v3 file")
    out = []
    for line in rest.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        event = json.loads(line)
        if len(event) >= 3 and event[1] == "o":
            out.append(event[2])
    return cols, rows, out


def cast_sources(folder: Path) -> list[Source]:
    """One source per cast; moments spread over its output events."""
    sources = []
    for path in sorted(folder.glob("*.cast")):
        def make(path: Path = path) -> Iterator[tuple[bytes, int, int]]:
            cols, rows, chunks = read_cast(path)
            cols, rows = _clamp(cols, rows)
            for cut in _moments(len(chunks)):
                yield RIS + "".join(chunks[:cut]).encode("utf-8"), cols, rows
        sources.append(Source(f"cast:{path.stem}", "cast", make))
    return sources


def _line_cuts(data: bytes, k: int = 3) -> list[bytes]:
    """Prefixes of a raw stream that end just after a newline, spread over it, plus the whole."""
    ends = [m.end() for m in re.finditer(rb"\n", data)]
    cuts = [ends[i - 1] for i in _moments(len(ends), k)[:-1]] if ends else []
    return [data[:c] for c in cuts] + [data]


def conformance_sources(folder: Path) -> list[Source]:
    """pyte's captured programs, alacritty's reference recordings, xterm.js's escape files."""
    sources = []
    for path in sorted((folder / "pyte_captured").glob("*.input")):
        def make(path: Path = path) -> Iterator[tuple[bytes, int, int]]:
            for part in _line_cuts(path.read_bytes()):
                yield RIS + _complete_utf8(part), 80, 24
        sources.append(Source(f"conformance:pyte/{path.stem}", "conformance", make))
    for rec in sorted((folder / "alacritty_ref").glob("*/alacritty.recording")):
        def make_a(rec: Path = rec) -> Iterator[tuple[bytes, int, int]]:
            size = json.loads((rec.parent / "size.json").read_text())
            cols, rows = _clamp(int(size["columns"]), int(size["screen_lines"]))
            for part in _line_cuts(rec.read_bytes()):
                yield RIS + _complete_utf8(part), cols, rows
        sources.append(Source(f"conformance:alacritty/{rec.parent.name}", "conformance", make_a))
    for path in sorted((folder / "xtermjs_escape_sequence_files").glob("t*.in")):
        def make_x(path: Path = path) -> Iterator[tuple[bytes, int, int]]:
            # the suite is written through a pty with ONLCR: every LF arrives as CR LF
            yield RIS + path.read_bytes().replace(b"\n", b"\r\n"), 80, 25
        number = path.stem.split("-")[0]
        sources.append(Source(f"conformance:xtermjs/{number}", "conformance", make_x))
    return sources


# -- real programs in a pty --------------------------------------------------------------------
PROMPT = r"\[\e[1;32m\]user@hnc\[\e[0m\]:\[\e[1;34m\]\w\[\e[0m\]\$ "

DEMO_PY = '''"""A small module to look at in an editor."""

import math


def area(radius: float) -> float:
    """Area of a circle."""
    return math.pi * radius ** 2


class Counter:
    def __init__(self) -> None:
        self.count = 0

    def tick(self, step: int = 1) -> int:
        self.count += step
        return self.count


if __name__ == "__main__":
    c = Counter()
    for r in range(1, 6):
        print(r, round(area(r), 3), c.tick())
'''

NATO = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet",
        "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango",
        "uniform", "victor", "whiskey", "xray", "yankee", "zulu"]
NOTES = "\n".join(
    f"{i:3d}  {w}" for i, w in enumerate(
        NATO * 3)
) + "\n"

CURSES_DEMO = r'''
import curses, sys

def main(stdscr):
    curses.start_color(); curses.use_default_colors()
    for i, c in enumerate([curses.COLOR_RED, curses.COLOR_GREEN, curses.COLOR_YELLOW,
                           curses.COLOR_BLUE, curses.COLOR_MAGENTA, curses.COLOR_CYAN], 1):
        curses.init_pair(i, curses.COLOR_WHITE, c)
        curses.init_pair(i + 10, c, -1)
    items = ["Open file", "Save", "Settings", "Statistics", "Help", "Quit"]
    sel, progress = 0, 0
    while True:
        h, w = stdscr.getmaxyx()
        stdscr.erase()
        stdscr.attron(curses.color_pair(4) | curses.A_BOLD)
        stdscr.addstr(0, 0, " hybrid-nc curses demo ".ljust(w - 1))
        stdscr.attroff(curses.color_pair(4) | curses.A_BOLD)
        win = stdscr.derwin(len(items) + 2, 24, 2, 2)
        win.box()
        for i, it in enumerate(items):
            attr = curses.A_REVERSE if i == sel else curses.color_pair(11 + i % 6)
            win.addstr(i + 1, 1, f" {it:<20}", attr)
        stdscr.addstr(2, 30, "Progress", curses.A_UNDERLINE)
        bar = int(30 * progress / 100)
        stdscr.addstr(3, 30, "[" + "#" * bar + "." * (30 - bar) + f"] {progress:3d}%",
                      curses.color_pair(12))
        for i in range(6):
            stdscr.addstr(5 + i, 30, f" colour pair {i + 1} ", curses.color_pair(i + 1))
        stdscr.addstr(h - 1, 0, "j/k: move  space: step  q: quit".ljust(w - 1), curses.A_BOLD)
        stdscr.refresh()
        key = stdscr.getch()
        if key == ord("q"):
            break
        if key == ord("j"):
            sel = (sel + 1) % len(items)
        if key == ord("k"):
            sel = (sel - 1) % len(items)
        if key == ord(" "):
            progress = min(100, progress + 17)

curses.wrapper(main)
'''


def _pty_env(home: str, cols: int, rows: int) -> dict[str, str]:
    # a clean, fixed environment: nothing of the caller's leaks into the recording
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": home, "TERM": "xterm-256color",
            "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "COLUMNS": str(cols), "LINES": str(rows),
            "PS1": PROMPT, "PAGER": "less", "MANPAGER": "less", "LESS": "-R",
            "GIT_AUTHOR_NAME": "Ada", "GIT_AUTHOR_EMAIL": "ada@example.org",
            "GIT_COMMITTER_NAME": "Ada", "GIT_COMMITTER_EMAIL": "ada@example.org",
            "GIT_AUTHOR_DATE": "2024-01-02T03:04:05Z", "GIT_COMMITTER_DATE": "2024-01-02T03:04:05Z",
            "TMUX_TMPDIR": home, "PYTHONDONTWRITEBYTECODE": "1"}


def _workspace() -> str:
    home = tempfile.mkdtemp(prefix="hnc-session-")
    Path(home, "demo.py").write_text(DEMO_PY)
    Path(home, "notes.txt").write_text(NOTES)
    Path(home, "curses_demo.py").write_text(CURSES_DEMO)
    for d in ("src", "docs", "data"):
        Path(home, "project", d).mkdir(parents=True)
    for name, n in (("src/main.py", 120), ("src/util.py", 40), ("docs/index.md", 900),
                    ("data/table.csv", 4000), ("README.md", 300)):
        Path(home, "project", name).write_text("x" * n)
    Path(home, "words.txt").write_text("\n".join(
        ["the", "cat", "sat", "on", "the", "mat", "the", "dog", "sat", "on", "the", "log", "a",
         "cat", "and", "a", "dog"] * 4) + "\n")
    return home


def record_pty(argv: list[str], steps: list[bytes], cols: int, rows: int,
               quiet_s: float = 0.35, max_wait_s: float = 6.0,
               cleanup: list[str] | None = None) -> list[bytes]:
    """Run `argv` in a pty of `cols` x `rows`; before each step and at the end wait for the output
    to go quiet; returns the output so far at each of those moments (len(steps) + 1 of them).
    `cleanup` is run afterwards in the same environment (e.g. to stop a daemon it started)."""
    from ptyprocess import PtyProcess

    home = _workspace()
    out = bytearray()
    moments: list[bytes] = []
    proc = PtyProcess.spawn(argv, cwd=home, env=_pty_env(home, cols, rows),
                            dimensions=(rows, cols))
    try:
        def settle() -> None:
            start = last = time.monotonic()
            while time.monotonic() - start < max_wait_s:
                ready, _, _ = select.select([proc.fd], [], [], 0.05)
                if ready:
                    try:
                        chunk = os.read(proc.fd, 65536)
                    except OSError:  # the program exited and the pty closed
                        return
                    if not chunk:
                        return
                    out.extend(chunk)
                    last = time.monotonic()
                elif time.monotonic() - last >= quiet_s:
                    return

        settle()
        for step in [*steps, None]:
            moments.append(bytes(out))
            if step is None:
                break
            for i in range(0, len(step), 64):  # typed, not pasted: programs see keystrokes
                proc.write(step[i:i + 64])
            settle()
    finally:
        proc.terminate(force=True)
        if cleanup:
            subprocess.run(cleanup, cwd=home, env=_pty_env(home, cols, rows), timeout=10,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        shutil.rmtree(home, ignore_errors=True)
    return moments


def _lines(*cmds: str) -> list[bytes]:
    return [c.encode() + b"\r" for c in cmds]


SESSIONS: dict[str, list[bytes]] = {
    "files": _lines("ls", "ls -la --color=always", "ls -l --color=always /usr/bin | head -30",
                    "find project | sort", "du -a project | sort -n", "wc -c project/*/*",
                    "cat notes.txt | head -40", "stat -c '%n %s %F' project/*"),
    "python": _lines("python3 -c 'print(98 + 45)'", "python3 -c 'import this' | head -14",
                     "python3 -c 'print([i * i for i in range(30)])'", "python3 -c '1/0'",
                     "python3 demo.py", "python3 -q", "2 ** 100", "sum(range(101))",
                     "'\u00e9t\u00e9 ' * 8", "import math; math.pi", "exit()"),
    "text": _lines("seq 1 60 | column -c 80", "printf '%-12s|%6d|%8.3f\\n' a 1 2.5 bb 22 3.25",
                   "grep -n --color=always def demo.py", "sort words.txt | uniq -c | sort -rn",
                   "echo -e '\\e[31mred\\e[0m \\e[1;33mbold yellow\\e[0m \\e[4munder\\e[0m'",
                   "yes 'the quick brown fox' | head -30", "date -u -d @0"),
    "git": _lines("git init -q repo && cd repo", "git status", "cp ../demo.py . && git add .",
                  "git commit -qm 'Add demo'", "sed -i s/circle/disc/ demo.py",
                  "git diff --color=always", "git log --color=always --stat"),
}

# name: (argv, keystrokes, clean-up command)
TUIS: dict[str, tuple[list[str], list[bytes], list[str] | None]] = {
    "vim": (["vim", "--clean", "-n", "demo.py"],
            [b":set number\r", b"G", b"gg", b"/def\r", b"oimport sys\x1b", b"Vjj", b"\x1b",
             b":set cursorline\r", b":q!\r"], None),
    "less": (["less", "-R", "notes.txt"], [b" ", b" ", b"/tango\r", b"G", b"g", b"q"], None),
    "man": (["man", "ls"], [b" ", b" ", b"/sort\r", b"q"], None),
    "top": (["top", "-d", "2"], [b"1", b"1", b"c", b"q"], None),
    "tmux": (["tmux", "-f", "/dev/null", "new-session"],
             [b"ls -la\r", b"\x02\"", b"python3 -c 'print(6 * 7)'\r", b"\x02%", b"echo hi\r",
              b"\x02o", b"exit\r", b"exit\r", b"exit\r"], ["tmux", "kill-server"]),
    "curses": (["python3", "curses_demo.py"], [b"j", b"j", b" ", b" ", b"k", b" ", b"q"], None),
}


def program_sources(cols: int = 80, rows: int = 24) -> list[Source]:
    """Scripted bash sessions and full-screen programs, recorded in a pty as they run."""
    sources = []
    for name, steps in SESSIONS.items():
        def make(steps: list[bytes] = steps) -> Iterator[tuple[bytes, int, int]]:
            argv = ["bash", "--norc", "--noprofile", "-i"]
            for m in record_pty(argv, steps, cols, rows):
                yield RIS + _complete_utf8(m), cols, rows
        sources.append(Source(f"session:{name}", "session", make))
    for name, (argv, steps, cleanup) in TUIS.items():
        def make_t(argv: list[str] = argv, steps: list[bytes] = steps,
                   cleanup: list[str] | None = cleanup) -> Iterator[tuple[bytes, int, int]]:
            if shutil.which(argv[0]) is None:
                return
            for m in record_pty(argv, steps, cols, rows, cleanup=cleanup):
                yield RIS + _complete_utf8(m), cols, rows
        sources.append(Source(f"tui:{name}", "tui", make_t))
    return sources


# -- generated screens -------------------------------------------------------------------------
# corners, horizontal, vertical, tees and cross, in the order tl tr bl br h v l r t b x
BOX_SETS = {
    "light": "┌┐└┘─│├┤┬┴┼", "heavy": "┏┓┗┛━┃┣┫┳┻╋", "double": "╔╗╚╝═║╠╣╦╩╬",
    "rounded": "╭╮╰╯─│├┤┬┴┼",
}
BLOCKS = "▁▂▃▄▅▆▇█▏▎▍▌▋▊▉▐░▒▓▀▔▕▖▗▘▙▚▛▜▝▞▟"
CJK = ("的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学"
       "対日本語漢字東京電車駅時間今天明天文字表示終端画面開発者世界音楽映画写真天気"
       "あいうえおかきくけこさしすせそたちつてとなにぬねのはひふへほまみむめもやゆよらりるれろわをん"
       "アイウエオカキクケコサシスセソタチツテトナニヌネノ"
       "한국어안녕하세요세계터미널화면글자시간")
EMOJI = "😀😃😄😁😆😅😂🤣😊😇🙂🙃😉😍🤔😎🥳😴🤖👍👎👏🙏💪🔥⭐🌟✨⚡🌈🍕🍔🍎🚀🎉🎈📁📂📄💾🔒🔑🐍🐧🦀☕🧪🧠💡✅❌⏳⌛"
POWERLINE = "\ue0a0\ue0a1\ue0a2\ue0b0\ue0b1\ue0b2\ue0b3"
SYMBOLS = ("αβγδεζηθικλμνξοπρστυφχψωΑΒΓΔΘΛΞΠΣΦΨΩ" "абвгдежзийклмнопрстуфхцчшщъыьэюяАБВГДЖЗИЛ"
           "∀∂∃∅∇∈∉∑∏√∞∧∨∩∪∫≈≠≡≤≥⊂⊃⊆⊇⊕⊗" "←↑→↓↔↕⇐⇒⇔↵" "•·…‘’“”–—±×÷°µ¶§©®™€£¥"
           "✓✔✗✘★☆♥♦♣♠●○■□▲▶▼◀◆◇" "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏" "àáâãäåçèéêëìíîïñòóôõöùúûüýÿßÀÉÎÕÜ")
COMBINING = ["e\u0301", "a\u0300", "o\u0308", "n\u0303", "u\u0302", "c\u0327"]


def unicode_chars() -> list[str]:
    """Every non-ASCII character the generated screens use (for the glyph calibration)."""
    chars = "".join(BOX_SETS.values()) + BLOCKS + CJK + EMOJI + POWERLINE + SYMBOLS
    return list(dict.fromkeys(ch for ch in chars if char_width(ch) in (1, 2)))


def _sgr(*codes: int) -> str:
    return f"\x1b[{';'.join(map(str, codes))}m"


def _screen(lines: list[str]) -> bytes:
    return (RIS.decode() + "\r\n".join(lines) + "\x1b[0m").encode("utf-8")


def _fit(text: str, width: int) -> str:
    """Cut a display string to `width` cells (a wide character never straddles the edge)."""
    out, used = [], 0
    for ch in text:
        w = max(char_width(ch), 0)
        if used + w > width:
            break
        out.append(ch)
        used += w
    return "".join(out)


def _palette16(rng: random.Random, cols: int, rows: int) -> list[str]:
    words = ["gYw", "Abc", "x1y", "Hey", "Ok!"]
    word = rng.choice(words)
    lines = ["         " + "".join(f" {bg:>3}m " for bg in range(40, 48))]
    fgs = [0, *range(30, 38), *(f"1;{c}" for c in range(30, 38))]
    rng.shuffle(fgs)
    for fg in fgs[: rows - 2]:
        cells = [f"{_sgr(0)}{str(fg):>7}m "]
        for bg in range(40, 48):
            cells.append(f"\x1b[{fg};{bg}m {word} {_sgr(0)} ")
        lines.append("".join(cells))
    return lines


def _palette256(rng: random.Random, cols: int, rows: int) -> list[str]:
    order = list(range(256))
    if rng.random() < 0.5:
        order = order[:16] + sorted(order[16:232], key=lambda i: ((i - 16) % 36, i)) + order[232:]
    per = max(1, (cols - 1) // 5)
    lines, line = [], ""
    for n, i in enumerate(order):
        fg = 15 if i in (0, 4, 8, 16, 17, 18, 232, 233, 234, 235) or 232 <= i < 244 else 0
        line += f"{_sgr(48, 5, i, 38, 5, fg)}{i:>4} {_sgr(0)}"
        if (n + 1) % per == 0:
            lines.append(line)
            line = ""
    if line:
        lines.append(line)
    return lines[: rows - 1]


def _truecolor(rng: random.Random, cols: int, rows: int) -> list[str]:
    lines = []
    text = "the quick brown fox jumps over the lazy dog 0123456789 " * 3
    shift = rng.randrange(256)
    for r in range(rows - 1):
        parts = []
        for c in range(cols):
            t = (c * 255) // max(cols - 1, 1)
            red, green, blue = (t + shift) % 256, (r * 11 + shift) % 256, 255 - t
            if r % 2:
                parts.append(f"{_sgr(48, 2, red, green, blue)} ")
            else:
                parts.append(f"{_sgr(38, 2, red, green, blue)}{text[(c + r) % len(text)]}")
        lines.append("".join(parts) + _sgr(0))
    return lines


def _attributes(rng: random.Random, cols: int, rows: int) -> list[str]:
    names = [("bold", (1,)), ("italic", (3,)), ("underline", (4,)), ("inverse", (7,)),
             ("strike", (9,)), ("bold italic", (1, 3)), ("bold underline", (1, 4)),
             ("italic underline", (3, 4)), ("inverse bold", (7, 1))]
    words = ["status", "error", "warning", "ok", "deployed", "failed", "passed", "skipped",
             "building", "cached"]
    lines = []
    for r in range(rows - 1):
        parts, used = [], 0
        while used < cols - 20:
            label, codes = rng.choice(names)
            colour = rng.choice([(), (31,), (32,), (33,), (34,), (35,), (36,), (91,), (38, 5, 208)])
            word = f"{label}:{rng.choice(words)}"
            parts.append(f"{_sgr(*codes, *colour)}{word}{_sgr(0)} ")
            used += len(word) + 1
        lines.append("".join(parts) if r % 4 else f"{_sgr(1, 4)}Attributes {r // 4}{_sgr(0)}")
    return lines


def _box(rng: random.Random, cols: int, rows: int) -> list[str]:
    kind = rng.choice(list(BOX_SETS))
    tl, tr, bl, br, h, v, lt, rt, tt, bt, x = list(BOX_SETS[kind])
    widths = [rng.randint(6, 14) for _ in range(rng.randint(3, 5))]
    while sum(widths) + len(widths) + 1 > cols:
        widths.pop()
    words = ["name", "size", "owner", "mode", "date", "alpha", "beta", "gamma", "delta", "42",
             "1.5K", "root", "rw-r", "2024"]

    def rule(a: str, m: str, b: str) -> str:
        return a + m.join(h * w for w in widths) + b

    lines = [f"{_sgr(1)}{kind} table{_sgr(0)}", rule(tl, tt, tr)]
    for r in range(rng.randint(4, 7)):
        cells = [rng.choice(words)[:w].ljust(w) for w in widths]
        lines.append(v + v.join(cells) + v)
        if r == 0:
            lines.append(rule(lt, x, rt))
    lines.append(rule(bl, bt, br))
    lines += ["", "├── src", "│   ├── main.py", "│   └── util.py", "└── docs"]
    bars = []
    for _ in range(3):
        n = rng.randint(0, 24)
        bars.append("[" + "█" * n + rng.choice("▏▎▍▌▋▊▉") + " " * (24 - n) + f"] {n * 4}%")
    lines += bars + ["".join(rng.choice(BLOCKS) for _ in range(min(cols, 60)))]
    return lines[: rows - 1]


def _cjk(rng: random.Random, cols: int, rows: int) -> list[str]:
    lines = []
    for r in range(rows - 1):
        text = "".join(rng.choice(CJK) for _ in range(rng.randint(3, 30)))
        prefix = rng.choice(["", f"{r:02d} ", "- ", "file_", "\x1b[36m"])
        lines.append(_fit(prefix + text, cols - 1) + _sgr(0))
    return lines


def _emoji(rng: random.Random, cols: int, rows: int) -> list[str]:
    lines = []
    for r in range(rows - 1):
        parts = []
        for _ in range(rng.randint(2, 10)):
            parts.append(rng.choice(EMOJI) + " " + rng.choice(["ok", "done", "build", "test", ""]))
        lines.append(_fit(f"{r:2d} " + " ".join(parts), cols - 1))
    return lines


def _powerline(rng: random.Random, cols: int, rows: int) -> list[str]:
    lines = []
    for _ in range(rows - 1):
        segs = rng.sample([("user", 4), ("~/src/hybrid-nc", 2), ("\ue0a0 main", 5), ("py3.11", 3),
                           ("12:04", 6), ("\u2718 1", 1)], k=rng.randint(2, 5))
        out = ""
        for i, (text, colour) in enumerate(segs):
            nxt = segs[i + 1][1] if i + 1 < len(segs) else None
            out += f"{_sgr(30, 40 + colour)} {text} "
            out += (f"{_sgr(30 + colour, 40 + nxt)}\ue0b0" if nxt is not None
                    else f"{_sgr(0, 30 + colour)}\ue0b0{_sgr(0)}")
        lines.append(out + " $ " + rng.choice(["ls", "git status", "make test", ""]))
    return lines


def _symbols(rng: random.Random, cols: int, rows: int) -> list[str]:
    lines = []
    for _ in range(rows - 1):
        # a combining sequence is one unit (base + mark), never a mark on its own
        parts = [rng.choice(COMBINING) if rng.random() < 0.1 else rng.choice(SYMBOLS)
                 for _ in range(rng.randint(5, cols // 2))]
        lines.append(_fit(" ".join(parts) if rng.random() < 0.5 else "".join(parts), cols - 1))
    return lines


def _mixed(rng: random.Random, cols: int, rows: int) -> list[str]:
    makers = [_box, _cjk, _emoji, _symbols, _palette16, _attributes]
    lines: list[str] = []
    while len(lines) < rows - 1:
        chunk = rng.choice(makers)(rng, cols, rng.randint(3, 7))
        lines += chunk
    return lines[: rows - 1]


GENERATORS: dict[str, tuple[str, Callable[[random.Random, int, int], list[str]]]] = {
    "colors:palette16": ("colors", _palette16), "colors:palette256": ("colors", _palette256),
    "colors:truecolor": ("colors", _truecolor), "colors:attributes": ("colors", _attributes),
    "unicode:box": ("unicode", _box), "unicode:cjk": ("unicode", _cjk),
    "unicode:emoji": ("unicode", _emoji), "unicode:powerline": ("unicode", _powerline),
    "unicode:symbols": ("unicode", _symbols), "unicode:mixed": ("unicode", _mixed),
}
VARIANTS, SCREENS_PER_VARIANT = 4, 3


def generated_sources(cols: int = 80, rows: int = 24) -> list[Source]:
    """Colour tables, attributes and Unicode screens: families x variants (a seeded RNG each)."""
    sources = []
    for family, (category, gen) in GENERATORS.items():
        for v in range(VARIANTS):
            def make(family: str = family, gen=gen, v: int = v  # noqa: ANN001
                     ) -> Iterator[tuple[bytes, int, int]]:
                rng = random.Random(f"{family}/{v}")
                for _ in range(SCREENS_PER_VARIANT):
                    yield _screen(gen(rng, cols, rows)), cols, rows
            sources.append(Source(f"{family}/{v}", category, make))
    return sources


def all_sources(shared_data: Path | None) -> list[Source]:
    """Every source, in a fixed order; recordings and suites only when `shared_data` exists."""
    sources = generated_sources() + program_sources()
    if shared_data is not None and shared_data.is_dir():
        sources = cast_sources(shared_data / "casts") + conformance_sources(
            shared_data / "conformance") + sources
    return sources

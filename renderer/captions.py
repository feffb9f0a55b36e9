"""Captions: what a renderer is told the next frame must show, in words.

Four tiers, as in the paper's caption ablation and its pure neural computer:

* **detailed** — the literal text of every changed row with its colours and attributes, the cursor,
  the screen size and theme: enough to draw the frame exactly. This is the reprompting caption.
* **regular** — the literal text of the changed rows, no colours, attributes or cursor.
* **semantic** — what happened, not what is shown ("the user ran `ls` in the shell").
* **native** — the detailed caption of only the rows the user's own action wrote: rows that a
  program or a reasoner wrote are `withheld`, so the renderer has to draw them on its own.

The same facts come in two forms: "plain" (a line per row, for the report and the trace) and
"prose" (sentences a video model's text encoder knows: Wan's prompt). Which form and tier a
renderer is conditioned on is the renderer's business (`renderer.base.Renderer.caption`); a neural
model turns its tier into cell tokens (`renderer.neural.CellCaptioner`), a Wan model reads the
prose, the rasterizer reads nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from terminal.screen import ATTR_NAMES, DEFAULT, TRUECOLOR, ScreenState, color_to_json
from terminal.themes import Theme, get_theme, xterm_256

Tier = Literal["semantic", "regular", "detailed", "native"]
TIERS: tuple[Tier, ...] = ("semantic", "regular", "detailed", "native")
Form = Literal["plain", "prose"]
CursorWord = Literal["block", "underline", "bar", "hollow", "none"]  # as the rasterizer draws
MAX_PROMPT_ROWS = 200  # long screens are captioned in full; this only bounds pathological sizes


@dataclass
class Caption:
    """A caption of one frame: `text` is what a text-conditioned renderer reads (and what the
    report shows); `rows` the rows it covers; `withheld` the changed rows it keeps back (native
    tier); `action` what caused the frame; `form` "plain" or "prose"."""

    tier: Tier
    text: str
    rows: list[int] = field(default_factory=list)
    action: str = ""
    withheld: list[int] = field(default_factory=list)
    form: Form = "plain"

    def __str__(self) -> str:
        return self.text


def check_tier(tier: str) -> Tier:
    """`tier` if it is one of TIERS, else a one-line ValueError."""
    if tier not in TIERS:
        raise ValueError(f"unknown caption tier {tier!r} (choose from {', '.join(TIERS)})")
    return tier  # type: ignore[return-value]


def typed_action(action: Any) -> bool:
    """True for an action that is one typed character (its echo is the user's own doing)."""
    return isinstance(action, str) and len(action) == 1 and action.isprintable()


def native_withheld(before: ScreenState | None, screen: ScreenState, action: Any) -> list[int]:
    """The rows a native caption keeps back: rows that changed since `before` (the previous
    frame's screen) for a reason other than one typed character, except a row holding the typed
    line itself (the user's action, which the pure neural computer is given). The first frame
    (no `before`) keeps every row: it is the image a video model starts from."""
    if before is None or typed_action(action):
        return []
    line = action.strip() if isinstance(action, str) else ""
    out = []
    for r in range(screen.rows):
        same = before.cols == screen.cols and r < before.rows and screen.same_cells(before, r)
        if not same and not (line and line in screen.line(r)):
            out.append(r)
    return out


def _rows(screen: ScreenState, damage: Iterable[int] | None) -> list[int]:
    return sorted(set(damage) if damage is not None else range(screen.rows))[:MAX_PROMPT_ROWS]


# -- plain form ------------------------------------------------------------------------------
def _style_runs(screen: ScreenState, row: int) -> list[str]:
    """Human-readable style runs of a row: 'cols 0-4 fg=1 bold'."""
    out: list[str] = []
    for start, end, key in screen.style_runs(row):
        parts = [f"cols {start}-{end - 1}"]
        if key[0] != DEFAULT:
            parts.append(f"fg={color_to_json(key[0])}")
        if key[1] != DEFAULT:
            parts.append(f"bg={color_to_json(key[1])}")
        parts += [name for name, bit in ATTR_NAMES.items() if key[2] & bit]
        out.append(" ".join(parts))
    return out


def detailed_caption(screen: ScreenState, damage: Iterable[int] | None = None, action: str = "",
                     theme: str | None = "dark") -> Caption:
    """Every changed row verbatim with styles, the cursor and the geometry (`theme`: its name,
    None when the caller does not know it)."""
    rows = _rows(screen, damage)
    cur_r, cur_c = screen.cursor
    shown = f", theme {theme}" if theme is not None else ""
    head = (f"Terminal {screen.cols}x{screen.rows}{shown}, monospace 8x16 cells. "
            f"Cursor {'visible' if screen.cursor_visible else 'hidden'} at row {cur_r}, "
            f"col {cur_c}.")
    if screen.pointer is not None:
        p = screen.pointer
        head += f" Mouse pointer {p.shape} with its hotspot at pixel x={p.x}, y={p.y}."
    if action:
        head += f" Action: {action!r}."
    lines = [head]
    for r in rows:
        text = screen.line(r).rstrip()
        styles = _style_runs(screen, r)
        line = f"Row {r}: {text!r}"
        if styles:
            line += " [" + "; ".join(styles) + "]"
        lines.append(line)
    if len(rows) < screen.rows:
        lines.append(f"All other rows unchanged ({screen.rows - len(rows)}).")
    return Caption("detailed", "\n".join(lines), rows, action)


def regular_caption(screen: ScreenState, damage: Iterable[int] | None = None,
                    action: str = "") -> Caption:
    """The changed rows' text only."""
    rows = _rows(screen, damage)
    body = "\n".join(screen.line(r).rstrip() for r in rows)
    return Caption("regular", f"A terminal showing:\n{body}", rows, action)


def semantic_caption(action: str = "", route: str | None = None, rows: Iterable[int] = ()) -> Caption:
    """What happened, in words, without the screen's text."""
    if not action:
        text = "A terminal waiting at a prompt."
    elif route in ("sympy", "llm"):
        text = f"The user asked the {route} reasoner: {action!r}, and the answer is shown."
    elif route == "shell":
        text = f"The user ran the shell command {action!r} and its output is shown."
    else:
        text = f"The user pressed {action!r} in the terminal."
    return Caption("semantic", text, list(rows), action)


# -- prose form (a video model's prompt) ---------------------------------------------
_BASE_NAMES = ("black", "red", "green", "yellow", "blue", "magenta", "cyan", "white")
_PALETTE_NAMES = (*_BASE_NAMES, "grey", *(f"bright {n}" for n in _BASE_NAMES[1:7]), "bright white")
# A handful of everyday colour words; a colour is described by the nearest one (and its hex code).
_COLOUR_WORDS: tuple[tuple[str, tuple[int, int, int]], ...] = (
    ("black", (0, 0, 0)), ("near-black", (24, 24, 24)), ("dark grey", (80, 80, 80)),
    ("grey", (128, 128, 128)), ("light grey", (200, 200, 200)), ("white", (255, 255, 255)),
    ("red", (205, 0, 0)), ("orange", (255, 135, 0)), ("yellow", (230, 220, 0)),
    ("green", (0, 180, 0)), ("cyan", (0, 200, 200)), ("blue", (40, 80, 230)),
    ("magenta", (200, 0, 200)), ("purple", (120, 60, 160)), ("brown", (130, 80, 30)),
    ("dark blue", (0, 30, 70)), ("cream", (250, 245, 225)),
)


def _colour_word(rgb: Iterable[int]) -> str:
    r, g, b = (int(v) for v in rgb)
    return min(_COLOUR_WORDS, key=lambda item: (item[1][0] - r) ** 2 + (item[1][1] - g) ** 2
               + (item[1][2] - b) ** 2)[0]


def colour_name(code: int) -> str:
    """Words for a screen colour code: palette names for 0-15, nearest word + hex otherwise."""
    if code == DEFAULT:
        return "default"
    if code & TRUECOLOR:
        v = code & 0xFFFFFF
        rgb = ((v >> 16) & 255, (v >> 8) & 255, v & 255)
        return f"{_colour_word(rgb)} (#{v:06x})"
    if 0 <= code < 16:
        return _PALETTE_NAMES[code]
    rgb = xterm_256()[code - 16]
    return f"{_colour_word(rgb)} (xterm colour {code})"


def _style_words(fg: int, bg: int, attrs: int) -> str:
    words = [name for name, bit in ATTR_NAMES.items() if attrs & bit and name != "blink"]
    if attrs & ATTR_NAMES["blink"]:
        words.append("blinking")
    if fg != DEFAULT:
        words.append(colour_name(fg))
    text = " ".join(words) if words else "default-coloured"
    if bg != DEFAULT:
        text += f" on a {colour_name(bg)} background"
    return text


def _styled_runs(screen: ScreenState, row: int) -> list[str]:
    """'"error" in bold red' for every run of non-default styling that holds visible text or a
    coloured background."""
    out: list[str] = []
    for start, end, key in screen.style_runs(row):
        text = "".join(screen.chars[row][start:end])
        if text.strip():
            out.append(f'"{text.strip()}" in {_style_words(*key)}')
        elif key[1] != DEFAULT or key[2] & ATTR_NAMES["inverse"]:
            out.append(f"columns {start + 1}-{end} are a {_style_words(*key)} bar")
    return out


def _ranges(rows: Iterable[int]) -> str:
    """'3, 5-9' (1-based) for 0-based rows [2, 4, 5, 6, 7, 8]."""
    runs: list[list[int]] = []
    for r in sorted(rows):
        if runs and runs[-1][1] == r - 1:
            runs[-1][1] = r
        else:
            runs.append([r, r])
    return ", ".join(f"{a + 1}" if a == b else f"{a + 1}-{b + 1}" for a, b in runs)


def _scene(screen: ScreenState, theme: Theme) -> str:
    tone = "dark" if sum(theme.bg) < 3 * 128 else "light"
    return (f"A static screen recording of a computer terminal in a {tone} theme: "
            f"{_colour_word(theme.fg)} monospace text on a {_colour_word(theme.bg)} background, "
            f"{screen.cols} columns by {screen.rows} lines, crisp pixel-aligned characters, "
            f"fixed camera, no motion.")


def detailed_prompt(screen: ScreenState, damage: Iterable[int] | None = None, *, action: str = "",
                    theme: str | Theme = "dark", cursor: CursorWord = "block") -> str:
    """The reprompting caption as a text prompt: the literal text of every row (`damage=None`) or
    of the changed rows plus a summary of the rest, with colours, attributes and the cursor.

    Lines and columns are numbered from 1 at the top left, as a person would read them. Wan's
    pipeline collapses whitespace runs in prompts, so a line's indentation is stated in words.
    """
    th = get_theme(theme)
    rows = (sorted({r for r in damage if 0 <= r < screen.rows}) if damage is not None
            else list(range(screen.rows)))
    parts = [_scene(screen, th)]
    if action:
        parts.append(f"The user just entered {action!r}.")
    if damage is not None and len(rows) < screen.rows:
        if rows:
            parts.append(f"Only line{'s' if len(rows) > 1 else ''} {_ranges(rows)} change; "
                         f"every other line stays exactly as in the previous frame.")
        else:
            parts.append("No line changes; every line stays exactly as in the previous frame.")
    blank: list[int] = []
    for r in rows:
        text = screen.line(r).rstrip()
        runs = _styled_runs(screen, r)
        if not text.strip() and not runs:
            blank.append(r)
            continue
        indent = len(text) - len(text.lstrip(" "))
        desc = f'Line {r + 1} reads "{text.strip()}"'
        if indent:
            desc += f", indented {indent} columns"
        if runs:
            desc += ", with " + ", ".join(runs)
        parts.append(desc + ".")
    if blank:
        parts.append(f"Line{'s' if len(blank) > 1 else ''} {_ranges(blank)} "
                     f"{'are' if len(blank) > 1 else 'is'} empty.")
    cr, cc = screen.cursor
    if screen.cursor_visible and cursor != "none":
        under = screen.chars[cr][cc] if 0 <= cr < screen.rows and 0 <= cc < screen.cols else " "
        where = f"on the character {under!r}" if under.strip() else "on an empty cell"
        parts.append(f"A {cursor} cursor sits at line {cr + 1}, column {cc + 1}, {where}.")
    else:
        parts.append("The cursor is hidden.")
    if screen.pointer is not None:
        p = screen.pointer
        sprite = "white arrow pointer with a black outline, its tip" if p.shape == "arrow" \
            else "white I-beam text pointer with a black outline, its centre"
        parts.append(f"A {sprite} at pixel x={p.x}, y={p.y}.")
    if screen.title:
        parts.append(f"The window title is {screen.title!r}.")
    return " ".join(parts)


def semantic_prompt(action: str = "", route: str | None = None, *, screen: ScreenState | None = None,
                    theme: str | Theme = "dark") -> str:
    """What happened, in words, without the screen's text: the caption ablation's weakest tier."""
    th = get_theme(theme)
    scene = (_scene(screen, th) if screen is not None else
             f"A static screen recording of a computer terminal with "
             f"{_colour_word(th.fg)} text on a {_colour_word(th.bg)} background, fixed camera.")
    if not action:
        what = "The terminal waits at a prompt."
    elif route in ("sympy", "llm"):
        what = f"The user asks a question ({action!r}) and the answer appears below it."
    elif route == "shell":
        what = f"The user runs the shell command {action!r} and its output appears."
    else:
        what = f"The user types {action!r}."
    return f"{scene} {what}"




# -- one entry point -------------------------------------------------------------------------
def make_caption(tier: Tier, screen: ScreenState, damage: Iterable[int] | None, action: str = "",
                 route: str | None = None, theme: str | Theme | None = "dark", *,
                 withheld: Iterable[int] = (), form: Form = "plain",
                 cursor: CursorWord = "block") -> Caption:
    """A caption of the given tier and form.

    damage: the changed rows (None: every row); route: the reasoner that answered (the semantic
    tier says so); theme: a name or Theme (None: unknown, left out of the plain form);
    withheld: rows the native tier keeps back; cursor: the cursor style the prose describes.
    """
    check_tier(tier)
    act = "" if action is None else str(action)
    held = sorted(set(withheld)) if tier == "native" else []
    if held:
        damage = [r for r in (range(screen.rows) if damage is None else damage) if r not in held]
    name = theme.name if isinstance(theme, Theme) else theme
    if tier in ("detailed", "native"):
        if form == "prose":
            text = detailed_prompt(screen, damage, action=act, theme=theme or "dark", cursor=cursor)
            return Caption(tier, text, _rows(screen, damage), act, held, form)
        cap = detailed_caption(screen, damage, act, name)
    elif tier == "regular":
        cap = regular_caption(screen, damage, act)
    elif form == "prose":
        text = semantic_prompt(act, route, screen=screen, theme=theme or "dark")
        return Caption(tier, text, _rows(screen, damage or ()), act, [], form)
    else:
        cap = semantic_caption(act, route, damage or ())
    cap.tier, cap.withheld, cap.form = tier, held, form
    return cap


def caption_text(caption: Any) -> str | None:
    """The text of a caption: a str, or a Caption (any object with a `.text` str); None for
    anything else (e.g. cell tokens)."""
    if isinstance(caption, str):
        return caption if caption.strip() else None
    text = getattr(caption, "text", None)
    return text if isinstance(text, str) and text.strip() else None

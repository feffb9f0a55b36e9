"""Captions: what the orchestrator tells the renderer the next frame must show.

Three tiers, as in the paper's caption ablation:

* **detailed** — the literal text of every changed row with its colours and attributes, the cursor,
  the screen size and theme: enough to draw the frame exactly. This is the reprompting caption.
  Our own renderer is conditioned on the same facts as cell-aligned tokens taken from the screen;
  a Wan-style model gets `Caption.text` as its prompt.
* **regular** — the literal text of the changed rows, no colours, attributes or cursor.
* **semantic** — what happened, not what is shown ("the user ran `ls` in the shell").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from terminal.screen import ATTR_NAMES, DEFAULT, ScreenState, color_to_json

Tier = Literal["semantic", "regular", "detailed"]
TIERS: tuple[Tier, ...] = ("semantic", "regular", "detailed")
MAX_PROMPT_ROWS = 200  # long screens are captioned in full; this only bounds pathological sizes


@dataclass
class Caption:
    """A caption of one frame: `text` is what a text-conditioned renderer reads; `rows` the rows it
    covers; `action` what caused the frame."""

    tier: Tier
    text: str
    rows: list[int] = field(default_factory=list)
    action: str = ""

    def __str__(self) -> str:
        return self.text


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
                     theme: str = "dark") -> Caption:
    """Every changed row verbatim with styles, the cursor and the geometry."""
    rows = sorted(set(damage) if damage is not None else range(screen.rows))[:MAX_PROMPT_ROWS]
    cur_r, cur_c = screen.cursor
    head = (f"Terminal {screen.cols}x{screen.rows}, theme {theme}, monospace 8x16 cells. "
            f"Cursor {'visible' if screen.cursor_visible else 'hidden'} at row {cur_r}, "
            f"col {cur_c}.")
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
    rows = sorted(set(damage) if damage is not None else range(screen.rows))[:MAX_PROMPT_ROWS]
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


def make_caption(tier: Tier, screen: ScreenState, damage: Iterable[int] | None, action: str = "",
                 route: str | None = None, theme: str = "dark") -> Caption:
    """A caption of the given tier."""
    if tier == "detailed":
        return detailed_caption(screen, damage, action, theme)
    if tier == "regular":
        return regular_caption(screen, damage, action)
    if tier == "semantic":
        return semantic_caption(action, route, damage or ())
    raise ValueError(f"unknown caption tier {tier!r} (choose from {', '.join(TIERS)})")

"""Progress bars and summary tables for the commands, drawn with rich on stderr.

Only a person watching a terminal gets them: when stderr is not a TTY (a pipe, a log file, CI)
there are no bars, no colours and no cursor codes, and a table is plain text, so logs and
scripts read the same lines as before. Results stay on stdout; everything here goes to stderr.

    with bar("replay", total=len(times), unit="frame") as advance:
        for t in times:
            ...
            advance()
    for item in track(items, "ocr", total=len(items)):
        ...
    summary("demo", ["step", "route", "raw"], rows)
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TextIO

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text


def interactive(stream: TextIO | None = None) -> bool:
    """Whether `stream` (default stderr) is a terminal a person watches: a TTY, and not a
    dumb one. NO_COLOR still gets bars, without colour (rich honours it)."""
    stream = sys.stderr if stream is None else stream
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):  # closed or not a real file
        return False
    return bool(tty) and os.environ.get("TERM") != "dumb"


def console(stream: TextIO | None = None) -> Console:
    """A rich console on `stream` (default stderr, looked up now: tests and the CLI swap it):
    colours and live display on a terminal, plain text anywhere else."""
    stream = sys.stderr if stream is None else stream
    if interactive(stream):
        return Console(file=stream, stderr=stream is sys.stderr)
    # a pipe or a file: plain lines, wide enough that a table does not wrap
    return Console(file=stream, force_terminal=False, no_color=True, color_system=None,
                   width=max(100, Console(file=stream).width), highlight=False)


@contextlib.contextmanager
def bar(description: str, total: float | None = None, *, unit: str = "item",
        quiet: bool = False, stream: TextIO | None = None) -> Iterator[Callable[..., None]]:
    """A progress bar while the block runs; yields `advance(n=1, **fields)`, where a field
    (e.g. loss="0.012") is shown after the bar. Draws nothing when quiet or not on a TTY."""
    if quiet or not interactive(stream):
        yield lambda n=1, **fields: None
        return
    progress = Progress(
        SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(),
        MofNCompleteColumn(), TextColumn(unit + "s"), TimeElapsedColumn(),
        TextColumn("eta"), TimeRemainingColumn(), TextColumn("{task.fields[info]}"),
        console=console(stream), transient=True)  # prints inside show above the bar
    with progress:
        task = progress.add_task(escape(description), total=total, info="")

        def advance(n: float = 1, **fields: Any) -> None:
            info = "  ".join(f"{k}={v}" for k, v in fields.items())
            if fields:
                progress.update(task, advance=n, info=escape(info))
            else:
                progress.update(task, advance=n)

        yield advance


def track(items: Iterable[Any], description: str, *, total: int | None = None,
          unit: str = "item", quiet: bool = False) -> Iterator[Any]:
    """`items`, with a progress bar while they are consumed (see `bar`)."""
    if total is None and isinstance(items, Sequence):
        total = len(items)
    with bar(description, total, unit=unit, quiet=quiet) as advance:
        for item in items:
            yield item
            advance()


def summary(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]], *,
            stream: TextIO | None = None, caption: str | None = None) -> None:
    """Print a table on stderr: boxed and coloured on a terminal, plain aligned text
    otherwise. Numbers are right-aligned."""
    raw = [list(row) for row in rows]
    plain = not interactive(stream)
    table = Table(title=title, caption=caption, show_edge=not plain,
                  box=None if plain else _box(), header_style="" if plain else "bold",
                  title_style="" if plain else "bold", pad_edge=False,
                  min_width=len(title) + 4, title_justify="left")
    for i, name in enumerate(columns):
        values = [r[i] for r in raw if i < len(r) and r[i] is not None]
        numeric = bool(values) and all(_is_number(v) for v in values)
        table.add_column(name, justify="right" if numeric else "left", overflow="fold")
    for row in raw:
        # Text, not markup: a "[" in a command line is the user's, not a style
        table.add_row(*(Text(_cell(v)) for v in row))
    console(stream).print(table)


def _box() -> Any:
    from rich import box

    return box.SIMPLE_HEAD


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 10 else f"{value:.0f}"
    return str(value)


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


__all__ = ["bar", "console", "interactive", "summary", "track"]

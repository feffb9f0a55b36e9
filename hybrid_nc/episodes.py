"""Terminal sessions as a Hugging Face `datasets` dataset: one row per frame.

    from hybrid_nc.episodes import cast_frames, session_frames, write_episodes
    write_episodes(cast_frames("session.cast"), "out/")          # from a recording
    with Session(renderer="raster") as s:                         # from a live session
        s.run("ls"); s.run("98+45")
        write_episodes(session_frames(s), "out/")
    datasets.load_from_disk("out/")                               # reads either back

Columns (`FEATURES`), named as the capture dataset (renderer/capture/pipeline.py: image, screen,
source, cols, rows) and the renderer's training rows (renderer/training/dataset.py: action, theme,
source) name theirs, so one loader reads all three:

    episode   the recording's or session's name          index    the frame's number in it
    time      seconds from the episode's start           action   what the user did to get here
    route     the reasoner that answered ("" if none)    caption  the detailed caption
    screen    the exact screen as SCREEN.json text       image    the frame the renderer drew
    source    where the episode came from                theme    a theme name or its JSON
    cols, rows  the terminal size

`training_records` turns such rows into the renderer's training records (the changed rows of each
frame with the same rows of the frame before).
"""

from __future__ import annotations

import io
import json
import os
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from terminal.screen import ScreenState
from terminal.themes import Theme, get_theme

COLUMNS = ("episode", "index", "time", "action", "route", "caption", "screen", "image", "source",
           "theme", "cols", "rows")


def features() -> Any:
    """The dataset's `datasets.Features`."""
    from datasets import Features, Value
    from datasets import Image as HFImage

    return Features({
        "episode": Value("string"), "index": Value("int32"), "time": Value("float64"),
        "action": Value("string"), "route": Value("string"), "caption": Value("string"),
        "screen": Value("string"), "image": HFImage(), "source": Value("string"),
        "theme": Value("string"), "cols": Value("int32"), "rows": Value("int32"),
    })


def _png(frame: np.ndarray) -> dict[str, Any]:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.asarray(frame, np.uint8)).save(buf, format="PNG", compress_level=6)
    return {"bytes": buf.getvalue(), "path": None}


def _theme_text(theme: str | Theme) -> str:
    from renderer.training.synthetic import theme_to_json

    return theme_to_json(theme if isinstance(theme, Theme) else get_theme(theme))


def frame_row(*, episode: str, index: int, time: float, action: str, route: str | None,
              caption: str, screen: ScreenState, frame: np.ndarray, source: str,
              theme: str | Theme) -> dict[str, Any]:
    """One dataset row."""
    return {"episode": episode, "index": int(index), "time": float(time), "action": action,
            "route": route or "", "caption": caption,
            "screen": json.dumps(screen.to_json(), ensure_ascii=False), "image": _png(frame),
            "source": source, "theme": _theme_text(theme), "cols": screen.cols,
            "rows": screen.rows}


# -- sources -----------------------------------------------------------------------------------
def cast_frames(path: str | os.PathLike[str], *, renderer: Any = None, theme: str | None = None,
                idle_time_limit: float | None = None, max_frames: int | None = None,
                warn: Any = None) -> Iterator[dict[str, Any]]:
    """Rows of a recording: a frame at each moment the screen changes, drawn by `renderer`
    (default: the reference rasterizer in the recording's theme). The action of a frame is the
    input typed since the previous one (recordings without input events have none). A recording
    cut off mid-event gives its complete events, and `warn` gets the one-line reason."""
    from renderer.captions import make_caption
    from terminal.recording import Replay, read_cast

    cast = read_cast(path, idle_time_limit=idle_time_limit)
    if cast.unreadable and warn is not None:
        warn(cast.unreadable)
    used_theme: str | Theme = theme or cast.theme or "dark"
    if renderer is None:
        from renderer.raster import RasterRenderer

        renderer = RasterRenderer(theme=used_theme)
    name = Path(path).stem
    replay = Replay(cast)
    events = cast.events
    typed: list[str] = []
    moments = sorted({e.time for e in events if e.code in "or"} | {0.0})
    count = 0
    k = 0  # the next event whose input has not been collected
    for t in moments:
        while k < len(events) and events[k].time <= t:
            if events[k].code == "i":
                typed.append(events[k].data)
            k += 1
        shot = replay.frame(t)
        if count and not shot.damage and not shot.resized:
            continue  # nothing visible changed
        damage = None if (count == 0 or shot.resized) else sorted(shot.damage)
        action = "".join(typed)
        frame = renderer.render(shot.screen, damage=damage, action=action or None).frame
        caption = make_caption("detailed", shot.screen, damage, action, None, used_theme)
        yield frame_row(episode=name, index=count, time=t, action=action, route=None,
                        caption=caption.text, screen=shot.screen, frame=frame,
                        source=str(path), theme=used_theme)
        typed = []
        count += 1
        if max_frames is not None and count >= max_frames:
            return


def session_frames(session: Any, *, episode: str = "session",
                   source: str = "session") -> Iterator[dict[str, Any]]:
    """Rows of the steps a live `Session` still holds (its latest steps, frames included).
    Steps carry no wall-clock stamp, so `time` is the seconds of work the steps took."""
    theme = session.config.theme
    elapsed = 0.0
    for step in session.steps:
        elapsed += sum(step.timings.values()) / 1000.0
        yield frame_row(episode=episode, index=step.index, time=elapsed, action=step.action,
                        route=step.route, caption=step.caption.text, screen=step.screen,
                        frame=step.frame_array, source=source, theme=theme)


# -- writing and reading -----------------------------------------------------------------------
def write_episodes(rows: Iterable[dict[str, Any]], out: str | os.PathLike[str]) -> Any:
    """Write rows as a dataset that `datasets.load_from_disk(out)` reads; returns the Dataset.
    An existing dataset at `out` is replaced; any other non-empty folder is refused."""
    from datasets import Dataset

    out = Path(out)
    if out.exists() and (not out.is_dir() or (any(out.iterdir())
                                              and not (out / "dataset_info.json").is_file())):
        raise FileExistsError(f"{out} exists and is not a dataset: choose an empty folder")
    columns: dict[str, list[Any]] = {c: [] for c in COLUMNS}
    for row in rows:
        for c in COLUMNS:
            columns[c].append(row[c])
    if not columns["episode"]:
        raise ValueError("nothing to export: no frames")
    dataset = Dataset.from_dict(columns, features=features())
    tmp = out.with_name(out.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    try:
        dataset.save_to_disk(str(tmp))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if out.exists():
        shutil.rmtree(out)
    tmp.replace(out)
    return dataset


def training_records(rows: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """The renderer's training records (renderer/training/dataset.py) of dataset rows: each
    frame's changed rows, with the same rows of the episode's previous frame."""
    from renderer.training.dataset import screen_records
    from renderer.training.synthetic import theme_from_json

    prev: ScreenState | None = None
    episode = None
    for row in rows:
        screen = ScreenState.from_json(row["screen"])
        if row["episode"] != episode:
            prev, episode = None, row["episode"]
        if prev is None or (prev.cols, prev.rows) != (screen.cols, screen.rows):
            changed = list(range(screen.rows))
        else:
            changed = [r for r in range(screen.rows) if not screen.same_cells(prev, r)]
        yield from screen_records(prev, screen, changed, row["action"],
                                  theme_from_json(row["theme"]), row["source"])
        prev = screen


__all__ = ["COLUMNS", "cast_frames", "features", "frame_row", "session_frames",
           "training_records", "write_episodes"]

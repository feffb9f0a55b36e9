"""Asciicast recordings: v1/v2/v3 reading, the idle limit, the v2 writer, replay, bad input, and
every real recording in ../shared/data/casts replayed and read back by the cell-grid OCR."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from shared_material import SHARED_DATA  # noqa: E402

from terminal.recording import (
    Cast,
    CastError,
    CastWriter,
    Event,
    Replay,
    parse_cast,
    read_cast,
    screen_at,
    write_cast,
)
from terminal.themes import Theme

CASTS = sorted((SHARED_DATA / "casts").glob("*.cast"))
HELLO = SHARED_DATA / "casts" / "r-lib__asciicast__inst__examples__hello.cast"


def v2(*events: list, **header: object) -> str:
    head = {"version": 2, "width": 20, "height": 4, **header}
    return "\n".join([json.dumps(head)] + [json.dumps(e) for e in events]) + "\n"


# -- the three versions ------------------------------------------------------------------
def test_v2_events_and_codes() -> None:
    cast = parse_cast(v2([0.5, "o", "hi"], [1.0, "i", "x"], [1.5, "m", "chapter"],
                         [2.0, "r", "30x5"], [2.5, "x", "0"], [3.0, "rlib", "ignored"]))
    assert cast.version == 2 and (cast.cols, cast.rows) == (20, 4)
    assert [e.code for e in cast.events] == ["o", "i", "m", "r", "x"]
    assert cast.ignored_events == 1 and cast.duration == 2.5
    assert cast.sizes() == [(20, 4), (30, 5)]


def test_v1_delays_become_times() -> None:
    v1 = {"version": 1, "width": 10, "height": 3, "duration": 1.5,
          "stdout": [[0.25, "a"], [1.0, "b\r\n"], [0.25, "c"]]}
    cast = parse_cast(json.dumps(v1, indent=2))  # v1 is often pretty-printed
    assert cast.version == 1 and [e.time for e in cast.events] == [0.25, 1.25, 1.5]
    assert screen_at(cast).text.splitlines()[:2] == ["ab", "c"]


def test_v3_intervals_comments_and_theme() -> None:
    theme = {"fg": "#d0d0d0", "bg": "#212121", "palette": ":".join(["#101010"] * 16)}
    text = "\n".join([
        json.dumps({"version": 3, "term": {"cols": 12, "rows": 3, "theme": theme}}),
        "# a comment",
        json.dumps([0.5, "o", "one "]),
        json.dumps([0.25, "r", "14x3"]),
        json.dumps([1.0, "o", "two"]),
        json.dumps([0.5, "x", "0"]),
    ])
    cast = parse_cast(text)
    assert [e.time for e in cast.events] == [0.5, 0.75, 1.75, 2.25]
    assert isinstance(cast.theme, Theme) and cast.theme.bg == (0x21, 0x21, 0x21)
    s = screen_at(cast)
    assert (s.cols, s.rows) == (14, 3) and s.lines[0].rstrip() == "one two"


def test_the_three_versions_of_one_real_recording_agree(tmp_path: Path, shared_data: Path) -> None:
    cast = read_cast(HELLO)
    ev = cast.events
    v1 = {"version": 1, "width": cast.cols, "height": cast.rows,
          "stdout": [[e.time - (ev[i - 1].time if i else 0), e.data]
                     for i, e in enumerate(ev) if e.code == "o"]}
    lines = [json.dumps({"version": 3, "term": {"cols": cast.cols, "rows": cast.rows}})]
    lines += [json.dumps([e.time - (ev[i - 1].time if i else 0), e.code, e.data])
              for i, e in enumerate(ev)]
    end = screen_at(cast)
    assert end.text.strip(), "the recording shows something"
    for other in (parse_cast(json.dumps(v1)), parse_cast("\n".join(lines))):
        assert screen_at(other).lines == end.lines
        assert other.duration == pytest.approx(cast.duration)


def test_idle_time_limit_caps_pauses() -> None:
    text = v2([1.0, "o", "a"], [11.0, "o", "b"], [11.5, "o", "c"], idle_time_limit=2)
    assert [e.time for e in parse_cast(text).events] == [1.0, 3.0, 3.5]
    capped = parse_cast(text, idle_time_limit=0.5)  # a parameter overrides the header
    assert [e.time for e in capped.events] == [0.5, 1.0, 1.5]
    assert [e.time for e in parse_cast(v2([1.0, "o", "a"], [11.0, "o", "b"])).events] == [1, 11]


# -- the writer --------------------------------------------------------------------------
def test_writer_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "s.cast"
    theme = Theme("t", (1, 2, 3), (4, 5, 6), tuple((i, i, i) for i in range(16)))
    with CastWriter(path, 30, 5, title="demo", theme=theme, idle_time_limit=1.5) as rec:
        rec.output("hello\r\n", 0.1)
        rec.input("ls\r", 0.2)
        rec.marker("m", 0.3)
        rec.resize(40, 6, 0.4)
        rec.output("\x1b[31mred\x1b[m é 中", 0.5)
        rec.exit(3, 0.6)
    cast = read_cast(path)
    assert cast.title == "demo" and cast.idle_time_limit == 1.5 and cast.theme == Theme(
        "asciicast", (1, 2, 3), (4, 5, 6), theme.palette)
    assert cast.events == [Event(0.1, "o", "hello\r\n"), Event(0.2, "i", "ls\r"),
                           Event(0.3, "m", "m"), Event(0.4, "r", "40x6"),
                           Event(0.5, "o", "\x1b[31mred\x1b[m é 中"), Event(0.6, "x", "3")]
    again = write_cast(tmp_path / "t.cast", cast.cols, cast.rows, cast.events)
    assert read_cast(again).events == cast.events


def test_writer_flushes_each_event(tmp_path: Path) -> None:
    path = tmp_path / "live.cast"
    rec = CastWriter(path, 10, 2)
    rec.output("a")
    rec.output("b")
    assert [e.data for e in read_cast(path).events] == ["a", "b"]  # readable while open
    rec.close()
    with pytest.raises(CastError):
        rec.output("c")


def test_a_killed_writer_leaves_a_valid_prefix(tmp_path: Path) -> None:
    path = tmp_path / "killed.cast"
    code = ("import sys, time\n"
            "from terminal.recording import CastWriter\n"
            f"rec = CastWriter({str(path)!r}, 20, 4)\n"
            "i = 0\n"
            "while True:\n"
            "    rec.output(f'line {i}\\r\\n' * 50)\n"
            "    i += 1\n"
            "    time.sleep(0.002)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[2])
    try:
        deadline = time.time() + 20
        while time.time() < deadline and (not path.exists() or path.stat().st_size < 20000):
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    cast = read_cast(path)
    assert len(cast.events) > 5 and screen_at(cast).text


# -- replay ------------------------------------------------------------------------------
def test_replay_frames_damage_and_resize() -> None:
    cast = parse_cast(v2([0.0, "o", "a"], [0.25, "o", "\r\nb"], [0.5, "r", "10x3"],
                         [0.75, "o", "\x1b[3;1Hc"]))
    replay = Replay(cast)
    frames = list(replay.frames(fps=4))
    assert [f.time for f in frames] == [0.0, 0.25, 0.5, 0.75]
    assert frames[1].damage == {0, 1} and frames[1].screen.lines[1].rstrip() == "b"
    assert frames[2].resized and frames[2].screen.cols == 10
    assert frames[3].damage == {1, 2}
    with pytest.raises(ValueError):
        replay.frame(0.1)  # forward only
    assert Replay(cast).frame_times(2) == [0.0, 0.5, 1.0]  # the last one reaches the end


def test_screen_at_a_moment_and_at_the_end() -> None:
    cast = parse_cast(v2([1.0, "o", "first"], [2.0, "o", "\x1b[2J\x1b[Hsecond"]))
    assert screen_at(cast, 1.5).lines[0].rstrip() == "first"
    assert screen_at(cast).lines[0].rstrip() == "second"
    assert screen_at(cast, 0).text.strip() == ""


def test_replay_answers_nobody() -> None:
    replay = Replay(parse_cast(v2([0, "o", "\x1b[6n\x1b[c"])))
    replay.advance(1)
    assert replay.terminal.replies == []


# -- bad input ---------------------------------------------------------------------------
GOOD = v2([0.5, "o", "x"])


@pytest.mark.parametrize("raw, words", [
    (b"", "empty"),
    (b"   \n\n", "empty"),
    (b"\xff\xfe{", "UTF-8"),
    (GOOD.encode() + b'[1.0, "o", "\xc3\x28"]\n', "UTF-8"),
    (GOOD + '[1.0, "o", "trunc\n[2.0, "o", "x"]\n', "line 3"),  # damage with more after it
    (GOOD + "[1.0, \"o\"]\n", "line 3"),
    (GOOD + '{"t": 1}\n', "line 3"),
    (GOOD + '["1.0", "o", "x"]\n', "time"),
    (GOOD + '[NaN, "o", "x"]\n', "line 3"),
    (GOOD + '[-1, "o", "x"]\n', "negative"),
    (GOOD + '[1.0, 5, "x"]\n', "strings"),
    (GOOD + '[1.0, "o", null]\n', "strings"),
    (GOOD + '[1.0, "r", "abc"]\n', "COLSxROWS"),
    (GOOD + '[1.0, "r", "0x0"]\n', "out of range"),
    (GOOD + '[1.0, "r", "10000x10000"]\n', "out of range"),
    ('{"version": 2, "width": 0, "height": 0}\n', "out of range"),
    ('{"version": 2, "width": 10000, "height": 10000}\n', "out of range"),
    ('{"version": 2, "width": "80", "height": 24}\n', "integers"),
    ('{"version": 2, "width": 80}\n', "integers"),
    ('{"version": 9, "width": 80, "height": 24}\n', "version"),
    ('["not", "a", "header"]\n', "header"),
    ('{"version": 3, "width": 80, "height": 24}\n', "term"),
    ('{"version": 2, "width": 8, "height": 2, "theme": {"fg": "#fff"}}\n', "theme"),
    ('{"version": 2, "width": 8, "height": 2, "idle_time_limit": -1}\n', "idle_time_limit"),
    ('{"version": 1, "width": 8, "height": 2}', "stdout"),
    ('{"version": 1, "width": 8, "height": 2, "stdout": [[0.1]]}', "frame 0"),
    ('{"version": 1, "width": 8, "height": 2, "stdout": [[0.1, "a"]', "truncated"),
])
def test_bad_casts_give_one_line_errors(raw: bytes | str, words: str) -> None:
    with pytest.raises(CastError) as err:
        parse_cast(raw)
    msg = str(err.value)
    assert words in msg and "\n" not in msg, msg


def test_a_truncated_real_recording(tmp_path: Path, shared_data: Path) -> None:
    data = HELLO.read_bytes()
    cut = tmp_path / "cut.cast"
    cut.write_bytes(data[: len(data) // 2 + 7])
    cast = read_cast(cut)
    assert cast.events and "cut off at line" in cast.unreadable
    assert cast.events == read_cast(HELLO).events[: len(cast.events)]


@pytest.mark.parametrize("tail", [b'[1.5, "o", "second li', b'[1.5, "o", "caf\xc3', b"[1"])
def test_a_recording_cut_mid_event_plays_up_to_the_cut(tmp_path: Path, tail: bytes) -> None:
    """What a killed recorder leaves: every complete event plays, and one line says the rest
    was unreadable."""
    whole = v2([0.5, "o", "first line\r\n"], [1.0, "o", "more\r\n"]).encode()
    cast = parse_cast(whole + tail)
    assert [e.data for e in cast.events] == ["first line\r\n", "more\r\n"]
    msg = cast.unreadable
    assert "line 4" in msg and "2 events, 1.00 s" in msg and "\n" not in msg, msg
    assert screen_at(cast, 0.7).lines[0].rstrip() == "first line"
    assert screen_at(cast).lines[1].rstrip() == "more"
    assert parse_cast(whole).unreadable == ""


def test_missing_file_and_bad_limit(tmp_path: Path) -> None:
    with pytest.raises(CastError, match="cannot read"):
        read_cast(tmp_path / "nope.cast")
    with pytest.raises(CastError, match="idle time limit"):
        parse_cast(GOOD, idle_time_limit=0)
    with pytest.raises(CastError):
        CastWriter(tmp_path / "w.cast", 0, 0)


# -- real recordings ---------------------------------------------------------------------
def _sample_times(cast: Cast, n: int = 6) -> list[float]:
    d = cast.duration
    return sorted({round(d * i / (n - 1), 6) for i in range(n)} | {d})


def test_the_recordings_are_there(shared_data: Path) -> None:
    assert len(CASTS) >= 17


@pytest.mark.parametrize("path", CASTS, ids=[p.name for p in CASTS])
def test_real_recording_replays_and_reads_back(path: Path) -> None:
    """Each recording replays without an ignored sequence, and frames drawn by the reference
    rasterizer in the recording's own theme read back exactly by the cell-grid OCR."""
    from renderer.ocr import CellOCR
    from renderer.raster import RasterRenderer

    cast = read_cast(path)
    renderer = RasterRenderer(theme=cast.theme or "dark")
    ocr = CellOCR(renderer.atlas)
    replay = Replay(cast)
    wrong: list[str] = []
    for frame in replay.frames(times=_sample_times(cast)):
        s = frame.screen
        pixels = renderer.render(s, damage=None if frame.resized else frame.damage).frame
        assert pixels.shape == (s.rows * 16, s.cols * 8, 3)
        got = ocr.read(pixels, s.cols, s.rows, hint=s)
        wrong += [f"t={frame.time:.2f} row {r} col {c}: {s.chars[r][c]!r} read as "
                  f"{got.cells[r][c]!r}" for r in range(s.rows) for c in range(s.cols)
                  if got.cells[r][c] != s.chars[r][c]]
    assert replay.terminal.errors == 0
    assert not wrong, f"{len(wrong)} cells: " + "; ".join(wrong[:5])

"""Fuzzing the two file formats users hand to hybrid-nc: asciicast recordings (parse_cast /
read_cast: only CastError may escape) and SCREEN.json (ScreenState.from_json: only ScreenError).
Inputs: random text, JSON of the right shape with wrong values, and real recordings from
../shared/data/casts mutated byte by byte. What parses must be usable: replayable, drawable,
round-trippable."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from fuzzing import JSON, JSON_SCALAR, fuzz_settings
from hypothesis import given
from hypothesis import strategies as st

from renderer.raster import RasterRenderer
from terminal.recording import CODES, Cast, CastError, Replay, parse_cast, read_cast, screen_at
from terminal.screen import MAX_COLS, MAX_ROWS, ScreenError, ScreenState

pytestmark = pytest.mark.timeout(600)
from shared_material import NO_DATA, SHARED_DATA  # noqa: E402

SHARED = SHARED_DATA / "casts"


def _small_casts() -> list[bytes]:
    """A few real recordings from the shared data (the smallest, so mutations stay fast)."""
    if not SHARED.is_dir():
        return []
    files = sorted((p for p in SHARED.rglob("*.cast") if p.stat().st_size < 20_000),
                   key=lambda p: p.stat().st_size)
    return [p.read_bytes() for p in files[:12]]


REAL = _small_casts()


def check_cast(cast: Cast) -> None:
    """What the rest of hybrid-nc relies on in a parsed recording."""
    assert 1 <= cast.cols <= MAX_COLS and 1 <= cast.rows <= MAX_ROWS
    times = [e.time for e in cast.events]
    assert all(t >= 0 and t == t and t != float("inf") for t in times)
    assert times == sorted(times)
    assert all(e.code in CODES and isinstance(e.data, str) for e in cast.events)
    screen = screen_at(cast)  # replay to the end works
    assert (screen.cols, screen.rows) == cast.sizes()[-1]
    replay = Replay(cast)
    for frame in replay.frames(times=[0.0, cast.duration / 2, cast.duration]):
        assert frame.screen.rows >= 1


def parse_or_cast_error(raw: bytes | str) -> Cast | None:
    t0 = time.monotonic()
    try:
        cast = parse_cast(raw)
    except CastError as e:
        assert str(e) and "\n" not in str(e), repr(str(e))
        return None
    finally:
        assert time.monotonic() - t0 < 10
    check_cast(cast)
    return cast


@fuzz_settings(200)
@given(raw=st.one_of(st.binary(max_size=300), st.text(max_size=300)))
def test_random_input_is_a_recording_or_a_cast_error(raw: bytes | str) -> None:
    parse_or_cast_error(raw)


HEADER = st.fixed_dictionaries(
    {"version": st.one_of(st.sampled_from([1, 2, 3]), JSON_SCALAR)},
    optional={"width": st.one_of(st.integers(-3, 400), JSON_SCALAR),
              "height": st.one_of(st.integers(-3, 200), JSON_SCALAR),
              "term": st.one_of(st.fixed_dictionaries({"cols": st.integers(-1, 300),
                                                        "rows": st.integers(-1, 100)}), JSON),
              "idle_time_limit": st.one_of(st.floats(-1, 10), JSON_SCALAR),
              "theme": JSON, "title": JSON_SCALAR, "stdout": JSON, "env": JSON})
EVENT = st.one_of(
    st.tuples(st.one_of(st.floats(-1, 1e6), st.sampled_from([float("nan"), float("inf")]),
                        st.integers(-5, 10**12)),
              st.one_of(st.sampled_from(list("oimrxz")), JSON_SCALAR),
              st.one_of(st.text(max_size=40), st.sampled_from(["80x24", "0x0", "x", "9999x9999",
                                                               "12x"]), JSON_SCALAR)).map(list),
    JSON)


@fuzz_settings(300)
@given(header=HEADER, events=st.lists(EVENT, max_size=15), comments=st.booleans())
def test_structured_recordings(header: dict[str, object], events: list[object],
                               comments: bool) -> None:
    lines = [json.dumps(header)] + [json.dumps(e) for e in events]
    if comments:
        lines.insert(1, "# a comment")
    parse_or_cast_error("\n".join(lines))
    if header.get("version") == 1:  # v1: one object with "stdout"
        parse_or_cast_error(json.dumps({**header, "stdout": events}))


@pytest.mark.skipif(not REAL, reason=NO_DATA)
@fuzz_settings(200)
@given(which=st.integers(0, max(0, len(REAL) - 1)),
       edits=st.lists(st.tuples(st.sampled_from(["delete", "insert", "flip", "truncate", "dup"]),
                                st.floats(0, 1), st.binary(min_size=1, max_size=8)), max_size=4))
def test_mutated_real_recordings(which: int, edits: list[tuple[str, float, bytes]]) -> None:
    raw = bytearray(REAL[which])
    for op, where, blob in edits:
        i = int(where * len(raw))
        if op == "delete":
            del raw[i:i + len(blob)]
        elif op == "insert":
            raw[i:i] = blob
        elif op == "flip" and raw:
            raw[min(i, len(raw) - 1)] ^= blob[0] or 1
        elif op == "truncate":
            del raw[i:]
        else:  # duplicate a line
            lines = bytes(raw).split(b"\n")
            k = int(where * len(lines)) % len(lines)
            raw = bytearray(b"\n".join(lines[:k + 1] + lines[k:]))
    parse_or_cast_error(bytes(raw))


@pytest.mark.skipif(not REAL, reason=NO_DATA)
def test_real_recordings_cut_at_every_line_replay_or_say_why(tmp_path: Path) -> None:
    """A recording cut anywhere (a crash mid-write) is read up to the cut, or a one-line error
    names the line; never anything else."""
    raw = REAL[-1]
    ends = [i for i, b in enumerate(raw) if b == 0x0A]
    for end in ends[:60]:
        for cut in (end, end + 1, end - 3):
            path = tmp_path / "cut.cast"
            path.write_bytes(raw[:max(cut, 0)])
            try:
                check_cast(read_cast(path))
            except CastError as e:
                assert "\n" not in str(e)


# -- SCREEN.json --------------------------------------------------------------------------------
SCREEN = st.fixed_dictionaries(
    {},
    optional={"cols": st.one_of(st.integers(-2, 130), JSON_SCALAR),
              "rows": st.one_of(st.integers(-2, 50), JSON_SCALAR),
              "lines": st.one_of(st.lists(st.text(max_size=90), max_size=30), JSON),
              "cursor": st.one_of(st.lists(st.integers(-5, 200), min_size=2, max_size=2), JSON),
              "cursor_visible": JSON_SCALAR, "title": JSON_SCALAR,
              "styles": st.one_of(st.lists(st.one_of(st.fixed_dictionaries(
                  {"row": st.integers(-1, 30)},
                  optional={"col": st.integers(-1, 130), "len": st.integers(-1, 200),
                            "fg": JSON_SCALAR, "bg": JSON_SCALAR, "bold": JSON_SCALAR,
                            "inverse": JSON_SCALAR, "underline": JSON_SCALAR}), JSON),
                  max_size=6), JSON)})


def check_screen_json(data: object) -> ScreenState | None:
    try:
        screen = ScreenState.from_json(data)  # type: ignore[arg-type]
    except ScreenError as e:
        assert str(e) and "\n" not in str(e), repr(str(e))
        return None
    assert len(screen.chars) == screen.rows and all(len(r) == screen.cols for r in screen.chars)
    r, c = screen.cursor
    assert 0 <= r < screen.rows and 0 <= c < screen.cols
    again = ScreenState.from_json(json.dumps(screen.to_json()))  # the saved form loads back
    assert again.to_json() == screen.to_json()
    return screen


@fuzz_settings(400)
@given(data=st.one_of(SCREEN, JSON, st.text(max_size=200)))
def test_screen_json_is_a_screen_or_a_screen_error(data: object) -> None:
    check_screen_json(data)


@fuzz_settings(60)
@given(data=SCREEN)
def test_every_accepted_screen_can_be_drawn(data: dict[str, object]) -> None:
    screen = check_screen_json(data)
    if screen is not None:
        frame = RasterRenderer().render(screen).frame
        h, w = RasterRenderer().cell_size
        assert frame.shape == (screen.rows * h, screen.cols * w, 3)


# -- inputs the coverage-guided fuzzer (tests/fuzz/atheris_fuzz.py) once crashed on -----------------
CRASHES = sorted((Path(__file__).parent / "crashes").glob("cast-*"))


@pytest.mark.parametrize("path", CRASHES, ids=[p.name for p in CRASHES])
def test_inputs_the_fuzzer_found_are_a_recording_or_a_cast_error(path: Path) -> None:
    try:
        cast = parse_cast(path.read_bytes())
    except CastError as e:
        assert "\n" not in str(e)
        return
    screen_at(cast)

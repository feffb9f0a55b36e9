"""End to end with a real terminal: Xvfb + xterm started by the pipeline itself, a small screen
captured, paired, checked, stored as a dataset; a wrong pair rejected; a second run resumes.

Needs Debian's xvfb and xterm and python-xlib (all in the project's install list).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from renderer.capture import (
    CaptureConfig,
    CaptureError,
    Source,
    capture_dataset,
    checker_from_folder,
    load_pairs,
)
from terminal import screen_from_bytes

pytestmark = pytest.mark.integration

SCREENS = [
    "\x1bc$ ls -l\r\ntotal 8\r\n\x1b[1;34mdocs\x1b[0m  \x1b[32mrun.sh\x1b[0m  notes.txt\r\n"
    "\x1b[7m inverse \x1b[0m \x1b[4munder\x1b[0m \x1b[3mitalic\x1b[0m 漢字 ┌─┐ é\r\n$ ",
    "\x1bc\x1b[44;37m status: ok \x1b[0m\r\n\x1b[38;5;208m256-colour\x1b[0m "
    "\x1b[48;2;10;120;200m truecolour \x1b[0m\r\n\x1b[?25l",
]


def _source() -> Source:
    def make():
        for text in SCREENS:
            yield text.encode(), 80, 24
    return Source("unicode:box/0", "unicode", make)  # a held-out name: lands in "test"


def _children(names: set[str]) -> list[str]:
    """Our child processes (direct or not) whose command is one of `names`."""
    me, found = os.getpid(), []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        if comm in names and ppid == me:
            found.append(f"{pid} {comm}")
    return found


def test_capture_check_store_and_resume(tmp_path: Path):
    out = tmp_path / "cap"
    config = CaptureConfig(terminal="xterm", out=out, tune_sizes=(12.5,), tune_fine=False)

    # 1. capture: the pipeline starts Xvfb and xterm itself and leaves nothing running
    summary = capture_dataset(config, screen_from_bytes, sources=[_source()], progress=False)
    assert _children({"Xvfb", "xterm"}) == []
    assert (summary.captured, summary.kept, dict(summary.rejected)) == (2, 2, {})
    pairs = load_pairs(out, split="test")
    assert len(pairs) == 2
    crop, screen, record = pairs[0]
    assert crop.shape == (24 * 17, 80 * 8, 3)  # DejaVu Sans Mono 13 px in xterm: 8x17 cells
    assert screen.lines == screen_from_bytes(SCREENS[0].encode(), 80, 24).lines
    assert record["check"]["ok"] and record["check"]["cursor_reported"] == [4, 2]
    # the real terminal drew the colours it was given (blue background of "status: ok")
    crop2 = pairs[1][0]
    assert tuple(crop2[3, 2]) == (52, 101, 164)

    # 2. the dataset
    from datasets import load_from_disk

    ds = load_from_disk(str(out / "dataset"))
    assert set(ds) == {"train", "test"}  # calibration screens are training data too
    assert ds["test"].num_rows == 2 and ds["test"][0]["source"] == "unicode:box/0"
    assert np.array_equal(np.asarray(ds["test"][0]["image"].convert("RGB")), crop)

    # 3. the pairing check rejects a deliberately wrong pair and accepts the right one
    checker = checker_from_folder(out)
    assert checker.check(crop, screen, cursor_reported=(4, 2)).ok
    wrong = screen_from_bytes(SCREENS[0].replace("notes", "nodes").encode(), 80, 24)
    verdict = checker.check(crop, wrong)
    assert (verdict.ok, verdict.reason, verdict.wrong_cells) == (False, "text", 1)
    shifted = screen_from_bytes(SCREENS[0].replace("$ ls", "$  ls").encode(), 80, 24)
    assert checker.check(crop, shifted).reason == "text"

    # 4. resume: nothing is captured again, the dataset is rebuilt the same
    with pytest.raises(CaptureError, match="--resume"):
        capture_dataset(config, screen_from_bytes, sources=[_source()], progress=False)
    again = capture_dataset(CaptureConfig(**{**config.__dict__, "resume": True}),
                            screen_from_bytes, sources=[_source()], progress=False)
    assert (again.captured, again.skipped) == (0, 2)
    assert load_from_disk(str(out / "dataset"))["test"]["id"] == ds["test"]["id"]
    assert _children({"Xvfb", "xterm"}) == []

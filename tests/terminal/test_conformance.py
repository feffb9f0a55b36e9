"""The public terminal conformance suites (../shared/data/conformance) against our Terminal.

Every case of every suite is a test. Where we differ from a suite and the emulator is not going to
change, the case is an expected failure (strict: it fails the run if it starts passing) with the
specific reason; cases are never deleted. Several differences come from the suites disagreeing
with each other (xterm's own output in the xterm.js files vs. alacritty or libvterm); we follow
xterm there and say so.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conformance import Case, TerminalEmulator, load_cases, run_case

# the same place as the shared_data fixture; needed at collection time for the parameters
from shared_material import SHARED_DATA  # noqa: E402

XTERM_NOT = "the suites disagree; we follow xterm (xterm.js's files are xterm's own screens)"

XFAIL: dict[str, str] = {
    # xterm.js ------------------------------------------------------------------------------
    "xtermjs/t0055-EL": "xterm erases the last column and cancels a pending wrap on EL 0; we "
    "leave the line alone as alacritty and VTE do (alacritty/erase_in_line; xterm.js skips it)",
    "xtermjs/t0084-CBT": "xterm moves back a tab stop but keeps the pending-wrap flag, so the next "
    "character still wraps; our cursor model has no wrap flag apart from the column "
    "(xterm.js skips this file too)",
    # alacritty ------------------------------------------------------------------------------
    "alacritty/saved_cursor_alt": "alacritty keeps a pending wrap across DECSC/DECRC; xterm drops "
    "it (xterm.js t0060-DECSC, t0061-CSI_s), which we follow",
    "alacritty/selective_erasure": "alacritty ignores DECSED/DECSEL; we implement them with DECSCA "
    "protection as xterm and libvterm do (libvterm 65screen_protect)",
    # libvterm -------------------------------------------------------------------------------
    "libvterm/11state_movecursor:Horizontal Position Backward": "HPB (CSI j): " + XTERM_NOT
    + "; xterm has no HPB",
    "libvterm/11state_movecursor:Vertical Position Backward": "VPB (CSI k): " + XTERM_NOT
    + " and ignores CSI k (xtermjs/t0032-VPB)",
    "libvterm/12state_scroll:DECRQSS on DECSLRM": "left/right margins (DECSLRM) are not supported",
    "libvterm/15state_mode:Origin mode with DECSLRM": "left/right margins (DECSLRM) are not "
    "supported",
    "libvterm/13state_edit:IL": "IL leaves the column in libvterm; xterm returns to column 0 "
    "(xtermjs/t0051-IL), which we follow",
    "libvterm/26state_query:DA": "we answer DA1 as xterm's VT220 (CSI ? 62;22 c), libvterm "
    "answers as a VT100 (CSI ? 1;2 c)",
    "libvterm/26state_query:XTVERSION": "XTVERSION names the terminal: hybrid-nc, not libvterm",
    "libvterm/28state_dbl_wh:Double Width, Single Height": "double-width lines (DECDWL) are not "
    "supported: a ScreenState has no per-line width",
    "libvterm/67screen_dbl_wh:Double Width, Single Height": "double-width lines (DECDWL) are not "
    "supported",
    "libvterm/67screen_dbl_wh:Double Height": "double-height lines (DECDHL) are not supported",
    "libvterm/67screen_dbl_wh:Late change": "double-width lines (DECDWL) are not supported",
    "libvterm/67screen_dbl_wh:DWL doesn't spill over on scroll": "double-width lines (DECDWL) "
    "are not supported",
    "libvterm/30state_pen:Font Selection": "alternative fonts (SGR 10-19) are not kept: cells have "
    "no font attribute",
    "libvterm/64screen_pen:Font": "alternative fonts (SGR 10-19) are not kept",
    "libvterm/30state_pen:Super/Subscript": "superscript/subscript (SGR 73-75) are not kept",
    "libvterm/64screen_pen:Super/subscript": "superscript/subscript (SGR 73-75) are not kept",
    "libvterm/30state_pen:Bold+ANSI colour == highbright": "libvterm's harness turns on "
    "bold-is-bright in the pen; we keep the palette index and leave brightening to the "
    "renderer's theme (Theme.bold_is_bright)",
    "libvterm/31state_rep:REP till end of line": "REP stops at the line's end in libvterm; xterm "
    "wraps (xtermjs/t0040-REP), which we follow",
    "libvterm/63screen_resize:Resize taller attempts to pop scrollback": "libvterm's harness "
    "invents scrollback lines (\"ABCDE\") to pop; our scrollback holds only real lines",
    "libvterm/69screen_reflow:Resize wider reflows wide lines": "no reflow of wrapped lines on "
    "resize (libvterm's optional mode 'r'; xterm does not reflow either)",
    "libvterm/69screen_reflow:Resize narrower can create continuation lines": "no reflow of "
    "wrapped lines on resize",
    "libvterm/69screen_reflow:Shell wrapped prompt behaviour": "no reflow of wrapped lines on "
    "resize",
    "libvterm/64screen_pen:EL sets only colours to end of line, not other attrs": "erased "
    "cells keep the background colour only, as in xterm and alacritty (alacritty-attrs cases); "
    "libvterm keeps the foreground colour too, which no pixel shows",
    "libvterm/90vttest_01-movement-3:Output": "a written trailing space is kept as text by "
    "libvterm; our cells do not tell a written space from an erased one",
}

_ROOT = SHARED_DATA / "conformance"
CASES: list[Case] = load_cases(_ROOT) if _ROOT.is_dir() else []


def _params() -> list:
    out = []
    for case in CASES:
        marks = []
        if case.skip:
            marks.append(pytest.mark.skip(reason=case.skip))
        elif case.id in XFAIL:
            marks.append(pytest.mark.xfail(strict=True, reason=XFAIL[case.id]))
        out.append(pytest.param(case, id=case.id, marks=marks))
    return out


def test_suites_are_present(shared_data: Path) -> None:
    """All suites load, with the case counts their files hold (alacritty's twice: text, and
    colours with attributes)."""
    by_suite = {s: sum(1 for c in CASES if c.suite == s) for s in ("xtermjs", "alacritty",
                                                                    "libvterm", "pyte")}
    assert by_suite["xtermjs"] >= 70 and by_suite["alacritty"] >= 40
    assert by_suite["libvterm"] >= 300 and by_suite["pyte"] == 7
    assert sum(1 for c in CASES if c.suite == "alacritty-attrs") == by_suite["alacritty"]


def test_every_xfail_names_a_case(shared_data: Path) -> None:
    """A stale entry (a renamed case) must not hide silently."""
    ids = {c.id for c in CASES}
    assert set(XFAIL) <= ids, sorted(set(XFAIL) - ids)


@pytest.mark.parametrize("case", _params())
def test_conformance(case: Case) -> None:
    errors = run_case(case, TerminalEmulator)
    assert not errors, "\n".join(errors[:8])

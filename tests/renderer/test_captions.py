"""The caption tiers: what each one tells the renderer, and what it withholds; the two forms
(plain for the report, prose for a video model's prompt); every renderer owns its caption."""

from __future__ import annotations

import pytest

from renderer.captions import Caption, make_caption, native_withheld
from renderer.raster import RasterRenderer
from terminal import Terminal
from terminal.screen import ScreenState


def _screen():
    term = Terminal(cols=30, rows=4)
    term.feed(b"$ ls\r\n\x1b[1;31merror\x1b[0m: \x1b[44mnope\x1b[0m\r\n$ ")
    return term.snapshot()


def test_detailed_names_every_changed_row_its_styles_and_the_cursor() -> None:
    cap = make_caption("detailed", _screen(), damage=[1, 2], action="ls")
    lines = cap.text.splitlines()
    assert "Cursor visible at row 2, col 2" in lines[0] and "Action: 'ls'" in lines[0]
    assert lines[1] == "Row 1: 'error: nope' [cols 0-4 fg=1 bold; cols 7-10 bg=4]"
    assert lines[2] == "Row 2: '$'"
    assert lines[3] == "All other rows unchanged (2)."
    assert cap.rows == [1, 2]


def test_detailed_without_damage_covers_the_whole_screen() -> None:
    cap = make_caption("detailed", _screen(), damage=None)
    assert [ln.split(":")[0] for ln in cap.text.splitlines()[1:]] == [f"Row {r}" for r in range(4)]
    assert "unchanged" not in cap.text


def test_regular_has_the_text_but_no_styles() -> None:
    cap = make_caption("regular", _screen(), damage=[1])
    assert cap.text == "A terminal showing:\nerror: nope"
    assert "bold" not in cap.text and "fg=" not in cap.text


def test_semantic_withholds_the_screens_text() -> None:
    cap = make_caption("semantic", _screen(), damage=[1], action="ls", route="shell")
    assert "ls" in cap.text and "error" not in cap.text and "nope" not in cap.text


def test_native_withholds_what_a_program_wrote_and_keeps_the_typed_line() -> None:
    before = ScreenState.from_lines(["$ ", "", ""], 20, 3)
    after = ScreenState.from_lines(["$ calc 2+3", "5", "$ "], 20, 3)
    assert native_withheld(None, after, "calc 2+3") == []  # the first frame keeps everything
    assert native_withheld(before, after, "") == [0, 1, 2]
    assert native_withheld(before, after, "calc 2+3") == [1, 2]
    assert native_withheld(before, after, "x") == []  # one typed character: the user's echo
    cap = make_caption("native", after, damage=None, action="calc 2+3", withheld=[1, 2])
    assert cap.tier == "native" and cap.withheld == [1, 2] and cap.rows == [0]
    assert "calc 2+3" in cap.text and "'5'" not in cap.text


def test_prose_form_is_the_video_models_prompt() -> None:
    cap = make_caption("detailed", _screen(), damage=[1], action="ls", form="prose")
    assert cap.form == "prose" and cap.tier == "detailed"
    assert 'Line 2 reads "error: nope"' in cap.text and "bold red" in cap.text
    sem = make_caption("semantic", _screen(), damage=[1], action="ls", route="shell", form="prose")
    assert "ls" in sem.text and "nope" not in sem.text


def test_the_raster_captions_in_its_theme_and_subclasses_inherit_a_caption() -> None:
    from renderer.base import Renderer

    cap = RasterRenderer(theme="light").caption(_screen(), damage=[1], action="ls")
    assert isinstance(cap, Caption) and "theme light" in cap.text and cap.tier == "detailed"

    class Plugin(Renderer):
        name = "plugin"

    text = Plugin().caption(_screen(), damage=[1], tier="regular").text
    assert text == "A terminal showing:\nerror: nope"


def test_unknown_tier_is_a_one_line_error() -> None:
    with pytest.raises(ValueError, match="unknown caption tier 'fancy'"):
        make_caption("fancy", _screen(), damage=None)  # type: ignore[arg-type]

"""Themes: built-ins, colour resolution, asciicast themes and theme files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from terminal.screen import DEFAULT, TRUECOLOR
from terminal.themes import THEMES, Theme, ThemeError, get_theme, parse_hex, xterm_256


def test_at_least_three_distinct_builtin_themes() -> None:
    assert len(THEMES) >= 3
    assert len({(t.fg, t.bg) for t in THEMES.values()}) == len(THEMES)
    for name, t in THEMES.items():
        assert t.name == name and len(t.palette) == 16


def test_resolve_default_palette_cube_and_truecolour() -> None:
    t = THEMES["dark"]
    codes = np.array([DEFAULT, 1, 16, 196, 231, 232, 255, TRUECOLOR | 0x123456], np.int32)
    fg = t.resolve(codes, True)
    bg = t.resolve(codes, False)
    assert tuple(fg[0]) == t.fg and tuple(bg[0]) == t.bg
    assert tuple(fg[1]) == t.palette[1]
    assert tuple(fg[2]) == (0, 0, 0) and tuple(fg[3]) == (255, 0, 0)
    assert tuple(fg[4]) == (255, 255, 255) and tuple(fg[5]) == (8, 8, 8)
    assert tuple(fg[6]) == (238, 238, 238)
    assert tuple(fg[7]) == (0x12, 0x34, 0x56) and tuple(bg[7]) == (0x12, 0x34, 0x56)
    assert len(xterm_256()) == 240


def test_lut_is_a_copy() -> None:
    t = THEMES["light"]
    lut = t.lut()
    lut[:] = 0
    assert tuple(t.lut()[256]) == t.fg


@pytest.mark.parametrize("name", ["asciinema__asciinema-player__tests__assets__theme.cast",
                                  "asciinema__asciinema-player__tests__assets__theme-256.cast",
                                  "nbedos__termtosvg__docs__examples__casts__awesome.cast"])
def test_asciicast_header_themes(shared_data: Path, name: str) -> None:
    header = json.loads((shared_data / "casts" / name).read_text().splitlines()[0])
    theme = Theme.from_asciicast(header["theme"])
    assert theme.fg == parse_hex(header["theme"]["fg"])
    assert theme.palette[1] == parse_hex(header["theme"]["palette"].split(":")[1])
    assert Theme.from_asciicast(theme.to_asciicast()) == theme


def test_eight_colour_palette_repeats_for_bright() -> None:
    pal = ":".join(f"#{i:02x}{i:02x}{i:02x}" for i in range(8))
    t = Theme.from_asciicast({"fg": "#fff", "bg": "#000", "palette": pal})
    assert t.palette[8:] == t.palette[:8]
    assert t.fg == (255, 255, 255)


@pytest.mark.parametrize("bad, msg", [
    ({"fg": "#fff", "bg": "#000"}, "lacks palette"),
    ({"fg": "#fff", "bg": "#000", "palette": "#000:#111"}, "2 colours"),
    ({"fg": "white", "bg": "#000", "palette": ":".join(["#000"] * 8)}, "bad colour"),
    ({"fg": "#fff", "bg": "#000", "palette": 5}, "palette must be a string"),
    ("dark", "must be an object"),
])
def test_malformed_asciicast_themes(bad: object, msg: str) -> None:
    with pytest.raises(ThemeError, match=msg):
        Theme.from_asciicast(bad)


def test_get_theme_by_name_object_file_and_errors(tmp_path: Path) -> None:
    assert get_theme(None) is THEMES["dark"]
    assert get_theme("xterm") is THEMES["xterm"]
    t = THEMES["dracula"]
    assert get_theme(t) is t
    path = tmp_path / "mine.json"
    path.write_text(json.dumps({"version": 2, "theme": t.to_asciicast()}))
    loaded = get_theme(str(path))
    assert (loaded.fg, loaded.bg, loaded.palette) == (t.fg, t.bg, t.palette)
    assert loaded.name == "mine"
    with pytest.raises(ThemeError, match="unknown theme 'nope'.*dark"):
        get_theme("nope")
    with pytest.raises(ThemeError, match="cannot read theme file"):
        get_theme(str(tmp_path / "missing.json"))
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ThemeError, match="not valid JSON"):
        get_theme(str(tmp_path / "bad.json"))
    assert isinstance(ThemeError("x"), ValueError)  # older callers catch ValueError


def test_theme_validates_its_colours() -> None:
    with pytest.raises(ThemeError, match="palette"):
        Theme("x", (0, 0, 0), (1, 1, 1), ((0, 0, 0),) * 15)
    with pytest.raises(ThemeError, match="bad colour"):
        Theme("x", (0, 0, 300), (1, 1, 1), ((0, 0, 0),) * 16)
    # numpy integers are colours too
    Theme("x", tuple(np.array([1, 2, 3], np.uint8)), (1, 1, 1), ((0, 0, 0),) * 16)

"""Mouse reporting against xterm's ctlseqs ("Mouse Tracking"): the modes a program sets, the
bytes each action gives in each tracking mode and encoding, focus events, alternate scroll, and the
pointer in the snapshot and SCREEN.json."""

from __future__ import annotations

import pytest

from terminal import Terminal
from terminal.mouse import Mouse, MouseError, MouseMode, encode_report, focus_report
from terminal.screen import Pointer, ScreenError, ScreenState

CSI = b"\x1b["


def term(modes: bytes = b"", cols: int = 80, rows: int = 24) -> Terminal:
    t = Terminal(cols, rows)
    t.feed(modes)
    return t


def act(t: Terminal, col: int, row: int, button: str = "left", action: str = "click") -> bytes:
    return t.mouse_input(col, row, button, action)


# -- the modes a program asks for --------------------------------------------------------------
def test_no_mode_sends_nothing():
    t = term()
    assert t.mouse_mode == MouseMode()
    for action in ("press", "release", "click", "move", "wheel_up", "wheel_down"):
        assert act(t, 5, 5, "left", action) == b""


@pytest.mark.parametrize("mode,tracking", [(9, "x10"), (1000, "normal"), (1001, "highlight"),
                                           (1002, "button"), (1003, "any")])
def test_tracking_modes(mode, tracking):
    t = term(f"\x1b[?{mode}h".encode())
    assert t.mouse_mode.tracking == tracking
    t.feed(f"\x1b[?{mode}l".encode())
    assert t.mouse_mode.tracking == "off"


def test_one_tracking_mode_and_one_encoding_at_a_time():
    t = term(b"\x1b[?1000h\x1b[?1003h\x1b[?1005h\x1b[?1006h")
    assert (t.mouse_mode.tracking, t.mouse_mode.encoding) == ("any", "sgr")
    t.feed(b"\x1b[?1015h")
    assert t.mouse_mode.encoding == "urxvt"
    t.feed(b"\x1b[?1015l")
    assert t.mouse_mode.encoding == "default"


def test_focus_alternate_scroll_and_reset():
    t = term(b"\x1b[?1004h\x1b[?1007h\x1b[?1049h")
    m = t.mouse_mode
    assert m.focus and m.alternate_scroll and m.alternate_screen
    t.feed(b"\x1bc")  # RIS turns every mode off
    assert t.mouse_mode == MouseMode()


# -- encodings (ctlseqs: CSI M CbCxCy, values + 32; 1005; 1006; 1015) -------------------------
def test_x10_press_only_no_wheel_no_motion():
    t = term(b"\x1b[?9h")
    assert act(t, 0, 0, "left", "press") == CSI + b"M !!"  # Cb 0, x 1, y 1, each + 32
    assert act(t, 0, 0, "left", "release") == b""
    assert act(t, 2, 3, "right") == CSI + b"M\"#$"
    assert act(t, 2, 3, "left", "wheel_up") == b""
    assert act(t, 9, 9, "left", "move") == b""


def test_normal_tracking_press_release_wheel():
    t = term(b"\x1b[?1000h")
    assert act(t, 10, 5, "left", "press") == CSI + b"M " + bytes([10 + 33, 5 + 33])
    assert act(t, 10, 5, "left", "release") == CSI + b"M#" + bytes([43, 38])  # release: Cb 3
    assert act(t, 10, 5, "middle", "press") == CSI + b"M!" + bytes([43, 38])
    assert act(t, 10, 5, "middle", "release") == CSI + b"M#" + bytes([43, 38])
    assert act(t, 0, 0, "left", "wheel_up") == CSI + b"M`!!"  # 64 + 32
    assert act(t, 0, 0, "left", "wheel_down") == CSI + b"Ma!!"
    assert act(t, 7, 7, "left", "move") == b""  # normal tracking has no motion


def test_button_event_tracking_reports_drag_only():
    t = term(b"\x1b[?1002h")
    assert act(t, 1, 1, "left", "move") == b""
    assert act(t, 1, 1, "left", "press") == CSI + b"M \"\""
    assert act(t, 2, 1, "left", "move") == CSI + b"M@#\""  # 32 + 0 motion, + 32
    assert act(t, 2, 1, "left", "move") == b""  # same cell: no report
    assert act(t, 2, 1, "left", "release") == CSI + b"M##\""
    assert act(t, 3, 1, "left", "move") == b""


def test_any_event_tracking_reports_every_cell_change():
    t = term(b"\x1b[?1003h")
    assert act(t, 4, 2, "left", "move") == CSI + b"MC%#"  # 32 + 3 (no button) + 32 = 'C'
    assert act(t, 4, 2, "left", "move") == b""
    act(t, 4, 2, "right", "press")
    assert act(t, 5, 2, "right", "move") == CSI + b"MB&#"  # 32 + 2 + 32


def test_sgr_encoding():
    t = term(b"\x1b[?1002h\x1b[?1006h")
    assert act(t, 0, 0, "left", "press") == b"\x1b[<0;1;1M"
    assert act(t, 1, 0, "left", "move") == b"\x1b[<32;2;1M"
    assert act(t, 1, 0, "left", "release") == b"\x1b[<0;2;1m"  # SGR keeps the button, final m
    assert act(t, 1, 0, "right", "click") == b"\x1b[<2;2;1M\x1b[<2;2;1m"
    assert act(t, 1, 0, "left", "wheel_up") == b"\x1b[<64;2;1M"
    assert act(t, 1, 0, "left", "wheel_down") == b"\x1b[<65;2;1M"


def test_sgr_and_urxvt_have_no_position_limit():
    t = term(b"\x1b[?1000h\x1b[?1006h", cols=400, rows=300)
    assert act(t, 399, 299, "left", "press") == b"\x1b[<0;400;300M"
    t.feed(b"\x1b[?1015h")
    assert act(t, 399, 299, "left", "release") == b"\x1b[35;400;300M"  # urxvt: Cb 3 + 32


def test_urxvt_encoding():
    t = term(b"\x1b[?1000h\x1b[?1015h")
    assert act(t, 4, 9, "left", "press") == b"\x1b[32;5;10M"
    assert act(t, 4, 9, "left", "wheel_down") == b"\x1b[97;5;10M"


def test_default_encoding_limit_is_xterms():
    mode = MouseMode("normal")
    assert encode_report(mode, 0, 222, 0) == CSI + b"M \xff!"  # 222 + 32 + 1: the last byte
    assert encode_report(mode, 0, 223, 0) == CSI + b"M \x00!"  # past the end: a 0 byte
    assert encode_report(mode, 0, 500, 0) == CSI + b"M \x00!"


def test_utf8_encoding():
    mode = MouseMode("normal", "utf8")
    assert encode_report(mode, 0, 93, 0) == CSI + b"M \x7e!"  # below 95: one byte
    assert encode_report(mode, 0, 94, 0) == CSI + b"M \x7f!"
    assert encode_report(mode, 0, 95, 0) == CSI + b"M \xc2\x80!"  # 128 as UTF-8
    assert encode_report(mode, 0, 2014, 0) == CSI + b"M \xdf\xbf!"
    assert encode_report(mode, 0, 2015, 0) == CSI + b"M \x00!"
    t = term(b"\x1b[?1000h\x1b[?1005h", cols=300)
    assert act(t, 200, 0, "left", "press") == CSI + b"M " + chr(200 + 33).encode() + b"!"


def test_positions_are_clamped_to_the_screen():
    t = term(b"\x1b[?1000h\x1b[?1006h", cols=10, rows=4)
    assert act(t, 50, -3, "left", "press") == b"\x1b[<0;10;1M"


def test_focus_events():
    assert focus_report(MouseMode(), True) == b""
    t = term(b"\x1b[?1004h")
    assert t.focus_input(True) == b"\x1b[I"
    assert t.focus_input(False) == b"\x1b[O"


def test_alternate_scroll_sends_cursor_keys_in_the_alternate_screen():
    t = term(b"\x1b[?1007h")
    assert act(t, 0, 0, "left", "wheel_up") == b""  # normal screen: no scrollback view
    t.feed(b"\x1b[?1049h")
    assert act(t, 0, 0, "left", "wheel_up") == b"\x1b[A" * 5
    assert act(t, 0, 0, "left", "wheel_down") == b"\x1b[B" * 5
    t.feed(b"\x1b[?1h")  # application cursor keys
    assert act(t, 0, 0, "left", "wheel_up") == b"\x1bOA" * 5
    t.feed(b"\x1b[?1000h")  # tracking wins over alternate scroll
    assert act(t, 0, 0, "left", "wheel_up") == CSI + b"M`!!"


def test_bad_actions_are_one_line_errors():
    t = term()
    with pytest.raises(MouseError, match="unknown mouse action"):
        act(t, 0, 0, "left", "hover")
    with pytest.raises(MouseError, match="unknown mouse button"):
        act(t, 0, 0, "thumb", "click")
    with pytest.raises(MouseError, match="integer cells"):
        t.mouse_input(1.5, 0)  # type: ignore[arg-type]


# -- the pointer ---------------------------------------------------------------------------------
def test_pointer_follows_the_mouse_and_the_mode():
    t = term()
    assert t.snapshot().pointer is None
    act(t, 3, 2, "left", "move")
    assert t.snapshot().pointer == Pointer(3 * 8 + 4, 2 * 16 + 8, "ibeam")
    t.feed(b"\x1b[?1000h")
    assert t.snapshot().pointer == Pointer(28, 40, "arrow")
    t.mouse_input(0, 0, "left", "move", cell_size=(20, 10))
    assert t.pointer == Pointer(5, 10, "arrow")


def test_pointer_travels_in_screen_json():
    s = ScreenState.from_lines(["hi"], 10, 2)
    s.pointer = Pointer(12, 5, "ibeam")
    data = s.to_json()
    assert data["pointer"] == {"x": 12, "y": 5, "shape": "ibeam"}
    assert ScreenState.from_json(data).pointer == s.pointer
    assert s.copy().pointer == s.pointer
    assert "pointer" not in ScreenState.from_lines(["hi"]).to_json()
    with pytest.raises(ScreenError, match="pointer shape"):
        ScreenState.from_json({**data, "pointer": {"x": 1, "y": 1, "shape": "hand"}})
    with pytest.raises(ScreenError, match="pointer"):
        ScreenState.from_json({**data, "pointer": {"x": "1", "y": 1}})


def test_mouse_state_without_terminal():
    m = Mouse()
    assert m.pointer(MouseMode(), (16, 8)) is None
    assert m.act(MouseMode("normal", "sgr"), 1, 1, "left", "press", cols=5, rows=5) == \
        b"\x1b[<0;2;2M"
    assert m.held == [0]

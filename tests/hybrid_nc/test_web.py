"""The web terminal: protocol pieces, the serving object, and the WebSocket protocol through
FastAPI's TestClient over real sessions (sandboxed shell + sympy, raster renderer)."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from starlette.websockets import WebSocketDisconnect

from hybrid_nc.web.server import (
    HEADER,
    ProtocolError,
    QueueFull,
    ServeConfig,
    TerminalService,
    WebSession,
    _request_problem,
    cell_span,
    create_app,
    frame_updates,
    is_loopback,
    parse_client_message,
)
from renderer.raster import RasterRenderer

SESSION = (("renderer", "raster"), ("reasoners", ("shell", "sympy")))
LOCAL = {"host": "127.0.0.1:8765"}
pytestmark = pytest.mark.timeout(90)


# -- pieces -----------------------------------------------------------------------------------
def test_client_messages_are_validated() -> None:
    cfg = ServeConfig(max_paste=10, max_cols=100, max_rows=50)
    ok = parse_client_message('{"type": "keys", "keys": ["a", "Enter", "ctrl+c"]}', cfg)
    assert ok == {"type": "keys", "keys": ["a", "Enter", "ctrl+c"]}
    assert parse_client_message('{"type":"resize","cols":80,"rows":24}', cfg)["cols"] == 80
    assert parse_client_message('{"type":"config","view":"side","seed":3,"steps":2,'
                                '"theme":"light"}', cfg) == {
        "type": "config", "view": "side", "seed": 3, "steps": 2, "theme": "light"}
    bad = ['nope', '[]', '{"type": 1}', '{"type": "keys", "keys": []}',
           '{"type": "keys", "keys": [""]}', '{"type": "paste", "data": "' + "x" * 11 + '"}',
           '{"type": "text"}', '{"type": "resize", "cols": 101, "rows": 10}',
           '{"type": "resize", "cols": true, "rows": 10}', '{"type": "config", "view": "3d"}',
           '{"type": "config", "steps": 0}', '{"type": "config", "theme": "nope"}',
           '{"type": "call"}']
    for raw in bad:
        with pytest.raises(ProtocolError) as err:
            parse_client_message(raw, cfg)
        assert "\n" not in str(err.value)


def apply(canvas: np.ndarray | None, message: bytes) -> np.ndarray:
    """What the page does with a binary frame update."""
    _ch, w, h, y = HEADER.unpack(message[:13])
    band = np.array(Image.open(io.BytesIO(message[13:])).convert("RGB"))
    if canvas is None or canvas.shape != (h, w, 3):
        canvas = np.zeros((h, w, 3), np.uint8)
    canvas[y:y + band.shape[0]] = band
    return canvas


def test_frame_updates_rebuild_the_frame_from_changed_bands() -> None:
    rng = np.random.default_rng(0)
    a = rng.integers(0, 255, (96, 40, 3), dtype=np.uint8)
    b = a.copy()
    b[5:7] = 0
    b[60:62, 3] = 255
    first = frame_updates(None, a)
    assert len(first) == 1 and HEADER.unpack(first[0][:13]) == (0, 40, 96, 0)
    canvas = apply(None, first[0])
    msgs = frame_updates(a, b, channel=1)
    assert len(msgs) == 2  # two bands far apart, not the whole frame
    assert [HEADER.unpack(m[:13])[3] for m in msgs] == [5, 60]
    for m in msgs:
        canvas = apply(canvas, m)
    assert np.array_equal(canvas, b)
    assert frame_updates(b, b) == []
    resized = frame_updates(b, np.zeros((16, 8, 3), np.uint8))
    assert HEADER.unpack(resized[0][:13]) == (0, 8, 16, 0)


def test_cell_spans_are_javascript_string_offsets() -> None:
    chars = ["a", "世", "", "😀", "", "e\u0301", "b"]
    line = "".join(chars)
    assert cell_span(chars, 0) == (0, 1)
    assert cell_span(chars, 2) == cell_span(chars, 1) == (1, 2)  # right half -> the wide char
    start, end = cell_span(chars, 3)
    assert line.encode("utf-16-le")[2 * start:2 * end].decode("utf-16-le") == "😀"
    assert cell_span(chars, 6) == (6, 7)  # after a 2-unit emoji and a 2-unit e + accent


def test_requests_need_a_token_off_loopback_and_a_local_host_without() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.1.2.3")
    local = TerminalService(ServeConfig())
    assert local.token is None
    assert _request_problem(local, {"host": "127.0.0.1:8765"}, None) is None
    assert "loopback" in _request_problem(local, {"host": "evil.example:8765"}, None)
    assert "cross-origin" in _request_problem(
        local, {"host": "127.0.0.1:8765", "origin": "http://evil.example"}, None)
    public = TerminalService(ServeConfig(host="0.0.0.0"))
    assert public.token and len(public.token) >= 24
    assert "token" in _request_problem(public, {"host": "10.0.0.5:8765"}, None)
    assert "token" in _request_problem(public, {"host": "10.0.0.5:8765"}, "wrong")
    assert _request_problem(public, {"host": "10.0.0.5:8765"}, public.token) is None


def test_input_queue_is_bounded() -> None:
    service = TerminalService(ServeConfig(max_queue=2))
    tab = WebSession("x", service, lambda item: None)  # not started: nothing drains the queue
    tab.receive({"type": "keys", "keys": ["a"]})
    tab.receive({"type": "keys", "keys": ["b"]})
    with pytest.raises(QueueFull, match="input queue is full"):
        tab.receive({"type": "keys", "keys": ["c"]})


def test_a_burst_applies_every_key_and_sends_one_frame() -> None:
    sent: list[Any] = []
    # a long frame interval: no frame is sent mid-burst, only when the burst is done
    service = TerminalService(ServeConfig(session_options=SESSION, frame_interval=60.0))
    tab = WebSession("burst", service, sent.append)
    for ch in "echo burst-of-keys":  # queued before the worker starts: one burst
        tab.receive({"type": "keys", "keys": [ch]})
    tab.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        steps = [m for m in sent if isinstance(m, dict) and m["type"] == "step"]
        if steps and "echo burst-of-keys" in steps[-1]["lines"][0]:
            break
        time.sleep(0.05)
    tab.close("test over")
    assert tab.join(20)
    steps = [m for m in sent if isinstance(m, dict) and m["type"] == "step"]
    assert steps[-1]["lines"][0].rstrip().endswith("$ echo burst-of-keys")
    # the first frame (the prompt) and the frame after the burst; the 18 in between are skipped
    assert len(steps) == 2
    # and the 18 keys went to the shell as one burst: one drawn and verified frame, not 18
    assert tab.session.steps[-1].index <= 3
    assert sent[-2] == {"type": "closed", "reason": "test over"}


# -- the WebSocket protocol -------------------------------------------------------------------
class Page:
    """A scripted stand-in for app.js: applies frame updates to canvases, keeps the last step."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.canvas: dict[int, np.ndarray | None] = {0: None, 1: None}
        self.step: dict[str, Any] | None = None
        self.messages: list[dict[str, Any]] = []

    def send(self, **msg: Any) -> None:
        self.ws.send_text(json.dumps(msg))

    def until(self, pred: Callable[[dict[str, Any]], bool], limit: int = 2000) -> dict[str, Any]:
        for _ in range(limit):
            m = self.ws.receive()
            if m.get("type") == "websocket.close":
                raise AssertionError(f"socket closed: {m}")
            if m.get("bytes") is not None:
                ch = m["bytes"][0]
                self.canvas[ch] = apply(self.canvas[ch], m["bytes"])
                continue
            msg = json.loads(m["text"])
            self.messages.append(msg)
            if msg["type"] == "step":
                self.step = msg
            if pred(msg):
                return msg
        raise AssertionError("expected message never came")

    def at_prompt(self) -> dict[str, Any]:
        """The hello, then the first step with the shell's prompt on its first line."""
        self.until(lambda m: m["type"] == "hello")
        return self.step_where(lambda lines: lines[0].endswith("$"))

    def step_where(self, pred: Callable[[list[str]], bool]) -> dict[str, Any]:
        return self.until(lambda m: m["type"] == "step" and pred([ln.rstrip() for ln in m["lines"]]))


def client(**config: Any) -> TestClient:
    service = TerminalService(ServeConfig(session_options=SESSION, **config))
    return TestClient(create_app(service))


def test_page_and_info_are_served() -> None:
    with client() as c:
        page = c.get("/", headers=LOCAL)
        assert page.status_code == 200
        assert 'data-testid="truth"' in page.text and "<canvas" in page.text
        assert c.get("/static/app.js", headers=LOCAL).status_code == 200
        info = c.get("/api/info", headers=LOCAL).json()
        assert info["cell"] == [16, 8] and "dark" in info["themes"]
        assert info["token_required"] is False


def test_typing_pasting_resizing_over_the_websocket() -> None:
    with client() as c, c.websocket_connect("/ws?cols=60&rows=12", headers=LOCAL) as ws:
        page = Page(ws)
        hello = page.until(lambda m: m["type"] == "hello")
        assert (hello["cols"], hello["rows"], hello["cell"]) == (60, 12, [16, 8])
        assert hello["reasoners"] == ["shell", "sympy"] and hello["renderer"] == "raster"
        page.step_where(lambda lines: lines[0].endswith("$"))

        page.send(type="keys", keys=[*"echo hello", "Enter"])
        step = page.step_where(lambda lines: "hello" in lines[1:2])
        assert step["route"] == "shell" and step["accuracy"] == {"raw": 1.0, "repaired": 1.0}
        assert step["wrong"] == [] and step["timings"]["render"] > 0
        # the page's canvas, rebuilt from the bands it was sent, is the frame of that screen
        screen = c.app.state.service.sessions[hello["session"]].session.screen
        assert np.array_equal(page.canvas[0], RasterRenderer().render(screen).frame)

        page.send(type="paste", data="pasted text")
        page.step_where(lambda lines: lines[2].endswith("$ pasted text"))
        page.send(type="keys", keys=["ctrl+u", *"calc 6*7", "Enter"])
        step = page.step_where(lambda lines: "42" in lines)
        assert step["route"] == "sympy"

        page.send(type="resize", cols=40, rows=8)
        step = page.until(lambda m: m["type"] == "step" and m["cols"] == 40)
        assert step["rows"] == 8 and page.canvas[0].shape == (8 * 16, 40 * 8, 3)

        page.send(type="keys", keys=["nosuchkey"])
        assert "unknown key" in page.until(lambda m: m["type"] == "error")["message"]
        page.send(type="bogus")
        assert "unknown message type" in page.until(lambda m: m["type"] == "error")["message"]


def test_ctrl_c_stops_a_running_command() -> None:
    with client() as c, c.websocket_connect("/ws?cols=60&rows=10", headers=LOCAL) as ws:
        page = Page(ws)
        page.step_where(lambda lines: lines[0].endswith("$"))
        page.send(type="keys", keys=[*"sleep 100", "Enter"])
        page.step_where(lambda lines: lines[0].endswith("sleep 100"))
        time.sleep(1.0)  # the Enter is now waiting for the command
        t0 = time.monotonic()
        page.send(type="keys", keys=["ctrl+c"])
        page.step_where(lambda lines: lines[1] == "^C" and lines[2].endswith("$"))
        assert time.monotonic() - t0 < 5


def test_a_running_commands_output_streams_in() -> None:
    with client() as c, c.websocket_connect("/ws?cols=60&rows=10", headers=LOCAL) as ws:
        page = Page(ws)
        page.step_where(lambda lines: lines[0].endswith("$"))
        page.send(type="keys", keys=[*"for i in 1 2 3; do echo line$i; sleep 0.7; done", "Enter"])
        # a frame with the first line and not yet the last: drawn while the command ran
        step = page.step_where(lambda lines: "line1" in lines)
        assert "line3" not in [ln.rstrip() for ln in step["lines"]]
        page.step_where(lambda lines: "line3" in lines and lines[4].endswith("$"))


def test_side_by_side_sends_the_raster_reference() -> None:
    with client() as c, c.websocket_connect("/ws?cols=30&rows=6", headers=LOCAL) as ws:
        page = Page(ws)
        page.step_where(lambda lines: lines[0].endswith("$"))
        page.send(type="config", view="side", seed=5, theme="light")
        config = page.until(lambda m: m["type"] == "config")
        assert (config["view"], config["seed"], config["theme"]) == ("side", 5, "light")
        page.send(type="keys", keys=[*"echo x", "Enter"])
        page.step_where(lambda lines: lines[1] == "x")
        assert page.canvas[1] is not None and np.array_equal(page.canvas[0], page.canvas[1])
        light_bg = np.array([250, 250, 245], np.uint8)  # the light theme's background
        assert (page.canvas[0][-1, -1] == light_bg).all()
        page.send(type="config", steps=2)
        assert "raster renderer does not take steps" in page.until(
            lambda m: m["type"] == "error")["message"]


def test_an_unavailable_renderer_falls_back_with_a_notice() -> None:
    service = TerminalService(ServeConfig(session_options=(
        ("renderer", "no-such-renderer"), ("reasoners", ("shell", "sympy")))))
    with TestClient(create_app(service)) as c, c.websocket_connect("/ws", headers=LOCAL) as ws:
        hello = Page(ws).until(lambda m: m["type"] == "hello")
        assert hello["renderer"] == "raster" and hello["primary"] == "no-such-renderer"
        assert "no-such-renderer renderer is unavailable" in hello["notice"]


def test_session_limit_and_idle_timeout() -> None:
    with client(max_sessions=1, idle_timeout=1.0) as c:
        with c.websocket_connect("/ws", headers=LOCAL) as first:
            page = Page(first)
            page.until(lambda m: m["type"] == "hello")
            with c.websocket_connect("/ws", headers=LOCAL) as second:
                busy = json.loads(second.receive_text())
                assert busy["fatal"] and "server busy" in busy["message"]
            closed = page.until(lambda m: m["type"] == "closed")
            assert "without input" in closed["reason"]
        deadline = time.monotonic() + 10
        while c.app.state.service.sessions and time.monotonic() < deadline:
            time.sleep(0.05)
        assert c.app.state.service.sessions == {}


def test_token_is_checked_on_the_websocket_and_the_api() -> None:
    service = TerminalService(ServeConfig(host="0.0.0.0", session_options=SESSION))
    with TestClient(create_app(service)) as c:
        with pytest.raises(WebSocketDisconnect) as err, c.websocket_connect("/ws"):
            pass
        assert err.value.code == 1008
        assert c.get("/api/info").status_code == 403
        assert c.get(f"/api/info?token={service.token}").status_code == 200
        with c.websocket_connect(f"/ws?token={service.token}") as ws:
            assert Page(ws).until(lambda m: m["type"] == "hello")["session"]


def test_recordings_download_as_cast_and_mp4() -> None:
    with client() as c, c.websocket_connect("/ws?cols=40&rows=8", headers=LOCAL) as ws:
        page = Page(ws)
        sid = page.until(lambda m: m["type"] == "hello")["session"]
        page.send(type="keys", keys=[*"echo recorded", "Enter"])
        page.step_where(lambda lines: lines[1] == "recorded")
        cast = c.get(f"/api/sessions/{sid}/recording.cast", headers=LOCAL)
        assert cast.status_code == 200
        lines = cast.text.splitlines()
        assert json.loads(lines[0])["width"] == 40
        assert "recorded" in "".join(json.loads(ln)[2] for ln in lines[1:] if ln)
        mp4 = c.get(f"/api/sessions/{sid}/recording.mp4", headers=LOCAL)
        assert mp4.status_code == 200 and mp4.content[4:8] == b"ftyp"
        assert c.get("/api/sessions/nope/recording.cast", headers=LOCAL).status_code == 404
        assert c.get(f"/api/sessions/{sid}/recording.exe", headers=LOCAL).status_code == 404


def test_serve_command_reports_bad_usage_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    from hybrid_nc.cli import main

    assert main(["serve", "--port", "70000"]) == 2  # bad usage
    assert "--port 70000 is not a port number" in capsys.readouterr().err
    assert main(["serve", "--max-sessions", "0"]) == 2
    assert "--max-sessions must be at least 1" in capsys.readouterr().err
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["serve", "--port", str(port), "--renderer", "raster"]) == 1  # a failure
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and f"cannot listen on 127.0.0.1:{port}" in err


class _MisdrawingRenderer(RasterRenderer):
    """The raster, except that every 'o' is drawn as '0': a renderer that gets cells wrong,
    so verify & repair has something to find (and the page something to highlight)."""

    name = "misdrawing"

    def render(self, screen: Any, **kwargs: Any) -> Any:
        wrong = screen.copy()
        wrong.chars = [["0" if ch == "o" else ch for ch in row] for row in screen.chars]
        out = super().render(wrong, damage=None)
        out.rows = list(range(screen.rows))
        return out


def test_cells_drawn_wrong_before_repair_are_sent_for_highlighting() -> None:
    from renderer import registry

    registry.register("misdrawing", lambda **options: _MisdrawingRenderer(**options))
    try:
        service = TerminalService(ServeConfig(session_options=(
            ("renderer", "misdrawing"), ("reasoners", ("shell", "sympy")))))
        with TestClient(create_app(service)) as c, \
                c.websocket_connect("/ws?cols=40&rows=6", headers=LOCAL) as ws:
            page = Page(ws)
            assert page.until(lambda m: m["type"] == "hello")["renderer"] == "misdrawing"
            page.send(type="text", data="echo föo")
            step = page.step_where(lambda lines: lines[0].endswith("$ echo föo"))
            line = step["lines"][step["cursor"][0]]
            assert step["wrong_source"] == "verify" and step["wrong_total"] == 2
            # the two 'o' cells ("echo" and "föo"), as string offsets of the line
            assert sorted(line[s:e] for _r, s, e in step["wrong"]) == ["o", "o"]
            assert step["accuracy"]["raw"] < 1.0 and step["accuracy"]["repaired"] == 1.0
            screen = next(iter(service.sessions.values())).session.screen
            # what reached the canvas is the repaired frame: the raster of the true screen
            assert np.array_equal(page.canvas[0], RasterRenderer().render(screen).frame)
    finally:
        registry.unregister("misdrawing")


def test_a_look_survives_switching_the_view() -> None:
    """`serve --look xterm`: raster view and back gives the xterm look again, not the default
    neural renderer (its cells are 8x17, the default's 8x16)."""
    look = (("renderer", "neural"), ("reasoners", ("sympy",)),
            ("renderer_options", (("look", "xterm"),)))
    service = TerminalService(ServeConfig(session_options=look))
    with TestClient(create_app(service)) as c, \
            c.websocket_connect("/ws?cols=20&rows=4", headers=LOCAL) as ws:
        page = Page(ws)
        page.until(lambda m: m["type"] == "hello")
        tab = next(iter(c.app.state.service.sessions.values()))
        assert tab.session.renderer.cell_size == (17, 8)
        page.send(type="config", view="raster")
        page.until(lambda m: m["type"] == "config")
        page.send(type="config", view="neural")
        page.until(lambda m: m["type"] == "config" and m["view"] == "neural")
        assert tab.session.renderer.cell_size == (17, 8) and tab.notice is None


def test_mouse_messages_reach_the_session_and_the_pointer_is_drawn() -> None:
    cfg = ServeConfig()
    assert parse_client_message('{"type":"mouse","col":3,"row":1,"button":"right",'
                                '"action":"press"}', cfg) == {
        "type": "mouse", "col": 3, "row": 1, "button": "right", "action": "press"}
    for raw in ('{"type":"mouse","col":-1,"row":0}', '{"type":"mouse","col":1,"row":0,'
                '"action":"hover"}', '{"type":"mouse","col":1,"row":0,"button":"thumb"}'):
        with pytest.raises(ProtocolError):
            parse_client_message(raw, cfg)
    with client() as c, c.websocket_connect("/ws?cols=40&rows=8", headers=LOCAL) as ws:
        page = Page(ws)
        page.at_prompt()
        page.send(type="mouse", col=5, row=2, button="left", action="move")
        step = page.until(lambda m: m["type"] == "step" and m.get("pointer"))
        assert step["pointer"] == {"x": 44, "y": 40, "shape": "ibeam"}
        from renderer import pointer as pointer_sprite
        from terminal.screen import Pointer

        assert pointer_sprite.locate(page.canvas[0]) == Pointer(44, 40, "ibeam")


def test_select_messages_show_the_selection_and_answer_its_exact_text() -> None:
    from terminal.screen import INVERSE

    cfg = ServeConfig()
    assert parse_client_message('{"type":"select","anchor":[1,2],"head":[3,4],"unit":"word"}',
                                cfg) == {"type": "select", "anchor": [1, 2], "head": [3, 4],
                                         "unit": "word"}
    assert parse_client_message('{"type":"select"}', cfg) == {"type": "select", "anchor": None}
    for raw in ('{"type":"select","anchor":[1]}', '{"type":"select","anchor":[1,-2]}',
                '{"type":"select","anchor":[1,2],"unit":"page"}',
                '{"type":"select","anchor":[1,2],"head":"x"}'):
        with pytest.raises(ProtocolError):
            parse_client_message(raw, cfg)
    with client() as c, c.websocket_connect("/ws?cols=40&rows=8", headers=LOCAL) as ws:
        page = Page(ws)
        page.at_prompt()
        page.send(type="keys", keys=[*"echo alpha beta-gamma/x.y", "Enter"])
        step = page.step_where(lambda lines: lines[1] == "alpha beta-gamma/x.y")
        assert step["mouse"] == "off" and step["selection"] is None
        tab = next(iter(c.app.state.service.sessions.values()))

        # a double-click: the word under the pointer, paths whole
        page.send(type="select", anchor=[1, 8], head=[1, 8], unit="word")
        answer = page.until(lambda m: m["type"] == "selection")
        assert answer["text"] == "beta-gamma/x.y" and answer["unit"] == "word"
        step = page.until(lambda m: m["type"] == "step" and m["selection"] is not None)
        assert step["selection"]["text"] == "beta-gamma/x.y"
        screen = tab.session.screen
        assert (screen.attrs[1, 6:20] & INVERSE).all() and not (screen.attrs[1, :6] & INVERSE).any()
        # the page's canvas shows the selection as the renderer drew it: inverse cells
        assert np.array_equal(page.canvas[0], RasterRenderer().render(screen).frame)

        # a drag over two rows, then a triple-click's whole row
        page.send(type="select", anchor=[0, 2], head=[1, 4], unit="cell")
        text = page.until(lambda m: m["type"] == "selection")["text"]
        assert text == step["lines"][0][2:].rstrip() + "\nalpha"
        page.send(type="select", anchor=[1, 3], head=[1, 3], unit="line")
        assert page.until(lambda m: m["type"] == "selection")["text"] == "alpha beta-gamma/x.y"

        # cleared, then dropped by itself once the text under it changes
        page.send(type="select")
        assert page.until(lambda m: m["type"] == "selection")["text"] == ""
        page.until(lambda m: m["type"] == "step" and m["selection"] is None)
        assert not (tab.session.screen.attrs & INVERSE).any()
        page.send(type="select", anchor=[1, 0], head=[1, 0], unit="word")
        assert page.until(lambda m: m["type"] == "selection")["text"] == "alpha"
        page.send(type="keys", keys=[*"clear", "Enter"])
        page.step_where(lambda lines: lines[0].endswith("$") and lines[1] == "")
        deadline = time.monotonic() + 10
        while tab._selection is not None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert tab._selection is None and not (tab.session.screen.attrs & INVERSE).any()

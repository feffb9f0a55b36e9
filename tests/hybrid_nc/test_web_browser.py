"""`hybrid-nc serve` in a real headless Chromium (Debian's, driven by Playwright - no download):
type into the canvas, watch the truth panel and the pixels, paste, interrupt a command, resize;
the loading state before the session; the mouse: a program's on-screen button, the wheel in a
full-screen program, drag / double- / triple-click selection copied exactly to the clipboard."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from curses_programs import BUTTON_PROGRAM
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("HYBRID_NC_CHROMIUM", "/usr/bin/chromium")
# what works as root in a container with no network (../shared/notes/browser-tests.md)
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

TRUTH = "document.querySelector('[data-testid=truth]').textContent"


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """`hybrid-nc serve --port 0` in a subprocess (the real shell + sympy, default renderer)."""
    assert Path(CHROMIUM).exists() or shutil.which(CHROMIUM), \
        f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
    proc = subprocess.Popen([sys.executable, "-m", "hybrid_nc", "serve", "--port", "0"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        m = re.search(r"open (http://\S+)", line)
        assert m, f"serve did not start: {line!r} {proc.stderr.read() if proc.poll() else ''}"
        yield m.group(1)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            status = proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise
        # Ctrl+C is how a server is stopped: every tab closed, a clean exit
        assert status == 0 and "hybrid-nc serve: stopped" in proc.stderr.read()


def canvas_pixels(page) -> np.ndarray:
    url = page.evaluate("document.getElementById('screen').toDataURL('image/png')")
    return np.array(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGB"))


def wait_truth(page, pattern: str, timeout: float = 30_000) -> None:
    """Until a line of the truth panel matches `pattern` (the highlighted cursor cell may add a
    blank at a line's end, so patterns end in ` *$`)."""
    page.wait_for_function(f"new RegExp({pattern!r}, 'm').test({TRUTH})", timeout=timeout)


def settle(page, quiet_ms: int = 600) -> None:
    """Until no frame update has arrived for `quiet_ms` (the first fit-to-window resize, a
    notice bar appearing, ... are over)."""
    last, since = -1, time.monotonic()
    while time.monotonic() - since < quiet_ms / 1000:
        now = page.evaluate("window.hnc.counters.updates")
        if now != last:
            last, since = now, time.monotonic()
        page.wait_for_timeout(100)


@contextlib.contextmanager
def chromium_page(server: str) -> Iterator[tuple[Any, list[str]]]:
    """A page of headless Chromium (1280x720, clipboard allowed for `server`) and the list the
    page's uncaught errors go to; the browser is closed afterwards."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 720})
            context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server)
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            yield page, errors
        finally:
            browser.close()


def test_the_terminal_in_chromium(server: str, artifacts_dir: Path) -> None:
    with chromium_page(server) as (page, errors):
        page.goto(server)
        page.wait_for_function("window.hnc && window.hnc.counters.steps > 0 "
                               "&& window.hnc.counters.updates > 0", timeout=60_000)
        wait_truth(page, r"\$ *$")
        status = page.get_by_test_id("status").text_content()
        assert "connected" in status and "shell+sympy" in status, status
        settle(page)
        before = canvas_pixels(page)

        # 1. click, type, Enter: the shell's answer in the truth panel and on the canvas
        page.click("#screen")
        assert page.evaluate("document.activeElement.id") == "input"
        page.keyboard.type("echo hello")
        page.keyboard.press("Enter")
        wait_truth(page, "^hello *$")
        page.wait_for_function("window.hnc.step.lines.some(l => l.trim() === 'hello')")
        settle(page)  # the last band may still be decoding
        after = canvas_pixels(page)
        assert after.shape == before.shape
        changed = (after != before).any(-1)
        assert changed.sum() > 200, "the canvas did not change"
        trace = page.get_by_test_id("trace").text_content()
        assert "shell" in trace and "accuracy" in trace and "repaired" in trace

        # 2. paste: the clipboard's text reaches the shell's line editor
        page.evaluate("navigator.clipboard.writeText('pasted via the clipboard')")
        page.keyboard.press("Control+V")
        wait_truth(page, r"\$ pasted via the clipboard *$")
        page.keyboard.press("Control+U")  # readline: kill the line
        wait_truth(page, r"\$ *$")

        # 3. a command that would run for 100 s, stopped with Ctrl+C
        page.keyboard.type("sleep 100")
        page.keyboard.press("Enter")
        page.wait_for_timeout(1500)
        t0 = time.monotonic()
        page.keyboard.press("Control+C")
        page.wait_for_function(
            f"(() => {{ const l = {TRUTH}.split('\\n').map(s => s.trimEnd()).filter(s => s);"
            " return l.length > 2 && l[l.length - 2] === '^C' && l[l.length - 1].endsWith('$')"
            " && l[l.length - 3].endsWith('sleep 100'); })()", timeout=15_000)
        assert time.monotonic() - t0 < 10

        # 4. Tab completes instead of leaving the terminal
        page.keyboard.type("ech")
        page.keyboard.press("Tab")
        wait_truth(page, r"\$ echo  *$")
        assert page.evaluate("document.activeElement.id") == "input"
        page.keyboard.press("Control+U")

        # 5. a smaller window is a smaller terminal
        cols = page.evaluate("window.hnc.step.cols")
        page.set_viewport_size({"width": 900, "height": 600})
        page.wait_for_function(f"window.hnc.step.cols < {cols}", timeout=15_000)
        new_cols = page.evaluate("window.hnc.step.cols")
        width = page.evaluate("document.getElementById('screen').width")
        assert width == new_cols * 8

        page.keyboard.type("echo done")
        page.keyboard.press("Enter")
        wait_truth(page, "^done *$")

        # 6. copy: the exact symbolic text reaches the clipboard
        page.click("#copy")
        page.wait_for_function("navigator.clipboard.readText().then(t => t.includes('done'))")
        copied = page.evaluate("navigator.clipboard.readText()")
        screen = [ln.rstrip() for ln in page.evaluate("window.hnc.step.lines")]
        assert copied == "\n".join(screen).rstrip("\n")
        assert copied.splitlines()[-2] == "done"

        # 7. side by side: the raster reference of the same screen appears next to it
        page.select_option("#view", "side")
        page.wait_for_function("!document.getElementById('reference-figure').hidden "
                               "&& document.getElementById('reference').width > 8 "
                               "&& window.hnc.step.cols < " + str(new_cols), timeout=30_000)
        settle(page)
        page.screenshot(path=str(artifacts_dir / "web_terminal.png"))
        assert errors == [], errors


def cell_xy(page, row: int, col: int) -> tuple[float, float]:
    """The page coordinates of the centre of cell (row, col) on the main canvas."""
    box = page.locator("#screen").bounding_box()
    h, w = page.evaluate("[window.hnc.step.rows, window.hnc.step.cols]")
    return (box["x"] + (col + 0.5) * box["width"] / w, box["y"] + (row + 0.5) * box["height"] / h)


def run_line(page, line: str) -> None:
    """Type a line at the shell through the clipboard (one paste message) and press Enter."""
    page.evaluate(f"navigator.clipboard.writeText({json.dumps(line)})")
    page.keyboard.press("Control+V")
    page.keyboard.press("Enter")


def row_of(page, text: str) -> int:
    lines = [ln.rstrip() for ln in page.evaluate("window.hnc.step.lines")]
    return lines.index(text)


def test_loading_state_the_mouse_and_selection_in_chromium(server: str,
                                                           artifacts_dir: Path) -> None:
    with chromium_page(server) as (page, errors):

        # 1. before the session exists the canvas already says what is happening
        held: list = []
        page.route("**/api/info*", lambda route: held.append(route))
        page.goto(server)
        page.wait_for_function("document.readyState === 'complete'")
        deadline = time.monotonic() + 10
        while not held and time.monotonic() < deadline:
            page.wait_for_timeout(50)
        assert held, "the page never asked for /api/info"
        loading = canvas_pixels(page)
        assert page.evaluate("window.hnc.counters.updates") == 0
        assert (loading != loading[0, 0]).any(-1).sum() > 300, "the canvas is blank"
        page.screenshot(path=str(artifacts_dir / "web_loading.png"))
        held[0].continue_()
        page.unroute("**/api/info*")
        page.wait_for_function("window.hnc.counters.updates > 0 && window.hnc.step",
                               timeout=60_000)
        wait_truth(page, r"\$ *$")
        settle(page)
        page.click("#screen")

        # 2. a program's on-screen button: a click reaches it in the mode it asked for
        code = base64.b64encode(BUTTON_PROGRAM.encode()).decode()
        run_line(page, f"echo {code} | base64 -d > /tmp/hnc_web_button.py")
        wait_truth(page, r"\$ *$")
        run_line(page, "python3 /tmp/hnc_web_button.py")
        wait_truth(page, "^count 0 *$")
        page.wait_for_function("window.hnc.step.mouse !== 'off'", timeout=15_000)
        page.mouse.click(*cell_xy(page, 0, 2))
        wait_truth(page, "^count 1 *$")
        page.mouse.click(*cell_xy(page, 0, 4))
        wait_truth(page, "^count 2 *$")
        page.mouse.click(*cell_xy(page, 5, 20))  # not on the button
        wait_truth(page, "^got (press|click) at 20,5 *$")  # a browser click: either
        assert page.evaluate("window.hnc.step.lines[1].trimEnd()") == "count 2"
        page.mouse.move(*cell_xy(page, 6, 12))
        page.mouse.wheel(0, -100)
        wait_truth(page, "^got wheel up at 12,6 *$")
        pointer = page.evaluate("window.hnc.step.pointer")
        assert pointer and pointer["shape"] == "arrow"
        page.keyboard.press("q")
        wait_truth(page, r"\$ *$")

        # 3. the wheel scrolls a full-screen program (vim with the mouse on)
        if shutil.which("vim"):
            run_line(page, "seq -f 'line %g of the file' 1 300 > /tmp/hnc_web_lines.txt")
            wait_truth(page, r"\$ *$")
            run_line(page, "vim -u NONE -N -i NONE -c 'set mouse=a' /tmp/hnc_web_lines.txt")
            page.wait_for_function("window.hnc.step.lines[0].trimEnd() === 'line 1 of the file'"
                                   " && window.hnc.step.mouse !== 'off'", timeout=30_000)
            page.mouse.move(*cell_xy(page, 5, 10))
            for _ in range(3):
                page.mouse.wheel(0, 100)
            page.wait_for_function("/^line (\\d+) of/.test(window.hnc.step.lines[0]) && "
                                   "+window.hnc.step.lines[0].split(' ')[1] > 3",
                                   timeout=15_000)
            page.keyboard.press("Escape")
            page.keyboard.type(":q!")
            page.keyboard.press("Enter")
            page.wait_for_function("window.hnc.step.mouse === 'off'", timeout=15_000)
            wait_truth(page, r"\$ *$")

        # 4. selection at the shell: drag, double-click, triple-click; copies are exact
        page.keyboard.type("clear")
        page.keyboard.press("Enter")
        line = "select me: alpha beta-gamma/x.y"
        run_line(page, f"echo '{line}'")
        wait_truth(page, f"^{re.escape(line)} *$")
        settle(page)
        row = row_of(page, line)
        # pointer moves are throttled: a sweep over the canvas is a few messages, not 60
        page.mouse.move(*cell_xy(page, 3, 0))
        sent, t0 = page.evaluate("window.hnc.counters.mouse"), time.monotonic()
        page.mouse.move(*cell_xy(page, 3, 59), steps=60)
        moves = page.evaluate("window.hnc.counters.mouse") - sent
        assert 1 <= moves <= (time.monotonic() - t0) / 0.04 + 2 and moves < 30, moves
        settle(page)
        plain = canvas_pixels(page)
        page.mouse.move(*cell_xy(page, row, 0))
        page.mouse.down()
        page.mouse.move(*cell_xy(page, row, 4), steps=3)
        page.mouse.move(*cell_xy(page, row, 8), steps=3)
        page.mouse.up()
        page.wait_for_function("window.hnc.selection && "
                               "window.hnc.selection.text === 'select me'", timeout=15_000)
        page.wait_for_function("window.hnc.step.selection && "
                               "window.hnc.step.selection.text === 'select me'",
                               timeout=15_000)
        settle(page)
        shown = canvas_pixels(page)
        band = (slice(row * 16, row * 16 + 16), slice(0, 9 * 8))
        # the renderer drew the selected cells inverted: light where they were dark
        assert shown[band].mean() > plain[band].mean() + 60
        rest = (slice(row * 16, row * 16 + 16), slice(10 * 8, 30 * 8))
        # and the cells past it not (the neural renderer redraws the whole row, so not
        # bit for bit)
        assert abs(float(shown[rest].mean()) - float(plain[rest].mean())) < 10
        page.keyboard.press("Control+Shift+C")
        page.wait_for_function("navigator.clipboard.readText().then(t => t === 'select me')")

        x, y = cell_xy(page, row, 22)  # inside "beta-gamma/x.y"
        page.mouse.dblclick(x, y)
        page.wait_for_function("window.hnc.selection && "
                               "window.hnc.selection.text === 'beta-gamma/x.y'",
                               timeout=15_000)
        page.click("#copy")
        page.wait_for_function("navigator.clipboard.readText().then(t => t === "
                               "'beta-gamma/x.y')")

        page.mouse.click(x, y, click_count=3)
        page.wait_for_function(f"window.hnc.selection && window.hnc.selection.text === "
                               f"{json.dumps(line)}", timeout=15_000)
        page.click("#screen")  # the keyboard again; a plain click also clears...
        page.wait_for_function("window.hnc.selection === null", timeout=15_000)
        page.mouse.click(x, y, click_count=3)
        page.wait_for_function(f"window.hnc.selection && window.hnc.selection.text === "
                               f"{json.dumps(line)}", timeout=15_000)
        # ...and the browser's own copy (menu, shortcut) gives the selection's exact text
        copied = page.evaluate("""() => {
            const data = new DataTransfer();
            document.dispatchEvent(new ClipboardEvent('copy', {clipboardData: data,
                                                               cancelable: true}));
            return data.getData('text/plain');
        }""")
        assert copied == line

        # 5. the symbolic panel shows whole rows, also of a 60-column terminal
        page.set_viewport_size({"width": 830, "height": 600})
        page.wait_for_function("Math.abs(window.hnc.step.cols - 60) <= 2", timeout=30_000)
        settle(page)
        cols = page.evaluate("window.hnc.step.cols")
        wide = "=" * (cols - 1) + "#"
        run_line(page, "python3 -c 'import os; print(\"=\" * "
                       "(os.get_terminal_size().columns - 1) + chr(35))'")
        wait_truth(page, f"^{wide} *$")
        fits = page.evaluate("""() => {
            const truth = document.querySelector('[data-testid=truth]');
            const text = truth.textContent;
            const at = text.lastIndexOf('#');
            let node = null, offset = at;
            const walker = document.createTreeWalker(truth, NodeFilter.SHOW_TEXT);
            while (walker.nextNode()) {
                const n = walker.currentNode;
                if (offset < n.length) { node = n; break; }
                offset -= n.length;
            }
            const range = document.createRange();
            range.setStart(node, offset);
            range.setEnd(node, offset + 1);
            const r = range.getBoundingClientRect();
            const box = truth.getBoundingClientRect();
            return {right: r.right, boxRight: box.right, scroll: truth.scrollWidth,
                    client: truth.clientWidth};
        }""")
        assert fits["scroll"] <= fits["client"], fits
        assert fits["right"] <= fits["boxRight"], fits
        page.screenshot(path=str(artifacts_dir / "web_mouse.png"))
        assert errors == [], errors

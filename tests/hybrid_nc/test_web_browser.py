"""`hybrid-nc serve` in a real headless Chromium (Debian's, driven by Playwright - no download):
type into the canvas, watch the truth panel and the pixels, paste, interrupt a command, resize."""

from __future__ import annotations

import base64
import io
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
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
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


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


def test_the_terminal_in_chromium(server: str, artifacts_dir: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 720})
            context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server)
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
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
        finally:
            browser.close()

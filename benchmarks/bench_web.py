"""The web terminal's keystroke-to-frame latency, per renderer, side by side with the raster.

Drives the real WebSocket endpoint (FastAPI's TestClient, so no browser and no network stack)
over a real session (sandboxed shell + sympy) and measures, from the moment a key message is
sent until the step message of the frame that shows it has arrived (the frame's PNG bands
come before it):

* one key at a time (each waits for its frame): p50 / p95 ms;
* a burst of 40 keys sent at once: wall ms until the frame showing all of them, and how many
  frames the page got for it (the server applies every key and sends the newest frame);
* a full-screen program's redraw: `less` paging through a long file, one Space at a time (every
  row of the 80x24 screen changes): p50 / p95 ms from the key to the frame of the new page.

Writes benchmarks/results/web.md.

    python benchmarks/bench_web.py [--renderers raster,neural] [--keys 30] [--pages 20]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from hybrid_nc.web.server import ServeConfig, TerminalService, create_app

ROOT = Path(__file__).resolve().parents[1]
LOCAL = {"host": "127.0.0.1:8765"}


def _until(ws: Any, pred: Any) -> tuple[dict[str, Any], int]:
    """Next JSON message matching pred, and how many frame (binary) messages came before it."""
    frames = 0
    while True:
        m = ws.receive()
        if m.get("bytes") is not None:
            frames += 1
            continue
        msg = json.loads(m["text"])
        if pred(msg):
            return msg, frames


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[int(q * (len(values) - 1))]


def measure(renderer: str, keys: int, pages: int) -> dict[str, Any]:
    service = TerminalService(ServeConfig(session_options=(
        ("renderer", renderer), ("reasoners", ("shell", "sympy")))))
    t0 = time.perf_counter()
    with TestClient(create_app(service)) as c, \
            c.websocket_connect("/ws?cols=80&rows=24", headers=LOCAL) as ws:
        hello, _ = _until(ws, lambda m: m["type"] == "hello")
        _until(ws, lambda m: m["type"] == "step")
        start_s = time.perf_counter() - t0
        single = []
        typed = ""
        for i in range(keys):
            ch = "abcdefghij"[i % 10]
            typed += ch
            t = time.perf_counter()
            ws.send_text(json.dumps({"type": "keys", "keys": [ch]}))
            _until(ws, lambda m, want=typed: m["type"] == "step" and m["lines"][0].rstrip()
                   .endswith(want))
            single.append((time.perf_counter() - t) * 1000)
        ws.send_text(json.dumps({"type": "keys", "keys": ["ctrl+u"]}))
        _until(ws, lambda m: m["type"] == "step" and m["lines"][0].rstrip().endswith("$"))
        burst = "echo " + "x" * 35
        t = time.perf_counter()
        ws.send_text(json.dumps({"type": "keys", "keys": list(burst)}))
        msg, frames = _until(ws, lambda m: m["type"] == "step"
                             and m["lines"][0].rstrip().endswith(burst))
        burst_ms = (time.perf_counter() - t) * 1000
        # a full-screen program: less shows 23 numbers a page; Space draws the next page
        ws.send_text(json.dumps({"type": "keys", "keys": ["ctrl+u", *"seq 1 9999 > n; less n",
                                                          "Enter"]}))
        _until(ws, lambda m: m["type"] == "step" and m["lines"][0].strip() == "1"
               and m["lines"][22].strip() == "23")
        redraw = []
        for k in range(1, pages + 1):
            t = time.perf_counter()
            ws.send_text(json.dumps({"type": "keys", "keys": [" "]}))
            _until(ws, lambda m, top=str(1 + 23 * k): m["type"] == "step"
                   and m["lines"][0].strip() == top)
            redraw.append((time.perf_counter() - t) * 1000)
        ws.send_text(json.dumps({"type": "keys", "keys": ["q"]}))
    return {"renderer": hello["renderer"], "start_s": start_s,
            "p50": statistics.median(single), "p95": _pct(single, 0.95),
            "burst_ms": burst_ms, "burst_keys": len(burst), "burst_frames": frames,
            "accuracy": msg["accuracy"], "redraw_p50": statistics.median(redraw),
            "redraw_p95": _pct(redraw, 0.95), "pages": pages}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--renderers", default="raster,neural")
    p.add_argument("--keys", type=int, default=30)
    p.add_argument("--pages", type=int, default=20, help="full-screen redraws (less pages)")
    args = p.parse_args()
    load0 = os.getloadavg()[0]
    rows = [measure(r.strip(), args.keys, args.pages) for r in args.renderers.split(",")]
    load1 = os.getloadavg()[0]
    lines = [
        "# Web terminal: keystroke to frame",
        "",
        f"`python benchmarks/bench_web.py --renderers {args.renderers} --keys {args.keys} "
        f"--pages {args.pages}` (80x24, sandboxed shell + sympy, WebSocket through FastAPI's "
        f"TestClient; 2 CPU cores, load average {load0:.1f} at the start, {load1:.1f} at the end).",
        "",
        "| renderer | session start s | key -> frame p50 ms | p95 ms | burst of 40 keys ms "
        "| frames sent for the burst | full-screen redraw (less, Space) p50 / p95 ms "
        "| accuracy raw / repaired |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['renderer']} | {r['start_s']:.1f} | {r['p50']:.0f} | {r['p95']:.0f} | "
                     f"{r['burst_ms']:.0f} | {r['burst_frames']} | "
                     f"{r['redraw_p50']:.0f} / {r['redraw_p95']:.0f} | "
                     f"{r['accuracy']['raw']:.4f} / {r['accuracy']['repaired']:.4f} |")
    text = "\n".join(lines) + "\n"
    out = ROOT / "benchmarks" / "results" / "web.md"
    out.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()

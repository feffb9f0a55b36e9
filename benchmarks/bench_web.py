"""The web terminal's keystroke-to-frame latency, per renderer, side by side with the raster.

Drives the real WebSocket endpoint (FastAPI's TestClient, so no browser and no network stack)
over a real session (sandboxed shell + sympy) and measures, from the moment a key message is
sent until the step message of the frame that shows it has arrived (the frame's PNG bands
come before it):

* one key at a time (each waits for its frame): p50 / p95 ms;
* a burst of 40 keys sent at once: wall ms until the frame showing all of them, and how many
  frames the page got for it (the server applies every key and sends the newest frame).

Writes benchmarks/results/web.md.

    python benchmarks/bench_web.py [--renderers raster,neural] [--keys 30]
"""

from __future__ import annotations

import argparse
import json
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


def measure(renderer: str, keys: int) -> dict[str, Any]:
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
    single.sort()
    return {"renderer": hello["renderer"], "start_s": start_s,
            "p50": statistics.median(single), "p95": single[int(0.95 * (len(single) - 1))],
            "burst_ms": burst_ms, "burst_keys": len(burst), "burst_frames": frames,
            "accuracy": msg["accuracy"]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--renderers", default="raster,neural")
    p.add_argument("--keys", type=int, default=30)
    args = p.parse_args()
    rows = [measure(r.strip(), args.keys) for r in args.renderers.split(",")]
    lines = [
        "# Web terminal: keystroke to frame",
        "",
        f"`python benchmarks/bench_web.py --renderers {args.renderers} --keys {args.keys}` "
        "(80x24, sandboxed shell + sympy, WebSocket through FastAPI's TestClient; this machine's "
        "CPU, shared).",
        "",
        "| renderer | session start s | key -> frame p50 ms | p95 ms | burst of 40 keys ms "
        "| frames sent for the burst | accuracy raw / repaired |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['renderer']} | {r['start_s']:.1f} | {r['p50']:.0f} | {r['p95']:.0f} | "
                     f"{r['burst_ms']:.0f} | {r['burst_frames']} | "
                     f"{r['accuracy']['raw']:.4f} / {r['accuracy']['repaired']:.4f} |")
    text = "\n".join(lines) + "\n"
    out = ROOT / "benchmarks" / "results" / "web.md"
    out.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()

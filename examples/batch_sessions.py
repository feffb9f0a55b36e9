"""N independent sessions in parallel, with a progress bar: each gets its own sandboxed shell.

    python examples/batch_sessions.py -n 8 --workers 4 --renderer raster
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed

from tqdm import tqdm

from hybrid_nc import Session


def one_session(i: int, renderer: str) -> dict:
    """A tiny job whose answer depends on `i`, checked on the symbolic screen."""
    t0 = time.perf_counter()
    with Session(renderer=renderer) as s:
        shell = s.run(f"echo \"job {i}: $(( {i} * {i} + 1 ))\"")
        maths = s.run(f"calc {i}**3 + 1")
        ok = f"job {i}: {i * i + 1}" in shell.screen.text and str(i ** 3 + 1) in maths.screen.text
        acc = [st.accuracy.get("repaired", float("nan")) for st in (shell, maths)]
    return {"i": i, "ok": ok, "accuracy": min(acc), "seconds": time.perf_counter() - t0}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-n", type=int, default=8, help="number of sessions")
    p.add_argument("--workers", type=int, default=4, help="sessions running at once")
    p.add_argument("--renderer", default="neural", help="neural (default) or raster")
    args = p.parse_args()
    if args.n < 1 or args.workers < 1:
        p.error("-n and --workers must be at least 1")

    t0 = time.perf_counter()
    results = []
    with ThreadPoolExecutor(max_workers=args.workers) as pool, \
            tqdm(total=args.n, unit="session", desc="sessions") as bar:
        futures = [pool.submit(one_session, i, args.renderer) for i in range(args.n)]
        for fut in as_completed(futures):
            results.append(fut.result())
            bar.update()
    wall = time.perf_counter() - t0
    ok = sum(r["ok"] for r in results)
    slowest = max(r["seconds"] for r in results)
    print(f"{ok}/{args.n} sessions answered right; wall {wall:.2f} s "
          f"({args.n / wall:.2f} sessions/s, slowest {slowest:.2f} s); "
          f"lowest repaired accuracy {min(r['accuracy'] for r in results):.4f}")
    return 0 if ok == args.n else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:  # a missing checkpoint, no sandbox, ...: one line, not a traceback
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        sys.exit(f"{sys.argv[0]}: error: {msg}")

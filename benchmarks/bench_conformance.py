"""Terminal conformance: our `Terminal` beside plain pyte 0.8.2 on four public suites.

    python benchmarks/bench_conformance.py            # prints the table, writes the results file
    python benchmarks/bench_conformance.py --list     # also lists every case we fail, with why

Suites (../shared/data/conformance, see tests/terminal/conformance.py for how each is run):
xterm.js escape-sequence files (xterm's own screens), alacritty's ref tests (the text, and every
cell's colours and attributes against alacritty's grid dump), libvterm's test
scripts (one case per `!section`; sections that only expect parser/damage/input callbacks are not
checkable on a screen and are counted apart), pyte's captured sessions. Both emulators go through
the same checks; pyte raising on an input counts as a failure of that case.

Also measured: parsing throughput (MB/s) over the suites' real recordings (alacritty's recordings
and pyte's captured sessions, fed in 4 KiB chunks as a pty delivers them).

Writes benchmarks/results/conformance.md.
"""

from __future__ import annotations

import argparse
import contextlib
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "terminal"))

from conformance import (  # noqa: E402
    SUITES,
    PyteEmulator,
    TerminalEmulator,
    load_cases,
    run_case,
)

from hybrid_nc.evaluation.common import SHARED_DATA  # noqa: E402

DATA = SHARED_DATA / "conformance"
RESULTS = ROOT / "benchmarks" / "results" / "conformance.md"
NAMES = {"xtermjs": "xterm.js escape-sequence files", "alacritty": "alacritty ref tests (text)",
         "alacritty-attrs": "alacritty ref tests (colours, attributes)",
         "libvterm": "libvterm t/*.test sections", "pyte": "pyte captured sessions"}


def throughput(factory: type, chunks: list[tuple[int, int, list[bytes]]], repeat: int) -> float:
    """MB/s feeding every recording (cols, rows, chunks) `repeat` times."""
    total = sum(len(c) for _, _, cs in chunks for c in cs) * repeat
    start = time.perf_counter()
    for _ in range(repeat):
        for cols, rows, cs in chunks:
            emu = factory(cols, rows)
            for c in cs:
                # pyte raises on some real output; the rest is still timed
                with contextlib.suppress(Exception):
                    emu.feed(c)
    return total / (time.perf_counter() - start) / 1e6


def recordings() -> list[tuple[int, int, list[bytes]]]:
    import json

    out = []
    for d in sorted((DATA / "alacritty_ref").iterdir()):
        if (d / "alacritty.recording").exists():
            size = json.loads((d / "size.json").read_text())
            data = (d / "alacritty.recording").read_bytes()
            out.append((size["columns"], size["screen_lines"], data))
    for p in sorted((DATA / "pyte_captured").glob("*.input")):
        out.append((80, 24, p.read_bytes()))
    return [(c, r, [d[i:i + 4096] for i in range(0, len(d), 4096)]) for c, r, d in out]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--list", action="store_true", help="list the cases we fail, with reasons")
    ap.add_argument("--repeat", type=int, default=5, help="passes over the recordings for MB/s")
    ap.add_argument("--out", type=Path, default=RESULTS, help="Markdown results file")
    args = ap.parse_args()
    if not DATA.is_dir():
        sys.exit(f"bench_conformance: {DATA} not found (set HYBRID_NC_TEST_DATA)")
    try:
        from test_conformance import XFAIL  # the reasons we keep beside the tests
    except ImportError:
        XFAIL = {}

    cases = load_cases(DATA)
    rows = []
    failures: list[tuple[str, str]] = []
    pyte_only: list[str] = []
    for suite in SUITES:
        mine = [c for c in cases if c.suite == suite]
        checkable = [c for c in mine if not c.skip]
        ours = {c.id: not run_case(c, TerminalEmulator) for c in checkable}
        theirs = {c.id: not run_case(c, PyteEmulator) for c in checkable}
        for cid, ok in ours.items():
            if not ok:
                failures.append((cid, XFAIL.get(cid, "(no reason recorded)")))
                if theirs[cid]:
                    pyte_only.append(cid)
        rows.append((suite, len(mine), len(checkable), sum(ours.values()), sum(theirs.values())))

    chunks = recordings()
    mb = sum(len(c) for _, _, cs in chunks for c in cs) / 1e6
    speed_ours = throughput(TerminalEmulator, chunks, args.repeat)
    speed_pyte = throughput(PyteEmulator, chunks, args.repeat)

    def pct(n: int, d: int) -> str:
        return f"{100.0 * n / d:.1f}%" if d else "-"

    lines = ["## Terminal conformance", "",
             "Our `terminal.Terminal` against plain pyte 0.8.2 (`pyte.Screen` + "
             "`pyte.ByteStream`), same checks for both "
             "(`python benchmarks/bench_conformance.py`).", "",
             "| suite | cases | checkable | hybrid-nc pass | pyte pass |",
             "|---|---:|---:|---:|---:|"]
    tot = [0, 0, 0, 0]
    for suite, n, k, o, p in rows:
        lines.append(f"| {NAMES[suite]} | {n} | {k} | {o}/{k} ({pct(o, k)}) | "
                     f"{p}/{k} ({pct(p, k)}) |")
        for i, v in enumerate((n, k, o, p)):
            tot[i] += v
    lines.append(f"| **all** | {tot[0]} | {tot[1]} | **{tot[2]}/{tot[1]} ({pct(tot[2], tot[1])})**"
                 f" | {tot[3]}/{tot[1]} ({pct(tot[3], tot[1])}) |")
    lines += ["", "Not checkable: libvterm sections that only expect parser, damage or scroll "
              "callbacks, or that exercise keyboard/mouse input encoding (the pty owner's job).",
              "", f"Cases pyte passes and we fail: {len(pyte_only)}"
              + (f" ({', '.join(pyte_only)})" if pyte_only else "") + ".", "",
              f"Parsing throughput over the suites' real recordings ({mb:.2f} MB, 4 KiB chunks, "
              f"{args.repeat} passes): hybrid-nc {speed_ours:.2f} MB/s, pyte {speed_pyte:.2f} MB/s "
              f"({platform.processor() or platform.machine()}, Python "
              f"{platform.python_version()}).", "",
              f"Cases we fail ({len(failures)}), each an expected failure in "
              "tests/orchestrator/test_conformance.py with its reason:", ""]
    lines += [f"- `{cid}`: {why}" for cid, why in failures]
    text = "\n".join(lines) + "\n"
    print("\n".join(lines[:len(rows) + 9 + 6]) if not args.list else text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

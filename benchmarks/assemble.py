"""Build BENCHMARKS.md from the summary and the per-benchmark result pages.

Each benchmark script writes its own page under benchmarks/results/ (with the command that made
it); this only puts them in one file, in reading order, so the figures are never retyped by hand:

    python benchmarks/assemble.py            # writes BENCHMARKS.md at the repository root
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"

# (page, what it answers); a missing page is named in the output rather than skipped silently
PAGES = [
    ("neural.md", "the neural renderer against its targets"),
    ("palette.md", "clean pixels: the palette projection"),
    ("eval/report.md", "the paper's experiments"),
    ("looks.md", "real-terminal fidelity"),
    ("soak_10000.md", "a 10,000-step soak"),
    ("web.md", "the web terminal"),
    ("web_load.md", "the web terminal under load"),
    ("pointer.md", "the mouse pointer on frames"),
    ("raster.md", "the reference rasterizer"),
    ("ocr.md", "the judges"),
    ("conformance.md", "terminal conformance"),
    ("shell_latency.md", "the sandboxed shell"),
    ("fuzz.md", "coverage-guided fuzzing"),
    ("arith_symbolic.md", "arithmetic on the symbolic screen"),
    ("llm_embedded.md", "the embedded LLM"),
    ("llm.md", "the LLM reasoner"),
    ("wan_adapter.md", "the Wan2.1 adapter"),
]


def _page(path: Path) -> str:
    text = path.read_text(encoding="utf-8").strip()
    # pages in subfolders link their images relative to themselves: make the links root-relative
    rel = path.parent.relative_to(ROOT).as_posix()
    text = re.sub(r"\]\((?!https?:|/)([^)]+\.(?:png|gif|mp4|json|md))\)",
                  lambda m: f"]({rel}/{m.group(1)})", text)
    # BENCHMARKS.md has one top heading: a page that has its own goes one level down throughout
    if text.startswith("# "):
        text = re.sub(r"(?m)^(#+) ", r"#\1 ", text)
    return text


def assemble(summary: Path, out: Path) -> list[str]:
    """Write `out` from `summary` and the pages; return the pages that were missing."""
    parts = [summary.read_text(encoding="utf-8").strip()]
    missing = []
    for name, what in PAGES:
        path = RESULTS / name
        if path.exists():
            parts.append(_page(path))
        else:
            missing.append(name)
            parts.append(f"## {what}\n\nNot measured yet: benchmarks/results/{name} is missing.")
    out.write_text("\n\n".join(parts) + "\n", encoding="utf-8")
    return missing


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--summary", type=Path, default=RESULTS / "summary.md")
    ap.add_argument("--out", type=Path, default=ROOT / "BENCHMARKS.md")
    args = ap.parse_args()
    missing = assemble(args.summary, args.out)
    print(f"wrote {args.out}" + (f"; missing: {', '.join(missing)}" if missing else ""))


if __name__ == "__main__":
    main()

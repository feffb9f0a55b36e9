"""How close do our renderers come to a real terminal's pixels? (real-terminal fidelity)

On the held-out captures of a terminal (whole sources never used for training or tuning), each
renderer draws the paired symbolic screen and is scored against the real capture: PSNR and SSIM,
overall and per kind of source. Renderers:

  raster (tuned)      our reference rasterizer with the font size/baseline and colours tuned to
                      the terminal on its calibration captures (the issue's baseline)
  raster (untuned)    the same, before the search: 13 px DejaVu Sans Mono, baseline 12, the
                      terminal's cell size and measured colours
  glyph lookup        the rasterizer with the terminal's own glyph masks learned from calibration
                      (a lookup table of real glyphs: the cheapest "look" there is)
  neural look         `--renderer neural --look TERMINAL` (renderer/looks.py, the shipped
                      checkpoint renderer/checkpoints/TERMINAL), first frames, 1 step; its frames
                      are also read back by the cell OCR on the terminal's glyphs (raw and after
                      verify & repair), and timed against the default neural renderer drawing
                      the same screens

Side-by-side images capture | tuned raster | neural look | |neural - capture| x4 go to
benchmarks/results/looks/ (without a neural look for the terminal: capture | raster | diff).

    python benchmarks/bench_looks.py --terminal xterm [--data DIR]      # DIR from hybrid-nc capture
    python benchmarks/bench_looks.py --terminal urxvt

Without --data the held-out split is captured first into data-cache/looks-TERMINAL (needs Xvfb and
the terminal). Results: benchmarks/results/looks/TERMINAL.json and benchmarks/results/looks.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hybrid_nc.evaluation.common import SHARED_DATA  # noqa: E402
from renderer.capture.calibrate import ColourFacts, TemplateAtlas, load_templates  # noqa: E402
from renderer.capture.metrics import psnr, psnr_from_mse, ssim  # noqa: E402
from renderer.capture.pipeline import CaptureConfig, capture_dataset, load_pairs  # noqa: E402
from renderer.capture.tune import raster_for, spec_from_json  # noqa: E402
from renderer.fonts import FontSpec  # noqa: E402
from terminal.screen import ScreenState  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
UNICODE_SOURCES = ("unicode:box", "unicode:cjk", "unicode:emoji")


def _manifest(data: Path) -> dict[str, Any]:
    return json.loads((data / "manifest.json").read_text())


def _tuned(data: Path) -> Callable[[ScreenState], np.ndarray]:
    m = _manifest(data)
    facts = ColourFacts.from_json(m["colours"], "measured")
    raster = raster_for(spec_from_json(m["raster"]["font"]), facts.theme)
    return lambda s: raster.render(s).frame


def _untuned(data: Path) -> Callable[[ScreenState], np.ndarray]:
    m = _manifest(data)
    facts = ColourFacts.from_json(m["colours"], "measured")
    cell_w, cell_h = m["cell"]
    spec = FontSpec(size=13.0, cell_w=cell_w, cell_h=cell_h, baseline=12)
    raster = raster_for(spec, facts.theme)
    return lambda s: raster.render(s).frame


def _lookup(data: Path) -> Callable[[ScreenState], np.ndarray]:
    m = _manifest(data)
    facts = ColourFacts.from_json(m["colours"], "measured")
    spec = spec_from_json(m["raster"]["font"])
    raster = raster_for(spec, facts.theme)
    raster.atlas = TemplateAtlas(spec, load_templates(str(data / "templates.npz")))
    return lambda s: raster.render(s).frame


class _NeuralLook:
    """draw(screen) for the shipped neural look of the capture's terminal, also recording the
    OCR read-back of every frame (raw / repaired char accuracy); `extra` times it against the
    default neural renderer."""

    def __init__(self, renderer: Any) -> None:
        self.renderer = renderer
        self.raw: list[float] = []
        self.repaired: list[float] = []
        self.seen_raw: list[float] = []
        self.seen_repaired: list[float] = []
        self.repeats = 3
        self.ocr: Any = None

    def __call__(self, screen: ScreenState) -> np.ndarray:
        from orchestrator.verify import verify_and_repair
        from renderer.ocr import CellOCR, char_accuracy

        self.renderer.reset()  # unrelated screens: every one is a first frame
        out = self.renderer.render(screen)
        raster = self.renderer.raster
        if self.ocr is None or self.ocr.atlas is not raster.atlas:
            self.ocr = CellOCR(raster.atlas)
        ocr = self.ocr
        fixed, report = verify_and_repair(self.renderer, screen, out, out.rows, ocr=ocr,
                                          raster=raster, hand_back=False)
        self.raw.append(report.raw)
        self.repaired.append(report.repaired)
        # the same metric over the cells the pairing check judged: text drawn in (nearly) its
        # background colour is invisible in the real capture too (palette tests)
        judged = _judged(self.renderer.raster, screen)
        truth = _judged_text(screen.chars, judged)
        for frame, acc in ((out.frame, self.seen_raw), (fixed, self.seen_repaired)):
            cells = ocr.read(frame, screen.cols, screen.rows, hint=screen).cells
            acc.append(char_accuracy(_judged_text(cells, judged), truth))
        return out.frame

    def extra(self, screens: list[ScreenState]) -> dict[str, Any]:
        """OCR figures and the speed ratio to the default neural renderer on the same screens."""
        from renderer.registry import create

        default = create("neural")
        # interleaved, best of `repeats` per screen: the machine is shared, and a busy minute
        # must not land on one renderer only
        best = {"look": [], "default": []}
        for screen in screens:
            for name, r in (("look", self.renderer), ("default", default)):
                times = []
                for _ in range(self.repeats):
                    r.reset()
                    t0 = time.perf_counter()
                    r.render(screen)
                    times.append(time.perf_counter() - t0)
                best[name].append(min(times))
        look_ms = 1000 * float(np.mean(best["look"]))
        default_ms = 1000 * float(np.mean(best["default"]))
        return {"ocr_visible_char_acc_raw": round(float(np.mean(self.seen_raw)), 6),
                "ocr_visible_char_acc_raw_min": round(float(np.min(self.seen_raw)), 6),
                "ocr_visible_char_acc_repaired": round(float(np.mean(self.seen_repaired)), 6),
                "ocr_visible_screens_exact_raw": int(sum(a == 1.0 for a in self.seen_raw)),
                "ocr_char_acc_raw": round(float(np.mean(self.raw)), 6),
                "ocr_char_acc_raw_min": round(float(np.min(self.raw)), 6),
                "ocr_char_acc_repaired": round(float(np.mean(self.repaired)), 6),
                "ocr_screens_exact_raw": int(sum(a == 1.0 for a in self.raw)),
                "ms_per_frame": round(look_ms, 2), "default_neural_ms_per_frame": round(default_ms, 2),
                "time_ratio_to_default_neural": round(look_ms / default_ms, 3)}


def _judged(raster: Any, screen: ScreenState) -> np.ndarray:
    """(rows, cols) bool: the cells the capture's pairing check judged - those whose glyph
    colour stands out from the background (text in its own background colour, or nearly, is
    not readable on the real terminal either) - and the cursor cell."""
    from renderer.ocr import MIN_CONTRAST

    fg, bg, _ = raster.cell_layers(screen, list(range(screen.rows)))
    judged = np.linalg.norm(fg - bg, axis=-1) > 2 * MIN_CONTRAST * 255
    if screen.cursor_visible:
        judged[min(screen.cursor[0], screen.rows - 1), min(screen.cursor[1], screen.cols - 1)] = True
    return judged


def _judged_text(cells: list[list[str]], judged: np.ndarray) -> str:
    return "\n".join("".join(t if judged[r, c] else " " for c, t in enumerate(row)).rstrip()
                     for r, row in enumerate(cells))


def _neural(data: Path) -> Callable[[ScreenState], np.ndarray] | None:
    from renderer.looks import available_looks, create_look

    terminal = _manifest(data)["profile"]["terminal"]
    if terminal not in available_looks():
        return None  # no look trained for this terminal: no row
    return _NeuralLook(create_look(terminal, threads=1))


# name -> factory(capture folder) -> draw(screen) -> (H, W, 3) uint8 (or None: no such renderer
# for this terminal); the renderers are reset per screen by drawing whole frames (no damage
# carried over between unrelated screens)
LOOKS: dict[str, Callable[[Path], Callable[[ScreenState], np.ndarray] | None]] = {
    "raster (tuned)": _tuned,
    "raster (untuned)": _untuned,
    "glyph lookup": _lookup,
    "neural look": _neural,
}


def _group(rec: dict[str, Any]) -> str:
    src = rec["source"]
    if src.startswith(UNICODE_SOURCES):
        return src.split("/")[0]
    return "unicode (other)" if rec["category"] == "unicode" else rec["category"]


def evaluate(data: Path, samples: int, terminal: str) -> dict[str, Any]:
    """Score every look on the held-out pairs of `data`; save side-by-side images."""
    pairs = load_pairs(data, split="test")
    if not pairs:
        raise SystemExit(f"{data} has no held-out (test) captures")
    out: dict[str, Any] = {"terminal": terminal, "data": str(data), "screens": len(pairs),
                           "manifest": {k: _manifest(data)[k] for k in ("profile", "cell", "raster")},
                           "looks": {}}
    out["manifest"]["raster"] = {k: out["manifest"]["raster"][k] for k in ("font", "psnr")}
    (RESULTS / "looks").mkdir(parents=True, exist_ok=True)
    for stale in (RESULTS / "looks").glob(f"{terminal}-*.png"):
        stale.unlink()
    picks = _pick_samples(pairs, samples)
    drawn: dict[str, dict[str, np.ndarray]] = {}
    for name, factory in LOOKS.items():
        draw = factory(data)
        if draw is None:
            continue
        sq: dict[str, list[float]] = defaultdict(list)  # group -> per-screen MSE
        ss: dict[str, list[float]] = defaultdict(list)
        per_screen_psnr = []
        t0 = time.perf_counter()
        frames = {}
        for crop, screen, rec in pairs:
            frame = draw(screen)
            frames[rec["id"]] = frame
            err = float(np.mean((frame.astype(np.float64) - crop.astype(np.float64)) ** 2))
            s = ssim(frame, crop)
            for g in ("all", _group(rec)):
                sq[g].append(err)
                ss[g].append(s)
            per_screen_psnr.append(psnr(frame, crop))
        seconds = time.perf_counter() - t0
        finite = [p for p in per_screen_psnr if np.isfinite(p)]
        out["looks"][name] = {
            "psnr_db": {g: round(psnr_from_mse(float(np.mean(v))), 2) for g, v in sq.items()},
            "ssim": {g: round(float(np.mean(v)), 4) for g, v in ss.items()},
            "screens": {g: len(v) for g, v in sq.items()},
            "median_screen_psnr_db": round(float(np.median(finite)), 2) if finite else None,
            "seconds_per_screen_incl_metrics": round(seconds / len(pairs), 4),
        }
        if hasattr(draw, "extra"):
            out["looks"][name].update(draw.extra([screen for _, screen, _ in pairs]))
        if name in ("raster (tuned)", "neural look"):
            drawn[name] = {rec["id"]: frames[rec["id"]] for _, _, rec in picks}
    for crop, _screen, rec in picks:
        panels = [drawn[name][rec["id"]] for name in ("raster (tuned)", "neural look")
                  if name in drawn]
        _side_by_side(crop, panels, RESULTS / "looks" / f"{terminal}-{rec['id']}.png")
    return out


SAMPLE_ORDER = ("unicode:cjk", "unicode:emoji", "unicode:box", "tui", "session", "colors", "cast",
                "conformance", "unicode (other)")


def _pick_samples(pairs: list, n: int) -> list:
    """Up to n pairs, the first full-size screen of each group, Unicode and TUIs first."""
    firsts: dict[str, Any] = {}
    for p in pairs:
        g = _group(p[2])
        big = p[1].cols >= 80 and p[1].rows >= 24
        if g not in firsts or (big and not firsts[g][3]):
            firsts[g] = (*p, big)
    order = [g for g in SAMPLE_ORDER if g in firsts] + [g for g in firsts if g not in SAMPLE_ORDER]
    return [firsts[g][:3] for g in order[:n]]


def _side_by_side(capture: np.ndarray, frames: list[np.ndarray], path: Path) -> None:
    # capture | each frame | |last frame - capture| x4
    diff = np.clip(np.abs(capture.astype(np.int16) - frames[-1].astype(np.int16)) * 4, 0, 255)
    gap = np.full((capture.shape[0], 6, 3), 255, np.uint8)
    panels = [capture]
    for frame in [*frames, diff.astype(np.uint8)]:
        panels += [gap, frame]
    Image.fromarray(np.concatenate(panels, 1)).save(path, optimize=True)


def write_markdown() -> Path:
    """benchmarks/results/looks.md from every benchmarks/results/looks/*.json."""
    lines = ["## Real-terminal fidelity: our renderers against real captures", "",
             "Held-out captures (whole sources never used for training or tuning); each renderer "
             "draws the paired symbolic screen, scored against the terminal's own pixels (cell grid "
             "only). PSNR is over all pixels of the group; SSIM is the mean per screen. Made by "
             "`python benchmarks/bench_looks.py --terminal T`.", ""]
    for path in sorted((RESULTS / "looks").glob("*.json")):
        r = json.loads(path.read_text())
        font = r["manifest"]["raster"]["font"]
        lines += [f"### {r['terminal']} ({r['screens']} held-out screens)", "",
                  f"Capture: {r['manifest']['profile']['font']} {r['manifest']['profile']['pixel_size']} px, "
                  f"cells {r['manifest']['cell'][0]}x{r['manifest']['cell'][1]}. Tuned raster: "
                  f"{font['main']} {font['size']} px, baseline {font['baseline']} "
                  f"(calibration PSNR {r['manifest']['raster']['psnr']} dB).", ""]
        groups = list(next(iter(r["looks"].values()))["psnr_db"])
        lines.append("| renderer | " + " | ".join(f"{g} ({next(iter(r['looks'].values()))['screens'][g]})"
                                                 for g in groups) + " | SSIM (all) |")
        lines.append("|---" * (len(groups) + 2) + "|")
        for name, v in r["looks"].items():
            lines.append(f"| {name} | " + " | ".join(f"{v['psnr_db'][g]} dB" for g in groups)
                         + f" | {v['ssim']['all']} |")
        lines.append("")
        neural = r["looks"].get("neural look")
        if neural and "ocr_char_acc_raw" in neural:
            tuned = r["looks"]["raster (tuned)"]["psnr_db"]["all"]
            lines += [f"Neural look (renderer/checkpoints/{r['terminal']}, first frames, 1 step): "
                      f"{neural['psnr_db']['all']} dB, {neural['psnr_db']['all'] - tuned:+.2f} dB "
                      f"over the tuned raster. Cell OCR on the terminal's glyphs, over the cells "
                      f"the capture's pairing check judges (glyph colour distinct from its "
                      f"background), "
                      f"reads its frames {100 * neural['ocr_visible_char_acc_raw']:.3f}% right "
                      f"raw (mean char accuracy; {neural['ocr_visible_screens_exact_raw']}/"
                      f"{r['screens']} screens exact, worst "
                      f"{100 * neural['ocr_visible_char_acc_raw_min']:.2f}%), "
                      f"{100 * neural['ocr_visible_char_acc_repaired']:.3f}% after verify & "
                      f"repair (against the full symbolic text, hidden characters included: "
                      f"{100 * neural['ocr_char_acc_raw']:.3f}% raw, "
                      f"{100 * neural['ocr_char_acc_repaired']:.3f}% repaired). "
                      f"Speed (one thread, best of 3 per screen, interleaved): "
                      f"{neural['ms_per_frame']} ms per full frame vs "
                      f"{neural['default_neural_ms_per_frame']} ms for the default neural "
                      f"renderer on the same screens (ratio "
                      f"{neural['time_ratio_to_default_neural']}).", ""]
    lines += ["Side-by-side samples (capture | tuned raster | neural look | |neural - capture| x4; "
              "capture | raster | difference x4 where a terminal has no neural look): "
              "benchmarks/results/looks/*.png.", ""]
    md = RESULTS / "looks.md"
    md.write_text("\n".join(lines))
    return md


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--terminal", choices=["xterm", "urxvt"], default="xterm")
    ap.add_argument("--data", type=Path, help="a capture folder (default: capture the held-out "
                    "split into data-cache/looks-TERMINAL)")
    ap.add_argument("--samples", type=int, default=7, help="side-by-side images to save")
    args = ap.parse_args(argv)
    data = args.data
    if data is None:
        data = ROOT / "data-cache" / f"looks-{args.terminal}"
        config = CaptureConfig(terminal=args.terminal, out=data, split="test",
                               resume=(data / "manifest.json").exists(),
                               shared_data=SHARED_DATA if SHARED_DATA.is_dir() else None)
        capture_dataset(config)
    result = evaluate(data, args.samples, args.terminal)
    (RESULTS / "looks" / f"{args.terminal}.json").write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: v["psnr_db"] | {"ssim": v["ssim"]["all"]}
                      for k, v in result["looks"].items()}, indent=1))
    print(f"wrote {write_markdown()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

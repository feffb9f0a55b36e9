"""The two-colour projection (renderer/palette.py) on and off, on screens the models never saw.

Default neural renderer (shipped checkpoint, 1 step, seed 0), against the reference raster:
* every frame of each held-out recording, drawn as a session draws them (damage-aware, its own
  cache): raw cell-OCR char accuracy, PSNR and SSIM, per recording;
* never-trained glyphs: the CJK / emoji / box-drawing / powerline test screen, and the dataset's
  "special" rows (if data-cache/renderer-rows is built): raw accuracy, rows exact, PSNR, SSIM;
* Tesseract (the paper's protocol) on every 10th frame of the first three recordings: neural with
  and without the projection, and the raster, on the same screens;
* determinism: one recording drawn twice by fresh renderers with the same seed.
The xterm look against its glyph lookup, per kind of screen, on the held-out captures of
`hybrid-nc capture --terminal xterm --split test` (skipped without them), seeds 0 and 7: PSNR and
SSIM against the real xterm pixels, and how many pixels are farther from xterm than the lookup's.

    python benchmarks/bench_palette.py [--snaps 4,8] [--every 1] [--tesseract]
                                       [--look-data data-cache/looks-xterm]
Writes benchmarks/results/palette.md and palette.json (command, load, machine).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_neural import SHARED, replay_frames, special_screens  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


def _variants(snaps: list[float]) -> dict[str, Any]:
    from renderer.palette import PaletteConfig

    out: dict[str, Any] = {"off": PaletteConfig(enabled=False)}
    for s in snaps:
        out[f"snap {s:g}"] = PaletteConfig(snap=s)
    return out


def _scores(frame: np.ndarray, ref: np.ndarray, screen: Any, ocr: Any, rows: int) -> tuple:
    from renderer.metrics import char_accuracy, psnr, ssim

    read = ocr.read(frame, screen.cols, rows, hint=screen)
    return char_accuracy(read.text, screen.text), psnr(frame, ref), ssim(frame, ref)


def _summary(acc: list[float], ps: list[float], ss: list[float], **more: Any) -> dict[str, Any]:
    finite = [p for p in ps if np.isfinite(p)]
    return {"frames": len(acc), "raw": float(np.mean(acc)), "raw_min": float(np.min(acc)),
            "psnr": float(np.mean(finite)) if finite else float("inf"),
            "psnr_min": float(np.min(ps)), "ssim": float(np.mean(ss)),
            "ssim_min": float(np.min(ss)), **more}


def stream(palette: Any, theme: Any, frames: list, seed: int, every: int) -> dict[str, Any]:
    """A recording drawn in order as a session would; every `every`-th frame scored."""
    from renderer import registry
    from renderer.ocr import CellOCR

    neural = registry.create("neural", theme=theme, threads=1, palette=palette)
    raster = registry.create("raster", theme=theme)
    ocr = CellOCR(raster.atlas)
    acc, ps, ss, ms = [], [], [], []
    for i, (screen, damage, action) in enumerate(frames):
        t0 = time.perf_counter()
        out = neural.render(screen, damage=damage if i else None, action=action, seed=seed)
        ms.append(1000 * (time.perf_counter() - t0))
        if i % every and i != len(frames) - 1:
            continue
        ref = raster.draw_rows(screen, range(screen.rows))
        a, p, s = _scores(out.frame, ref, screen, ocr, screen.rows)
        acc.append(a), ps.append(p), ss.append(s)
    return _summary(acc, ps, ss, render_ms_p50=float(np.median(ms)))


def special_rows(palette: Any, seed: int) -> dict[str, Any]:
    """The dataset's never-trained rows (CJK, emoji, box drawing, powerline), one first frame each."""
    from renderer import registry
    from renderer.ocr import CellOCR
    from terminal.screen import ScreenState

    path = ROOT / "data-cache" / "renderer-rows"
    if not (path / "dataset_dict.json").is_file():
        return {}
    from renderer.training import load_dataset_dir

    neural = registry.create("neural", threads=1, palette=palette)
    raster = registry.create("raster")
    ocr = CellOCR(raster.atlas)
    acc, ps, ss, n = [], [], [], []
    for text in load_dataset_dir(path)["special"]["row"]:
        screen = ScreenState.from_json(text)
        if not screen.text.strip():
            continue
        neural.reset()
        frame = neural.render(screen, seed=seed).frame
        a, p, s = _scores(frame, raster.draw_rows(screen, range(screen.rows)), screen, ocr,
                          screen.rows)
        acc.append(a), ps.append(p), ss.append(s), n.append(len(screen.text))
    weighted = float(np.dot(acc, n) / np.sum(n))
    return _summary(acc, ps, ss, raw_weighted=weighted,
                    rows_exact=float(np.mean([a == 1.0 for a in acc])))


def tesseract(variants: dict[str, Any], casts: list[str], seed: int) -> dict[str, Any]:
    """Tesseract (paper protocol) on every 10th frame of the first three recordings."""
    from renderer import registry
    from renderer.tesseract import TesseractReader, protocol_scores

    acc: dict[str, list[float]] = defaultdict(list)
    for name in casts[:3]:
        theme, frames = replay_frames(SHARED / "casts" / name)
        raster = registry.create("raster", theme=theme)
        reader = TesseractReader(raster.atlas.cell)
        drawn: dict[str, list[np.ndarray]] = defaultdict(list)
        for label, palette in variants.items():
            neural = registry.create("neural", theme=theme, threads=1, palette=palette)
            for i, (screen, damage, action) in enumerate(frames):
                out = neural.render(screen, damage=damage if i else None, action=action, seed=seed)
                if i % 10 == 0:
                    drawn[label].append(out.frame)
        drawn["raster"] = [raster.draw_rows(s, range(s.rows)) for s, _, _ in frames[::10]]
        screens = [s for s, _, _ in frames[::10]]
        for label, images in drawn.items():
            for frame, screen in zip(images, screens, strict=True):
                read = reader.read(frame, screen.cols, screen.rows)
                acc[label].append(protocol_scores(read.lines, screen.lines)[0])
    return {k: float(np.mean(v)) for k, v in acc.items()} | {"frames": len(acc["raster"])}


def determinism(palette: Any, theme: Any, frames: list, seed: int) -> bool:
    from renderer import registry

    runs = []
    for _ in range(2):
        r = registry.create("neural", theme=theme, threads=1, palette=palette)
        runs.append([r.render(s, damage=d if i else None, action=a, seed=seed).frame
                     for i, (s, d, a) in enumerate(frames)])
    return all(np.array_equal(a, b) for a, b in zip(*runs, strict=True))


def look(data: Path, variants: dict[str, Any], seeds: list[int]) -> dict[str, Any]:
    """The xterm look, projection off/on, against its glyph lookup on the held-out captures."""
    from bench_looks import _group, _lookup

    from renderer.capture.metrics import psnr_from_mse, ssim
    from renderer.capture.pipeline import load_pairs
    from renderer.looks import LOOK_PALETTE, create_look
    from renderer.palette import PaletteConfig

    pairs = load_pairs(data, split="test")
    lookup = _lookup(data)
    base = [lookup(screen) for _, screen, _ in pairs]
    from dataclasses import replace

    # the capture's own templates (this machine's xterm), and the shipped look's (what the model
    # corrects; its CJK and emoji come from the fallback fonts of the machine it was captured on)
    drawers: dict[str, Any] = {"glyph lookup": None, "look's own lookup": "templates"}
    for seed in seeds:
        drawers[f"look, off, seed {seed}"] = (PaletteConfig(enabled=False), seed)
    for seed in seeds:
        drawers[f"look, default ({LOOK_PALETTE.anchor} anchor, snap {LOOK_PALETTE.snap:g}), "
                f"seed {seed}"] = (LOOK_PALETTE, seed)
    for seed in seeds:  # the look as it sampled before it started from the noise's mean
        drawers[f"look, default projection, from seeded noise, seed {seed}"] = (
            LOOK_PALETTE, seed, "seeded")
    for label, palette in variants.items():
        if palette.enabled:  # other bands, and snapping to bg / fg only (the default renderer's)
            glyph = replace(palette, anchor="glyph", min_contrast=0.0)
            drawers[f"look, {label}, glyph anchor, seed {seeds[0]}"] = (glyph, seeds[0])
            drawers[f"look, {label}, ends only, seed {seeds[0]}"] = (palette, seeds[0])
    out: dict[str, Any] = {"screens": len(pairs), "rows": {}}
    for label, spec in drawers.items():
        renderer = (None if spec is None else create_look("xterm").look.raster()
                    if spec == "templates" else create_look("xterm", threads=1, palette=spec[0]))
        if isinstance(spec, tuple) and spec[2:] == ("seeded",):
            renderer.seeded = True
        sq: dict[str, list[float]] = defaultdict(list)
        ss: dict[str, list[float]] = defaultdict(list)
        worse: dict[str, int] = defaultdict(int)
        worst: dict[str, int] = defaultdict(int)
        for (crop, screen, rec), ref in zip(pairs, base, strict=True):
            if renderer is None:
                frame = ref
            elif spec == "templates":
                frame = renderer.draw_rows(screen, range(screen.rows))
            else:
                renderer.reset()
                frame = renderer.render(screen, seed=spec[1]).frame
            d = np.abs(frame.astype(np.int16) - crop.astype(np.int16)).max(-1)
            d0 = np.abs(ref.astype(np.int16) - crop.astype(np.int16)).max(-1)
            err = float(np.mean((frame.astype(np.float64) - crop.astype(np.float64)) ** 2))
            for g in ("all", _group(rec)):
                sq[g].append(err)
                ss[g].append(ssim(frame, crop))
                worse[g] += int(np.sum(d > d0))
                worst[g] = max(worst[g], int(np.max(d - d0)))
        out["rows"][label] = {
            "psnr_db": {g: round(psnr_from_mse(float(np.mean(v))), 2) for g, v in sq.items()},
            "ssim": {g: round(float(np.mean(v)), 5) for g, v in ss.items()},
            "pixels_worse_than_lookup": dict(worse),
            "max_levels_worse_than_lookup": dict(worst),
            "screens": {g: len(v) for g, v in sq.items()}}
        print(label, json.dumps(out["rows"][label]["psnr_db"]), flush=True)
    return out


def write_markdown(res: dict[str, Any], path: Path) -> None:
    """The tables of `res` (what `main` measured) as Markdown."""
    lines = ["# Two-colour projection (renderer/palette.py): on and off", "",
             f"`{res['command']}` - {res['started']}, {res['machine']}; "
             f"{res['load_start']} at the start, {res['load_end']} at the end "
             f"(the machine is shared); {res['wall_s']} s.", ""]
    if res.get("default"):
        lines += ["## Default neural renderer vs the raster (held-out recordings, 1 step, seed 0)",
                  "", "raw cell-OCR char accuracy / PSNR dB / SSIM, mean over scored frames", "",
                  "| screens | " + " | ".join(res["default"]) + " |",
                  "|---|" + "---|" * len(res["default"])]
        names = list(next(iter(res["default"].values())))
        for name in names:
            cells = []
            for variant in res["default"].values():
                r = variant.get(name) or {}
                cells.append(f"{r['raw']:.5f} / {r['psnr']:.2f} / {r['ssim']:.4f}" if r else "-")
            label = name.split("__")[-1].removesuffix(".cast")
            n = next((v[name]["frames"] for v in res["default"].values() if v.get(name)), 0)
            lines.append(f"| {label} ({n}) | " + " | ".join(cells) + " |")
        pooled = []
        for variant in res["default"].values():  # weighted by frames, as bench_neural.py pools
            casts = [r for k, r in variant.items() if k.endswith(".cast")]
            tot = sum(r["frames"] for r in casts)
            pooled.append(" / ".join(f"{sum(r[m] * r['frames'] for r in casts) / tot:{f}}"
                                     for m, f in (("raw", ".5f"), ("psnr", ".2f"),
                                                  ("ssim", ".4f"))))
        lines.append("| **all recordings, frame-weighted** | " + " | ".join(pooled) + " |")
        lines += ["", f"Bit-identical for a seed (60 frames, twice): {res.get('deterministic')}",
                  ""]
    if res.get("tesseract"):
        t = res["tesseract"]
        lines += ["## Tesseract (paper protocol), same screens", "",
                  "| | " + " | ".join(k for k in t if k != "frames") + " |",
                  "|---|" + "---|" * (len(t) - 1),
                  f"| char accuracy, {t['frames']} frames | "
                  + " | ".join(f"{v:.4f}" for k, v in t.items() if k != "frames") + " |", ""]
    look = res.get("look", {})
    if "rows" in look:
        groups = list(next(iter(look["rows"].values()))["psnr_db"])
        lines += [f"## xterm look vs its glyph lookup ({look['screens']} held-out captures)", "",
                  "PSNR dB against the real xterm, pooled per kind of screen; then pixels "
                  "farther from xterm than the lookup's (all screens) and by how many levels at "
                  "most", "",
                  "| | " + " | ".join(groups) + " | SSIM | pixels worse | max levels worse |",
                  "|---|" + "---|" * (len(groups) + 3)]
        for label, row in look["rows"].items():
            lines.append(f"| {label} | " + " | ".join(str(row["psnr_db"][g]) for g in groups)
                         + f" | {row['ssim']['all']} | {row['pixels_worse_than_lookup']['all']}"
                         f" | {row['max_levels_worse_than_lookup']['all']} |")
        lines.append("")
    elif look:
        lines += ["## xterm look", "", look.get("skipped", ""), ""]
    path.write_text("\n".join(lines))


def _load() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    from renderer.training.sources import HELDOUT_CASTS

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--snaps", default="8", help="comma-separated snap bands to try (levels)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--every", type=int, default=1, help="score every N-th frame")
    ap.add_argument("--tesseract", action="store_true")
    ap.add_argument("--look-data", type=Path, default=ROOT / "data-cache" / "looks-xterm")
    ap.add_argument("--skip-default", action="store_true", help="only the look")
    ap.add_argument("--from-json", type=Path, help="only rewrite the Markdown of a palette.json")
    ap.add_argument("--out", type=Path, default=RESULTS / "palette.json")
    args = ap.parse_args()
    if args.from_json:
        write_markdown(json.loads(args.from_json.read_text()), args.out.with_suffix(".md"))
        return
    variants = _variants([float(s) for s in args.snaps.split(",") if s])
    res: dict[str, Any] = {"command": "python benchmarks/bench_palette.py " + " ".join(sys.argv[1:]),
                           "machine": f"{platform.processor() or platform.machine()}, "
                                      f"{os.cpu_count()} CPUs",
                           "load_start": _load(), "started": time.strftime("%H:%M UTC", time.gmtime()),
                           "default": defaultdict(dict)}
    t_all = time.time()
    casts = [c for c in HELDOUT_CASTS if (SHARED / "casts" / c).is_file()]
    if not args.skip_default:
        replays = {name: replay_frames(SHARED / "casts" / name) for name in casts}
        for label, palette in variants.items():
            for name, (theme, frames) in replays.items():
                res["default"][label][name] = stream(palette, theme, frames, args.seed, args.every)
                print(label, name, json.dumps(res["default"][label][name]), flush=True)
            from renderer.ocr import CellOCR

            screen = special_screens()[0]
            from renderer import registry

            raster = registry.create("raster")
            neural = registry.create("neural", threads=1, palette=palette)
            frame = neural.render(screen, seed=args.seed).frame
            a, p, s = _scores(frame, raster.draw_rows(screen, range(screen.rows)), screen,
                              CellOCR(raster.atlas), screen.rows)
            res["default"][label]["special screen"] = _summary([a], [p], [s])
            res["default"][label]["special rows"] = special_rows(palette, args.seed)
            print(label, "special", json.dumps(res["default"][label]["special rows"]), flush=True)
        theme, frames = replays[casts[0]]
        res["deterministic"] = {label: determinism(p, theme, frames[:60], args.seed)
                                for label, p in variants.items() if label != "off"}
        if args.tesseract:
            res["tesseract"] = tesseract(variants, casts, args.seed)
            print("tesseract", json.dumps(res["tesseract"]), flush=True)
    if (args.look_data / "manifest.json").is_file():
        res["look"] = look(args.look_data, variants, [0, 7])
    else:
        res["look"] = {"skipped": f"no capture at {args.look_data}"}
    res["load_end"] = _load()
    res["wall_s"] = round(time.time() - t_all, 1)
    args.out.write_text(json.dumps(res, indent=1, default=str))
    write_markdown(res, args.out.with_suffix(".md"))
    print(f"wrote {args.out} and {args.out.with_suffix('.md')}")


if __name__ == "__main__":
    main()

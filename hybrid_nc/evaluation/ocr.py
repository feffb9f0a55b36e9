"""`hybrid-nc eval ocr`: how readable each renderer's frames are, judged two ways, over a screen set
sampled from recordings (5 uniformly spaced screens per recording, as the paper samples 5 frames
per video).

Per screen and renderer: the frame is drawn (the renderer sees the recording's screens in order, so
a neural renderer has the previous sampled frame as its context and redraws what changed), then
* Tesseract, the paper's protocol (renderer/tesseract.py): char and line accuracy after
  whitespace normalisation — 0.54 / 0.31 for the paper's terminal model;
* the cell-grid OCR (renderer/ocr.py, the symbolic screen as hint): char and line accuracy;
* PSNR and SSIM against the reference raster of the same screen.
Recordings the shipped neural renderer trained on are reported apart from held-out ones.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from .common import (
    EvalError,
    fmt_num,
    make_renderer,
    md_table,
    mean_estimate,
    progress,
    provenance,
    renderer_label,
    sample_cast,
)

PAPER = {"tesseract_char": 0.54, "tesseract_line": 0.31}


def judged_screens(sets: list[Any], limit: int | None) -> set[tuple[str, int]]:
    """The (recording, index) screens Tesseract reads: all, or `limit` spread evenly over the
    held-out screens and the trained-on ones (half each, so both groups get a figure)."""
    every = [(c.name, i, c.heldout) for c in sets for i in range(len(c.screens))]
    if limit is None or limit >= len(every):
        return {(n, i) for n, i, _h in every}
    out: set[tuple[str, int]] = set()
    groups = [[e for e in every if e[2]], [e for e in every if not e[2]]]
    quota = [limit - limit // 2, limit // 2] if all(groups) else [limit, limit]
    for group, k in zip(groups, quota, strict=True):
        if group and k > 0:
            for j in np.linspace(0, len(group) - 1, min(k, len(group))):
                out.add(group[int(round(j))][:2])
    return out


def score_frame(frame: np.ndarray, raster: np.ndarray, screen: Any, ocr: Any,
                tess: Any | None) -> dict[str, Any]:
    """Every score of one drawn frame of `screen` (raster: the reference frame)."""
    from renderer.metrics import char_accuracy, line_accuracy, psnr, ssim
    from renderer.tesseract import TesseractError, protocol_scores

    read = ocr.read(frame, screen.cols, screen.rows, hint=screen)
    out: dict[str, Any] = {
        "cell_char": char_accuracy(read.text, screen.text),
        "cell_line": line_accuracy(read.lines, screen.lines),
        "psnr": psnr(frame, raster),
        "ssim": ssim(frame, raster),
    }
    if tess is not None:
        try:
            res = tess.read(frame, screen.cols, screen.rows)
            out["tess_char"], out["tess_line"] = protocol_scores(res.lines, screen.lines)
            out["tess_s"] = res.seconds
        except TesseractError as e:
            out["tess_error"] = str(e)
    return out


REPAIRED = " + repair"  # label suffix of a renderer's frames after verify & repair


def run_ocr(renderers: list[str], casts: list[Path], *, per_cast: int = 5, seed: int = 0,
            tesseract: bool = True, tess_limit: int | None = None, repair: bool = True,
            quiet: bool = False, steps: int | None = None) -> dict[str, Any]:
    """Score `renderers` on `per_cast` screens of each recording. Returns the result dict
    (per-screen rows, summaries by renderer x {held-out, trained, all}).

    repair: also score each non-raster frame after `verify_and_repair` (as "<name> + repair"),
    the frame the full system shows; the renderer keeps drawing from its own raw frames, so
    its raw figures are its own.

    tess_limit: judge at most this many screens per renderer with Tesseract (evenly spread
    over the set, held-out and trained-on alike; it takes seconds a frame); None = all.
    steps: sampling steps of the renderers that sample (None: each one's own).
    """
    from orchestrator.verify import verify_and_repair
    from renderer.ocr import CellOCR
    from renderer.raster import RasterConfig, RasterRenderer
    from renderer.tesseract import TesseractError, TesseractReader

    t0 = time.perf_counter()
    sets = [sample_cast(p, per_cast) for p in progress(casts, len(casts), "sampling", quiet)]
    rows: list[dict[str, Any]] = []
    tess = None
    samples: dict[str, Any] = {}
    judged = judged_screens(sets, tess_limit)
    todo = [(s, r) for s in sets for r in renderers]
    for cs, name in progress(todo, len(todo), "ocr", quiet):
        ref = RasterRenderer(RasterConfig(theme=cs.theme))
        ocr = CellOCR(ref.atlas)
        if tesseract and tess is None:
            try:
                tess = TesseractReader(ref.atlas.cell)
            except TesseractError as e:
                raise EvalError(f"{e} (or pass --no-tesseract)") from None
        r = make_renderer(name, cs.theme, seed, steps)
        if hasattr(r, "reset"):
            r.reset()
        for i, screen in enumerate(cs.screens):
            t = time.perf_counter()
            frame = r.render(screen, damage=None, action=None, seed=seed).frame
            ms = (time.perf_counter() - t) * 1000
            raster = ref.render(screen).frame
            sc = score_frame(frame, raster, screen, ocr, tess if (cs.name, i) in judged else None)
            base = {"cast": cs.name, "index": i, "time": round(cs.times[i], 3),
                    "heldout": cs.heldout, "cols": screen.cols, "rows": screen.rows}
            rows.append({"renderer": renderer_label(name), **base, "render_ms": ms, **sc})
            if repair and name != "raster":
                t = time.perf_counter()
                fixed, _ = verify_and_repair(r, screen, frame, raster=ref, ocr=ocr,
                                             hand_back=False)
                ms_fix = ms + (time.perf_counter() - t) * 1000
                sc = score_frame(fixed, raster, screen, ocr,
                                 tess if (cs.name, i) in judged else None)
                rows.append({"renderer": renderer_label(name) + REPAIRED, **base,
                             "render_ms": ms_fix, **sc})
            key = f"{cs.name}:{i}"
            if cs.heldout and i == len(cs.screens) - 1:
                entry = samples.setdefault(key, {"chars": len(screen.text.replace(" ", ""))})
                entry[renderer_label(name)] = frame
    labels = [lab for n in renderers for lab in
              ([renderer_label(n)] + ([renderer_label(n) + REPAIRED]
                                      if repair and n != "raster" else []))]
    summary = summarize(rows, labels, seed)
    return {"subcommand": "ocr", "provenance": provenance({"seed": seed}),
            "settings": {"renderers": renderers, "per_cast": per_cast, "casts": [c.name for c in sets],
                         "heldout": [c.name for c in sets if c.heldout], "tesseract": tesseract, "repair": repair,
                         "sampling_steps": steps,
                         "tesseract_screens": len(judged) if tesseract else 0,
                         "tesseract_judged": sorted(f"{n}:{i}" for n, i in judged)},
            "paper": PAPER, "summary": summary, "screens": rows,
            "wall_s": round(time.perf_counter() - t0, 1), "_samples": samples}


def summarize(rows: list[dict[str, Any]], names: list[str], seed: int) -> list[dict[str, Any]]:
    """Mean (bootstrap 95% CI) of every score per renderer and screen group."""
    out = []
    for name in names:
        for group, keep in (("held-out", True), ("trained-on", False), ("all", None)):
            sel = [r for r in rows if r["renderer"] == name and (keep is None or r["heldout"] == keep)]
            if not sel:
                continue
            entry: dict[str, Any] = {"renderer": name, "group": group, "screens": len(sel)}
            for k in ("tess_char", "tess_line", "cell_char", "cell_line", "psnr", "ssim"):
                entry[k] = mean_estimate([r.get(k) for r in sel], seed).to_json()
            entry["render_ms_mean"] = float(np.mean([r["render_ms"] for r in sel]))
            out.append(entry)
    return out


def markdown(result: dict[str, Any]) -> str:
    """The Markdown table of an ocr result."""
    def est(e: dict[str, Any], digits: int = 3, show_n: bool = False) -> str:
        v, (lo, hi) = e["value"], e["ci95"]
        if v is None:
            return "—"
        n = f" (n={e['n']})" if show_n else ""
        if lo is None or e["n"] < 2 or lo == hi:
            return fmt_num(v, digits) + n
        return f"{fmt_num(v, digits)} [{fmt_num(lo, digits)}, {fmt_num(hi, digits)}]{n}"

    s = result["settings"]
    lines = [
        "## Reading the frames back: Tesseract (paper protocol) and the cell-grid OCR",
        "",
        f"Command: `{result['provenance']['command']}` — {s['per_cast']} uniformly spaced screens "
        f"per recording, {len(s['casts'])} recordings; held out from the neural renderer's "
        f"training: {', '.join(s['heldout']) or 'none'}. Tesseract judged "
        f"{s['tesseract_screens']} of the screens per renderer (seconds a frame). Means with "
        "bootstrap 95% intervals; n = screens. "
        "PSNR/SSIM against the reference raster of the same screen (the raster's own is ∞ / 1). "
        f"Wall time {result['wall_s']} s.",
        "",
    ]
    table = [["paper: NC terminal model (Wan2.1)", "—", "—", "0.54", "0.31", "—", "—", "—", "—"]]
    for e in result["summary"]:
        table.append([e["renderer"], e["group"], e["screens"], est(e["tess_char"], 3, True),
                      est(e["tess_line"]), est(e["cell_char"], 4), est(e["cell_line"], 4),
                      est(e["psnr"], 2) if e["renderer"] != "raster" else "∞",
                      est(e["ssim"], 4)])
    lines.append(md_table(["renderer", "screens", "n", "Tesseract char", "Tesseract line",
                           "cell OCR char", "cell OCR line", "PSNR (dB)", "SSIM"], table))
    lines += ["", "Tesseract's figures on the raster's perfect frames are the ceiling of that "
              "judge (it knows nothing of our font or grid); the cell-grid OCR is exact on them. "
              "The paper's PSNR figures: 26.89 dB for generation with detailed captions; its "
              "40.77 dB is the VAE's *reconstruction* of real frames, an upper bound of its "
              "pipeline and not a generation score (our renderer draws pixels directly, with no "
              "autoencoder between it and the screen).",
              "", "Where the designs differ: our renderer (a 2.3 M-parameter CellDiT drawing a row "
              "at a time) is told each cell's glyph (cell-aligned glyph captions), so it copies "
              "known glyphs into known cells; the paper's model (Wan2.1 I2V, billions of "
              "parameters, ~15k H100-hours) is given a text prompt and must lay the text out "
              "itself. Our figures say what that design buys, not that ours is the better video "
              "model. `+ repair`: the same frames after verify & repair (the frame the full "
              "system shows); the raw rows are the renderer's own stream."]
    return "\n".join(lines)

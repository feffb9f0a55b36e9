"""`hybrid-nc eval`: the paper's findings reproduced, one subcommand each (hybrid_nc/evaluation/).

    hybrid-nc eval {ocr,arith,captions,injection,latency,budget,all} [--renderer R]
                   [--json OUT] [--quick] [--casts DIR] [--seed N] [--out DIR] [--retrain]
    hybrid-nc eval train-ablations [--only NAME,...] [--budget N] [--seeds 0,1,2]

Each subcommand writes OUT_DIR/<name>.json (with commit, machine, seeds, package versions) and
OUT_DIR/<name>.md (the table, the paper's figures beside ours); `all` also writes report.md with
plots. --quick runs every subcommand small (under 2 minutes together on a 2-core CPU), with 95%
confidence intervals; full runs show progress bars.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from ._common import positive_int
from ._progress import summary

SUBCOMMANDS = ("ocr", "arith", "captions", "injection", "latency", "budget", "all")

# (quick, full) sizes of each subcommand
SIZES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "ocr": ({"per_cast": 2, "tess_limit": 4}, {"per_cast": 5, "tess_limit": None}),
    "arith": ({"n_generated": 8, "n_shared": 4}, {"n_generated": 200, "n_shared": 100}),
    "captions": ({"max_frames": 8}, {"max_frames": None}),
    "injection": ({"max_frames": 8}, {"max_frames": None}),
    "budget": ({"max_frames": 4}, {"max_frames": 12}),
    "latency": ({"keystrokes": 16, "commands": 6, "full_frames": 3, "row_frames": 20},
                {"keystrokes": 60, "commands": 24, "full_frames": 10, "row_frames": 100}),
}


def add_parser(sub: argparse._SubParsersAction) -> None:
    from hybrid_nc.evaluation.common import DEFAULT_CASTS, DEFAULT_OUT

    p = sub.add_parser("eval", help="reproduce the paper's findings (ocr, arith, captions, "
                       "injection, latency, all)", description=__doc__.splitlines()[0])
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--renderer", help="renderer(s), comma-separated: raster, neural, "
                        "ablation:NAME or a checkpoint directory (ocr, latency default: "
                        "raster,neural; arith: the reprompted ones, default raster,neural,"
                        "ablation:detailed)")
    common.add_argument("--json", metavar="OUT", help="also write the result JSON here")
    common.add_argument("--quick", action="store_true",
                        help="small samples (every subcommand together in about a minute on "
                             "a 2-core CPU; CI runs it)")
    common.add_argument("--casts", metavar="DIR", default=str(DEFAULT_CASTS),
                        help="directory of asciicast recordings (default: ../shared/data/casts)")
    common.add_argument("--seed", type=int, default=0, help="seed of sampling and generation")
    common.add_argument("--steps", type=positive_int, metavar="N",
                        help="sampling steps of the renderers that sample (default: each "
                        "model's own; the raster draws exactly either way)")
    common.add_argument("--out", metavar="DIR", default=str(DEFAULT_OUT),
                        help="where the JSON/Markdown/plots go (default ./hybrid-nc-eval; the committed "
                             "pages: benchmarks/results/eval)")
    common.add_argument("--no-tesseract", action="store_true",
                        help="ocr, arith: skip the Tesseract judge (the cell OCR still runs; "
                             "--quick arith never uses it)")
    common.add_argument("--routes", default="python3,sympy",
                        help="arith: python3 and/or sympy (comma-separated)")
    common.add_argument("--items", type=int, metavar="N",
                        help="arith: N generated items and N/2 shared ones (overrides the size)")
    common.add_argument("--train-seeds", metavar="S,S,...",
                        help="budget: the training seeds to score (default: every one trained); "
                             "all --retrain: the seeds to train (default: the configs')")
    common.add_argument("--at", metavar="STEP,STEP,...",
                        help="budget: the checkpoints to score (default: 250,500,1000 and the last)")
    common.add_argument("--train-budget", type=positive_int, metavar="N",
                        help="budget: score the runs of N training steps (default: the configs')")
    common.add_argument("--retrain", action="store_true",
                        help="all: first retrain the ablation variants (train-ablations, the "
                             "configs' budget; --train-seeds), then evaluate them")
    common.add_argument("--reuse", metavar="NAME,...",
                        help="all: read these subcommands' results back from --out (written by "
                             "an earlier run, e.g. a long `eval arith`) instead of rerunning them")
    common.add_argument("--quiet", action="store_true", help="no progress bars")
    evsub = p.add_subparsers(dest="eval_command", metavar="SUBCOMMAND", required=True,
                             parser_class=type(p))
    helps = {"ocr": "Tesseract (paper protocol) and cell-OCR accuracy, PSNR, SSIM per renderer",
             "arith": "the arithmetic probe, native vs reprompted, answers read from the frame",
             "captions": "semantic vs regular vs detailed caption tiers (equal budgets)",
             "injection": "external / contextual / residual / internal injection (equal budgets)",
             "latency": "keystroke/command -> frame p50/p95, frames/s, peak memory",
             "budget": "the ablations at several training budgets and seeds (runs/ablations)",
             "all": "everything above plus report.md with plots"}
    for name in SUBCOMMANDS:
        sp = evsub.add_parser(name, parents=[common], help=helps[name], description=helps[name])
        sp.set_defaults(run=run)
    tr = evsub.add_parser("train-ablations", help="train the ablation variants "
                          "(hybrid_nc/configs/ablation_*.json) into renderer/checkpoints/ablations",
                          description="train the ablation variants")
    tr.add_argument("--only", help="comma-separated variant names (default: all)")
    tr.add_argument("--steps", "--budget", dest="steps", type=int, metavar="N",
                    help="training steps: override the configs' budget (all alike)")
    tr.add_argument("--seeds", default=None, metavar="S,S,...",
                    help="training seeds, e.g. 0,1,2 (default: the configs' seed, the one "
                         "exported); other seeds train into runs/ablations/NAME-seedS")
    tr.add_argument("--no-snapshots", action="store_true",
                    help="do not keep each checkpoint in runs/ablations/NAME/snapshots/STEP "
                         "(the budget curve reads them)")
    tr.add_argument("--resume", action="store_true", help="continue the runs in runs/ablations")
    tr.add_argument("--no-export", action="store_true",
                    help="leave the models in runs/ablations (do not overwrite the committed ones)")
    tr.add_argument("--export-only", action="store_true",
                    help="only copy already trained runs/ablations models to the checkpoints")
    tr.set_defaults(run=run_train)


def _names(arg: str | None, default: list[str]) -> list[str]:
    return [n.strip() for n in arg.split(",") if n.strip()] if arg else default


def run(args: argparse.Namespace) -> int:
    """Run one subcommand (or all) and write its files."""
    from hybrid_nc.evaluation.common import EvalError, cast_files

    _check_renderers(_names(args.renderer, []))  # bad usage before any work
    out = Path(args.out)
    casts_dir = Path(args.casts)
    cast_files(casts_dir)  # a clear error before any work when the directory is wrong
    sub = args.eval_command
    if args.json and sub == "all":
        raise EvalError("--json names one result file; with `all` every result is in --out")
    if args.retrain and sub != "all":
        raise EvalError("--retrain goes with `all` (or run `hybrid-nc eval train-ablations`)")
    t0 = time.perf_counter()
    if args.retrain:
        _retrain(args.train_seeds)
    reuse = _names(args.reuse, [])
    unknown = [n for n in reuse if n not in SUBCOMMANDS[:-1]]
    if unknown or (reuse and sub != "all"):
        raise EvalError(f"--reuse names subcommands of `all` ({', '.join(SUBCOMMANDS[:-1])}), "
                        f"got {args.reuse!r}" if unknown else "--reuse goes with `all`")
    done = {}
    for name in (_all_names(args) if sub == "all" else (sub,)):
        if name in reuse:
            done[name] = _read_back(out, name)
            print(f"{name}: read back from {out / (name + '.json')}", file=sys.stderr)
            continue
        res, md = _run_one(name, args, casts_dir)
        md = md.rstrip() + "\n\n" + provenance_line(res)
        from hybrid_nc.evaluation.common import write_result

        jp, mp = write_result(out, _page(name, args), res, md,
                              None if sub == "all" else args.json)
        done[name] = (res, md)
        print(md, flush=True)
        print(f"\nwrote {jp} and {mp} ({res.get('wall_s')} s)\n", file=sys.stderr, flush=True)
    if sub == "all":
        _report(out, done, time.perf_counter() - t0, casts_dir,
                {n: done[n][0].get("wall_s") for n in reuse if n in done})
        summary("hybrid-nc eval all", ["subcommand", "wall s", "results"],
                [[name, res.get("wall_s"), str(out / f"{name}.md")]
                 for name, (res, _md) in done.items()])
    return 0


def provenance_line(res: dict[str, Any]) -> str:
    """Where and when a result was measured, for the foot of its page."""
    prov = res.get("provenance", {})
    m = prov.get("machine", {})
    seeds = ", ".join(f"{k} {v}" for k, v in prov.get("seeds", {}).items()) or "—"
    commit = (prov.get("git_commit") or "unknown")[:12] + (" + changes" if prov.get("git_dirty")
                                                            else "")
    return (f"_Measured {prov.get('date', '?')} on {m.get('cpu', '?')} ({m.get('cores', '?')} "
            f"cores, shared; 1-min load {m.get('load_avg_1m', '?')} at the end), seeds: {seeds}, "
            f"commit {commit}, wall time {res.get('wall_s', '?')} s._")


def _read_back(out: Path, name: str) -> tuple[dict[str, Any], str]:
    import json

    from hybrid_nc.evaluation.common import EvalError

    jp, mp = out / f"{name}.json", out / f"{name}.md"
    if not (jp.is_file() and mp.is_file()):
        raise EvalError(f"--reuse {name}: no {jp} and {mp.name} (run `hybrid-nc eval {name} "
                        f"--out {out}` first)")
    return json.loads(jp.read_text()), mp.read_text()


def _all_names(args: argparse.Namespace) -> list[str]:
    """What `all` runs: every subcommand; the budget curve only in full runs and only where
    training snapshots exist (they live in runs/, which is not shipped)."""
    from hybrid_nc.evaluation.budget import variant_names
    from hybrid_nc.evaluation.variants import ablation_configs, snapshot_dirs

    names = [n for n in SUBCOMMANDS[:-1] if n != "budget"]
    if not args.quick and any(snapshot_dirs(c) for c in ablation_configs(variant_names())):
        names.append("budget")
    return names


def _retrain(seeds: str | None) -> None:
    """train-ablations over every variant at the configs' budget (and export the configs'
    seed), as `hybrid-nc eval train-ablations --seeds ...` does."""
    run_train(argparse.Namespace(only=None, steps=None, seeds=seeds, no_snapshots=False,
                                 resume=False, no_export=False, export_only=False))


def _check_renderers(names: list[str]) -> None:
    from hybrid_nc.evaluation.common import checkpoint_path
    from renderer import registry

    from ._common import UsageError

    for name in names:
        if name != "raster" and name not in registry.available() and checkpoint_path(name) is None:
            raise UsageError(f"unknown renderer {name!r} (a registered name: "
                             f"{', '.join(registry.available())}; ablation:NAME; or a checkpoint "
                             "directory)")


def _run_one(name: str, args: argparse.Namespace, casts_dir: Path) -> tuple[dict[str, Any], str]:
    from hybrid_nc.evaluation import arith, captions, injection, latency, ocr
    from hybrid_nc.evaluation.common import EvalError, cast_files, heldout_files

    size = SIZES[name][0 if args.quick else 1]
    quiet = bool(args.quiet)
    if name == "ocr":
        res = ocr.run_ocr(_names(args.renderer, ["raster", "neural"]), cast_files(casts_dir),
                          seed=args.seed, tesseract=not args.no_tesseract, quiet=quiet,
                          steps=args.steps, **size)
        return res, ocr.markdown(res)
    if name == "arith":
        routes = _names(args.routes, ["python3", "sympy"])
        if args.items is not None:
            if args.items < 1:
                raise EvalError(f"--items must be at least 1, got {args.items}")
            size = {"n_generated": args.items, "n_shared": args.items // 2}
        res = arith.run_arith(seed=args.seed, routes=routes, quiet=quiet, steps=args.steps,
                              reprompted=_names(args.renderer,
                                                ["raster", "neural", "ablation:detailed"]),
                              tesseract=not (args.quick or args.no_tesseract), **size)
        return res, arith.markdown(res)
    if name == "budget":
        from hybrid_nc.evaluation import budget

        res = budget.run_budget(heldout_files(casts_dir), seed=args.seed, quiet=quiet,
                                sampling_steps=args.steps, budget=args.train_budget,
                                seeds=_seeds(args.train_seeds) or None,
                                steps=_seeds(args.at, "--at") or None, **size)
        png = budget.plot(res, Path(args.out) / f"{_page(name, args)}_curve.png")
        res["plot"] = str(png) if png else None
        return res, budget.markdown(res)
    if name == "captions":
        res = captions.run_captions(heldout_files(casts_dir), seed=args.seed, quiet=quiet,
                                    steps=args.steps, **size)
        return res, captions.markdown(res)
    if name == "injection":
        res = injection.run_injection(heldout_files(casts_dir), seed=args.seed, quiet=quiet,
                                      steps=args.steps, **size)
        return res, injection.markdown(res)
    res = latency.run_latency(_names(args.renderer, ["neural", "raster"]), seed=args.seed,
                              quiet=quiet, steps=args.steps, **size)
    return res, latency.markdown(res)


def _report(out: Path, done: dict[str, tuple[dict[str, Any], str]], wall: float,
            casts_dir: Path, reused: dict[str, Any] | None = None) -> None:
    from hybrid_nc.evaluation import report
    from hybrid_nc.evaluation.common import provenance

    shown = ["semantic", "regular", "detailed", "contextual", "residual", "internal"]
    if not _has_rollouts():  # results read back (--reuse) carry no frames
        _short_rollouts(shown, casts_dir)
    figures = {
        "training": report.plot_training(out / "accuracy_vs_steps.png"),
        "latency": report.plot_latency(done["latency"][0], out / "latency_hist.png"),
        "samples": report.sample_frames(done["ocr"][0].get("_samples", {}),
                                        out / "sample_frames.png"),
        "rollouts": report.rollout_frames(shown, out / "ablation_frames.png"),
    }
    if "budget" in done and done["budget"][0].get("plot"):
        figures["budget"] = Path(done["budget"][0]["plot"])
    # a result read back (--reuse) has no frames in memory: its figure from that run stands
    kept = {"samples": "sample_frames.png", "rollouts": "ablation_frames.png"}
    for key, fname in kept.items():
        if figures.get(key) is None and (out / fname).is_file():
            figures[key] = out / fname
    parts = [(k, v[1]) for k, v in done.items()]
    if "budget" in done:  # runs of other training budgets (eval budget --train-budget N)
        for page in sorted(out.glob("budget-*steps.md")):
            parts.append((page.stem, page.read_text()))
            curve = out / f"{page.stem}_curve.png"
            figures[page.stem] = curve if curve.is_file() else None
    prov = provenance({})
    path = report.write_report(out, parts, figures, wall, prov["command"], prov["machine"],
                               prov["git_commit"], reused)
    print(f"wrote {path} (eval all: {wall:.0f} s)", file=sys.stderr)


def _page(name: str, args: argparse.Namespace) -> str:
    """The file name of a result: runs of another training budget get their own page."""
    if name == "budget" and args.train_budget:
        return f"budget-{args.train_budget}steps"
    return name


def _has_rollouts() -> bool:
    from hybrid_nc.evaluation.common import _ROLLOUTS

    return any(k[0].startswith("ablation:") for k in _ROLLOUTS)


def _short_rollouts(variants: list[str], casts_dir: Path, frames: int = 12) -> None:
    """The first `frames` frames of each held-out recording by each shipped variant, so the
    report's ablation figure shows the checkpoints as they are now."""
    from hybrid_nc.evaluation.common import EvalError, heldout_files, score_rollout
    from hybrid_nc.evaluation.variants import ABLATIONS

    try:
        casts = heldout_files(casts_dir)
    except EvalError:
        return
    for v in variants:
        if (ABLATIONS / v).is_dir():
            for p in casts:
                score_rollout(f"ablation:{v}", p, frames)


def _seeds(arg: str | None, flag: str = "--seeds") -> list[int]:
    from ._common import UsageError

    try:
        return [int(x) for x in _names(arg, [])]
    except ValueError:
        raise UsageError(f"{flag} takes comma-separated integers, got {arg!r}") from None


def run_train(args: argparse.Namespace) -> int:
    """Train (and export) the ablation variants."""
    from hybrid_nc.evaluation.variants import (
        ABLATIONS,
        ablation_configs,
        export_variant,
        train_variant,
        write_readme,
    )

    variants = ablation_configs(_names(args.only, []) or None)
    if args.export_only:
        for v in variants:
            print(f"exported {export_variant(v, ABLATIONS / v.name, steps=args.steps)}")
        print(f"wrote {write_readme()}", file=sys.stderr)
        return 0
    seeds: list[int | None] = [*_seeds(args.seeds)] or [None]
    # seed after seed, so a run cut short has every variant at the earlier seeds
    for seed in seeds:
        for v in variants:
            t = time.perf_counter()
            shipped = seed is None or seed == v.train.get("seed", 0)
            res = train_variant(
                v, export=None if args.no_export or not shipped else ABLATIONS / v.name,
                steps=args.steps, seed=seed, resume=args.resume,
                snapshots=not args.no_snapshots,
                log=lambda m, n=v.name: print(f"{n}: {m}", file=sys.stderr, flush=True))
            print(f"{v.name}: {res} ({time.perf_counter() - t:.0f} s)", flush=True)
    if not args.no_export:
        print(f"wrote {write_readme()}", file=sys.stderr)
    return 0

"""`hybrid-nc eval`: the paper's findings reproduced, one subcommand each (hybrid_nc/evaluation/).

    hybrid-nc eval {ocr,arith,captions,injection,latency,all} [--renderer R] [--json OUT]
                   [--quick] [--casts DIR] [--seed N] [--out DIR]
    hybrid-nc eval train-ablations [--only NAME,...] [--steps N]

Each subcommand writes OUT_DIR/<name>.json (with commit, machine, seeds, package versions) and
OUT_DIR/<name>.md (the table, the paper's figures beside ours); `all` also writes report.md with
plots. --quick runs every subcommand small (under 10 minutes together on a 2-core CPU), with 95%
confidence intervals; full runs show progress bars.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

SUBCOMMANDS = ("ocr", "arith", "captions", "injection", "latency", "all")

# (quick, full) sizes of each subcommand
SIZES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "ocr": ({"per_cast": 2, "tess_limit": 6}, {"per_cast": 5, "tess_limit": None}),
    "arith": ({"n_generated": 12, "n_shared": 4}, {"n_generated": 100, "n_shared": 50}),
    "captions": ({"max_frames": 10}, {"max_frames": None}),
    "injection": ({"max_frames": 10}, {"max_frames": None}),
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
                        "raster,neural; arith: the reprompted ones, default neural,"
                        "ablation:detailed)")
    common.add_argument("--json", metavar="OUT", help="also write the result JSON here")
    common.add_argument("--quick", action="store_true",
                        help="small samples (every subcommand together in under 10 minutes)")
    common.add_argument("--casts", metavar="DIR", default=str(DEFAULT_CASTS),
                        help="directory of asciicast recordings (default: ../shared/data/casts)")
    common.add_argument("--seed", type=int, default=0, help="seed of sampling and generation")
    common.add_argument("--out", metavar="DIR", default=str(DEFAULT_OUT),
                        help="where the JSON/Markdown/plots go (default ./hybrid-nc-eval; the committed "
                             "pages: benchmarks/results/eval)")
    common.add_argument("--no-tesseract", action="store_true",
                        help="ocr: skip the Tesseract judge (the cell OCR still runs)")
    common.add_argument("--routes", default="python3,sympy",
                        help="arith: python3 and/or sympy (comma-separated)")
    common.add_argument("--items", type=int, metavar="N",
                        help="arith: N generated items and N/2 shared ones (overrides the size)")
    common.add_argument("--quiet", action="store_true", help="no progress bars")
    evsub = p.add_subparsers(dest="eval_command", metavar="SUBCOMMAND", required=True,
                             parser_class=type(p))
    helps = {"ocr": "Tesseract (paper protocol) and cell-OCR accuracy, PSNR, SSIM per renderer",
             "arith": "the arithmetic probe, native vs reprompted, answers read from the frame",
             "captions": "semantic vs regular vs detailed caption tiers (equal budgets)",
             "injection": "external / contextual / residual / internal injection (equal budgets)",
             "latency": "keystroke/command -> frame p50/p95, frames/s, peak memory",
             "all": "everything above plus report.md with plots"}
    for name in SUBCOMMANDS:
        sp = evsub.add_parser(name, parents=[common], help=helps[name], description=helps[name])
        sp.set_defaults(run=run)
    tr = evsub.add_parser("train-ablations", help="train the ablation variants "
                          "(hybrid_nc/configs/ablation_*.json) into renderer/checkpoints/ablations",
                          description="train the ablation variants")
    tr.add_argument("--only", help="comma-separated variant names (default: all)")
    tr.add_argument("--steps", type=int, help="override the configs' step budget (all alike)")
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
    t0 = time.perf_counter()
    done = {}
    for name in (SUBCOMMANDS[:-1] if sub == "all" else (sub,)):
        res, md = _run_one(name, args, casts_dir)
        from hybrid_nc.evaluation.common import write_result

        jp, mp = write_result(out, name, res, md, None if sub == "all" else args.json)
        done[name] = (res, md)
        print(md, flush=True)
        print(f"\nwrote {jp} and {mp} ({res.get('wall_s')} s)\n", file=sys.stderr, flush=True)
    if sub == "all":
        _report(out, done, time.perf_counter() - t0)
    return 0


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
                          seed=args.seed, tesseract=not args.no_tesseract, quiet=quiet, **size)
        return res, ocr.markdown(res)
    if name == "arith":
        routes = _names(args.routes, ["python3", "sympy"])
        if args.items is not None:
            if args.items < 1:
                raise EvalError(f"--items must be at least 1, got {args.items}")
            size = {"n_generated": args.items, "n_shared": args.items // 2}
        res = arith.run_arith(seed=args.seed, routes=routes, quiet=quiet,
                              reprompted=_names(args.renderer, ["neural", "ablation:detailed"]),
                              **size)
        return res, arith.markdown(res)
    if name == "captions":
        res = captions.run_captions(heldout_files(casts_dir), seed=args.seed, quiet=quiet, **size)
        return res, captions.markdown(res)
    if name == "injection":
        res = injection.run_injection(heldout_files(casts_dir), seed=args.seed, quiet=quiet,
                                      **size)
        return res, injection.markdown(res)
    res = latency.run_latency(_names(args.renderer, ["neural", "raster"]), seed=args.seed,
                              quiet=quiet, **size)
    return res, latency.markdown(res)


def _report(out: Path, done: dict[str, tuple[dict[str, Any], str]], wall: float) -> None:
    from hybrid_nc.evaluation import report
    from hybrid_nc.evaluation.common import provenance

    figures = {
        "training": report.plot_training(out / "accuracy_vs_steps.png"),
        "latency": report.plot_latency(done["latency"][0], out / "latency_hist.png"),
        "samples": report.sample_frames(done["ocr"][0].get("_samples", {}),
                                        out / "sample_frames.png"),
        "rollouts": report.rollout_frames(
            ["semantic", "regular", "detailed", "contextual", "residual", "internal"],
            out / "ablation_frames.png"),
    }
    prov = provenance({})
    path = report.write_report(out, [(k, v[1]) for k, v in done.items()], figures, wall,
                               prov["command"], prov["machine"], prov["git_commit"])
    print(f"wrote {path} (eval all: {wall:.0f} s)", file=sys.stderr)


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
    for v in variants:
        t = time.perf_counter()
        res = train_variant(v, export=None if args.no_export else ABLATIONS / v.name,
                            steps=args.steps, resume=args.resume,
                            log=lambda m, n=v.name: print(f"{n}: {m}", file=sys.stderr, flush=True))
        print(f"{v.name}: {res} ({time.perf_counter() - t:.0f} s)", flush=True)
    if not args.no_export:
        print(f"wrote {write_readme()}", file=sys.stderr)
    return 0

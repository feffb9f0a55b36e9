"""`hybrid-nc train`: build the neural renderer's training data and train a CellDiT on it.

It runs on accelerate: `accelerate launch -m hybrid_nc train ...` for several processes or GPUs.

Precedence: command-line flags > the --config file > TrainConfig's defaults.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from dataclasses import asdict, replace
from functools import partial
from pathlib import Path
from typing import Any

from hybrid_nc.evaluation.common import SHARED_DATA

from ._progress import bar, summary

DEFAULT_CONFIG = Path(__file__).resolve().parents[1] / "configs" / "train_default.json"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a neural renderer (accelerate-compatible)",
                       description=__doc__.splitlines()[0])
    p.add_argument("--config", default=str(DEFAULT_CONFIG),
                   help="training config JSON (default: hybrid_nc/configs/train_default.json)")
    p.add_argument("--build-data", action="store_true",
                   help="(re)build the dataset first (recordings, conformance, commands, synthetic)")
    p.add_argument("--shared", default=str(SHARED_DATA),
                   help="the shared data folder with casts/ and conformance/ (default: "
                        "HYBRID_NC_TEST_DATA, HYBRID_NC_SHARED_DATA or ../shared/data beside "
                        "the project)")
    p.add_argument("--synthetic", type=int, default=60000, help="synthetic rows when building")
    p.add_argument("--no-commands", action="store_true",
                   help="skip the real-command session when building the data")
    p.add_argument("--data", help="dataset directory (overrides the config)")
    p.add_argument("--out", help="run directory (overrides the config)")
    p.add_argument("--steps", type=int, help="training steps (overrides the config)")
    p.add_argument("--max-minutes", type=float, help="stop and save after this long")
    p.add_argument("--seed", type=int, help="random seed (overrides the config)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=JSON",
                   help="override any config key, e.g. --set lr=3e-4 --set model.injection='\"internal\"'")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument("--eval-only", action="store_true",
                   help="only evaluate the run's saved model (out/model)")
    p.add_argument("--export", metavar="DIR",
                   help="after training, copy the model to DIR (e.g. renderer/checkpoints/default)")
    p.set_defaults(run=run)


def _apply_sets(d: dict[str, Any], sets: list[str]) -> dict[str, Any]:
    for item in sets:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--set needs KEY=JSON, got {item!r}")
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            parsed = value  # a bare word is a string
        target = d
        parts = key.split(".")
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = parsed
    return d


def load_config(args: argparse.Namespace) -> Any:
    """The TrainConfig from the file and the flags."""
    from renderer.training import TrainConfig

    path = Path(args.config)
    if not path.is_file():
        raise FileNotFoundError(f"training config {path} not found")
    try:
        raw = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"training config {path} is not valid JSON: {e.msg} (line {e.lineno})") from None
    raw = _apply_sets(raw, args.set)
    cfg = TrainConfig.from_dict(raw)
    over = {k: v for k, v in {"data": args.data, "out": args.out, "steps": args.steps,
                              "max_minutes": args.max_minutes, "seed": args.seed}.items()
            if v is not None}
    return replace(cfg, **over)


def _summary(history: list[dict[str, Any]]) -> None:
    """The evaluations along the run, one row each (the JSON lines above hold them all)."""
    if not history:
        return
    keys = [k for k, v in history[-1].items() if isinstance(v, int | float)]
    keys = ["step", "wall_s", "loss"] + [k for k in keys if k not in ("step", "wall_s", "loss")]
    summary("hybrid-nc train", keys, [[e.get(k) for k in keys] for e in history])


def run(args: argparse.Namespace) -> int:
    from renderer.training import Trainer, build_dataset

    cfg = load_config(args)
    if args.build_data:
        from reasoner.base import ReasonerError, create
        from renderer.training.sources import PtyBash, all_groups

        try:  # the product's sandboxed shell; the scripted commands only read, so a plain pty
            shell = create("shell")  # bash serves where no sandbox can be made
        except ReasonerError:
            shell = PtyBash()
        print(f"building the dataset in {cfg.data} ...", file=sys.stderr)
        dd = build_dataset(all_groups(args.shared, args.synthetic, cfg.seed,
                                      with_commands=not args.no_commands, shell=shell), cfg.data)
        print("rows: " + ", ".join(f"{k}={len(v)}" for k, v in dd.items()), file=sys.stderr)
    Path(cfg.out).mkdir(parents=True, exist_ok=True)
    (Path(cfg.out) / "config.json").write_text(json.dumps(asdict(cfg), indent=1))
    from renderer.training.looks import LookTrainer, is_capture_folder

    kind = LookTrainer if is_capture_folder(cfg.data) else Trainer  # captures train a look
    trainer = kind(cfg, log=lambda m: print(m, file=sys.stderr, flush=True))
    if args.eval_only:
        from renderer.neural import load_model

        trainer.ema = load_model(Path(cfg.out) / "model")
        print(json.dumps(trainer.evaluate()))
        return 0
    final = trainer.train(resume=args.resume, progress=partial(bar, unit="step"))
    print(json.dumps({"step": trainer.step, **final}))
    _summary(trainer.history)
    if args.export:
        dest = Path(args.export)
        if (dest / "model_index.json").is_file():  # diffusers' pipeline layout: the model part
            dest = dest / "transformer"
        dest.mkdir(parents=True, exist_ok=True)
        for f in (Path(cfg.out) / "model").iterdir():
            shutil.copy2(f, dest / f.name)
        print(f"model copied to {dest}", file=sys.stderr)
    return 0

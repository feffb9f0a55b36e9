"""Training: synthetic rows, the dataset (splits, dedup, held-out characters), batches against the
reference raster, the trainer (loss, checkpoint, resume, evaluation) and `hybrid-nc train`."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from hybrid_nc.cli import main as cli_main
from renderer.neural import load_model, rows_to_patches
from renderer.raster import RasterRenderer
from renderer.training import RowBatcher, TrainConfig, Trainer, build_dataset, load_dataset_dir
from renderer.training.dataset import crop_row, screen_records, synthetic_records
from renderer.training.synthetic import (
    SyntheticRows,
    is_special,
    random_glyph_bank,
    theme_from_json,
    theme_to_json,
)
from terminal.screen import ScreenState
from terminal.themes import THEMES

TINY_MODEL = {"width": 16, "depth": 1, "heads": 2, "mlp_ratio": 1.0, "window": 1}


def test_special_characters_are_recognised() -> None:
    for ch in "世界한ｱ😀✓─┼\ue0b0\ue0a0":
        assert is_special(ch), ch
    for ch in "aZ~é€→∑░▌ж":
        assert not is_special(ch), ch


def test_synthetic_rows_are_reproducible_and_never_special() -> None:
    a, b = SyntheticRows(40, seed=7), SyntheticRows(40, seed=7)
    for _ in range(200):
        pa, ra, act = a.pair()
        pb, rb, _ = b.pair()
        assert ra.chars == rb.chars and np.array_equal(ra.fg, rb.fg)
        assert not any(is_special(c) for c in ra.chars[0])
        assert isinstance(act, str)
    themes = {a.theme().name for _ in range(50)}
    assert "random" in themes and "dark" in themes


def test_theme_json_round_trip() -> None:
    t = SyntheticRows(seed=1)
    for _ in range(20):
        th = t.theme()
        assert theme_from_json(theme_to_json(th)) == th
    assert theme_to_json(THEMES["light"]) == "light"


def test_glyph_bank() -> None:
    bank = random_glyph_bank(32, 16, 8, seed=3)
    assert bank.shape == (32, 16, 8) and bank.min() >= 0 and bank.max() <= 1
    assert (bank.reshape(32, -1).max(1) > 0).mean() > 0.8  # shapes, not blanks
    assert np.array_equal(bank, random_glyph_bank(32, 16, 8, seed=3))


def test_texture_masks_extend_the_bank_without_changing_it() -> None:
    bank = random_glyph_bank(32, 16, 8, seed=3, textures=0.5)
    assert bank.shape == (48, 16, 8)
    assert np.array_equal(bank[:32], random_glyph_bank(32, 16, 8, seed=3))  # stage 1's bank
    tex = bank[32:]
    assert set(np.unique(tex)) <= {0.0, 1.0} and (tex.reshape(16, -1).max(1) > 0).all()
    # pixel-level: neighbouring pixels differ far more often than in the smooth shapes
    def flips(m: np.ndarray) -> float:
        return float(np.abs(np.diff(m, axis=-1)).mean() + np.abs(np.diff(m, axis=-2)).mean())
    assert flips(tex) > 2 * flips(bank[:32])


def _screen() -> ScreenState:
    s = ScreenState.from_lines(["$ echo 世界", "世界", "plain text", "box ┌─┐"], 24, 4)
    s.fg[2, :5] = 3
    s.cursor = (2, 4)
    return s


def tiny_dataset(path: Path, synthetic: int = 48) -> None:
    s = _screen()
    prev = s.copy()
    prev.chars[2][5:] = [" "] * 19
    dark = THEMES["dark"]
    groups = [(synthetic_records(synthetic, 40, seed=0), False),
              (screen_records(prev, s, range(4), "x", dark, "cast:a.cast"), False),
              (screen_records(prev, s, range(4), "x", dark, "cast:a.cast"), False),  # dups
              (screen_records(None, s, range(4), "", dark, "cast:held.cast"), True)]
    build_dataset(groups, path)


def test_dataset_splits_and_dedup(tmp_path: Path) -> None:
    tiny_dataset(tmp_path / "d")
    dd = load_dataset_dir(tmp_path / "d")
    src = dd["train"]["source"]
    assert list(src).count("cast:a.cast") == 1  # "plain text"; the rest is special, dups once
    assert list(dd["heldout"]["source"]) == ["cast:held.cast"]
    special = [json.loads(r)["lines"][0] for r in dd["special"]["row"]]
    assert any("世界" in ln for ln in special) and any("┌" in ln for ln in special)
    for row in dd["train"]["row"]:
        assert not any(is_special(c) for c in ScreenState.from_json(row).chars[0])
    with pytest.raises(FileNotFoundError, match="--build-data"):
        load_dataset_dir(tmp_path / "nothing")


def test_batches_match_the_reference_raster(tmp_path: Path) -> None:
    tiny_dataset(tmp_path / "d")
    recs = load_dataset_dir(tmp_path / "d")["train"].to_list()[:12]
    batcher = RowBatcher(cols=16)
    rng = np.random.default_rng(0)
    b = batcher.batch(recs, rng)
    assert b.target.shape == (12, 16, 384) and b.glyph.shape == (12, 16, 128)
    assert b.contrast.shape == (12, 16) and b.contrast.min() >= 0 and b.contrast.max() <= 1
    for j, rec in enumerate(recs):
        raster = batcher.captioner(rec["theme"]).raster
        ref = rows_to_patches(raster.draw_rows(b.screens[j], [0]), 16, 8)[0]
        assert np.array_equal(b.target[j], ref)
        assert b.has_prev[j] == bool(rec["prev"])
    # augmentation changes some plain cells' glyphs, and the target with them
    aug = RowBatcher(cols=16, glyph_bank=random_glyph_bank(16, 16, 8), random_glyph_p=0.5)
    b2 = aug.batch(recs, np.random.default_rng(0))
    assert not np.array_equal(b2.glyph, b.glyph)
    assert not np.array_equal(b2.target, b.target)


def test_low_contrast_rows_agree_in_caption_and_target(tmp_path: Path) -> None:
    tiny_dataset(tmp_path / "d")
    recs = load_dataset_dir(tmp_path / "d")["train"].to_list()[:12]
    b = RowBatcher(cols=16, low_contrast_p=1.0).batch(recs, np.random.default_rng(0))
    low = (b.contrast > 0) & (b.contrast <= 48.5 / 255)
    assert low.any(axis=1).mean() > 0.5  # most rows got a run of close colours
    # wherever the caption's colours are the drawn ones, the target is their composite
    fg, bg = (b.colours[..., :3] + 1) * 127.5, (b.colours[..., 3:] + 1) * 127.5
    plain = (b.bits[..., 3] == 0) & (b.bits[..., 5] == 0)
    want = np.rint(bg[..., None, :] + b.hint[..., None] * (fg - bg)[..., None, :])
    got = b.target.reshape(*b.hint.shape, 3).astype(float)
    assert np.abs(got - want)[plain & low].max() <= 1


def test_a_fine_tune_starts_from_a_checkpoint(tmp_path: Path) -> None:
    tiny_dataset(tmp_path / "d")
    Trainer(_cfg(tmp_path, steps=2), log=lambda m: None).train()
    start = load_model(tmp_path / "run" / "model")
    logs: list[str] = []
    tuned = Trainer(_cfg(tmp_path, steps=2, init_from=str(tmp_path / "run" / "model"),
                         out=str(tmp_path / "tuned")), log=logs.append)
    for (name, a), b in zip(start.state_dict().items(), tuned.ema.state_dict().values(),
                            strict=True):
        assert torch.equal(a, b), name
    assert any("weights from" in m for m in logs)
    with pytest.raises(ValueError, match="different model"):
        Trainer(_cfg(tmp_path, init_from=str(tmp_path / "run" / "model"),
                     model={**TINY_MODEL, "width": 8}), log=lambda m: None)


def test_crop_row_pads_and_keeps_the_cursor() -> None:
    s = ScreenState.from_lines(["abcdefghij"], 10, 1, cursor=(0, 6))
    c = crop_row(s, 4, 8)
    assert "".join(c.chars[0]) == "efghij  " and c.cursor == (0, 2) and c.cursor_visible
    c = crop_row(s, 0, 4)
    assert not c.cursor_visible


def _cfg(tmp_path: Path, **kw: object) -> TrainConfig:
    base = TrainConfig(model=TINY_MODEL, data=str(tmp_path / "d"), cols=12, steps=4,
                       batch_size=6, eval_every=4, ckpt_every=2, eval_rows=4, glyph_bank=16,
                       workers=0, warmup=2, contrast_ref=0.5, out=str(tmp_path / "run"))
    return replace(base, **kw)


def test_trainer_trains_saves_resumes_and_evaluates(tmp_path: Path) -> None:
    tiny_dataset(tmp_path / "d")
    logs: list[str] = []
    tr = Trainer(_cfg(tmp_path), log=logs.append)
    a, b = tr.sample_batch(3), tr.sample_batch(3)
    assert np.array_equal(a.target, b.target)  # batches are a function of the step
    weighted = float(tr.loss(a, 3).detach())
    unweighted = copy.copy(tr)
    unweighted.cfg = replace(tr.cfg, contrast_ref=0.0)
    plain = float(unweighted.loss(a, 3).detach())
    assert np.isfinite(weighted) and weighted != plain
    final = tr.train()
    assert tr.step == 4
    assert {"heldout_char_acc", "heldout_psnr", "special_char_acc", "loss"} <= set(final)
    assert np.isfinite(final["loss"]) and 0 <= final["heldout_char_acc"] <= 1
    model = load_model(tmp_path / "run" / "model")
    assert model.config.width == 16
    state = json.loads((tmp_path / "run" / "trainer_state.json").read_text())
    assert state["step"] == 4
    # resume continues from the saved step
    tr2 = Trainer(_cfg(tmp_path, steps=6), log=logs.append)
    tr2.train(resume=True)
    assert tr2.step == 6 and any("resumed from step 4" in m for m in logs)


def test_worker_batches_equal_in_process_batches(tmp_path: Path) -> None:
    tiny_dataset(tmp_path / "d")
    tr = Trainer(_cfg(tmp_path, workers=1, steps=3), log=lambda m: None)
    got = list(tr._batches(1))
    assert [s for s, _ in got] == [1, 2]
    assert np.array_equal(got[1][1].target, tr.sample_batch(2).target)


def test_config_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown training config keys: bogus"):
        TrainConfig.from_dict({"bogus": 1})
    bad = tmp_path / "bad.json"
    bad.write_text("{oops")
    assert cli_main(["train", "--config", str(bad)]) == 1
    assert cli_main(["train", "--config", str(tmp_path / "none.json")]) == 1


def test_cli_trains_a_tiny_model_and_exports_it(tmp_path: Path, capsys) -> None:
    tiny_dataset(tmp_path / "d")
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"model": TINY_MODEL, "cols": 12, "batch_size": 4,
                               "eval_every": 2, "ckpt_every": 2, "eval_rows": 4,
                               "glyph_bank": 8, "workers": 0, "warmup": 1}))
    rc = cli_main(["train", "--config", str(cfg), "--data", str(tmp_path / "d"), "--out",
                   str(tmp_path / "run"), "--steps", "2", "--set", "lr=1e-3",
                   "--set", "model.injection=internal", "--export", str(tmp_path / "ship")])
    assert rc == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["step"] == 2
    assert load_model(tmp_path / "ship").config.injection == "internal"


@pytest.mark.integration
def test_real_sources_replay_a_recording(shared_data: Path) -> None:
    from renderer.training.sources import HELDOUT_CASTS, cast_records, read_cast

    path = shared_data / "casts" / "r-lib__asciicast__inst__examples__hello.cast"
    head, events = read_cast(path)
    assert head["width"] == 80 and events
    recs = list(cast_records(path))
    assert recs and all(r["source"] == f"cast:{path.name}" for r in recs)
    texts = [json.loads(r["row"])["lines"][0] for r in recs]
    assert any(t.strip() for t in texts)
    assert all((shared_data / "casts" / name).is_file() for name in HELDOUT_CASTS)
    raster = RasterRenderer()
    screen = ScreenState.from_json(recs[-1]["row"])
    assert raster.draw_rows(screen, [0]).shape == (16, 640, 3)

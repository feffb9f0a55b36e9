"""Tests of `hybrid-nc eval` (hybrid_nc/commands/eval.py, hybrid_nc/evaluation/)."""

from __future__ import annotations

import json
import math
import shutil
from fractions import Fraction

import numpy as np
import pytest
from shared_material import SHARED_DATA

from hybrid_nc.cli import main
from hybrid_nc.evaluation import arith, common, variants
from terminal.screen import ScreenState


# -- statistics --------------------------------------------------------------------------------
def test_wilson_matches_the_formula_and_stays_in_0_1():
    lo, hi = common.wilson(0, 10)
    assert lo == 0.0 and hi == pytest.approx(0.2775, abs=1e-4)
    lo, hi = common.wilson(83, 100)
    assert lo == pytest.approx(0.7445, abs=1e-3) and hi == pytest.approx(0.8910, abs=1e-3)
    assert common.wilson(5, 5)[1] == 1.0
    assert common.wilson(0, 0) == (0.0, 1.0)


def test_bootstrap_interval_brackets_the_mean_and_ignores_infinities():
    rng = np.random.default_rng(1)
    x = list(rng.normal(10, 1, 200)) + [math.inf]
    lo, hi = common.bootstrap_ci(x, seed=0)
    assert lo < float(np.mean(x[:-1])) < hi and hi - lo < 0.5
    assert common.bootstrap_ci(x, seed=0) == (lo, hi)  # seeded
    e = common.mean_estimate([1.0, 1.0, None])
    assert e.value == 1.0 and e.n == 2


def test_write_result_is_strict_json_without_private_keys(tmp_path):
    res = {"a": math.inf, "b": [1.0, math.nan], "_samples": {"x": np.zeros(3)}}
    jp, mp = common.write_result(tmp_path, "x", res, "| a |")
    data = json.loads(jp.read_text())
    assert data == {"a": None, "b": [1.0, None]}
    assert mp.read_text() == "| a |\n"


def test_md_table_escapes_pipes():
    t = common.md_table(["a", "b"], [["x|y", None]]).splitlines()
    assert t[0] == "| a | b |" and t[2] == "| x\\|y | — |"


# -- arithmetic probe --------------------------------------------------------------------------
def test_exact_and_python_values():
    assert arith.exact_value("7/3") == Fraction(7, 3)
    assert arith.exact_value("(3+4)*12-5") == 79
    assert arith.exact_value("-7 % 3") == 2  # Python's sign convention, as sympy's Mod
    assert arith.exact_value("2**10") == 1024
    assert arith.python_value("7/3") == Fraction(repr(7 / 3))
    with pytest.raises(ValueError):
        arith.exact_value("__import__('os')")


def test_generator_is_seeded_and_in_the_papers_style():
    def draw(seed):
        gen = arith.ExprGenerator(seed)
        return [gen() for _ in range(200)]

    a = draw(3)
    assert a == draw(3) and a != draw(4)
    joined = " ".join(a)
    for op in ("+", "-", "*", "/", "%", "**", "("):
        assert op in joined
    for e in a:
        assert len(e) <= arith.MAX_EXPR and abs(arith.exact_value(e)) < arith.MAX_ABS
        for num in e.replace("(", " ").replace(")", " ").split():
            if num.isdigit():
                assert len(num) <= 3


def test_shared_items_agree_with_their_verified_answers(shared_data):
    items = arith.shared_items(50, 0)
    assert len(items) == 50
    assert {i["source"] for i in items} <= {"gsm8k", "svamp"}


def test_parse_answer_reads_both_routes_formats():
    assert arith.parse_answer("7/3 ≈ 2.333333333") == Fraction(7, 3)
    assert arith.parse_answer("-6.9787234042553195") == Fraction("-6.9787234042553195")
    assert arith.parse_answer("263      |   |") == 263  # stray marks after the answer
    assert arith.parse_answer("2.5e-05") == Fraction(repr(2.5e-05))
    assert arith.parse_answer("●ø12") is None
    assert arith.parse_answer("") is None


def test_answer_rows_lie_between_command_and_prompt():
    lines = ["$ python3 -c 'print(2+3)'", "5", "$", ""]
    assert arith.answer_rows(lines, "python3 -c 'print(2+3)'") == [1]
    assert arith.answer_rows(lines, "not there") == []


# -- caption restrictions ----------------------------------------------------------------------
def _arrays(r=3, c=4, g=6):
    rng = np.random.default_rng(0)
    return rng.random((r, c, g)), rng.random((r, c, 6)) * 2 - 1, np.ones((r, c, 6))


def test_restrictions_blank_what_they_should():
    from renderer.neural import restrict_arrays

    g, col, b = _arrays()
    restrict_arrays("detailed", g, col, b)
    assert g.any() and col.any() and b.any()
    g, col, b = _arrays()
    g0 = g.copy()
    restrict_arrays("regular", g, col, b)
    assert np.array_equal(g, g0) and not col.any() and not b.any()
    restrict_arrays("semantic", g, col, b)
    assert not g.any()
    g, col, b = _arrays()
    restrict_arrays("native", g, col, b, np.array([False, True, False]))
    assert not g[1].any() and not b[1].any() and g[0].any() and g[2].any() and col[2].any()


def test_native_withholds_changed_rows_not_typed_ones():
    from renderer.training.dataset import RowBatch, native_withheld_batch

    tgt = np.zeros((4, 2, 3), np.uint8)
    prev = tgt.copy()
    prev[0] = prev[1] = prev[3] = 9  # rows 0, 1, 3 changed; row 2 did not
    g, col, b = _arrays(4, 2)
    fields = {"target": tgt, "prev": prev, "has_prev": np.array([True, True, True, False]),
              "glyph": g, "colours": col, "bits": b, "hint": g.copy(),
              "contrast": np.ones((4, 2)), "action": ["Enter", "x", "", "ls"], "chars": [],
              "screens": []}
    batch = RowBatch(**{k: v for k, v in fields.items()
                        if k in RowBatch.__dataclass_fields__})
    assert native_withheld_batch(batch).tolist() == [True, False, False, False]


def test_committed_ablation_configs_load_and_differ_only_where_they_should():
    cfgs = {c.name: c for c in variants.ablation_configs()}
    assert {"detailed", "regular", "semantic", "native", "contextual", "residual",
            "internal"} <= set(cfgs)
    base = cfgs["detailed"].train_config()
    for c in cfgs.values():
        t = c.train_config()
        assert (t.steps, t.batch_size, t.cols, t.lr, t.seed) == (base.steps, base.batch_size,
                                                                  base.cols, base.lr, base.seed)
        assert t.model["width"] == base.model["width"] and t.model["depth"] == base.model["depth"]
    assert cfgs["internal"].train_config().model["injection"] == "internal"
    assert cfgs["regular"].restriction == "regular"
    # the tier is the trainer's own setting: its batches are cut down as the renderer cuts them
    assert cfgs["semantic"].train_config().caption_tier == "semantic"
    assert base.caption_tier == "detailed"


def test_variant_config_errors_are_one_line(tmp_path):
    p = tmp_path / "ablation_bad.json"
    p.write_text(json.dumps({"caption": "verbose"}))
    with pytest.raises(variants.VariantError, match="unknown caption restriction"):
        variants.VariantConfig.load(p)
    p.write_text(json.dumps({"caption": "regular", "model": {}}))
    with pytest.raises(variants.VariantError, match="glyph_style"):
        variants.VariantConfig.load(p)


def _tiny_renderer(tier):
    import torch

    from renderer.models.cell_dit import CellDiT
    from renderer.neural import NeuralRenderer

    torch.manual_seed(0)
    model = CellDiT(width=16, depth=1, heads=2, mlp_ratio=1.0, window=1)
    return NeuralRenderer(model, tier=tier)


def test_native_tier_renderer_withholds_the_reasoners_rows_only():
    r = _tiny_renderer("native")
    before = ScreenState.from_lines(["$ ", "", ""], 20, 3)
    assert r.caption(before).withheld == []  # the first frame keeps its caption
    r.render(before)
    after = ScreenState.from_lines(["$ calc 2+3", "5", "$ "], 20, 3)
    # output with no action of the user's (a program writing): every changed row is hidden
    assert r.caption(after).withheld == [0, 1, 2]
    cap = r.caption(after, action="calc 2+3")
    assert cap.tier == "native" and cap.withheld == [1, 2]
    tokens = r.captioner.encode(after, [0, 1, 2], cap.tier, cap.withheld)
    assert tokens.glyph[0].any() and not tokens.glyph[1].any()  # the answer "5" is not shown
    assert tokens.hint[1].any()  # the target (for scoring) is untouched
    assert r.caption(after, action="x").withheld == []  # a typed character: the user's echo
    # the session's tier argument overrides the model's; None keeps it
    assert r.caption(after, tier="detailed", action="calc 2+3").withheld == []
    frame = r.render(after, caption=cap, action="calc 2+3").frame
    assert frame.shape == (3 * 16, 20 * 8, 3)


def test_the_caption_handed_to_render_is_what_the_model_sees():
    r = _tiny_renderer("detailed")
    seen = []
    denoise = r.denoise
    r.denoise = lambda tokens, *a, **kw: seen.append(tokens) or denoise(tokens, *a, **kw)
    screen = ScreenState.from_lines(["$ ls", "a  b"], 12, 2)
    r.render(screen, caption=r.caption(screen))
    r.reset()
    r.render(screen)  # None: the model's own tier
    r.reset()
    r.render(screen, caption=r.caption(screen, tier="semantic"))
    assert seen[0].glyph.any() and seen[0].colours.any()
    assert np.array_equal(seen[0].glyph, seen[1].glyph)
    assert not seen[2].glyph.any() and not seen[2].colours.any()
    assert np.array_equal(seen[0].hint, seen[2].hint)


def test_an_ablation_checkpoint_loads_with_its_tier(tmp_path):
    r = _tiny_renderer("detailed")
    r.model.save_pretrained(tmp_path)
    (tmp_path / variants.VARIANT_FILE).write_text(json.dumps({"restriction": "semantic"}))
    assert variants.load_variant(tmp_path).tier == "semantic"
    from renderer.neural import NeuralRenderer

    assert NeuralRenderer.from_pretrained(tmp_path).tier == "semantic"
    (tmp_path / variants.VARIANT_FILE).write_text(json.dumps({"restriction": "verbose"}))
    with pytest.raises(variants.VariantError, match="unknown caption tier 'verbose'"):
        variants.load_variant(tmp_path)


# -- training budget and seeds -----------------------------------------------------------------
def _fake_snapshot(root, run, step, restriction="detailed"):
    d = root / run / variants.SNAPSHOTS / str(step)
    d.mkdir(parents=True)
    (d / variants.VARIANT_FILE).write_text(json.dumps({"restriction": restriction}))


def test_runs_of_other_seeds_and_budgets_sit_beside_the_shipped_one(tmp_path):
    v = variants.ablation_configs(["internal"])[0]
    assert variants.run_dir(v) == variants.run_dir(v, 0, 1500)  # the configs' seed and budget
    assert variants.run_dir(v, 2).name == "internal-seed2"
    assert variants.run_dir(v, 1, 5000).name == "internal-5000steps-seed1"
    for run, step in (("internal", 250), ("internal", 1500), ("internal-seed2", 250),
                      ("internal-5000steps", 5000), ("internal-seedx", 250)):
        _fake_snapshot(tmp_path, run, step)
    (tmp_path / "internal-seed1" / variants.SNAPSHOTS).mkdir(parents=True)  # nothing kept yet
    found = variants.snapshot_dirs(v, root=tmp_path)
    assert {s: sorted(d) for s, d in found.items()} == {0: [250, 1500], 2: [250]}
    assert list(variants.snapshot_dirs(v, seeds=[2], root=tmp_path)) == [2]
    assert list(variants.snapshot_dirs(v, budget=5000, root=tmp_path)[0]) == [5000]


def _budget_points():
    # internal best at 1500 (the paper's order), external best at 250; two seeds
    ssim = {"detailed": (0.6, 0.70), "contextual": (0.5, 0.72), "residual": (0.4, 0.74),
            "internal": (0.3, 0.76)}
    psnr = {"semantic": (12.0, 14.0), "regular": (13.0, 15.0), "detailed": (14.0, 20.0)}
    pts = []
    for seed, jitter in ((0, 0.0), (1, 0.01)):
        for i, step in enumerate((250, 1500)):
            for v in ("detailed", "contextual", "residual", "internal", "semantic", "regular"):
                pts.append({"variant": v, "seed": seed, "step": step, "frames": 10,
                            "ssim": ssim.get(v, (0.2, 0.2))[i] + jitter,
                            "psnr": psnr.get(v, (20.0, 20.0))[i] + jitter, "char": 0.5})
    return pts


def test_budget_summary_orders_variants_by_the_papers_metric(tmp_path):
    from hybrid_nc.evaluation import budget

    summary = budget.summarize(_budget_points())
    e = next(e for e in summary if e["variant"] == "internal" and e["step"] == 1500)
    assert e["ssim"]["mean"] == pytest.approx(0.765) and e["ssim"]["sd"] == pytest.approx(0.00707, abs=1e-4)
    assert e["seeds"] == [0, 1]
    order = budget.orderings(summary)
    inj = {o["step"]: o for o in order["injection"]}
    assert inj[1500]["matches"] and inj[1500]["order"][-1] == "internal"
    assert not inj[250]["matches"] and inj[250]["pairs_in_paper_order"] == "0/6"
    assert order["captions"][-1]["matches"]
    res = {"settings": {"casts": ["a.cast"], "max_frames_per_cast": 4, "seeds": [0, 1],
                        "steps": [250, 1500]}, "provenance": {"command": "hybrid-nc eval budget"},
           "summary": summary, "orderings": order, "wall_s": 1.0}
    md = budget.markdown(res)
    assert "| internal | 0.863 |" in md and "0.765 ± 0.007 (n=2)" in md
    assert "step 1500: ours external < contextual < residual < internal (the paper order" in md
    assert "injection: yes, from step 1500" in budget.verdict(res)
    png = budget.plot(res, tmp_path / "budget_curve.png")
    assert png is not None and png.stat().st_size > 1000


def test_train_ablations_seeds_must_be_integers(capsys):
    assert main(["eval", "train-ablations", "--seeds", "0,x", "--only", "internal"]) == 2
    assert "--seeds takes comma-separated integers" in capsys.readouterr().err


# -- the command line --------------------------------------------------------------------------
def test_eval_ocr_raster_writes_json_and_markdown(shared_data, tmp_path):
    casts = tmp_path / "casts"
    casts.mkdir()
    name = "jdum__asciinema-scene__tests__files__short.cast"
    shutil.copy(shared_data / "casts" / name, casts / name)
    out = tmp_path / "out"
    rc = main(["eval", "ocr", "--renderer", "raster", "--casts", str(casts), "--out", str(out),
               "--no-tesseract", "--quick", "--quiet", "--json", str(tmp_path / "r.json")])
    assert rc == 0
    res = json.loads((out / "ocr.json").read_text())
    assert res == json.loads((tmp_path / "r.json").read_text())
    assert res["provenance"]["git_commit"] and res["provenance"]["machine"]["cpu"]
    assert res["provenance"]["seeds"] == {"seed": 0} and "torch" in res["provenance"]["packages"]
    assert res["provenance"]["checkpoints"] == {}  # the raster loads no weights
    assert len(res["screens"]) == 2  # --quick: 2 screens per recording
    s = res["summary"][0]
    assert s["renderer"] == "raster" and s["cell_char"]["value"] == 1.0
    assert "| raster |" in (out / "ocr.md").read_text()


def test_sample_cast_takes_uniform_times_ending_at_the_end(shared_data):
    from terminal.recording import read_cast, screen_at

    p = shared_data / "casts" / "r-lib__asciicast__inst__examples__hello.cast"
    cs = common.sample_cast(p, 5)
    dur = read_cast(p).duration
    assert cs.times == pytest.approx([dur * k / 5 for k in range(1, 6)])
    assert cs.screens[-1].text == screen_at(read_cast(p)).text
    assert not cs.heldout and cs.trained
    held = common.sample_cast(shared_data / "casts" / common.heldout_casts()[0], 1)
    assert held.heldout


def test_bad_usage_is_one_line(tmp_path, capsys):
    assert main(["eval", "ocr", "--casts", str(tmp_path / "none")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no directory of recordings" in err[0]
    own = tmp_path / "own-casts"
    own.mkdir()
    (own / "a.cast").write_text('{"version": 2, "width": 20, "height": 3}\n[0.1, "o", "hi"]\n')
    assert main(["eval", "all", "--json", str(tmp_path / "x.json"), "--casts", str(own)]) == 1
    assert "--json" in capsys.readouterr().err
    assert main(["eval", "all", "--reuse", "ocr,nope", "--out", str(tmp_path / "o"),
                 "--casts", str(own)]) == 1
    assert "--reuse names subcommands of `all`" in capsys.readouterr().err
    assert main(["eval", "ocr", "--retrain", "--out", str(tmp_path / "o"),
                 "--casts", str(own)]) == 1
    assert "--retrain goes with `all`" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["eval", "nonsense"])
    assert e.value.code == 2
    casts = tmp_path / "casts"
    casts.mkdir()
    (casts / "a.cast").write_text('{"version": 2, "width": 20, "height": 3}\n[0.1, "o", "hi"]\n')
    assert main(["eval", "ocr", "--renderer", "nope", "--casts", str(casts), "--quiet",
                 "--no-tesseract", "--out", str(tmp_path / "o")]) == 2  # bad usage
    assert "renderer 'nope'" in capsys.readouterr().err


def test_missing_ablation_checkpoints_are_one_line(shared_data, tmp_path, monkeypatch, capsys):
    # a fresh clone without renderer/checkpoints/ablations: the ablation subcommands must say
    # what is missing and how to make it, before doing any work
    monkeypatch.setattr(variants, "ABLATIONS", tmp_path / "ablations")
    for sub in ("captions", "injection"):
        rc = main(["eval", sub, "--quick", "--quiet", "--casts", str(shared_data / "casts"),
                   "--out", str(tmp_path / "o")])
        err = capsys.readouterr().err.strip().splitlines()
        assert rc == 1 and len(err) == 1, err
        assert "no ablation checkpoint" in err[0] and "train-ablations --only" in err[0]


@pytest.mark.integration
def test_arith_reads_answers_back_from_raster_frames():
    """The whole probe on a real Session (sandboxed shell, sympy route): with the exact
    rasterizer as the renderer every answer must be read back right, so a broken read-back
    (rows, OCR, parsing) fails here."""
    # one item from the shared sets when they are here, else a fourth generated one
    items = (arith.make_items(3, 1, seed=5) if (SHARED_DATA / "arith").is_dir()
             else arith.make_items(4, 0, seed=5))
    recs = arith.probe("raster", items, ["python3", "sympy"],
                       repair=True, seed=0, quiet=True, label="t")
    assert len(recs) == 8
    assert all(r["reasoner_right"] for r in recs), recs
    assert all(r["raw_right"] and r["repaired_right"] for r in recs), recs
    # Tesseract, the paper's judge, reads the same frames (it is not exact even on these)
    from renderer.raster import RasterConfig, RasterRenderer
    from renderer.tesseract import TesseractError, TesseractReader

    try:
        tess = TesseractReader(RasterRenderer(RasterConfig()).atlas.cell)
    except TesseractError:
        return
    recs = arith.probe("raster", arith.make_items(2, 0, seed=5), ["python3"], repair=True,
                       seed=0, quiet=True, label="t", tess=tess)
    assert all("raw_tess_read" in r and "repaired_tess_right" in r for r in recs)
    assert any(r["raw_tess_right"] for r in recs), recs


class _Drawn(Exception):
    """Raised by the spy renderer factory: the steps were seen, the run need not go on."""


@pytest.mark.parametrize("sub", ["ocr", "arith", "captions", "injection", "latency"])
@pytest.mark.parametrize("steps", [None, 3])
def test_steps_reach_every_renderer_an_eval_makes(sub, steps, tmp_path, monkeypatch):
    from hybrid_nc.evaluation import latency, ocr

    casts = tmp_path / "casts"
    casts.mkdir()
    (casts / "own.cast").write_text('{"version": 2, "width": 20, "height": 3}\n'
                                    '[0.1, "o", "$ echo hi\\r\\nhi\\r\\n$ "]\n')
    seen = []

    def spy(name, theme="dark", seed=0, steps=None):
        seen.append(steps)
        raise _Drawn

    for module in (common, arith, ocr):
        monkeypatch.setattr(module, "make_renderer", spy)
    monkeypatch.setattr(arith, "shared_items", lambda limit, seed: [])  # this is about --steps
    # latency measures in a child process: call its measurement here instead
    monkeypatch.setattr(latency, "run_latency", lambda names, steps=None, seed=0, **kw:
                        latency.measure(names[0], 1, 1, 1, 1, seed, steps))
    flags = [] if steps is None else ["--steps", str(steps)]
    rc = main(["eval", sub, "--casts", str(casts), "--out", str(tmp_path / "out"), "--quick",
               "--quiet", "--no-tesseract", "--renderer", "neural", *flags])
    assert rc == 1 and seen == [steps]  # None: each renderer's own steps, as before

"""Verify and repair: the raster passes untouched; a tiny random neural model (wrong almost
everywhere) is repaired to 100%; NaN and wrong-size frames fall back to the raster, named."""

from __future__ import annotations

import numpy as np
from tiny_models import tiny

from orchestrator.verify import Verifier, VerifyReport, verify_and_repair
from renderer.base import RenderOutput
from renderer.neural import NeuralRenderer
from renderer.raster import RasterRenderer
from terminal.screen import BOLD, ScreenState


def screen() -> ScreenState:
    s = ScreenState.from_lines(["$ python3 -c 'print(98+45)'", "143", "$ ls", "a.txt  b.py"], 32, 5)
    s.fg[3, 7:11] = 2
    s.attrs[3, 7:11] = BOLD
    s.cursor = (4, 0)
    return s


def random_neural() -> NeuralRenderer:
    return NeuralRenderer(tiny())


def test_raster_frames_pass_untouched() -> None:
    raster = RasterRenderer()
    s = screen()
    out = raster.render(s)
    frame, rep = verify_and_repair(raster, s, out.frame, out.rows)
    assert rep.raw == 1.0 and rep.repaired == 1.0
    assert rep.wrong_before == 0 and rep.attempts == [] and rep.composited == 0
    assert np.array_equal(frame, out.frame)
    assert set(rep.to_json()) >= {"raw", "repaired", "wrong_before", "wrong_after", "attempts",
                                  "composited", "fallback", "timings"}


def test_random_neural_frame_is_repaired_to_100_percent() -> None:
    r = random_neural()
    s = screen()
    out = r.render(s)
    frame, rep = verify_and_repair(r, s, out, out.rows, max_attempts=2)
    assert isinstance(rep, VerifyReport)
    assert rep.raw < 0.9  # an untrained model gets most cells wrong
    assert rep.wrong_before > 0
    assert rep.repaired == 1.0 and rep.wrong_after == 0
    assert len(rep.attempts) == 2 and all(a["steps"] > 1 for a in rep.attempts)
    assert rep.attempts[1]["guidance"] > rep.attempts[0]["guidance"]
    assert rep.composited > 0
    # composited cells are the raster's pixels; the repaired frame went back into the cache
    ref = RasterRenderer().draw_rows(s, range(s.rows))
    r0, c0 = rep.wrong_cells[0]
    cell = (slice(r0 * 16, r0 * 16 + 16), slice(c0 * 8, c0 * 8 + 8))
    assert np.array_equal(frame[cell], ref[cell])
    nxt = r.render(s, damage=[])
    assert np.array_equal(nxt.frame, frame)


def test_a_renderer_that_redraws_correctly_needs_no_compositing() -> None:
    raster = RasterRenderer()

    class Flaky:
        """Draws one wrong cell; its repair path (render_rows) is exact."""

        name, steps, seed = "flaky", 1, 0
        cell_size = (16, 8)

        def render_rows(self, sc, rows, *, steps, seed, guidance):
            return raster.draw_rows(sc, rows)

    s = screen()
    frame = raster.draw_rows(s, range(s.rows)).copy()
    other = s.copy()
    other.chars[1][0] = "7"
    frame[16:32, 0:8] = raster.draw_rows(other, [1])[:, 0:8]  # "743" drawn where "143" belongs
    fixed, rep = verify_and_repair(Flaky(), s, frame, [1], raster=raster)
    assert rep.raw < 1.0 and rep.wrong_before == 1 and rep.wrong_cells == [(1, 0)]
    assert rep.repaired == 1.0 and rep.composited == 0 and len(rep.attempts) == 1
    assert np.array_equal(fixed, raster.draw_rows(s, range(s.rows)))


def test_nan_and_wrong_size_frames_fall_back_to_the_raster() -> None:
    raster = RasterRenderer()
    s = screen()
    ref = raster.draw_rows(s, range(s.rows))
    out = RenderOutput(ref.copy(), [0], {"nan": True})
    frame, rep = verify_and_repair(random_neural(), s, out, [0], raster=raster)
    assert rep.fallback and "NaN" in rep.fallback and rep.repaired == 1.0
    assert np.array_equal(frame, ref)
    bad = np.full(ref.shape, np.nan, np.float32)
    frame, rep = verify_and_repair(None, s, bad, [0], raster=raster)
    assert "NaN" in rep.fallback and rep.raw == 0.0 and np.array_equal(frame, ref)
    frame, rep = verify_and_repair(None, s, ref[:16], [0], raster=raster)
    assert "expected" in rep.fallback and np.array_equal(frame, ref)


def test_only_changed_rows_are_read_back_and_the_result_matches_a_full_read() -> None:
    raster = RasterRenderer()
    verifier = Verifier(raster.make_raster())
    s = screen()
    out = raster.render(s)
    _, rep = verifier.check(raster, s, out.frame, out.rows)
    assert rep.rows_read == s.rows  # nothing known yet: the whole frame
    _, rep = verifier.check(raster, s, out.frame, [])
    assert rep.rows_read == 0 and rep.raw == 1.0  # the same frame again: nothing to read
    typed = s.copy()
    typed.chars[4][0] = "l"
    typed.cursor = (4, 1)
    out = raster.render(typed, damage={4})
    _, rep = verifier.check(raster, typed, out.frame, out.rows)
    assert rep.rows_read == 1 and rep.raw == 1.0
    # a row changed behind verify's back (not in `rows`, same text) is still read, and caught
    bad = out.frame.copy()
    bad[16:32, 0:8] = raster.draw_rows(screen_with("743"), [1])[:, 0:8]
    _, rep = verifier.check(raster, typed, bad, [], hand_back=False)
    assert rep.rows_read == 1 and rep.wrong_cells == [(1, 0)]
    # ... with the same figures a fresh full read gives
    _, full = verify_and_repair(None, typed, bad, [], raster=raster)
    assert full.rows_read == typed.rows and (full.raw, full.repaired) == (rep.raw, rep.repaired)


def screen_with(row1: str) -> ScreenState:
    s = screen()
    s.chars[1][:len(row1)] = list(row1)
    return s


def test_neural_session_reads_one_row_per_keystroke_and_caches_the_repairs() -> None:
    r = random_neural()
    verifier = Verifier(r.make_raster())
    s = screen()
    out = r.render(s)
    frame, rep = verifier.check(r, s, out, out.rows)
    assert rep.composited > 0 and rep.repaired == 1.0 and rep.rows_read == s.rows
    typed = s.copy()
    typed.chars[4][0] = "l"
    typed.cursor = (4, 1)
    out = r.render(typed, damage={4})
    assert out.rows == [4]
    # the other rows come from the renderer's cache: the repaired pixels, not the raw ones
    assert np.array_equal(out.frame[:64], frame[:64])
    frame2, rep = verifier.check(r, typed, out, out.rows)
    assert rep.rows_read == 1 and rep.repaired == 1.0


def test_one_shot_calls_keep_no_state_between_frames() -> None:
    raster = RasterRenderer()
    s = screen()
    out = raster.render(s)
    for _ in range(2):
        _, rep = verify_and_repair(raster, s, out.frame, out.rows)
        assert rep.rows_read == s.rows

"""Frames drawn on the session's worker thread while the next action runs: the same pixels,
accuracy and recording as drawn inline, a step's frame there whenever it is read, and an error
in drawing reaches the caller."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from orchestrator.frames import StepOutput
from orchestrator.session import Session
from renderer.models.cell_dit import CellDiT
from renderer.neural import NeuralRenderer


def _renderer() -> NeuralRenderer:
    torch.manual_seed(0)
    return NeuralRenderer(CellDiT(width=16, depth=1, heads=2, mlp_ratio=1.0, window=1))


def _session_frames(overlap: bool) -> tuple[list[np.ndarray], list[dict[str, float]], int]:
    with Session(renderer=_renderer(), reasoners=("sympy",), seed=5, overlap=overlap) as s:
        steps = [s.run("2**64"), *s.type("abc"), s.key("Backspace"), s.run("calc 355/113")]
        frames = [st.frame_array.copy() for st in steps]
        accuracy = [st.accuracy for st in steps]
        recorded = s.report()["summary"]["steps"]
    return frames, accuracy, recorded


def test_overlapped_frames_equal_inline_frames() -> None:
    a, acc_a, rec_a = _session_frames(overlap=True)
    b, acc_b, rec_b = _session_frames(overlap=False)
    assert len(a) == len(b) == 6
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert acc_a == acc_b and rec_a == rec_b == 7  # the first frame, then the six steps


def test_every_step_is_drawn_and_recorded_in_order(tmp_path: Any) -> None:
    with Session(renderer="raster", reasoners=("sympy",)) as s:
        steps = s.type("12+30")
        last = s.key("Enter")
        assert "42" in last.screen.text and last.accuracy["repaired"] == 1.0
        assert [st.index for st in steps] == sorted(st.index for st in steps)
        assert all(st.frame_array.shape == (24 * 16, 80 * 8, 3) for st in steps)
        assert [e["index"] for e in s.report()["steps"]][-6:] == [st.index for st in
                                                                  [*steps, last]]
        assert s.export(tmp_path / "s.gif").stat().st_size > 0


class _Boom(RuntimeError):
    pass


def test_an_error_while_drawing_reaches_the_caller(monkeypatch: Any) -> None:
    with Session(renderer="raster", reasoners=("sympy",)) as s:
        def fail(*_a: Any, **_k: Any) -> Any:
            raise _Boom("verifier broke")

        s.last.frame_array  # noqa: B018 - the first frame is drawn with the real verifier
        monkeypatch.setattr(s.verifier, "step", fail)
        step = s.type("1")[-1]
        with pytest.raises(_Boom):
            _ = step.accuracy
        with pytest.raises(_Boom):  # the next action hears of it too
            s.type("2")


def test_a_drawing_step_has_only_its_symbolic_fields_until_drawn() -> None:
    step = StepOutput.drawing(1, "key", "a", None, None, "keystroke")  # type: ignore[arg-type]
    assert step.index == 1 and step.kind == "key"
    with pytest.raises(AttributeError):
        _ = step.no_such_field

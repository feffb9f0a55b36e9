"""The Gymnasium environment (hybrid_nc/gym_env.py): registered on `import hybrid_nc`, passes
Gymnasium's own checker, and drives a real session (sandboxed shell + sympy, raster)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

gymnasium = pytest.importorskip("gymnasium")

import hybrid_nc  # noqa: E402,F401  (registers hybrid_nc/Terminal-v0)
from hybrid_nc.gym_env import ACTION_KINDS, KEYS, TerminalEnv  # noqa: E402

pytestmark = pytest.mark.timeout(300)


def test_check_env_passes() -> None:
    from gymnasium.utils.env_checker import check_env

    env = gymnasium.make("hybrid_nc/Terminal-v0", renderer="raster", cols=40, rows=8)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            check_env(env.unwrapped)  # with its spec: every declared render mode too
        said = [str(w.message) for w in caught if "gymnasium" in w.filename]
        assert not said, said
    finally:
        env.close()


def test_lines_keys_and_text_reach_the_session() -> None:
    env = gymnasium.make("hybrid_nc/Terminal-v0", renderer="raster", render_mode="ansi",
                         cols=40, rows=8)
    try:
        obs, info = env.reset(seed=0)
        assert obs["frame"].shape == (8 * 16, 40 * 8, 3) and obs["chars"].shape == (8, 40)
        assert info["text"].startswith("user@hnc:~$")
        obs, reward, terminated, truncated, info = env.step(TerminalEnv.line("98+45"))
        assert (reward, terminated, truncated) == (0.0, False, False)
        assert info["route"] == "sympy" and "143" in info["text"].splitlines()
        assert "143" in env.render()
        env.step(TerminalEnv.typed("echo hi"))
        obs, *_, info = env.step(TerminalEnv.press("Enter"))
        assert "hi" in info["text"].splitlines()
        row = "".join(chr(c) for c in obs["chars"][0] if c)
        assert row.rstrip() == info["text"].splitlines()[0]
        _, *_, info = env.step({"line": "echo via-dict"})  # the Session's own forms work too
        assert "via-dict" in info["text"]
        assert set(ACTION_KINDS) >= {"line", "text", "key"} and "ctrl+c" in KEYS
    finally:
        env.close()


def test_rgb_array_and_observation_choices() -> None:
    env = TerminalEnv(render_mode="rgb_array", renderer="raster", observation="frame",
                      cols=20, rows=4)
    try:
        obs, _ = env.reset(seed=1)
        assert isinstance(obs, np.ndarray) and obs.dtype == np.uint8
        assert np.array_equal(env.render(), obs)
    finally:
        env.close()
    with pytest.raises(ValueError, match="render_mode"):
        TerminalEnv(render_mode="human")


def test_mouse_actions_are_in_the_action_space() -> None:
    env = TerminalEnv(renderer="raster", cols=20, rows=4)
    try:
        env.reset(seed=0)
        action = TerminalEnv.mouse(3, 1, "left", "click")
        assert env.action_space.contains(action)
        assert env.action_space.contains(TerminalEnv.line("ls"))
        obs, *_, info = env.step(action)
        assert info["screen"]["pointer"] == {"x": 3 * 8 + 4, "y": 16 + 8, "shape": "ibeam"}
        assert info["action"] == "click left 3,1"
    finally:
        env.close()

"""`hybrid_nc/Terminal-v0`: the hybrid terminal as a Gymnasium environment over `Session`.

    import gymnasium, hybrid_nc
    env = gymnasium.make("hybrid_nc/Terminal-v0", renderer="raster")
    obs, info = env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step(env.unwrapped.line("98+45"))
    info["text"]                    # the exact screen; obs["frame"] is what the renderer drew

Observation (`observation=`): "both" (default) a Dict of "frame" (H, W, 3) uint8, "chars"
(rows, cols) int32 code points (32 for a blank cell, 0 for the right half of a wide character) and
"cursor" (row, col); "frame" the frame alone; "screen" chars and cursor. The exact screen is also
in `info["screen"]` as SCREEN.json (text, colours, attributes) and `info["text"]`.

Action: a Dict {"kind", "text", "key", "mouse"}: kind 0 runs `text` as a line (typed, then Enter,
and answered by the shell, sympy or the LLM as the router decides), 1 types `text` without Enter,
2 presses KEYS[key], 3 does a mouse action: `mouse` = [col, row, button, action] with
MOUSE_BUTTONS[button] and MOUSE_ACTIONS[action] at that cell (the program gets it only in the
mouse mode it asked for; the pointer is drawn either way). `step` also takes the Session's own
forms ("a line", {"line": ...}, {"text": ...}, {"key": "ctrl+c"}, {"mouse": {...}}). Kinds are only ever appended to ACTION_KINDS, so a trained
policy's action indices keep their meaning.

Reward is always 0: the environment is a terminal, the task (and its reward) is a wrapper's.
`reset` starts a fresh session (a new sandboxed shell), so a seeded reset and the same actions
give the same observations. render_mode "rgb_array" gives the frame, "ansi" the screen text.
"""

from __future__ import annotations

import string
from collections.abc import Callable
from typing import Any, Literal

import gymnasium
import numpy as np
from gymnasium import spaces

Observation = Literal["both", "frame", "screen"]

ACTION_KINDS: tuple[str, ...] = ("line", "text", "key", "mouse")
MOUSE_BUTTONS: tuple[str, ...] = ("left", "middle", "right")
MOUSE_ACTIONS: tuple[str, ...] = ("click", "press", "release", "move", "wheel_up", "wheel_down")
_NO_MOUSE = (0, 0, 0, 0)
KEYS: tuple[str, ...] = (
    "Enter", "Tab", "Backspace", "Escape", "Up", "Down", "Left", "Right", "Home", "End",
    "PageUp", "PageDown", "Delete", "ctrl+c", "ctrl+l", "ctrl+u", "ctrl+a", "ctrl+e", "ctrl+k",
    "ctrl+w",
)
# what sampled text is made of: no quotes, brackets or `\`, which leave bash waiting for the rest
# of a line, and no `$`, which would make the same action print different things
SAMPLE_CHARSET = string.ascii_letters + string.digits + " +-*/.,:_=%"
MAX_SAMPLED_TEXT = 32


class TerminalEnv(gymnasium.Env):
    """A Gymnasium environment over `hybrid_nc.Session`.

    Args:
        render_mode: "rgb_array" (the frame) or "ansi" (the screen text), or None.
        renderer: the session's renderer ("raster", "neural", a registered name).
        observation: "both", "frame" or "screen" (see the module docstring).
        cols, rows: terminal size (fixed for the episode: the spaces depend on it).
        reasoners: the session's reasoners (default: the sandboxed shell and sympy).
        command_timeout: seconds a line may run before the session stops waiting.
        **session_options: any other `SessionConfig` field (theme, llm_url, verify, ...).
    """

    metadata = {"render_modes": ["rgb_array", "ansi"], "render_fps": 10}

    def __init__(self, render_mode: str | None = None, *, renderer: str = "raster",
                 observation: Observation = "both", cols: int = 80, rows: int = 24,
                 reasoners: tuple[str, ...] = ("shell", "sympy"), command_timeout: float = 10.0,
                 **session_options: Any) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']} or "
                             f"None, not {render_mode!r}")
        if observation not in ("both", "frame", "screen"):
            raise ValueError(f"observation must be both, frame or screen, not {observation!r}")
        self.render_mode = render_mode
        self.observation = observation
        self._options = dict(renderer=renderer, cols=int(cols), rows=int(rows),
                             reasoners=tuple(reasoners), command_timeout=command_timeout,
                             **session_options)
        self._seed = 0
        self.session: Any = self._open(self._seed)
        self._fresh = True  # the session has taken no action yet: reset may keep it
        first = self.session.last
        height, width = first.frame_array.shape[:2]
        frame = spaces.Box(0, 255, (height, width, 3), np.uint8)
        screen: dict[str, spaces.Space[Any]] = {
            "chars": spaces.Box(0, 0x10FFFF, (rows, cols), np.int32),
            "cursor": spaces.Box(np.array([0, 0]), np.array([rows - 1, cols]), dtype=np.int64)}
        self.observation_space: spaces.Space[Any] = (
            frame if observation == "frame"
            else spaces.Dict(screen) if observation == "screen"
            else spaces.Dict({"frame": frame, **screen}))
        self.action_space: spaces.Space[Any] = spaces.Dict({
            "kind": spaces.Discrete(len(ACTION_KINDS)),
            "text": spaces.Text(MAX_SAMPLED_TEXT, min_length=0, charset=SAMPLE_CHARSET),
            "key": spaces.Discrete(len(KEYS)),
            "mouse": spaces.MultiDiscrete([cols, rows, len(MOUSE_BUTTONS), len(MOUSE_ACTIONS)]),
        })
        self._last = first

    # -- actions, in the action space's own form -------------------------------------------
    @staticmethod
    def line(text: str) -> dict[str, Any]:
        """The action that runs `text` as a line."""
        return {"kind": ACTION_KINDS.index("line"), "text": text, "key": 0,
                "mouse": np.array(_NO_MOUSE)}

    @staticmethod
    def typed(text: str) -> dict[str, Any]:
        """The action that types `text` without pressing Enter."""
        return {"kind": ACTION_KINDS.index("text"), "text": text, "key": 0,
                "mouse": np.array(_NO_MOUSE)}

    @staticmethod
    def press(key: str) -> dict[str, Any]:
        """The action that presses `key` (one of KEYS)."""
        return {"kind": ACTION_KINDS.index("key"), "text": "", "key": KEYS.index(key),
                "mouse": np.array(_NO_MOUSE)}

    @staticmethod
    def mouse(col: int, row: int, button: str = "left", action: str = "click") -> dict[str, Any]:
        """The action that does a mouse `action` (MOUSE_ACTIONS) with `button` at a cell."""
        return {"kind": ACTION_KINDS.index("mouse"), "text": "", "key": 0,
                "mouse": np.array([col, row, MOUSE_BUTTONS.index(button),
                                   MOUSE_ACTIONS.index(action)])}

    # -- the Gymnasium API -------------------------------------------------------------------
    def reset(self, *, seed: int | None = None,
              options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        super().reset(seed=seed)
        new_seed = int(self.np_random.integers(0, 2**31 - 1)) if seed is None else int(seed)
        if not (self._fresh and new_seed == self._seed):
            self.session.close()
            self.session = self._open(new_seed)
            self._seed = new_seed
        self._fresh = False
        self._last = self.session.last
        return self._observe(self._last), self._info(self._last)

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        from orchestrator.session import SessionError

        self._fresh = False
        try:
            out = self._apply(action)
        except SessionError as e:  # the shell is gone (`exit`): the episode is over
            info = self._info(self._last)
            info["error"] = str(e)
            return self._observe(self._last), 0.0, True, False, info
        self._last = out
        return self._observe(out), 0.0, False, False, self._info(out)

    def render(self) -> Any:
        if self.render_mode == "rgb_array":
            return self._last.frame_array.copy()
        if self.render_mode == "ansi":
            return self._last.screen.text
        return None

    def close(self) -> None:
        session = getattr(self, "session", None)
        if session is not None:
            session.close()
        super().close()

    # -- helpers -----------------------------------------------------------------------------
    def _open(self, seed: int) -> Any:
        from orchestrator.session import Session

        return Session(seed=seed, **self._options)

    def _apply(self, action: Any) -> Any:
        s = self.session
        if isinstance(action, str) or (isinstance(action, dict) and "kind" not in action):
            return s.step(action)  # the Session's own forms
        kind = ACTION_KINDS[int(action["kind"])]
        handlers: dict[str, Callable[[], Any]] = {
            "line": lambda: s.run(str(action["text"])),
            "text": lambda: (s.type(str(action["text"])) or [s.last])[-1],
            "key": lambda: s.key(KEYS[int(action["key"])]),
            "mouse": lambda: s.mouse(int(action["mouse"][0]), int(action["mouse"][1]),
                                     MOUSE_BUTTONS[int(action["mouse"][2])],
                                     MOUSE_ACTIONS[int(action["mouse"][3])]),
        }
        return handlers[kind]()

    def _observe(self, out: Any) -> Any:
        screen = out.screen
        chars = np.zeros((screen.rows, screen.cols), np.int32)
        for r, row in enumerate(screen.chars):
            for c, cell in enumerate(row):
                if cell:
                    chars[r, c] = ord(cell[0])
        cursor = np.array([min(max(screen.cursor[0], 0), screen.rows - 1),
                           min(max(screen.cursor[1], 0), screen.cols)], np.int64)
        frame = np.array(out.frame_array, np.uint8, copy=True)
        if self.observation == "frame":
            return frame
        obs = {"chars": chars, "cursor": cursor}
        return obs if self.observation == "screen" else {"frame": frame, **obs}

    @staticmethod
    def _info(out: Any) -> dict[str, Any]:
        # only what the same action always gives: timings would break step determinism
        return {"text": out.screen.text, "screen": out.screen.to_json(), "route": out.route,
                "reason": out.reason, "action": out.action, "accuracy": dict(out.accuracy)}


__all__ = ["ACTION_KINDS", "KEYS", "MOUSE_ACTIONS", "MOUSE_BUTTONS", "TerminalEnv"]

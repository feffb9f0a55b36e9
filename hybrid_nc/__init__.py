"""hybrid-nc: a hybrid neurosymbolic computer.

Symbolic reasoners (a sandboxed shell, sympy, an LLM) decide the exact screen; a neural renderer
draws it from detailed captions; every frame is read back, checked and repaired.

    from hybrid_nc import Session
    with Session() as s:
        step = s.run("python3 -c 'print(98+45)'")
        print(step.screen.text, step.accuracy)
"""

from pathlib import Path
from typing import Any

import renderer as _renderer_package
from orchestrator.session import Session, SessionConfig, SessionError, StepOutput
from renderer.captions import Caption
from terminal.screen import ScreenState

__all__ = ["Caption", "ScreenState", "Session", "SessionConfig", "SessionError", "StepOutput",
           "TerminalPipeline", "checkpoint_path"]

_CHECKPOINTS = Path(_renderer_package.__file__).resolve().parent / "checkpoints"


def checkpoint_path(name: str = "default") -> Path:
    """The folder of a shipped renderer checkpoint: "default" (the neural renderer, in
    diffusers' pipeline layout), "xterm" (a look), or "ablations/NAME"."""
    path = _CHECKPOINTS / name
    if ".." in Path(name).parts or not path.is_dir():
        shipped = sorted(p.name for p in _CHECKPOINTS.iterdir() if p.is_dir())
        raise ValueError(f"no shipped checkpoint {name!r} (shipped: {', '.join(shipped)})")
    return path


def __getattr__(name: str) -> Any:
    # torch and diffusers load only for those who ask for the pipeline
    if name == "TerminalPipeline":
        from renderer.pipeline import TerminalPipeline

        return TerminalPipeline
    raise AttributeError(f"module 'hybrid_nc' has no attribute {name!r}")


def _register_gym_env() -> None:
    try:
        import gymnasium
    except ImportError:  # the environment is there for those who have Gymnasium
        return
    if "hybrid_nc/Terminal-v0" not in gymnasium.registry:
        gymnasium.register(id="hybrid_nc/Terminal-v0", entry_point="hybrid_nc.gym_env:TerminalEnv")


_register_gym_env()

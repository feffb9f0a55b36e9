"""hybrid-nc: a hybrid neurosymbolic computer.

Symbolic reasoners (a sandboxed shell, sympy, an LLM) decide the exact screen; a neural renderer
draws it from detailed captions; every frame is read back, checked and repaired.

    from hybrid_nc import Session
    with Session() as s:
        step = s.run("python3 -c 'print(98+45)'")
        print(step.screen.text, step.accuracy)
"""

from orchestrator.captions import Caption
from orchestrator.session import Session, SessionConfig, SessionError, StepOutput
from terminal.screen import ScreenState

__all__ = ["Caption", "ScreenState", "Session", "SessionConfig", "SessionError", "StepOutput"]

"""A session's frames: caption -> render -> verify & repair -> record, one frame at a time.

    Session._frame_step --snapshot--> StepOutput (screen known, frame still being drawn)
                        --FrameDrawer.draw--> worker thread: caption, render, verify, record
                                              --> the step's frame, caption, timings, accuracy

The worker lets a frame be drawn and read back on one core while the next action runs on the
other: the shell forking a command, or waiting for a keystroke's echo, costs the model nothing.
Frames are drawn in the order they were asked for, and never two at once, so the renderer's cache,
the verifier's readings and the recording see exactly the sequence a synchronous loop would: the
same seed gives the same pixels. A step's drawn fields block until its frame is done, so a caller
who looks at `step.frame` right away gets what it always got. With an `on_frame` callback (the web
UI streams frames as they come) or `overlap=False`, frames are drawn inline.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from renderer.base import Renderer
from renderer.captions import Caption, Tier
from renderer.raster import RasterRenderer
from terminal.screen import ScreenState

from .recorder import Recorder
from .verify import Verifier

# the StepOutput fields the drawing fills in
_DRAWN = frozenset({"frame_array", "caption", "timings", "accuracy", "trace"})


@dataclass
class StepOutput:
    """One step of the loop.

    screen: the exact symbolic screen; frame: the drawn frame (PIL image); route/reason: which
    reasoner answered and why; caption: what the renderer was told; timings: milliseconds per stage;
    accuracy: {"raw", "repaired"} char accuracy of the frame against the screen; trace: the rest.
    Reading a drawn field (frame, caption, timings, accuracy, trace) of a step whose frame is
    still being drawn waits for it, and raises what drawing it raised.
    """

    index: int
    kind: str
    action: str
    screen: ScreenState
    frame_array: np.ndarray
    route: str | None
    reason: str
    caption: Caption
    timings: dict[str, float]
    accuracy: dict[str, float]
    trace: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def drawing(cls, index: int, kind: str, action: str, screen: ScreenState,
                route: str | None, reason: str) -> StepOutput:
        """A step whose frame is yet to be drawn (`FrameDrawer.draw` fills it in)."""
        step = cls.__new__(cls)
        step.__dict__.update(index=index, kind=kind, action=action, screen=screen, route=route,
                             reason=reason, _drawing=None)
        return step

    def __getattr__(self, name: str) -> Any:
        # only reached for an attribute that is not set: a drawn field of a frame in progress
        drawing = self.__dict__.get("_drawing")
        if name in _DRAWN and drawing is not None:
            drawing.result()
            return self.__dict__[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    @property
    def frame(self) -> Any:
        """The drawn frame as a PIL.Image."""
        from PIL import Image

        return Image.fromarray(self.frame_array)

    @property
    def text(self) -> str:
        return self.screen.text

    def to_json(self) -> dict[str, Any]:
        """The report.json entry of DESIGN.md (line, route, caption, timings, accuracy) + trace."""
        return {
            "index": self.index, "kind": self.kind, "line": self.action, "route": self.route,
            "reason": self.reason, "caption": self.caption.text,
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
            "accuracy": {k: round(v, 6) for k, v in self.accuracy.items()},
            "trace": jsonable(self.trace),
        }


def jsonable(obj: Any) -> Any:
    """`obj` with what JSON cannot hold turned into lists, plain numbers and strings."""
    try:
        json.dumps(obj)
        return obj
    except TypeError:
        if isinstance(obj, dict):
            return {str(k): jsonable(v) for k, v in obj.items()}
        if isinstance(obj, list | tuple):
            return [jsonable(v) for v in obj]
        if isinstance(obj, np.generic):
            return obj.item()
        return str(obj)


def draw(renderer: Renderer, raster: RasterRenderer, screen: ScreenState, *,
         damage: set[int] | None, caption: Caption, action: str, seed: int
         ) -> tuple[np.ndarray, list[int], dict[str, Any]]:
    """The renderer's frame, its rows drawn and its facts; a renderer that fails or draws NaN
    is replaced by the raster for this frame, and the facts say so."""
    try:
        out = renderer.render(screen, damage=damage, caption=caption, action=action, seed=seed)
        frame, info = out.frame, dict(out.info)
        if info.get("nan") or (frame.dtype.kind == "f" and not np.isfinite(frame).all()):
            raise ValueError("renderer returned NaN")
        return frame, out.rows, info
    except Exception as e:
        out = raster.render(screen, damage=None)
        renderer.reset()
        return out.frame, out.rows, {"fallback": f"raster ({type(e).__name__}: {e})"}


@dataclass(frozen=True)
class FrameJob:
    """What drawing one step's frame needs, fixed when the step is taken."""

    renderer: Renderer
    verifier: Verifier
    damage: set[int] | None
    trace: dict[str, Any]
    timings: dict[str, float]  # the stages already done (the snapshot)
    tier: Tier | None
    seed: int
    verify: bool


def draw_step(step: StepOutput, job: FrameJob, recorder: Recorder) -> None:
    """Caption, render, verify & repair and record `step`'s frame, filling in its fields."""
    renderer, screen, timings = job.renderer, step.screen, dict(job.timings)
    t = time.perf_counter()
    caption = renderer.caption(screen, damage=job.damage, tier=job.tier, action=step.action,
                               route=step.route)
    timings["caption"] = (time.perf_counter() - t) * 1000

    t = time.perf_counter()
    frame, rows, info = draw(renderer, job.verifier.raster, screen, damage=job.damage,
                             caption=caption, action=step.action, seed=job.seed)
    timings["render"] = (time.perf_counter() - t) * 1000

    t = time.perf_counter()
    frame, accuracy, vtrace = job.verifier.step(renderer, screen, frame, rows) \
        if job.verify else (frame, {}, {})
    timings["verify"] = (time.perf_counter() - t) * 1000
    timings["total"] = sum(timings.values())

    trace = dict(job.trace)
    trace["render"] = info
    if vtrace:
        trace["verify"] = vtrace
    step.__dict__.update(frame_array=frame, caption=caption, timings=timings,
                         accuracy=accuracy, trace=trace)
    recorder.frame(frame, screen.rows, step.to_json())


class FrameDrawer:
    """Draws a session's frames in order, at most one in flight, on a worker thread.

    Args:
        recorder: where each drawn frame and its report entry go.
        overlap: draw on the worker (the call that asked returns at once); False: inline.
    """

    def __init__(self, recorder: Recorder, overlap: bool = True) -> None:
        self.recorder = recorder
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="hybrid-nc-frames") \
            if overlap else None
        self._pending: Future[None] | None = None

    def wait(self) -> None:
        """Until the frame in flight is drawn; raises what drawing it raised (once)."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def draw(self, step: StepOutput, job: FrameJob, *, inline: bool = False) -> None:
        """Draw `step`'s frame after the one before it: on the worker, or now when `inline`."""
        self.wait()
        if inline or self._pool is None:
            draw_step(step, job, self.recorder)
            step.__dict__.pop("_drawing", None)
            return
        future = self._pool.submit(draw_step, step, job, self.recorder)
        step.__dict__["_drawing"] = future
        future.add_done_callback(_forget(step))
        self._pending = future

    def close(self) -> None:
        """Finish the frame in flight (its error is dropped: the session is ending) and stop
        the worker."""
        with contextlib.suppress(Exception):
            self.wait()
        if self._pool is not None:
            self._pool.shutdown(wait=True)


def _forget(step: StepOutput) -> Callable[[Future[None]], None]:
    """Once a step's frame is drawn it no longer needs its future (kept on error, to raise)."""
    def done(future: Future[None]) -> None:
        if future.exception() is None:
            step.__dict__.pop("_drawing", None)
    return done

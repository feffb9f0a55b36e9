"""The web terminal in three parts, as vLLM's entrypoints are laid out:

    protocol.py   client messages in, JSON and binary frame updates out (no sessions, no FastAPI)
    serving.py    TerminalService and one WebSession per browser tab, over the public Session API
    routes.py     the FastAPI app: HTTP and WebSocket traffic translated into calls on the service

This module gathers their public names, so `from hybrid_nc.web.server import create_app` and the
other names keep working.
"""

from __future__ import annotations

from .protocol import (
    HEADER,
    VIEWS,
    ProtocolError,
    cell_span,
    frame_updates,
    parse_client_message,
    png_bytes,
    step_message,
    wrong_cells,
)
from .routes import STATIC, _request_problem, create_app
from .serving import (
    CLOSE,
    QueueFull,
    ServeConfig,
    ServiceBusy,
    TerminalService,
    WebSession,
    is_loopback,
)

__all__ = [
    "CLOSE", "HEADER", "STATIC", "VIEWS", "ProtocolError", "QueueFull", "ServeConfig",
    "ServiceBusy", "TerminalService", "WebSession", "_request_problem", "cell_span",
    "create_app", "frame_updates", "is_loopback", "parse_client_message", "png_bytes",
    "step_message", "wrong_cells",
]

"""`hybrid-nc serve`: the hybrid terminal in a browser (FastAPI + WebSocket, frames on a canvas).

protocol.py (the wire format), serving.py (the per-tab sessions), routes.py (the FastAPI app).
"""

from .routes import create_app
from .serving import ServeConfig, ServiceBusy, TerminalService, WebSession

__all__ = ["ServeConfig", "ServiceBusy", "TerminalService", "WebSession", "create_app"]

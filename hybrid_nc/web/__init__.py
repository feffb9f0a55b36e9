"""`hybrid-nc serve`: the hybrid terminal in a browser (FastAPI + WebSocket, frames on a canvas)."""

from .server import ServeConfig, ServiceBusy, TerminalService, WebSession, create_app

__all__ = ["ServeConfig", "ServiceBusy", "TerminalService", "WebSession", "create_app"]

"""The web terminal's routes: a thin FastAPI app over the serving object (hybrid_nc/web/serving.py).

HTTP: `GET /` the page, `GET /api/info`, `GET /api/sessions/{id}/recording.cast|.mp4`; the
WebSocket `/ws` carries the protocol of hybrid_nc/web/protocol.py. Bound to a loopback address no
token is needed (but the Host header must be a loopback name, which stops DNS rebinding); bound to
any other address a token is required on every request.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI, HTTPException, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.background import BackgroundTask

from .protocol import ProtocolError, encode, one_line, parse_client_message
from .serving import (
    CLOSE,
    QueueFull,
    ServiceBusy,
    TerminalService,
    is_loopback,
    renderers,
    themes,
)

STATIC = Path(__file__).resolve().parent / "static"


def _default_atlas() -> Any:
    from renderer.fonts import FontSpec
    from renderer.raster import shared_atlas

    return shared_atlas(FontSpec())


def _request_problem(service: TerminalService, headers: Any, token: str | None) -> str | None:
    """Why a request may not reach a session (None when it may)."""
    if not service.authorized(token):
        return "a valid ?token= is required (it was printed when the server started)"
    host = headers.get("host", "")
    if service.token is None:
        # no token: only loopback names, so a DNS-rebound page cannot reach the shell
        hostname = urlsplit(f"//{host}").hostname or ""
        if not is_loopback(hostname):
            return f"host {host!r} is not a loopback name; start the server with a token"
    origin = headers.get("origin")
    if origin and urlsplit(origin).netloc.lower() != host.lower():
        return f"cross-origin request from {origin!r} refused"
    return None


def create_app(service: TerminalService | None = None) -> FastAPI:
    """The FastAPI app: the page, its static files, /api/info, downloads and the WebSocket."""
    service = service or TerminalService()

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        async def reaper() -> None:
            while True:
                await asyncio.sleep(min(5.0, max(service.config.idle_timeout / 4, 0.05)))
                service.reap()

        task = asyncio.create_task(reaper())
        try:
            yield
        finally:
            task.cancel()
            await asyncio.to_thread(service.shutdown)

    app = FastAPI(title="hybrid-nc", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.state.service = service
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    def check(request: Request) -> None:
        problem = _request_problem(service, request.headers, request.query_params.get("token"))
        if problem:
            raise HTTPException(status_code=403, detail=problem)

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    @app.get("/api/info")
    def info(request: Request) -> JSONResponse:
        check(request)
        atlas = _default_atlas()
        return JSONResponse({
            "cell": list(atlas.cell), "renderers": renderers(), "themes": themes(),
            "sessions": len(service.sessions), "max_sessions": service.config.max_sessions,
            "token_required": service.token is not None,
        })

    @app.get("/api/sessions/{sid}/recording.{ext}")
    async def recording(sid: str, ext: str, request: Request) -> FileResponse:
        check(request)
        if ext not in ("cast", "mp4"):
            raise HTTPException(status_code=404, detail="recordings are .cast or .mp4")
        ws = service.get(sid)
        if ws is None or ws.session is None:
            raise HTTPException(status_code=404, detail="no such session")
        tmp = Path(tempfile.mkdtemp(prefix="hybrid-nc-web-"))
        path = tmp / f"hybrid-nc-{sid[:8]}.{ext}"
        fn = (lambda s: s.save(path)) if ext == "cast" else (lambda s: s.export(path))
        try:
            await asyncio.wait_for(asyncio.wrap_future(ws.call(fn)), timeout=300)
        except Exception as e:
            shutil.rmtree(tmp, ignore_errors=True)
            raise HTTPException(status_code=409, detail=one_line(e)) from None
        media = "application/x-asciicast" if ext == "cast" else "video/mp4"
        return FileResponse(path, media_type=media, filename=path.name,
                            background=BackgroundTask(shutil.rmtree, tmp, True))

    @app.websocket("/ws")
    async def terminal(websocket: WebSocket) -> None:
        problem = _request_problem(service, websocket.headers,
                                   websocket.query_params.get("token"))
        if problem:
            await websocket.close(code=1008, reason=problem[:120])
            return
        await websocket.accept()
        loop = asyncio.get_running_loop()
        outbox: asyncio.Queue[Any] = asyncio.Queue()

        def send(item: Any) -> None:
            loop.call_soon_threadsafe(outbox.put_nowait, item)

        try:
            cols = int(websocket.query_params.get("cols", "")) or None
            rows = int(websocket.query_params.get("rows", "")) or None
        except ValueError:
            cols = rows = None
        try:
            ws = service.open(send, cols=cols, rows=rows)
        except ServiceBusy as e:
            await websocket.send_text(encode({"type": "error", "message": str(e), "fatal": True}))
            await websocket.close(code=1013)
            return
        sender = asyncio.create_task(_pump(websocket, outbox))
        try:
            while True:
                event = await websocket.receive()
                if event["type"] == "websocket.disconnect":
                    break
                text = event.get("text")
                if text is None:
                    send({"type": "error", "message": "binary messages are not part of the protocol"})
                    continue
                try:
                    msg = parse_client_message(text, service.config)
                    if msg["type"] == "ping":
                        send({"type": "pong"})
                    else:
                        ws.receive(msg)
                except (ProtocolError, QueueFull) as e:
                    send({"type": "error", "message": str(e)})
        except WebSocketDisconnect:
            pass
        finally:
            ws.close("the page was closed")
            if not sender.done():
                with contextlib.suppress(asyncio.TimeoutError, Exception):
                    await asyncio.wait_for(sender, timeout=0.5)
                sender.cancel()

    return app


async def _pump(websocket: Any, outbox: asyncio.Queue[Any]) -> None:
    """Send a tab's outgoing messages in order; close the socket after CLOSE."""
    try:
        while True:
            item = await outbox.get()
            if item is CLOSE:
                await websocket.close()
                return
            if isinstance(item, bytes):
                await websocket.send_bytes(item)
            else:
                await websocket.send_text(encode(item))
    except Exception:
        return  # the page went away; the receive loop notices and closes the session

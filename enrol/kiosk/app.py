"""The kiosk's local web page and JSON actions: ``create_app`` (served by ``doorward kiosk``).

Owns the routes and the page's security headers; the actions are ``enrol/kiosk/actions.py``.
The page (``enrol/kiosk/web/``: plain HTML, CSS and a little JavaScript, no build step) renders one screen at a time from ``/api/state`` and follows ``/api/events``, a
server-sent-event stream of the current instruction (``progress``), operator-only notes
(``operator``) and the whole view whenever it changes (``state``). Actions are JSON POSTs
checked by ``enrol/kiosk/guard.py`` (Host, CSRF token, Origin); the server calls they make
use the operator's session.

Listens on 127.0.0.1 only (``enrol/kiosk/cli.py``); imports no serial library itself: the
module is the station's (``enrol/station.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

from fastapi import Body, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse

from doorward.enrol.kiosk import guard as guard
from doorward.enrol.kiosk.actions import actions, run_action
from doorward.enrol.kiosk.state import KioskSession, SessionBook
from doorward.enrol.session import StationLike
from doorward.enrol.strings import FINGERS, TEXT
from doorward.enrol.workflow import EnrolSettings

WEB = Path(__file__).resolve().parent / "web"
STATIC = {"kiosk.css": "text/css", "kiosk.js": "text/javascript"}
KEEPALIVE_S = 15.0


@dataclass(frozen=True)
class KioskSettings:
    port: int
    server_url: str
    station_id: str
    ca_file: str | None = None
    idle_timeout_s: float = 120.0
    enrol: EnrolSettings = EnrolSettings()


def create_app(station: StationLike, settings: KioskSettings) -> FastAPI:
    book = SessionBook(settings.idle_timeout_s)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):  # noqa: ANN202
        book.start()
        yield
        await asyncio.to_thread(book.stop)  # signs every operator out of the server

    app = FastAPI(title="doorward kiosk", docs_url=None, redoc_url=None, openapi_url=None,
                  lifespan=lifespan)  # fmt: skip
    app.state.book = book
    hosts = guard.allowed_hosts(settings.port)
    _add_host_check(app, hosts)
    _add_page(app, book)
    _add_reads(app, book)
    _add_actions(app, book, hosts, station, settings)
    return app


def _add_host_check(app: FastAPI, hosts: frozenset[str]) -> None:
    @app.middleware("http")
    async def host_only(request: Request, call_next):  # noqa: ANN202
        try:
            guard.check_host(request, hosts)
        except HTTPException as refused:
            return JSONResponse({"detail": refused.detail}, status_code=refused.status_code)
        response = await call_next(request)
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'")
        return response


def _add_page(app: FastAPI, book: SessionBook) -> None:
    @app.get("/", response_class=HTMLResponse)
    def page(request: Request) -> Response:
        session = book.get(request.cookies.get(guard.COOKIE)) or book.new()
        html = _translated((WEB / "index.html").read_text(encoding="utf-8"))
        html = html.replace("{{csrf}}", session.csrf)
        return HTMLResponse(html, headers={"Set-Cookie": guard.cookie_header(session.cookie)})

    @app.get("/static/{name}")
    def static(name: str) -> Response:
        if name not in STATIC:
            raise HTTPException(404, "no such file")
        return Response((WEB / name).read_bytes(), media_type=STATIC[name])


def _translated(html: str) -> str:
    """Fill ``{{t:KEY}}`` from doorward.enrol.strings, and hand the script its strings as JSON."""
    html = re.sub(r"\{\{t:([a-z_.]+)\}\}", lambda m: escape(TEXT[m.group(1)]), html)
    strings = json.dumps({"text": TEXT, "fingers": FINGERS}).replace("<", "\\u003c")
    script = f'<script type="application/json" id="strings">{strings}</script>'
    return html.replace("</body>", f"{script}\n</body>")


def _session(book: SessionBook, request: Request) -> KioskSession:
    session = book.get(request.cookies.get(guard.COOKIE))
    if session is None:
        raise HTTPException(401, "no kiosk session: load the page")
    return session


def _add_reads(app: FastAPI, book: SessionBook) -> None:
    @app.get("/api/state")
    def state(request: Request) -> dict:
        return _session(book, request).view()

    @app.get("/api/events")
    async def events(request: Request) -> StreamingResponse:
        session = _session(book, request)
        return StreamingResponse(_stream(session, request), media_type="text/event-stream")


async def _stream(session: KioskSession, request: Request):  # noqa: ANN202
    queue = session.feed.subscribe()
    try:
        yield _sse(0, "state", session.view())
        while not await request.is_disconnected():
            try:
                sequence, kind, data = await asyncio.wait_for(queue.get(), KEEPALIVE_S)
            except asyncio.TimeoutError:
                yield ": keep-alive\n\n"
                continue
            yield _sse(sequence, kind, data)
    finally:
        session.feed.unsubscribe(queue)


def _sse(sequence: int, kind: str, data: dict) -> str:
    return f"id: {sequence}\nevent: {kind}\ndata: {json.dumps(data)}\n\n"


def _add_actions(app: FastAPI, book: SessionBook, hosts: frozenset[str], station: StationLike,
                 settings: KioskSettings) -> None:  # fmt: skip
    handlers = actions(station, settings.server_url, settings.station_id, settings.ca_file,
                       settings.enrol)  # fmt: skip

    @app.post("/api/{action}")
    def act(action: str, request: Request, body: dict[str, Any] = Body(default={})) -> Response:
        if action not in handlers:
            raise HTTPException(404, "no such action")
        session = _session(book, request)
        guard.check_write(request, hosts, session.csrf)
        book.touch(session)
        with session.lock:
            extra, status = run_action(session, handlers[action], body)
        session.push_state()
        return JSONResponse({**(extra or {}), "view": session.view()}, status_code=status)

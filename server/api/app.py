"""The application factory: ``create_app(config, clock, keys)`` wires the context, routers,
error answers, the background loops (rebuilder, alarm delivery, monitor), ``/metrics``
and the MQTT bridge when enabled (``doorward.server.integrations``), the admin console
(``/console/``, ``doorward.server.console``) and the API's documentation pages (served from
the package, no CDN: ``doorward.server.api.docs_pages``).

No global state: two apps in one process (tests, benchmarks) share nothing.
"""

from __future__ import annotations

import asyncio
import math
import sqlite3
from contextlib import asynccontextmanager

import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from doorward.server.api import docs_pages as api_docs
from doorward.server.api import routes_admin
from doorward.server.api import routes_alarms
from doorward.server.api import routes_devices
from doorward.server.api import routes_people
from doorward.server.api import routes_sync
from doorward.server.bundles.issue import BundleService
from doorward.server.console.routes import mount_console
from doorward.server.clock import Clock
from doorward.server.config import ServerConfig
from doorward.server.context import ServerContext
from doorward.server.store.db import Database
from doorward.server.duties.delivery import AlarmDelivery
from doorward.server.errors import ServiceError
from doorward.server.integrations.metrics import RequestTimer, ServerMetrics
from doorward.server.integrations.metrics_route import metrics_router
from doorward.server.integrations.mqtt_bridge import MqttBridge
from doorward.server.store.keys import ServerKeys, load_keys
from doorward.server.api.limits import BodyLimit
from doorward.server.duties.monitor import Monitor, Rebuilder
from doorward.server.bundles.notifier import BundleNotifier
from doorward.server.api.throttle import LoginThrottle, Throttle

API_VERSION = "1"


def build_context(config: ServerConfig, clock: Clock, keys: ServerKeys | None = None) -> ServerContext:
    db = Database(config.database)
    db.migrate()
    keys = keys or load_keys(config.signing_key_path, config.data_key_path)
    ctx = ServerContext(config=config, clock=clock, db=db, keys=keys)
    ctx.ledger.create()
    return ctx


def create_app(config: ServerConfig, clock: Clock, keys: ServerKeys | None = None,
               background: bool = True) -> FastAPI:
    ctx = build_context(config, clock, keys)
    notifier = BundleNotifier()
    metrics = ServerMetrics(ctx)
    bundles = BundleService(ctx, on_build=metrics.bundle_build_seconds.observe)
    app = FastAPI(title="doorward server", version=API_VERSION, lifespan=_lifespan(background),
                  description="Admin API and door sync of doorward's reference central server.",
                  default_response_class=AsciiJSONResponse, docs_url=None, redoc_url=None,
                  swagger_ui_oauth2_redirect_url=None)
    api_docs.add_docs_pages(app)
    mount_console(app)
    app.state.ctx, app.state.bundles, app.state.notifier = ctx, bundles, notifier
    app.state.delivery = AlarmDelivery(ctx)  # made here: a bad webhook secret stops the start
    app.state.metrics = metrics
    # The MQTT bridge, when a broker is named: made here, so a missing password file stops the start.
    app.state.bridge = MqttBridge(ctx) if config.mqtt.enabled else None
    app.state.event_listeners = [app.state.bridge.door_records] if app.state.bridge else []
    app.state.throttle, app.state.login_throttle = Throttle(), LoginThrottle()
    for router in (routes_sync.router, routes_admin.router, routes_people.router, routes_alarms.router,
                   routes_devices.device_router("door"), routes_devices.device_router("station")):
        app.include_router(router)
    if config.metrics.enabled:
        app.include_router(metrics_router(metrics, config.metrics))
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(sqlite3.IntegrityError, _integrity_error)
    app.add_middleware(BodyLimit)
    app.add_middleware(RequestTimer, metrics=metrics)
    if config.trusted_proxies:
        # The client address (throttles, audit) from X-Forwarded-For, only when the peer is one
        # of these proxies; the right-most address no trusted proxy added is the client.
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=list(config.trusted_proxies))
    return app


def _lifespan(background: bool):
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        ctx: ServerContext = app.state.ctx
        loop = asyncio.get_running_loop()
        ctx.signals.attach(loop)
        app.state.notifier.loop = loop
        stopping = asyncio.Event()
        loops = [Rebuilder(ctx, app.state.bundles, app.state.notifier), app.state.delivery, Monitor(ctx)]
        if app.state.bridge is not None:
            loops.append(app.state.bridge)
        tasks = [asyncio.create_task(each.run(stopping)) for each in loops] if background else []
        try:
            yield
        finally:
            stopping.set()
            await asyncio.gather(*tasks, return_exceptions=True)
            ctx.db.close()

    return lifespan


class AsciiJSONResponse(JSONResponse):
    """JSON with non-ASCII escaped: an answer that echoes a hostile string (a lone
    surrogate) can always be encoded."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode()


async def _validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
    """422 naming each bad field; the offending input is not echoed back."""
    problems = [{"field": ".".join(str(part) for part in problem["loc"]), "message": problem["msg"],
                 "type": problem["type"]} for problem in error.errors()]
    summary = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
    return AsciiJSONResponse({"detail": summary, "errors": problems}, status_code=422)


async def _service_error(request: Request, error: ServiceError) -> JSONResponse:
    retry = error.extra.get("retry_after_s")
    headers = {"Retry-After": str(math.ceil(retry))} if retry is not None else None
    return AsciiJSONResponse({"detail": error.message, **error.extra}, status_code=error.status,
                             headers=headers)


async def _integrity_error(request: Request, error: sqlite3.IntegrityError) -> JSONResponse:
    # A reference to something missing or still in use (e.g. a zone that doors name).
    return AsciiJSONResponse({"detail": f"conflicts with stored data: {error}"}, status_code=409)

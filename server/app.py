"""The application factory: ``create_app(config, clock, keys)`` wires the context, routers,
error answers and the background loops (rebuilder, alarm delivery, monitor).

No global state: two apps in one process (tests, benchmarks) share nothing.
"""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from server import routes_admin, routes_alarms, routes_devices, routes_people, routes_sync
from server.bundles import BundleService
from server.clock import Clock
from server.config import ServerConfig
from server.context import ServerContext
from server.db import Database
from server.delivery import AlarmDelivery
from server.errors import ServiceError
from server.keys import ServerKeys, load_keys
from server.monitor import Monitor, Rebuilder
from server.notifier import BundleNotifier

API_VERSION = "1"


def build_context(config: ServerConfig, clock: Clock, keys: ServerKeys | None = None) -> ServerContext:
    db = Database(config.database)
    db.migrate()
    keys = keys or load_keys(config.signing_key_path, config.data_key_path)
    return ServerContext(config=config, clock=clock, db=db, keys=keys)


def create_app(config: ServerConfig, clock: Clock, keys: ServerKeys | None = None,
               background: bool = True) -> FastAPI:
    ctx = build_context(config, clock, keys)
    notifier = BundleNotifier()
    bundles = BundleService(ctx)
    app = FastAPI(title="doorward server", version=API_VERSION, lifespan=_lifespan(background),
                  description="Admin API and door sync of doorward's reference central server.")
    app.state.ctx, app.state.bundles, app.state.notifier = ctx, bundles, notifier
    for router in (routes_sync.router, routes_admin.router, routes_people.router, routes_alarms.router,
                   routes_devices.device_router("door"), routes_devices.device_router("station")):
        app.include_router(router)
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(sqlite3.IntegrityError, _integrity_error)
    return app


def _lifespan(background: bool):
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        ctx: ServerContext = app.state.ctx
        loop = asyncio.get_running_loop()
        ctx.signals.attach(loop)
        app.state.notifier.loop = loop
        stopping = asyncio.Event()
        loops = [Rebuilder(ctx, app.state.bundles, app.state.notifier), AlarmDelivery(ctx), Monitor(ctx)]
        tasks = [asyncio.create_task(each.run(stopping)) for each in loops] if background else []
        try:
            yield
        finally:
            stopping.set()
            await asyncio.gather(*tasks, return_exceptions=True)
            ctx.db.close()

    return lifespan


async def _service_error(request: Request, error: ServiceError) -> JSONResponse:
    return JSONResponse({"detail": error.message, **error.extra}, status_code=error.status)


async def _integrity_error(request: Request, error: sqlite3.IntegrityError) -> JSONResponse:
    # A reference to something missing or still in use (e.g. a zone that doors name).
    return JSONResponse({"detail": f"conflicts with stored data: {error}"}, status_code=409)

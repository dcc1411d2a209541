"""The central server inside this process, on 127.0.0.1 in a thread: for the tests, the
benchmarks and tools that need a live server with an injected clock.

Owns ``make_config`` (a lab server configuration in a scratch directory: fast monitor and
rebuild, the lab clock), ``RunningServer`` (its URL, configuration, clock, keys, context, and
clients: ``client(token)``, ``add_admin(name)``) and ``running_server``, which serves the app
with ``doorward.server.api.embedded.serve_in_thread`` and finds the bound port.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import httpx
import uvicorn

from doorward.server.api.app import create_app
from doorward.server.api.embedded import serve_in_thread
from doorward.server.clock import ManualClock
from doorward.server.config import AlarmSinks, ServerConfig
from doorward.server.context import ServerContext
from doorward.server.domain.auth import create_admin
from doorward.server.store.keys import ServerKeys, create_keys

ADMIN_PASSWORD = "correct horse battery staple"
def make_config(tmp: Path, **changes: Any) -> ServerConfig:
    alarms = changes.pop("alarms", AlarmSinks())
    config = ServerConfig(database=tmp / "doorward.server.store.db", keys_dir=tmp / "keys", assume_synchronised=True,
                          monitor_interval_s=0.1, rebuild_interval_s=0.1, alarms=alarms)
    return config.with_changes(**changes)


@dataclass
class RunningServer:
    url: str
    config: ServerConfig
    clock: ManualClock
    keys: ServerKeys
    ctx: ServerContext
    server: uvicorn.Server
    app: Any

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=40, trust_env=False)

    def add_admin(self, name: str, role: str = "admin") -> httpx.Client:
        with self.ctx.db.transaction() as conn:
            create_admin(conn, self.ctx.passwords, name, role, ADMIN_PASSWORD, self.clock.now())
        with self.client() as anonymous:
            answer = anonymous.post("/api/v1/sessions", json={"name": name, "password": ADMIN_PASSWORD})
        answer.raise_for_status()
        return self.client(answer.json()["token"])


@contextlib.contextmanager
def running_server(tmp: Path, clock: Any = None, keys: ServerKeys | None = None,
                   **config_changes: Any) -> Iterator[RunningServer]:
    config = make_config(tmp, **config_changes)
    keys = keys or create_keys(config.signing_key_path, config.data_key_path)
    clock = clock or ManualClock()
    app = create_app(config, clock, keys)
    with serve_in_thread(app) as (url, server):
        yield RunningServer(url, config, clock, keys, app.state.ctx, server, app)

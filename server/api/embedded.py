"""Serving the app with uvicorn: ``DoorwardServer`` (used by ``doorward server run``) and
``serve_in_thread``, which runs it inside this process on a background thread for tests,
benchmarks and tools that need a live server with an injected clock. Binds 127.0.0.1 by
default, port 0 (any free port), and reports the bound URL.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any, Iterator

import uvicorn

START_TIMEOUT_S = 10.0
GRACEFUL_SHUTDOWN_S = 5.0


class DoorwardServer(uvicorn.Server):
    """uvicorn, releasing held long-polls first on shutdown, so that stopping never waits
    out a 30 s poll (nor cancels one mid-answer)."""

    async def shutdown(self, sockets: Any = None) -> None:
        notifier = getattr(getattr(self.config.app, "state", None), "notifier", None)
        if notifier is not None:
            notifier.release_all()
        await super().shutdown(sockets)


def make_server(app: Any, host: str, port: int, log_level: str = "warning", **options: Any) -> DoorwardServer:
    # proxy_headers=False: uvicorn would otherwise trust X-Forwarded-For from 127.0.0.1; the
    # app decides which proxies to believe ([server] trusted_proxies, server.app).
    return DoorwardServer(uvicorn.Config(app, host=host, port=port, log_level=log_level, lifespan="on",
                                         timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
                                         proxy_headers=False, **options))


@contextlib.contextmanager
def serve_in_thread(app: Any, host: str = "127.0.0.1", port: int = 0) -> Iterator[tuple[str, uvicorn.Server]]:
    server = make_server(app, host, port)
    thread = threading.Thread(target=server.run, name="doorward-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the server did not start")
        time.sleep(0.01)
    bound_port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{bound_port}", server
    finally:
        server.should_exit = True
        thread.join(START_TIMEOUT_S)

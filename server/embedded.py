"""Run the server inside this process on a background thread: for tests, benchmarks and
tools that need a live server with an injected clock. Binds 127.0.0.1 by default, port 0
(any free port), and reports the bound URL.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any, Iterator

import uvicorn

START_TIMEOUT_S = 10.0


@contextlib.contextmanager
def serve_in_thread(app: Any, host: str = "127.0.0.1", port: int = 0) -> Iterator[tuple[str, uvicorn.Server]]:
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on",
                                           timeout_graceful_shutdown=1))
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

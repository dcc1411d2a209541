"""A listening Unix socket that appears at its path only once it accepts connections.

``bind()`` creates the file before ``listen()`` is called, so a client that waits for the
file (the demo, the tests) could connect in between and be refused. Binding to a temporary
name and renaming it after ``listen()`` closes that window: the rename is atomic and the
socket keeps listening under its new name.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path


def listening_unix_socket(path: str | Path, mode: int | None = None, backlog: int = 64) -> socket.socket:
    """Listening at ``path`` (with ``mode`` when given) by the time the path exists."""
    path = Path(path)
    path.unlink(missing_ok=True)  # a stale socket from a killed run
    staging = path.with_name(f".{path.name}.{os.getpid()}")
    staging.unlink(missing_ok=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        listener.bind(str(staging))
        if mode is not None:
            os.chmod(staging, mode)
        listener.listen(backlog)
        os.rename(staging, path)
    except BaseException:
        listener.close()
        staging.unlink(missing_ok=True)
        raise
    return listener

"""The daemon's status file: written atomically, read by ``doorward status`` and ``sync``.

Owns ``write_status`` and ``read_status``. The door opens no listening socket (promise 11),
so a running daemon is seen only through this JSON file: door state, reader, sync, versions,
clock trust, journal backlog and the last decisions (reason codes only, no user or finger
ids). A write goes to a temporary file in the same directory and is renamed over the old
one, so a reader sees the old status or the new, never half a file. No fsync: the file is
rewritten every second and means nothing after a crash (its ``updated_mono`` then ages).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

STALE_AFTER_S = 5.0  # a status this old was not written by a live daemon


class StatusUnavailable(Exception):
    """No readable status file: the daemon is not running, or the path is wrong."""


def write_status(path: Path, status: dict[str, Any]) -> None:
    """Replace ``path`` with ``status`` as JSON, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    data = json.dumps(status, indent=1, sort_keys=True).encode()
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o640)
    try:
        os.write(descriptor, data)
    finally:
        os.close(descriptor)
    os.replace(temporary, path)


def read_status(path: Path) -> dict[str, Any]:
    try:
        status = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StatusUnavailable(f"{path}: no status file; is `doorward run` running?") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise StatusUnavailable(f"{path}: cannot read the status: {error}") from None
    if not isinstance(status, dict):
        raise StatusUnavailable(f"{path}: not a doorward status file")
    return status


def status_age_s(status: dict[str, Any], mono_now: float | None = None) -> float:
    """Seconds since the daemon wrote ``status`` (CLOCK_MONOTONIC is system-wide)."""
    now = time.monotonic() if mono_now is None else mono_now
    written = status.get("updated_mono")
    return now - written if isinstance(written, (int, float)) else float("inf")


def is_live(status: dict[str, Any]) -> bool:
    """Written recently by a daemon that says it is running, whose pid still exists."""
    pid = status.get("pid")
    if status.get("state") != "running" or not isinstance(pid, int):
        return False
    return status_age_s(status) < STALE_AFTER_S and Path(f"/proc/{pid}").exists()

"""Backups and restores of the server database with SQLite's online backup API.

Owns ``backup``, ``restore`` and ``ServerLock`` (held by ``doorward server run``, so a restore
refuses to overwrite the database under a running server). Backups hold no keys: templates in
a backup stay sealed with the data key, which is kept elsewhere (docs/server.md).
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
from contextlib import closing
from pathlib import Path

from server.db import Database


class ServerLock:
    """An exclusive flock on ``<database>.lock`` for as long as the server runs."""

    def __init__(self, database: Path) -> None:
        self.path = Path(f"{database}.lock")
        self._handle = None

    def acquire(self) -> bool:
        self._handle = open(self.path, "a")
        try:
            fcntl.flock(self._handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._handle.close()
            self._handle = None
            return False
        return True

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def _copy(source: Path, destination: Path) -> None:
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(destination)) as dst:
        src.backup(dst)
    os.chmod(destination, 0o600)


def backup(database: Path, destination: Path) -> None:
    """A consistent copy while the server runs (the backup API copies a snapshot)."""
    if destination.exists():
        raise FileExistsError(f"{destination}: exists; choose a new file name")
    _copy(database, destination)


def restore(source: Path, database: Path) -> int:
    """Replace the database with a backup; refuses while a server holds the lock."""
    with closing(sqlite3.connect(source)) as check:
        result = check.execute("PRAGMA integrity_check").fetchone()[0]
    if result != "ok":
        raise ValueError(f"{source}: integrity check failed: {result}")
    lock = ServerLock(database)
    if not lock.acquire():
        raise RuntimeError("the server is running; stop it before restoring")
    try:
        _copy(source, database)
        db = Database(database)
        version = db.migrate()  # an older backup gains the newer migrations
        with db.transaction() as conn:
            # The backup's stored bundles are older than what doors already hold: every
            # device gets a new one at start, above the version floor, so no door sees a
            # rollback.
            conn.execute("UPDATE devices SET dirty = dirty + 1")
        db.close()
        return version
    finally:
        lock.release()

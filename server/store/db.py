"""SQLite access: connections with the server's pragmas, transactions, migrations, ids.

Owns ``Database``. WAL with ``synchronous=FULL`` (an acknowledged write survives a power
cut), foreign keys on, a busy timeout for concurrent writers. Each thread gets its own
connection; writes go through ``transaction()`` (``BEGIN IMMEDIATE``). All SQL elsewhere is
parameterised: values never enter SQL text.
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from doorward.daemon.codec import migrations
from doorward.server.store.schema import SCHEMA

BUSY_TIMEOUT_MS = 10_000


def new_id(prefix: str) -> str:
    """Opaque ids: doors see only these, never names (promise 12)."""
    return f"{prefix}_{secrets.token_hex(8)}"


class Database:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def connect(self) -> sqlite3.Connection:
        """A fresh connection with the server's pragmas (autocommit; see ``transaction``)."""
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                               timeout=BUSY_TIMEOUT_MS / 1000)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        return conn

    def connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self.connect()
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    @property
    def open_connections(self) -> int:
        """One per thread that has used the database: SQLite has no pool to report."""
        with self._lock:
            return len(self._all)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        conn = self.connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def migrate(self) -> int:
        """Apply every migration above ``user_version``; returns the schema version."""
        return migrations.migrate(self.connection(), SCHEMA)

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()

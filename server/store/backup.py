"""Backups and restores of the server database with SQLite's online backup API.

Owns ``backup``, ``restore`` and ``ServerLock`` (held by ``doorward server run``, so a restore
refuses to overwrite the database under a running server). Backups hold no keys: templates in
a backup stay sealed with the data key, which is kept elsewhere (docs/server.md).

A restore prepares the backup in a scratch file beside the database: newer migrations, the
removal ledger re-applied (``doorward.server.store.ledger``: nothing revoked or erased since the backup comes
back), admin sessions ended, unused pairing codes voided, every device marked for a new
bundle. Only then is the scratch copied over the database in one step, so a crash leaves the
old database or the prepared one, never the bare backup.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from doorward.server.store.db import Database
from doorward.server.store.ledger import KINDS, Entry, RemovalLedger


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


@dataclass(frozen=True)
class RestoreReport:
    schema_version: int
    ledger_entries: int
    reapplied: tuple[Entry, ...]  # the entries that changed the restored database
    sessions_ended: int
    pairing_codes_voided: int


def _copy(source: Path, destination: Path) -> None:
    """The whole of ``source`` into ``destination`` in one step (one transaction there)."""
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(destination)) as dst:
        src.backup(dst)
    os.chmod(destination, 0o600)


def backup(database: Path, destination: Path) -> None:
    """A consistent copy while the server runs (the backup API copies a snapshot)."""
    if destination.exists():
        raise FileExistsError(f"{destination}: exists; choose a new file name")
    _copy(database, destination)


def restore(source: Path, database: Path, ledger: RemovalLedger) -> RestoreReport:
    """Replace the database with a backup; refuses while a server holds the lock, and
    before touching anything if the backup or the ledger is damaged."""
    with closing(sqlite3.connect(source)) as check:
        result = check.execute("PRAGMA integrity_check").fetchone()[0]
    if result != "ok":
        raise ValueError(f"{source}: integrity check failed: {result}")
    entries = ledger.entries()
    lock = ServerLock(database)
    if not lock.acquire():
        raise RuntimeError("the server is running; stop it before restoring")
    scratch = Path(f"{database}.restoring")
    try:
        _remove_database_files(scratch)
        _copy(source, scratch)
        report = _prepare(scratch, entries)
        _copy(scratch, database)
        return report
    finally:
        _remove_database_files(scratch)
        lock.release()


def _prepare(path: Path, entries: list[Entry]) -> RestoreReport:
    db = Database(path)
    try:
        version = db.migrate()  # an older backup gains the newer migrations
        with db.transaction() as conn:
            reapplied = reapply(conn, entries)
            sessions = conn.execute("DELETE FROM sessions").rowcount  # logouts since are lost
            codes = conn.execute("DELETE FROM pairing_codes WHERE used_at IS NULL").rowcount
            # The backup's stored bundles are older than what doors already hold: every
            # device gets a new one at start, above the version floor, so no door sees a
            # rollback, and any removal re-applied here reaches the doors.
            conn.execute("UPDATE devices SET dirty = dirty + 1")
    finally:
        db.close()
    return RestoreReport(version, len(entries), tuple(reapplied), sessions, codes)


def reapply(conn: sqlite3.Connection, entries: list[Entry]) -> list[Entry]:
    """Apply the ledger, oldest first; a setting only as its latest entry for that object.
    Idempotent: an entry already in effect changes nothing and is not returned."""
    latest = {(entry.kind, entry.ident): entry for entry in entries}
    return [entry for entry in entries
            if latest[(entry.kind, entry.ident)] is entry and _apply(conn, entry)]


def _apply(conn: sqlite3.Connection, entry: Entry) -> bool:
    kind = KINDS[entry.kind]  # table and column names come from KINDS, never from the file
    if not kind.columns:
        return conn.execute(f"DELETE FROM {kind.table} WHERE id = ?", (entry.ident,)).rowcount > 0
    values = [entry.values[column] for column in kind.columns]
    assignments = ", ".join(f"{column} = ?" for column in kind.columns)
    unchanged = " AND ".join(f"{column} IS ?" for column in kind.columns)
    return conn.execute(f"UPDATE {kind.table} SET {assignments} WHERE id = ? AND NOT ({unchanged})",
                        (*values, entry.ident, *values)).rowcount > 0


def _remove_database_files(path: Path) -> None:
    for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        leftover.unlink(missing_ok=True)

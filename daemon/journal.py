"""The event journal: append-only, hash-chained, durable on return, uploaded in order.

Owns ``EventJournal``: its own SQLite file (WAL, ``synchronous=FULL``: a commit that returned
survives a crash or power cut), a random journal id made with the file, a per-door sequence
1, 2, 3 ... without gaps, and each record chained to the previous one by
``bundle.make_event`` (the codec's canonical bytes). Beside the caller's detail (opaque user
and finger ids, reason, score), every record carries ``event_id``, ``wall_trusted``,
``mono_s`` and ``boot_id`` in its detail, since the codec's ``Event`` has no fields for them.

Acknowledged events (the server confirmed them) are pruned after ``retention_s`` and beyond
``max_acknowledged_rows``; unacknowledged events are never evicted. Free disk below
``min_free_bytes`` sets ``disk_low`` (an alarm for the caller) but never stops an append
from being attempted. The defaults are the promise's floors (120 h, 500,000 rows); the
``[storage]`` section refuses less. Failed appends raise ``JournalWriteError``; the
``ResilientJournal`` (``daemon/journal_resilient.py``) queues and retries them.

Plain ``sqlite3`` rather than sqlite-utils: the append is the hot path of every grant, and
one ``BEGIN IMMEDIATE`` / ``INSERT`` / ``COMMIT`` on a bare connection keeps its cost close
to the one fsync it needs (bench ``journal.append_over_fsync_ratio``).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import sqlite3
import threading
from pathlib import Path
from typing import Any

from daemon.bundle import GENESIS_HASH, Event, make_event
from daemon.errors import DoorwardError

RETENTION_S_MIN = 120 * 3600
MAX_ACKNOWLEDGED_ROWS_MIN = 500_000
MIN_FREE_BYTES_DEFAULT = 64 * 1024 * 1024
RESERVED_DETAIL = ("event_id", "wall_trusted", "mono_s", "boot_id")
SCHEMA_VERSION = 1
SCHEMA = (
    "CREATE TABLE meta (id INTEGER PRIMARY KEY CHECK (id = 1), journal_id TEXT NOT NULL, "
    "door_id TEXT NOT NULL, acked_seq INTEGER NOT NULL)",
    # The newest row is the chain's head (seq and hash): an append writes this table only.
    "CREATE TABLE events (seq INTEGER PRIMARY KEY, wall_s REAL NOT NULL, hash TEXT NOT NULL, "
    "record TEXT NOT NULL)",
)


class JournalError(DoorwardError):
    """The journal cannot be opened or used; the message names the file."""


class JournalWriteError(JournalError, OSError):
    """An append did not become durable (disk full, I/O error); nothing was half-written."""


def utc_text(wall_s: float) -> str:
    """The codec's ``at``: ``YYYY-MM-DDTHH:MM:SS.ffffffZ``."""
    moment = dt.datetime.fromtimestamp(wall_s, tz=dt.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def check_detail(detail: dict[str, Any]) -> None:
    """A caller's mistake is refused at once, before it could block the queue behind it."""
    clash = sorted(set(detail) & set(RESERVED_DETAIL))
    if clash:
        raise ValueError(f"journal detail keys {clash} are reserved for the journal")
    json.dumps(detail)  # TypeError now, not at the write: opaque ids, numbers, text only


class EventJournal:
    """The door's durable, hash-chained event log."""

    def __init__(self, path: Path | str, door_id: str, *, retention_s: float = RETENTION_S_MIN,
                 max_acknowledged_rows: int = MAX_ACKNOWLEDGED_ROWS_MIN,
                 min_free_bytes: int = MIN_FREE_BYTES_DEFAULT) -> None:
        if retention_s <= 0 or max_acknowledged_rows <= 0:
            raise ValueError("retention_s and max_acknowledged_rows must be positive")
        self.path, self.door_id = Path(path), door_id
        self.retention_s, self.max_acknowledged_rows = retention_s, max_acknowledged_rows
        self.min_free_bytes = min_free_bytes
        self.disk_low = False
        self._lock = threading.Lock()
        self._conn = self._open()
        self._load_head()

    # ---- writing ----

    def append(self, kind: str, detail: dict[str, Any], *, wall_now: float, wall_trusted: bool,
               mono_now: float, boot_id: str) -> Event:
        """Add one record; when this returns the record is on disk. Raises JournalWriteError."""
        check_detail(detail)
        full = {**detail, "event_id": secrets.token_hex(16), "wall_trusted": wall_trusted,
                "mono_s": mono_now, "boot_id": boot_id}
        with self._lock:
            self.check_disk()
            return self._append_locked(kind, full, wall_now)

    def acknowledge(self, up_to_seq: int) -> None:
        """The server holds every record up to ``up_to_seq``; they may now be pruned."""
        with self._lock:
            if up_to_seq > self._last_seq:
                raise ValueError(f"{self.path}: cannot acknowledge seq {up_to_seq}, "
                                 f"the journal ends at {self._last_seq}")
            self._write("UPDATE meta SET acked_seq = MAX(acked_seq, ?) WHERE id = 1",
                        (up_to_seq,))

    def resend_from(self, seq: int) -> bool:
        """The server lost records from ``seq`` on (it was restored from a backup): mark them
        unacknowledged again so they are sent again. False when pruning already removed
        some of them (the caller raises an alarm: they cannot be recovered from here)."""
        with self._lock:
            if seq > self._acked_seq():
                return True
            oldest = self._conn.execute("SELECT MIN(seq) FROM events").fetchone()[0]
            if oldest is None or oldest > seq:
                return False
            self._write("UPDATE meta SET acked_seq = ? WHERE id = 1", (seq - 1,))
            return True

    def prune(self, wall_now: float) -> int:
        """Delete acknowledged records past retention or beyond the row cap; return how many."""
        with self._lock:
            acked = self._acked_seq()
            cutoff = self._conn.execute(
                "SELECT seq FROM events WHERE seq <= ? ORDER BY seq DESC LIMIT 1 OFFSET ?",
                (acked, self.max_acknowledged_rows)).fetchone()
            over_cap = cutoff[0] if cutoff else 0
            # The newest record always stays: it is the head the next append chains to.
            return self._write("DELETE FROM events WHERE seq <= ? AND seq < ? "
                               "AND (seq <= ? OR wall_s < ?)",
                               (acked, self._last_seq, over_cap, wall_now - self.retention_s))

    def check_disk(self) -> bool:
        """Refresh ``disk_low`` from the free space of the journal's filesystem."""
        try:
            status = os.statvfs(self.path.parent)
            self.disk_low = status.f_bavail * status.f_frsize < self.min_free_bytes
        except OSError:
            self.disk_low = True  # cannot even ask: treat as low, never as fine
        return self.disk_low

    # ---- reading ----

    @property
    def journal_id(self) -> str:
        return self._journal_id

    def last_seq(self) -> int:
        return self._last_seq

    def unacknowledged(self, limit: int) -> list[Event]:
        """The oldest ``limit`` records the server has not acknowledged, oldest first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT record FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
                (self._acked_seq(), limit)).fetchall()
        return [Event.from_dict(json.loads(record)) for (record,) in rows]

    def events(self, from_seq: int = 1) -> list[Event]:
        """Every stored record from ``from_seq`` on, acknowledged or not (checks, audits)."""
        with self._lock:
            rows = self._conn.execute("SELECT record FROM events WHERE seq >= ? ORDER BY seq",
                                      (from_seq,)).fetchall()
        return [Event.from_dict(json.loads(record)) for (record,) in rows]

    def backlog(self) -> int:
        with self._lock:
            return self._last_seq - self._acked_seq()

    def acknowledged_seq(self) -> int:
        with self._lock:
            return self._acked_seq()

    def durability(self) -> dict[str, Any]:
        with self._lock:
            return {name: self._conn.execute(f"PRAGMA {name}").fetchone()[0]
                    for name in ("journal_mode", "synchronous")}

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # ---- internals ----

    def _append_locked(self, kind: str, detail: dict[str, Any], wall_now: float) -> Event:
        if self._head_stale:
            self._load_head()
        event = make_event(door_id=self.door_id, journal_id=self._journal_id,
                           seq=self._last_seq + 1, at=utc_text(wall_now), kind=kind,
                           detail=detail, prev_hash=self._last_hash)
        record = json.dumps(event.to_dict(), sort_keys=True, separators=(",", ":"))
        try:
            self._transaction([("INSERT INTO events VALUES (?, ?, ?, ?)",
                                (event.seq, wall_now, event.hash, record))])
        except sqlite3.Error as error:
            self._head_stale = True  # re-read what is on disk before the next attempt
            raise JournalWriteError(f"{self.path}: append of {kind!r} failed: {error}") from error
        self._last_seq, self._last_hash = event.seq, event.hash
        return event

    def _transaction(self, statements: list[tuple[str, tuple]]) -> int:
        changed = 0
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            for sql, parameters in statements:
                changed += self._conn.execute(sql, parameters).rowcount
            self._conn.execute("COMMIT")
        except BaseException:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise
        return changed

    def _write(self, sql: str, parameters: tuple) -> int:
        try:
            return self._transaction([(sql, parameters)])
        except sqlite3.Error as error:
            raise JournalWriteError(f"{self.path}: {error}") from error

    def _acked_seq(self) -> int:
        return self._conn.execute("SELECT acked_seq FROM meta WHERE id = 1").fetchone()[0]

    def _load_head(self) -> None:
        try:
            self._journal_id, stored_door = self._conn.execute(
                "SELECT journal_id, door_id FROM meta WHERE id = 1").fetchone()
            head = self._conn.execute(
                "SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
        except sqlite3.Error as error:
            raise JournalWriteError(
                f"{self.path}: cannot read the journal head: {error}") from error
        self._last_seq, self._last_hash = head or (0, GENESIS_HASH)
        if stored_door != self.door_id:
            raise JournalError(f"{self.path}: journal of door {stored_door!r}, "
                               f"not {self.door_id!r}; move it aside to start a new one")
        self._head_stale = False

    def _open(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.path.exists():
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600))
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            self._check_and_migrate(conn)
        except sqlite3.DatabaseError as error:
            conn.close()
            raise JournalError(f"{self.path}: not a usable journal database: {error}") from None
        except JournalError:
            conn.close()
            raise
        return conn

    def _check_and_migrate(self, conn: sqlite3.Connection) -> None:
        problems = [row[0] for row in conn.execute("PRAGMA quick_check").fetchall()]
        if problems != ["ok"]:
            raise JournalError(f"{self.path}: quick_check failed: {'; '.join(problems[:5])}")
        # Numbered migrations from empty, recorded in user_version with the schema change.
        if conn.execute("PRAGMA user_version").fetchone()[0] >= SCHEMA_VERSION:
            return
        self._conn = conn
        self._transaction([*((statement, ()) for statement in SCHEMA),
                           ("INSERT INTO meta VALUES (1, ?, ?, 0)",
                            ("j-" + secrets.token_hex(8), self.door_id)),
                           (f"PRAGMA user_version = {SCHEMA_VERSION}", ())])

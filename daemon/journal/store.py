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
``ResilientJournal`` (``daemon/journal/resilient.py``) queues and retries them.

Losses are on the record too. ``declare_loss`` journals a ``LostRange``
(``daemon/journal/loss.py``) as an ``alarm`` record and keeps it in the ``losses`` table
in the same transaction. At open the journal compares itself with its lineage file
(``daemon/journal/lineage.py``): a file that does not continue the remembered chain is set
aside (renamed, never deleted), a new chain is started, and its first record declares what
was lost of the old one. ``on_loss`` is told of every declaration once it is durable.

Plain ``sqlite3`` rather than sqlite-utils: the append is the hot path of every grant, and
one ``BEGIN IMMEDIATE`` / ``INSERT`` / ``COMMIT`` on a bare connection keeps its cost close
to the one fsync it needs (bench ``journal.append_over_fsync_ratio``).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import secrets
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from doorward.daemon.codec.bundle import Event, make_event
from doorward.daemon.journal.file import SCHEMA_VERSION, JournalError, JournalWriteError, read_head
from doorward.daemon.journal.lineage import open_following, save_lineage
from doorward.daemon.journal.loss import LostRange, read_rows

__all__ = ["SCHEMA_VERSION", "EventJournal", "JournalError", "JournalWriteError", "check_detail",
           "utc_text"]

log = logging.getLogger(__name__)

RETENTION_S_MIN = 120 * 3600
MAX_ACKNOWLEDGED_ROWS_MIN = 500_000
MIN_FREE_BYTES_DEFAULT = 64 * 1024 * 1024
RESERVED_DETAIL = ("event_id", "wall_trusted", "mono_s", "boot_id")
LossListener = Callable[[LostRange], None]


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


def stamped(detail: dict[str, Any], wall_trusted: bool, mono_now: float,
            boot_id: str) -> dict[str, Any]:
    return {**detail, "event_id": secrets.token_hex(16), "wall_trusted": wall_trusted,
            "mono_s": mono_now, "boot_id": boot_id}


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
        self.on_loss: LossListener | None = None  # the door's alarm, once a loss is durable
        self._lock = threading.Lock()
        # What this file lost of the remembered chain: declared by the first append.
        self._conn, self.replaced = open_following(self.path, door_id)
        self._replacement = self.replaced
        self._load_head()

    # ---- writing ----

    def append(self, kind: str, detail: dict[str, Any], *, wall_now: float, wall_trusted: bool,
               mono_now: float, boot_id: str) -> Event:
        """Add one record; when this returns the record is on disk. Raises JournalWriteError."""
        check_detail(detail)
        return self._append(kind, stamped(detail, wall_trusted, mono_now, boot_id), wall_now)

    def declare_loss(self, loss: LostRange, *, wall_now: float, wall_trusted: bool,
                     mono_now: float, boot_id: str) -> Event:
        """Journal that ``loss`` will never be sent: an ``alarm`` record the server raises one
        alarm from, kept in ``losses`` so the upload can name it. Raises JournalWriteError."""
        detail = stamped(loss.record_detail(), wall_trusted, mono_now, boot_id)
        return self._append("alarm", detail, wall_now, loss)

    def acknowledge(self, up_to_seq: int) -> None:
        """The server holds every record up to ``up_to_seq``; they may now be pruned."""
        with self._lock:
            if up_to_seq > self._last_seq:
                raise ValueError(f"{self.path}: cannot acknowledge seq {up_to_seq}, "
                                 f"the journal ends at {self._last_seq}")
            self._write("UPDATE meta SET acked_seq = MAX(acked_seq, ?) WHERE id = 1",
                        (up_to_seq,))
            if self._replacement is None:  # never before the old chain's loss is declared
                self._save_lineage()

    def resend_from(self, seq: int) -> bool:
        """The server lost records from ``seq`` on (it was restored from a backup): mark them
        unacknowledged again so they are sent again. False when pruning already removed
        some of them (the caller declares those lost: they cannot be sent from here)."""
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

    def unacknowledged_rows(self, limit: int) -> tuple[int, list[tuple[int, str]]]:
        """The acknowledged seq and the oldest ``limit`` stored rows after it, read together."""
        with self._lock:
            acked = self._acked_seq()
            rows = self._conn.execute(
                "SELECT seq, record FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
                (acked, limit)).fetchall()
        return acked, rows

    def unacknowledged(self, limit: int) -> list[Event]:
        """The well-formed records among the oldest ``limit`` unacknowledged rows."""
        acked, rows = self.unacknowledged_rows(limit)
        return read_rows(rows, acked, self._journal_id, self.door_id).events

    def events(self, from_seq: int = 1) -> list[Event]:
        """Every stored record from ``from_seq`` on, acknowledged or not (checks, audits)."""
        with self._lock:
            rows = self._conn.execute("SELECT record FROM events WHERE seq >= ? ORDER BY seq",
                                      (from_seq,)).fetchall()
        return [Event.from_dict(json.loads(record)) for (record,) in rows]

    def pending_losses(self) -> list[LostRange]:
        """Declared losses whose declaring record the server has not acknowledged yet."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT journal_id, from_seq, to_seq, reason FROM losses WHERE declared_seq > ?"
                " ORDER BY declared_seq", (self._acked_seq(),)).fetchall()
        return [LostRange(*row) for row in rows]

    def declared(self, journal_id: str, seq: int) -> bool:
        """Whether a declared loss already covers ``seq`` of ``journal_id``."""
        with self._lock:
            return self._conn.execute(
                "SELECT 1 FROM losses WHERE journal_id = ? AND from_seq <= ? AND "
                "(to_seq IS NULL OR to_seq >= ?)", (journal_id, seq, seq)).fetchone() is not None

    def stored_seqs(self, from_seq: int) -> tuple[int | None, int | None]:
        """(oldest stored seq, first stored seq at or after ``from_seq``)."""
        with self._lock:
            return self._conn.execute(
                "SELECT MIN(seq), (SELECT MIN(seq) FROM events WHERE seq >= ?) FROM events",
                (from_seq,)).fetchone()

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

    # ---- appending ----

    def _append(self, kind: str, detail: dict[str, Any], wall_now: float,
                loss: LostRange | None = None) -> Event:
        with self._lock:
            self.check_disk()
            event, declared = self._append_locked(kind, detail, wall_now, loss)
        for lost in declared:  # outside the lock: the listener logs and takes its own lock
            self._tell(lost)
        return event

    def _append_locked(self, kind: str, detail: dict[str, Any], wall_now: float,
                       loss: LostRange | None) -> tuple[Event, list[LostRange]]:
        if self._head_stale:
            self._load_head()
        records: list[tuple[str, dict[str, Any], LostRange | None]] = []
        replacing = self._replacement
        if replacing is not None:  # the new chain's first record names what the old one lost
            records.append(("alarm", {**replacing.record_detail(), **_stamp_of(detail)},
                            replacing))
        records.append((kind, detail, loss))
        event = self._insert(records, wall_now)
        if replacing is not None:
            self._replacement = None
            self._save_lineage()
        return event, [lost for _, _, lost in records if lost is not None]

    def _insert(self, records: list[tuple[str, dict[str, Any], LostRange | None]],
                wall_now: float) -> Event:
        """Chain ``records`` after the head and write them in one transaction."""
        seq, prev_hash, statements = self._last_seq, self._last_hash, []
        for kind, detail, loss in records:
            seq += 1
            event = make_event(door_id=self.door_id, journal_id=self._journal_id, seq=seq,
                               at=utc_text(wall_now), kind=kind, detail=detail,
                               prev_hash=prev_hash)
            record = json.dumps(event.to_dict(), sort_keys=True, separators=(",", ":"))
            statements.append(("INSERT INTO events VALUES (?, ?, ?, ?)",
                               (seq, wall_now, event.hash, record)))
            if loss is not None:
                statements.append(("INSERT INTO losses VALUES (?, ?, ?, ?, ?)",
                                   (seq, loss.journal_id, loss.from_seq, loss.to_seq,
                                    loss.reason)))
            prev_hash = event.hash
        try:
            self._transaction(statements)
        except sqlite3.Error as error:
            self._head_stale = True  # re-read what is on disk before the next attempt
            raise JournalWriteError(
                f"{self.path}: append of {records[-1][0]!r} failed: {error}") from error
        self._last_seq, self._last_hash = seq, prev_hash
        return event

    def _tell(self, lost: LostRange) -> None:
        log.error("%s: %s", self.path, lost.text())
        if self.on_loss is not None:
            try:
                self.on_loss(lost)
            except Exception:  # the declaration is durable; the listener's failure is its own
                log.exception("the journal-loss listener failed")

    # ---- SQLite ----

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
        head = read_head(self._conn, self.path, self.door_id)
        self._journal_id, self._last_seq, self._last_hash = head
        self._head_stale = False

    def _save_lineage(self) -> None:
        save_lineage(self.path, self.door_id, self._journal_id, self._acked_seq())


def _stamp_of(detail: dict[str, Any]) -> dict[str, Any]:
    """The journal's fields for a record written with ``detail``'s: same moment, own id."""
    return {"event_id": secrets.token_hex(16),
            **{name: detail[name] for name in RESERVED_DETAIL if name != "event_id"}}

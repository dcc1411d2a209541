"""The journal as the access path uses it: an append never raises, and nothing is dropped
silently.

Owns ``ResilientJournal``. When an ``EventJournal`` append fails (disk full, I/O error), the
record waits in a bounded memory queue, is retried in order on the next append or ``tick()``,
and ``status()`` reports a journal-failure alarm with the error; the caller's decision stands.
Records keep the wall time of the moment they happened; their sequence numbers are given when
they become durable, so the chain stays gap-free and in order. If the queue is full the newest
records are counted instead of kept, and once the journal works again a
``journal_records_dropped`` record says how many, so even the loss is on the record.
"""

from __future__ import annotations

import collections
import sqlite3
import threading
from dataclasses import dataclass
from typing import Any

from doorward.daemon.codec.bundle import Event
from doorward.daemon.journal.store import EventJournal, JournalError, check_detail

MAX_PENDING_DEFAULT = 10_000


@dataclass(frozen=True)
class PendingRecord:
    kind: str
    detail: dict[str, Any]
    wall_now: float
    wall_trusted: bool
    mono_now: float
    boot_id: str


@dataclass(frozen=True)
class JournalStatus:
    failing: bool  # the journal-failure alarm: the last attempt did not reach the disk
    last_error: str | None
    pending: int  # records held in memory, not yet durable
    dropped: int  # records lost because the memory queue was full (not yet on the record)
    disk_low: bool  # free space under the limit: an alarm, appends still go on
    backlog: int  # durable records the server has not acknowledged


class ResilientJournal:
    """Wraps an ``EventJournal`` so that a failing disk never stops the door deciding."""

    def __init__(self, journal: EventJournal, max_pending: int = MAX_PENDING_DEFAULT) -> None:
        self.journal = journal
        self.max_pending = max_pending
        self._pending: collections.deque[PendingRecord] = collections.deque()
        self._dropped = 0
        self._last_error: str | None = None
        self._last_written: PendingRecord | None = None
        self._lock = threading.Lock()

    def append(self, kind: str, detail: dict[str, Any], *, wall_now: float, wall_trusted: bool,
               mono_now: float, boot_id: str) -> Event | None:
        """Journal a record; the Event once durable, None while it waits in memory."""
        check_detail(detail)
        record = PendingRecord(kind, dict(detail), wall_now, wall_trusted, mono_now, boot_id)
        with self._lock:
            self._enqueue(record)
            written = self._flush()
        return written.get(id(record))

    def tick(self) -> int:
        """Retry waiting records (call it from the daemon's periodic loop); how many went in."""
        with self._lock:
            return len(self._flush())

    def status(self) -> JournalStatus:
        with self._lock:
            return JournalStatus(
                failing=self._last_error is not None, last_error=self._last_error,
                pending=len(self._pending), dropped=self._dropped,
                disk_low=self.journal.disk_low, backlog=self._backlog_or_unknown(),
            )

    def _enqueue(self, record: PendingRecord) -> None:
        if len(self._pending) >= self.max_pending:
            self._dropped += 1
            return
        self._pending.append(record)

    def _flush(self) -> dict[int, Event]:
        """Append waiting records oldest first, stopping at the first failure."""
        written: dict[int, Event] = {}
        while self._pending:
            record = self._pending[0]
            try:
                written[id(record)] = self._append_now(record)
            except (JournalError, OSError) as error:
                self._last_error = str(error)
                return written
            self._pending.popleft()
            self._last_written = record
        self._last_error = None
        self._record_drops()
        return written

    def _append_now(self, record: PendingRecord) -> Event:
        return self.journal.append(record.kind, record.detail, wall_now=record.wall_now,
                                   wall_trusted=record.wall_trusted, mono_now=record.mono_now,
                                   boot_id=record.boot_id)

    def _record_drops(self) -> None:
        if not self._dropped or self._last_written is None:
            return
        # The drop record borrows the times of the newest record written before it.
        drop = PendingRecord("journal_records_dropped", {"count": self._dropped},
                             self._last_written.wall_now, self._last_written.wall_trusted,
                             self._last_written.mono_now, self._last_written.boot_id)
        try:
            self._append_now(drop)
        except (JournalError, OSError) as error:
            self._last_error = str(error)
            return
        self._dropped = 0

    def _backlog_or_unknown(self) -> int:
        try:
            return self.journal.backlog() + len(self._pending)
        except (sqlite3.Error, JournalError):  # a broken disk must not break the report
            return len(self._pending)


"""Reading the event journal from outside the daemon, and checking its chain as it goes.

Owns ``JournalTail``: opens the journal database read-only (SQLite ``mode=ro``, so the
daemon's writes are never blocked), returns the records after the last one it returned,
and checks each against the one before it: the sequence has no gaps and every record's hash
chains to its predecessor's (``bundle.verify_chain``, the same rule the server applies). A
journal pruned of acknowledged records starts at a later sequence; its first stored record
is then taken as the anchor. ``broken`` names the first record that fails: a gap, a record
that does not chain, or one that cannot be read at all (not JSON, not a record), with its
sequence number, never a traceback; when the journal itself declared that record lost
(``daemon/journal/loss.py``), the declaring record is named too.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from pathlib import Path

from doorward.daemon.codec.bundle import GENESIS_HASH, BundleFormatError, Event, verify_chain

JOURNAL_NAMES = ("journal.db", "journal-unpaired.db")
HIDDEN_DETAIL = ("event_id", "mono_s", "boot_id")  # shown by --json only


class JournalTail:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        self._last_seq: int | None = None
        self._last_hash = GENESIS_HASH
        self.count = 0
        self.first_seq: int | None = None
        self.broken: str | None = None
        self._broken_seq = 0

    @classmethod
    def for_state_dir(cls, state_dir: Path) -> JournalTail:
        for name in JOURNAL_NAMES:
            if (state_dir / name).exists():
                return cls(state_dir / name)
        raise FileNotFoundError(f"{state_dir}: no journal ({' or '.join(JOURNAL_NAMES)})")

    def __enter__(self) -> JournalTail:
        return self

    def __exit__(self, *exc: object) -> None:
        self._connection.close()

    def read_new(self) -> list[Event]:
        """The records after the last one returned, up to the first broken one."""
        if self.broken is not None:
            return []
        with contextlib.closing(self._connection.cursor()) as cursor:
            rows = cursor.execute("SELECT seq, record FROM events WHERE seq > ? ORDER BY seq",
                                  (self._last_seq or 0,)).fetchall()
        good: list[Event] = []
        for seq, record in rows:
            event = self._parse(seq, record)
            if event is None or not self._accept(seq, event):
                break
            good.append(event)
        if self.broken is not None:
            self.broken += self._declaration(self._broken_seq)
        return good

    def _parse(self, seq: int, record: str) -> Event | None:
        try:
            data = json.loads(record)
            if not isinstance(data, dict):
                raise ValueError(f"a JSON {type(data).__name__}, not an object")
            return Event.from_dict(data)
        except (ValueError, TypeError, BundleFormatError) as error:
            self._broken_at(seq, f"record {seq} is unreadable ({error})")
            return None

    def _broken_at(self, seq: int, why: str) -> None:
        self.broken, self._broken_seq = why, seq

    def _declaration(self, seq: int) -> str:
        """Which record declared ``seq`` lost, if one did (journals before schema 2: none)."""
        try:
            with contextlib.closing(self._connection.cursor()) as cursor:
                row = cursor.execute(
                    "SELECT declared_seq, reason FROM losses WHERE from_seq <= ? AND "
                    "(to_seq IS NULL OR to_seq >= ?) AND journal_id = "
                    "(SELECT journal_id FROM meta WHERE id = 1) ORDER BY declared_seq LIMIT 1",
                    (seq, seq)).fetchone()
        except sqlite3.Error:
            return ""
        return f"; declared lost ({row[1]}) by record {row[0]}" if row else ""

    def _accept(self, seq: int, event: Event) -> bool:
        if self._last_seq is None:
            self.first_seq = seq
            self._last_hash = event.prev_hash if seq > 1 else GENESIS_HASH
        elif seq != self._last_seq + 1:
            self._broken_at(self._last_seq + 1, f"gap: record {seq} follows {self._last_seq}")
            return False
        if event.seq != seq or not self._chains(event):
            self._broken_at(seq, f"record {seq} does not chain to record {self._last_seq}")
            return False
        self._last_seq, self._last_hash = seq, event.hash
        self.count += 1
        return True

    def _chains(self, event: Event) -> bool:
        try:
            return verify_chain([event], self._last_hash) is None
        except (ValueError, TypeError):  # fields of the wrong type cannot even be hashed
            return False

    def summary(self) -> str:
        span = (f"seq {self.first_seq}..{self._last_seq}" if self._last_seq is not None
                else "no records")
        if self.broken is not None:
            return f"journal {self.path}: CHAIN BROKEN: {self.broken} ({self.count} good, {span})"
        return f"journal {self.path}: chain OK, {self.count} records ({span})"


def format_event(event: Event) -> str:
    detail = {k: v for k, v in event.detail.items() if k not in HIDDEN_DETAIL}
    shown = " ".join(f"{k}={json.dumps(v)}" for k, v in sorted(detail.items()))
    return f"{event.seq:>7} {event.at} {event.kind:<18} {shown}"

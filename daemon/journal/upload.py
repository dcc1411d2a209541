"""The journal as the event uploader reads it: only records that can be sent, and every
record that cannot be sent declared lost, once.

Owns ``UploadFeed``, the sync client's ``JournalFeed`` over an ``EventJournal``.
``unacknowledged`` returns the well-formed records after the acknowledged sequence; a
missing or unreadable row among them is a hole, which it declares (``declare_loss``: an
``alarm`` record in the chain, the door's alarm, and a ``losses`` row the upload names to
the server) unless a declaration already covers it. So a deleted or corrupt record never
stalls the records behind it, and never passes unnoticed. ``resolve_gap`` answers a 409:
records the server lost (a restore) are sent again from the journal, those the journal
no longer holds are declared lost; it returns False when nothing it could do would change
the server's answer. ``stamp`` gives the wall time, its trust, monotonic time and the boot
id for a declaration (the service's ``ServiceJournal.stamp``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from doorward.daemon.codec.bundle import Event
from doorward.daemon.journal.store import EventJournal
from doorward.daemon.journal.loss import MISSING, PRUNED, LostRange, read_rows

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Stamp:
    wall_now: float
    wall_trusted: bool
    mono_now: float
    boot_id: str


class UploadFeed:
    def __init__(self, journal: EventJournal, stamp: Callable[[], Stamp],
                 on_chain_break: Callable[[int, str], None] = lambda seq, why: None) -> None:
        self._journal, self._stamp = journal, stamp
        self._on_chain_break = on_chain_break  # a record that does not hash: sent, and said
        self._chain_breaks_told: set[int] = set()

    @property
    def journal_id(self) -> str:
        return self._journal.journal_id

    def unacknowledged(self, limit: int) -> list[Event]:
        """The next records to send, oldest first; holes among them declared on the way."""
        acked, rows = self._journal.unacknowledged_rows(limit)
        read = read_rows(rows, acked, self.journal_id, self._journal.door_id)
        for hole in read.holes:
            if not self._journal.declared(hole.journal_id, hole.from_seq):
                self._declare(hole)
        for seq in read.self_hash_broken:
            if seq not in self._chain_breaks_told:
                self._chain_breaks_told.add(seq)
                self._on_chain_break(seq, "its hash does not match its content")
        return read.events

    def acknowledge(self, up_to_seq: int) -> None:
        self._journal.acknowledge(up_to_seq)

    def pending_losses(self) -> list[LostRange]:
        return self._journal.pending_losses()

    def resolve_gap(self, expected_seq: int) -> bool:
        """The server holds this journal up to ``expected_seq - 1`` and refused a later record."""
        if expected_seq <= self._journal.acknowledged_seq():
            return self._resend(expected_seq)
        if self._journal.declared(self.journal_id, expected_seq):
            return False  # declared, and still refused: only the server can explain
        _, first_stored = self._journal.stored_seqs(expected_seq)
        if first_stored == expected_seq:
            return False  # held and sent: the server refuses it for a reason of its own
        last = first_stored - 1 if first_stored is not None else self._journal.last_seq()
        if last < expected_seq:
            return False  # the server expects a record this journal has not written
        self._declare(LostRange(self.journal_id, expected_seq, last, MISSING))
        return True

    def _resend(self, expected_seq: int) -> bool:
        """A server restored from a backup lost records it had acknowledged."""
        if self._journal.resend_from(expected_seq):
            return True
        oldest, _ = self._journal.stored_seqs(expected_seq)
        if oldest is None or oldest <= expected_seq:
            return False
        if not self._journal.declared(self.journal_id, expected_seq):
            self._declare(LostRange(self.journal_id, expected_seq, oldest - 1, PRUNED))
        return self._journal.resend_from(oldest)

    def _declare(self, loss: LostRange) -> None:
        stamp = self._stamp()
        self._journal.declare_loss(loss, wall_now=stamp.wall_now, wall_trusted=stamp.wall_trusted,
                                   mono_now=stamp.mono_now, boot_id=stamp.boot_id)

"""The door's journal as every part of the door uses it: one object, one ``append``.

Owns ``DoorJournal``, the facade over the journal's parts: the durable, hash-chained
``EventJournal`` (``store``), the ``ResilientJournal`` that keeps an append from ever failing
the access path (``resilient``), and the ``UploadFeed`` the sync client reads (``upload``).
``append(kind, detail)`` stamps each record with the wall time, whether it is trusted,
monotonic time and the boot id (``stamp``, handed in by the runtime), then tells the
listeners (the uploader's wake-up, the status file's last decisions). Nobody outside this
package reaches past it to the parts.

Every method may be called from any thread; listeners must not block (they queue or set
events), since the controller calls ``append`` on its own thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from doorward.daemon.journal.loss import LostRange
from doorward.daemon.journal.resilient import JournalStatus, ResilientJournal
from doorward.daemon.journal.store import EventJournal
from doorward.daemon.journal.upload import Stamp, UploadFeed

log = logging.getLogger(__name__)

JournalListener = Callable[[str, dict[str, Any]], None]


class DoorJournal:
    def __init__(self, store: EventJournal, stamp: Callable[[], Stamp], *, max_pending: int,
                 on_loss: Callable[[LostRange], None] = lambda loss: None,
                 on_chain_break: Callable[[int, str], None] = lambda seq, why: None) -> None:
        store.on_loss = on_loss  # before any append: a wiped journal declares itself at once
        self._store, self._stamp = store, stamp
        self._resilient = ResilientJournal(store, max_pending)
        self.feed = UploadFeed(store, stamp, on_chain_break)
        self._listeners: list[JournalListener] = []

    @property
    def journal_id(self) -> str:
        return self._store.journal_id

    def listen(self, listener: JournalListener) -> None:
        self._listeners.append(listener)

    def append(self, kind: str, detail: dict[str, Any]) -> None:
        """Journal a record now (or, while the disk fails, as soon as it takes it again)."""
        stamp = self._stamp()
        self._resilient.append(kind, detail, wall_now=stamp.wall_now,
                               wall_trusted=stamp.wall_trusted, mono_now=stamp.mono_now,
                               boot_id=stamp.boot_id)
        for listener in self._listeners:
            try:
                listener(kind, detail)
            except Exception:  # a status listener must never fail a journal append
                log.exception("journal listener failed on %s", kind)

    def status(self) -> JournalStatus:
        return self._resilient.status()

    def retry(self) -> int:
        """Write the records that wait in memory (the supervision loop, every second)."""
        return self._resilient.tick()

    def check_disk(self) -> bool:
        return self._store.check_disk()

    def prune(self, wall_now: float) -> int:
        return self._store.prune(wall_now)

    def close(self) -> None:
        self._store.close()

"""The door's storage incident: a failing journal or a low disk, once per incident.

Owns ``StorageWatch``, a supervision step. It refreshes the journal's free-space check (so
``disk_low`` also clears when nothing is being appended), and on every change between "well"
and "in trouble" it journals one ``storage`` record (held in memory and written once the
disk takes it again, like every record), sends a heartbeat at once and, on recovery, wakes
the bundle poller so a bundle whose apply failed for lack of space is fetched again now.

The alarm itself is the server's: the heartbeat carries the journal's state (it is never
journalled, so it leaves a door whose disk is full) and the server raises one
``door_storage`` alarm per incident and clears it when the door reports well again
(``server/domain/events.py``). So ``storage`` is no alarm kind, and one incident is one alarm.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from doorward.daemon.journal.door_journal import DoorJournal

log = logging.getLogger(__name__)


class StorageWatch:
    def __init__(self, journal: DoorJournal, report_now: Callable[[], None],
                 on_recovered: Callable[[], None]) -> None:
        self._journal, self._report_now, self._on_recovered = journal, report_now, on_recovered
        self._trouble = False

    def tick(self, mono_now: float | None = None) -> None:
        self._journal.check_disk()
        status = self._journal.status()
        trouble = status.failing or status.disk_low
        if trouble == self._trouble:
            return
        self._trouble = trouble
        detail = {"state": "trouble" if trouble else "well", "journal_failing": status.failing,
                  "disk_low": status.disk_low, "pending": status.pending,
                  "error": status.last_error}
        (log.error if trouble else log.warning)("door storage: %s", detail)
        self._journal.append("storage", detail)
        self._report_now()
        if not trouble:
            self._on_recovered()

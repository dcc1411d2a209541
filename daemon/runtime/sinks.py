"""The service's adapters between the controller, the reader and the durable journal.

Owns ``ServiceJournal`` (the controller's ``JournalSink``: binds wall time, whether it is
trusted, monotonic time and the boot id to each ``ResilientJournal`` append, then tells its
listeners, e.g. the sync client's ``events_journalled``; ``stamp()`` gives the same fields
to the upload's loss declarations), ``ServiceAlarms`` (the ``AlarmSink``: every alarm is
journalled as ``("alarm", {"alarm": kind, "detail": ...})``, which the server turns into an
alarm for its webhook and syslog; ``journal_loss`` and ``journal_chain_break`` are the
journal's own alarms, already on the record, so they are only logged and listed), ``DeclaredClock`` (the
controller's ``ClockEdge``: synchronised when ``[clock]`` declares an RTC or
``assume_synchronised``), ``RecentDecisions`` (the status file's last decisions, reason codes
only, never user or finger ids) and ``read_boot_id``.

Every method may be called from any thread; listeners must not block (they queue or set
events), since the controller calls ``append`` on its own thread.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from doorward.daemon.runtime.clock import ClockEdge, TimeTrust
from doorward.daemon.journal.store import utc_text
from doorward.daemon.journal.loss import LOSS_ALARM, LostRange
from doorward.daemon.journal.resilient import ResilientJournal
from doorward.daemon.journal.upload import Stamp
from doorward.daemon.controller.sinks import kind_text

log = logging.getLogger(__name__)

BOOT_ID_PATH = Path("/proc/sys/kernel/random/boot_id")
ALARM_CHAIN_BREAK = "journal_chain_break"
DECISION_KINDS = ("access_granted", "access_denied", "scan_ignored")
JournalListener = Callable[[str, dict[str, Any]], None]


def read_boot_id(path: Path = BOOT_ID_PATH) -> str:
    """The kernel's boot id: monotonic times in the journal compare only within one boot."""
    try:
        return path.read_text().strip()
    except OSError:
        return "unknown"


class DeclaredClock:
    """The wall clock as the controller sees it: the kernel's sync flag, unless ``[clock]``
    declares an RTC or ``assume_synchronised`` (labs and CI)."""

    def __init__(self, edge: ClockEdge, declared_synchronised: bool) -> None:
        self._edge, self._declared = edge, declared_synchronised

    def wall_now(self) -> float:
        return self._edge.wall_now()

    def kernel_synchronised(self) -> bool:
        return self._declared or self._edge.kernel_synchronised()


class ServiceJournal:
    """``append(kind, detail)`` for the controller, with the journal's extra fields bound."""

    def __init__(self, journal: ResilientJournal, trust: TimeTrust, boot_id: str) -> None:
        self.journal, self._trust, self._boot_id = journal, trust, boot_id
        self._listeners: list[JournalListener] = []

    def listen(self, listener: JournalListener) -> None:
        self._listeners.append(listener)

    def stamp(self) -> Stamp:
        reading = self._trust.read()
        return Stamp(reading.wall_now, reading.trusted, time.monotonic(), self._boot_id)

    def append(self, kind: str, detail: dict[str, Any]) -> None:
        reading = self._trust.read()
        self.journal.append(kind, detail, wall_now=reading.wall_now, wall_trusted=reading.trusted,
                            mono_now=time.monotonic(), boot_id=self._boot_id)
        for listener in self._listeners:
            try:
                listener(kind, detail)
            except Exception:  # a status or LED listener must never fail a journal append
                log.exception("journal listener failed on %s", kind)


class ServiceAlarms:
    """The controller's and reader's ``AlarmSink``: logged, journalled, remembered."""

    def __init__(self, journal: ServiceJournal, keep: int = 20) -> None:
        self._journal = journal
        self._recent: collections.deque[dict[str, Any]] = collections.deque(maxlen=keep)
        self._lock = threading.Lock()

    def raise_alarm(self, kind: object, detail: object) -> None:
        text = kind_text(kind)
        self._note(text, detail)
        try:
            self._journal.append("alarm", {"alarm": text, "detail": str(detail)})
        except Exception:  # ResilientJournal never raises for IO; this is a caller mistake
            log.exception("alarm %s could not be journalled", text)

    def journal_loss(self, loss: LostRange) -> None:
        """The journal declared ``loss`` (its record goes up and is the server's alarm)."""
        self._note(LOSS_ALARM, loss.text())

    def chain_break(self, seq: int, why: str) -> None:
        """A stored record fails its own hash: it is sent as it is, the server flags it."""
        self._note(ALARM_CHAIN_BREAK, f"journal record {seq}: {why}")

    def _note(self, kind: str, detail: object) -> None:
        log.warning("alarm %s: %s", kind, detail)
        with self._lock:
            self._recent.append({"alarm": kind, "at": utc_text(time.time())})

    def recent(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._recent)


class RecentDecisions:
    """The last decisions for the status file: when, which kind, which reason, claim kind."""

    def __init__(self, keep: int = 10) -> None:
        self._items: collections.deque[dict[str, Any]] = collections.deque(maxlen=keep)
        self._lock = threading.Lock()

    def __call__(self, kind: str, detail: dict[str, Any]) -> None:
        if kind not in DECISION_KINDS:
            return
        entry = {"at": utc_text(time.time()), "kind": kind, "reason": detail.get("reason"),
                 "claim": detail.get("claim")}  # no user, finger or page: nothing to name
        with self._lock:
            self._items.append(entry)

    def items(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._items)

"""The service's small adapters around the controller, the reader and the journal.

Owns ``stamper`` (what each journal record is stamped with: wall time, whether it is trusted,
monotonic time and the boot id), ``ServiceAlarms`` (the ``AlarmSink``: every alarm is logged,
listed for the status file and journalled as its ``Alarm.record()``, which the server turns
into one alarm for its webhook and syslog; ``journal_loss`` and ``journal_chain_break`` are
the journal's own, already on the record, so they are only logged and listed),
``DecisionLog`` (one log line per access decision), ``DeclaredClock`` (the controller's
``ClockEdge``: synchronised when ``[clock]`` declares an RTC or ``assume_synchronised``), ``RecentDecisions`` (the status file's last decisions,
reason codes only, never user or finger ids) and ``read_boot_id``.

Every method may be called from any thread.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from doorward.daemon.controller.clock import ClockEdge, TimeTrust
from doorward.daemon.journal.store import utc_text
from doorward.daemon.codec.alarms import Alarm, AlarmKind
from doorward.daemon.controller.sinks import JournalSink
from doorward.daemon.journal.loss import LostRange
from doorward.daemon.journal.upload import Stamp

log = logging.getLogger(__name__)

BOOT_ID_PATH = Path("/proc/sys/kernel/random/boot_id")
DECISION_KINDS = ("access_granted", "access_denied", "scan_ignored")


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


def stamper(trust: TimeTrust, boot_id: str) -> Callable[[], Stamp]:
    """What each journal record is stamped with: wall time, its trust, monotonic time, boot."""
    def stamp() -> Stamp:
        reading = trust.read()
        return Stamp(reading.wall_now, reading.trusted, time.monotonic(), boot_id)

    return stamp


class ServiceAlarms:
    """The controller's and reader's ``AlarmSink``: logged, journalled, remembered."""

    def __init__(self, journal: JournalSink, door: str, keep: int = 20) -> None:
        self._journal, self._door = journal, door
        self._recent: collections.deque[dict[str, Any]] = collections.deque(maxlen=keep)
        self._lock = threading.Lock()

    def raise_alarm(self, alarm: Alarm) -> None:
        self._note(alarm.kind.value, alarm.detail)
        try:
            self._journal.append(*alarm.record())
        except Exception:  # the journal never raises for IO; this is a caller mistake
            log.exception("alarm %s could not be journalled", alarm.kind.value)

    def journal_loss(self, loss: LostRange) -> None:
        """The journal declared ``loss`` (its record goes up and is the server's alarm)."""
        self._note(AlarmKind.JOURNAL_LOSS.value, loss.text())

    def chain_break(self, seq: int, why: str) -> None:
        """A stored record fails its own hash: it is sent as it is, the server flags it."""
        self._note(AlarmKind.JOURNAL_CHAIN_BREAK.value, f"journal record {seq}: {why}")

    def _note(self, kind: str, detail: object) -> None:
        log.warning("alarm %s at door %s: %s", kind, self._door, detail)
        with self._lock:
            self._recent.append({"alarm": kind, "at": utc_text(time.time())})

    def recent(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._recent)


class DecisionLog:
    """A journal listener: one INFO line per access decision, naming the door, the opaque user
    id (never a name: the door knows none), the outcome and the reason code. It is what
    ``journalctl -u doorward`` shows of the door's work; ignored scans are not decisions."""

    def __init__(self, door: str, logger: logging.Logger = log) -> None:
        self._door, self._log = door, logger

    def __call__(self, kind: str, detail: dict[str, Any]) -> None:
        if kind not in ("access_granted", "access_denied"):
            return
        outcome = "granted" if kind == "access_granted" else "denied"
        self._log.info("door %s: %s user=%s reason=%s", self._door, outcome,
                       detail.get("user") or "-", detail.get("reason"))


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

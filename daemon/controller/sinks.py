"""What plugs into the controller later, as interfaces, with simple in-memory versions.

Owns the ``JournalSink``, ``AlarmSink`` and ``ClockEdge`` protocols, the controller's own alarm
kinds (``ControllerAlarm``), and ``MemoryJournal``, ``MemoryAlarms``, and ``ManualWallClock``:
enough for tests and the demo until the durable journal and the alarm delivery plug in.

- ``JournalSink.append(kind, detail)`` returns once the entry is durable; ``detail`` is a
  JSON-able dict of opaque ids, reason codes and numbers. The controller calls it for an access
  decision BEFORE it moves the relay, so a granted entry is never lost behind an open door; a
  journal that raises is reported as an alarm and the door carries on. (``EventJournal`` also
  wants wall and monotonic time and the boot id: the service binds those in a small adapter.)
- ``AlarmSink.raise_alarm(kind, detail)``: forced, held, duress, tamper, offline grace, and the
  controller's own faults. Duress is delivered here only, never shown at the door.
- ``ClockEdge``: wall time (epoch seconds, for schedules and timestamps only) and whether the
  kernel reports the clock synchronised; the same two methods as ``doorward.daemon.runtime.clock.ClockEdge``,
  so its ``SystemClock`` plugs in. With a declared RTC the service passes an edge that says
  synchronised. Durations never use it.

Imports only the standard library.
"""

from __future__ import annotations

import enum
import threading
import time
from typing import Any, Callable, Protocol


class JournalSink(Protocol):
    def append(self, kind: str, detail: dict[str, Any]) -> None: ...


class AlarmSink(Protocol):
    def raise_alarm(self, kind: str, detail: str) -> None: ...


class ClockEdge(Protocol):
    def wall_now(self) -> float: ...
    def kernel_synchronised(self) -> bool: ...


class ControllerAlarm(str, enum.Enum):
    """Alarms the controller raises about itself (the decision and door raise ``AlarmKind``)."""

    JOURNAL_FAILED = "journal_failed"  # an entry may be lost; the door kept working
    CONTROLLER_FAULT = "controller_fault"  # an event handler failed; the relay was made safe
    RELAY_UNSAFE = "relay_unsafe"  # the relay could not be driven to its safe level


def kind_text(kind: object) -> str:
    """An alarm or journal kind as its stable string (``AlarmKind.TAMPER`` -> ``"tamper"``)."""
    return str(kind.value) if isinstance(kind, enum.Enum) else str(kind)


class MemoryJournal:
    """Entries in a list; ``observe`` (optional) adds a field read at append time, which is
    how a test proves the relay had not moved yet when a grant was journalled."""

    def __init__(self, observe: Callable[[], object] | None = None) -> None:
        self.entries: list[tuple[str, dict[str, Any], object]] = []
        self._observe = observe
        self._lock = threading.Lock()

    def append(self, kind: str, detail: dict[str, Any]) -> None:
        seen = self._observe() if self._observe is not None else None
        with self._lock:
            self.entries.append((kind, detail, seen))

    def kinds(self) -> list[str]:
        with self._lock:
            return [kind for kind, _, _ in self.entries]


class MemoryAlarms:
    """Alarms in a list, each stamped with the monotonic time it was raised."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.raised: list[tuple[float, str, str]] = []
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)

    def raise_alarm(self, kind: str, detail: str) -> None:
        with self._lock:
            self.raised.append((self._monotonic(), kind_text(kind), detail))
            self._changed.notify_all()

    def kinds(self) -> list[str]:
        with self._lock:
            return [kind for _, kind, _ in self.raised]

    def wait_for(self, kind: str, timeout_s: float) -> float | None:
        """The monotonic time of the first alarm of ``kind``, waiting up to ``timeout_s``."""
        def first() -> float | None:
            return next((at for at, k, _ in self.raised if k == kind_text(kind)), None)

        with self._lock:
            self._changed.wait_for(lambda: first() is not None, timeout=timeout_s)
            return first()


class ManualWallClock:
    """A wall clock a test sets and jumps, synchronised or not as the test says."""

    def __init__(self, wall_s: float, synchronised: bool = True) -> None:
        self.wall_s, self._synchronised = wall_s, synchronised

    def wall_now(self) -> float:
        return self.wall_s

    def kernel_synchronised(self) -> bool:
        return self._synchronised

    def set_synchronised(self, synchronised: bool) -> None:
        self._synchronised = synchronised

    def jump(self, delta_s: float) -> None:
        self.wall_s += delta_s


"""What plugs into the controller, as interfaces, with the in-memory versions that ship beside them.

Owns the ``JournalSink`` and ``AlarmSink`` protocols and ``MemoryJournal`` and
``MemoryAlarms`` (tests and benchmarks use them the way gpiozero's mock pins are used: the fake
ships beside the interface). The wall clock's edge and its fake live in
``doorward.daemon.controller.clock``.

- ``JournalSink.append(kind, detail)`` returns once the entry is durable; ``detail`` is a
  JSON-able dict of opaque ids, reason codes and numbers. The controller calls it for an access
  decision BEFORE it moves the relay, so a granted entry is never lost behind an open door; a
  journal that raises is reported as an alarm and the door carries on.
- ``AlarmSink.raise_alarm(alarm)``: an ``Alarm`` of the one vocabulary
  (``doorward.daemon.codec.alarms``). Duress is delivered here only, never shown at the door.

Imports only the standard library and the codec.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Protocol

from doorward.daemon.codec.alarms import Alarm, AlarmKind


class JournalSink(Protocol):
    def append(self, kind: str, detail: dict[str, Any]) -> None: ...


class AlarmSink(Protocol):
    def raise_alarm(self, alarm: Alarm) -> None: ...


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
        self.raised: list[tuple[float, str, str]] = []  # (monotonic time, kind, detail)
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)

    def raise_alarm(self, alarm: Alarm) -> None:
        with self._lock:
            self.raised.append((self._monotonic(), alarm.kind.value, alarm.detail))
            self._changed.notify_all()

    def kinds(self) -> list[str]:
        with self._lock:
            return [kind for _, kind, _ in self.raised]

    def wait_for(self, kind: AlarmKind | str, timeout_s: float) -> float | None:
        """The monotonic time of the first alarm of ``kind``, waiting up to ``timeout_s``."""
        wanted = AlarmKind(kind).value

        def first() -> float | None:
            return next((at for at, k, _ in self.raised if k == wanted), None)

        with self._lock:
            self._changed.wait_for(lambda: first() is not None, timeout=timeout_s)
            return first()

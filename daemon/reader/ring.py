"""The R503's ring LED: idle, granted, denied, and waiting for a second person.

Owns ``RingLed``. It listens to the journal (the controller journals every decision before
the relay moves), picks a pattern from the decision and queues one AuraLedConfig on the
reader (``Reader.set_led``: an LED job, behind the scan in progress, never interleaved with
it); ``tick`` returns the ring to idle once the pattern's time is up. Patterns use the
R503 V1.1 colours (red, blue, purple) where they can, since V1.1 modules know only those
three; granted is green (V1.2), and a V1.1 module that refuses it is only logged.

Only on the R503 (``module.model``): optical modules have no ring, and the aura command
confuses some of them (protocol sheet, section 2.4 notes).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

log = logging.getLogger(__name__)

# name -> AuraLedConfig (control, speed, colour, count). Control: 1 breathing, 2 flashing,
# 3 always on. Colour: 1 red, 2 blue, 3 purple, 4 green.
PATTERNS: dict[str, tuple[int, int, int, int]] = {
    "idle": (1, 200, 2, 0),  # slow blue breathing: ready for a finger
    "granted": (3, 0, 4, 0),  # steady green while the door is unlocked
    "denied": (2, 25, 1, 3),  # three quick red flashes
    "waiting": (2, 100, 3, 0),  # slow purple flashing: a second person must scan
}
DENIED_HOLD_S = 1.5
WAITING_REASON = "waiting_second_person"

SetLed = Callable[[int, int, int, int], "Future | None"]


class RingLed:
    def __init__(self, set_led: SetLed, hold_s: Callable[[str], float],
                 monotonic: Callable[[], float]) -> None:
        self._set_led, self._hold_s, self._monotonic = set_led, hold_s, monotonic
        self._lock = threading.Lock()
        self.showing: str | None = None
        self._until_mono: float | None = None

    def on_journal(self, kind: str, detail: dict[str, Any]) -> None:
        """A journal listener: decisions change the ring."""
        if kind == "access_granted":
            self.show("granted", self._hold_s("granted"))
        elif kind == "access_denied":
            waiting = detail.get("reason") == WAITING_REASON
            self.show("waiting" if waiting else "denied",
                      self._hold_s("waiting") if waiting else DENIED_HOLD_S)

    def idle(self) -> None:
        self.show("idle", None)

    def tick(self) -> None:
        with self._lock:
            due = self._until_mono is not None and self._monotonic() >= self._until_mono
        if due:
            self.idle()

    def show(self, name: str, hold_s: float | None) -> None:
        with self._lock:
            self.showing = name
            self._until_mono = None if hold_s is None else self._monotonic() + hold_s
        future = self._set_led(*PATTERNS[name])
        if future is not None:
            future.add_done_callback(lambda done, n=name: _log_refusal(done, n))


def _log_refusal(future: Future, name: str) -> None:
    if future.cancelled():
        return
    error = future.exception()
    if error is not None:
        log.info("ring LED pattern %s not shown: %s", name, error)

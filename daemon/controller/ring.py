"""The R503's ring LED: idle, granted, denied, and waiting for a second person.

Owns ``RingLed``, the controller's ``RingOutput``: the door state machine says what the door
shows (``Ring`` actions, beside the status LED and the buzzer, with how long each pattern is
held), and ``show`` queues one AuraLedConfig on the reader (``Reader.set_led``: an LED job,
behind the scan in progress, never interleaved with it). Patterns use the R503 V1.1 colours
(red, blue, purple) where they can, since V1.1 modules know only those three; granted is
green (V1.2), and a V1.1 module that refuses it is only logged.

Only on the R503 (``module.model``): optical modules have no ring, and the aura command
confuses some of them (protocol sheet, section 2.4 notes).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future

from doorward.daemon.door.types import LedPattern

log = logging.getLogger(__name__)

# pattern -> AuraLedConfig (control, speed, colour, count). Control: 1 breathing, 2 flashing,
# 3 always on. Colour: 1 red, 2 blue, 3 purple, 4 green.
AURA: dict[LedPattern, tuple[int, int, int, int]] = {
    LedPattern.IDLE: (1, 200, 2, 0),  # slow blue breathing: ready for a finger
    LedPattern.GRANTED: (3, 0, 4, 0),  # steady green while the door is unlocked
    LedPattern.DENIED: (2, 25, 1, 3),  # three quick red flashes
    LedPattern.WAITING: (2, 100, 3, 0),  # slow purple flashing: a second person must scan
}

SetLed = Callable[[int, int, int, int], "Future | None"]


class RingLed:
    def __init__(self, set_led: SetLed) -> None:
        self._set_led = set_led
        self.showing: LedPattern | None = None

    def show(self, pattern: LedPattern) -> None:
        aura = AURA.get(pattern)
        if aura is None:  # the status LED's own patterns (reader offline) have no ring twin
            return
        self.showing = pattern
        future = self._set_led(*aura)
        if future is not None:
            future.add_done_callback(lambda done, p=pattern: _log_refusal(done, p))


def _log_refusal(future: Future, pattern: LedPattern) -> None:
    if future.cancelled():
        return
    error = future.exception()
    if error is not None:
        log.info("ring LED pattern %s not shown: %s", pattern.value, error)

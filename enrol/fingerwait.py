"""Waiting for the person: a finger placed on the glass, and lifted again.

Owns ``FingerWaiter``. The module has no "finger placed" event on the UART, so it is polled:
GenImg (or the R503's GetImageEx) answers "no finger" at once on empty glass (protocol sheet,
section 9.2), and a capture when a finger is there. Every wait is on a stop event, so a
cancel from the page or a shutdown ends it within one poll, and every wait has a deadline on
``time.monotonic()`` so a person who walked away frees the module.

Runs inside a reader job (the module thread); module errors propagate.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from doorward.drivers.r30x.results import Image
from doorward.enrol.progress import Cancelled, EnrolmentFailed


@dataclass(frozen=True)
class WaitSettings:
    poll_s: float = 0.05  # between two polls of empty glass (no finger: a 24-byte exchange)
    place_timeout_s: float = 90.0  # a person who walked away
    lift_timeout_s: float = 30.0


class FingerWaiter:
    def __init__(self, stop: threading.Event, settings: WaitSettings = WaitSettings(),
                 clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self._stop, self._settings, self._clock = stop, settings, clock

    def capture(self, take: Callable[[], Image]) -> Image:
        """Poll ``take`` (GenImg or GetImageEx) until a finger gives TAKEN or POOR."""
        deadline = self._clock() + self._settings.place_timeout_s
        while (image := take()) is Image.NO_FINGER:
            self._pause(deadline)
        return image

    def lifted(self, take: Callable[[], Image]) -> None:
        """Poll until the glass is empty."""
        deadline = self._clock() + self._settings.lift_timeout_s
        while take() is not Image.NO_FINGER:
            self._pause(deadline)

    def _pause(self, deadline: float) -> None:
        if self._stop.wait(self._settings.poll_s):
            raise Cancelled()
        if self._clock() >= deadline:
            raise EnrolmentFailed("timed_out")

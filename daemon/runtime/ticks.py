"""The service's supervision thread: the periodic work that is nobody else's loop.

Owns ``SupervisionLoop``. Every ``TICK_S`` (or at once when woken): module supervision
(``daemon/runtime/supervision.py``), the ring LED's return to idle, a bundle still waiting for the
module's identity. Every second: a read-back of the relay line (the GPIO's proof of life for
the watchdog, and what the status file shows), the journal's retry of records it could not
write, the storage incident check (``daemon/runtime/storage_watch.py``), the clock anchor file
(``daemon/storage/boot_anchor.py``), and the clock: a change of the kernel's sync flag or of trust is posted to the
controller as ``ClockTrustChanged``, and a sync status that cannot be read at all is an
alarm, once. Every hour: the journal's pruning of acknowledged records.

Each step runs under its own guard: a failure is logged and the loop goes on, and the loop
records its own liveness first, so only a loop that is really stuck stops the watchdog.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from doorward.daemon.controller.events import ClockTrustChanged

if TYPE_CHECKING:
    from doorward.daemon.runtime.service import DoorService

log = logging.getLogger(__name__)

TICK_S = 0.1
SLOW_TICK_S = 1.0
PRUNE_EVERY_S = 3600.0
ALARM_CLOCK_STATUS = "clock_status_unknown"


class SupervisionLoop:
    def __init__(self, service: DoorService) -> None:
        self._service = service
        self._stopping, self._wake = threading.Event(), threading.Event()
        self._thread: threading.Thread | None = None
        self._next_slow_mono = 0.0
        self._next_prune_mono = time.monotonic() + 60.0
        self._clock_seen: tuple[bool, bool] | None = None
        self._clock_alarmed = False

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="doorward-supervision",
                                        daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout_s: float) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _run(self) -> None:
        while not self._stopping.is_set():
            now = time.monotonic()
            self._service.liveness.supervision_mono = now
            self._fast(now)
            if now >= self._next_slow_mono:
                self._next_slow_mono = now + SLOW_TICK_S
                self._slow(now)
            self._wake.wait(TICK_S)
            self._wake.clear()

    def _fast(self, now: float) -> None:
        service = self._service
        _guarded("module supervision", service.supervisor.tick, now)
        if service.ring is not None:
            _guarded("ring LED", service.ring.tick)
        if service.applier is not None and service.applier.waiting:
            _guarded("waiting bundle", service.applier.retry)

    def _slow(self, now: float) -> None:
        _guarded("GPIO read-back", self._probe_gpio)
        _guarded("journal retry", self._service.journal.journal.tick)
        _guarded("storage check", self._service.storage.tick)
        _guarded("clock check", self._check_clock)
        _guarded("clock anchor", self._anchor_clock, now)
        if now >= self._next_prune_mono:
            self._next_prune_mono = now + PRUNE_EVERY_S
            _guarded("journal prune", self._prune)

    def _probe_gpio(self) -> None:
        liveness = self._service.liveness
        try:
            liveness.relay_read_energised = self._service.hardware.relay_energised()
        except Exception as error:  # a stalled hub or a dead GPIO chip: no watchdog pings
            text = f"{type(error).__name__}: {error}"
            if text != liveness.gpio_error:
                log.error("the relay line cannot be read back: %s", text)
            liveness.gpio_error = text
            return
        liveness.gpio_ok_mono, liveness.gpio_error = time.monotonic(), None

    def _check_clock(self) -> None:
        service = self._service
        reading = service.trust.read()
        seen = (reading.trusted, service.clock.kernel_synchronised())
        if seen != self._clock_seen:
            self._clock_seen = seen
            service.controller.post(ClockTrustChanged())
            service.wake()
        if reading.alarm and not self._clock_alarmed:
            self._clock_alarmed = True
            service.alarms.raise_alarm(ALARM_CLOCK_STATUS, reading.alarm)
        elif not reading.alarm:
            self._clock_alarmed = False

    def _anchor_clock(self, now: float) -> None:
        reading = self._service.trust.read()
        self._service.anchors.observe(reading.trusted, reading.wall_now, now)

    def _prune(self) -> None:
        journal = self._service.journal.journal.journal
        pruned = journal.prune(time.time())
        if pruned:
            log.info("journal: %d acknowledged records pruned", pruned)


def _guarded(what: str, step: Callable[..., object], *args: object) -> None:
    try:
        step(*args)
    except Exception:
        log.exception("supervision step failed: %s", what)

"""The service's supervision thread: the periodic work that is nobody else's loop.

Owns ``SupervisionLoop`` and ``ClockWatch``. The loop runs the steps it is given: the fast
ones every ``TICK_S`` or at once when woken (module supervision, a bundle still waiting for
the module's identity), the slow ones every second (the relay's read-back, the journal's
retry of records it could not write, the storage watch, the clock), and the hourly ones (the
journal's pruning of acknowledged records). Each step runs under its own guard: a failure
is logged and the loop goes on, and the loop tells ``on_pass`` its liveness first, so only
a loop that is really stuck stops the watchdog. It knows nothing of the service: the
composition root hands it the steps.

``ClockWatch`` is the clock's slow step: a change of the kernel's sync flag or of trust is
posted to the controller as ``ClockTrustChanged``; a sync status that cannot be read at all
is an alarm, once; every trusted reading goes to the anchor file.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from doorward.daemon.codec.alarms import Alarm, AlarmKind
from doorward.daemon.controller.clock import ClockEdge, TimeTrust
from doorward.daemon.controller.events import ClockTrustChanged

log = logging.getLogger(__name__)

TICK_S = 0.1
SLOW_TICK_S = 1.0
PRUNE_EVERY_S = 3600.0
FIRST_PRUNE_AFTER_S = 60.0


@dataclass(frozen=True)
class Step:
    name: str  # for the log, when it fails
    run: Callable[[float], object]  # takes the monotonic time of the pass


class SupervisionLoop:
    def __init__(self, fast: Sequence[Step], slow: Sequence[Step], hourly: Sequence[Step],
                 on_pass: Callable[[float], None]) -> None:
        self._fast, self._slow, self._hourly, self._on_pass = fast, slow, hourly, on_pass
        self._stopping, self._wake = threading.Event(), threading.Event()
        self._thread: threading.Thread | None = None
        self._next_slow_mono = 0.0
        self._next_hourly_mono = time.monotonic() + FIRST_PRUNE_AFTER_S

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
            self._on_pass(now)
            _run_all(self._fast, now)
            if now >= self._next_slow_mono:
                self._next_slow_mono = now + SLOW_TICK_S
                _run_all(self._slow, now)
            if now >= self._next_hourly_mono:
                self._next_hourly_mono = now + PRUNE_EVERY_S
                _run_all(self._hourly, now)
            self._wake.wait(TICK_S)
            self._wake.clear()


class ClockWatch:
    """Tells the controller when trust or the kernel's sync flag changes; anchors the clock."""

    def __init__(self, trust: TimeTrust, clock: ClockEdge, post: Callable[[object], None],
                 raise_alarm: Callable[[Alarm], None], observe: Callable[[bool, float, float], None],
                 on_change: Callable[[], None]) -> None:
        self._trust, self._clock, self._post = trust, clock, post
        self._raise_alarm, self._observe, self._on_change = raise_alarm, observe, on_change
        self._seen: tuple[bool, bool] | None = None
        self._alarmed = False

    def __call__(self, mono_now: float) -> None:
        reading = self._trust.read()
        seen = (reading.trusted, self._clock.kernel_synchronised())
        if seen != self._seen:
            self._seen = seen
            self._post(ClockTrustChanged())
            self._on_change()
        if reading.alarm and not self._alarmed:
            self._alarmed = True
            self._raise_alarm(Alarm(AlarmKind.CLOCK_STATUS_UNKNOWN, reading.alarm))
        elif not reading.alarm:
            self._alarmed = False
        self._observe(reading.trusted, reading.wall_now, mono_now)


def _run_all(steps: Sequence[Step], now: float) -> None:
    for step in steps:
        try:
            step.run(now)
        except Exception:
            log.exception("supervision step failed: %s", step.name)

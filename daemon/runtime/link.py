"""The fingerprint module as the service holds it: a reader, or the reason there is none.

Owns ``ModuleLink``. The reader (``daemon/reader/thread.py``) needs an open port to exist; a port
that cannot be opened at start (no module, no pty yet, held by the kiosk) must not stop the
door, so the link keeps the builder and tries again every ``RETRY_S`` from the supervision
thread until it works. Without a credential or a cache there is no builder at all: the
biometric path is disabled and ``absent_why`` says why, for the status file and the alarm.

Every method may be called from any thread: the reader's own methods are thread-safe, and
the reader is published only once it has started.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from concurrent.futures import Future

from doorward.daemon.reader.thread import Reader
from doorward.daemon.reader.jobs import JobFunction, Priority
from doorward.daemon.reader.types import ReaderStatus
from doorward.drivers.r30x.errors import SensorError
from doorward.drivers.r30x.sensor import R30xSensor

log = logging.getLogger(__name__)

RETRY_S = 2.0
ReaderBuilder = Callable[[], "tuple[Reader, R30xSensor]"]


class ModuleLink:
    def __init__(self, build: ReaderBuilder | None, disabled_why: str | None = None,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._build, self._monotonic = build, monotonic
        self.reader: Reader | None = None
        self.sensor: R30xSensor | None = None
        self.started_mono: float | None = None
        self.absent_why = disabled_why or "module not opened yet"
        self._next_attempt_mono = 0.0
        self._logged_why: str | None = None

    @property
    def enabled(self) -> bool:
        return self._build is not None

    def try_start(self) -> bool:
        """Build and start the reader if it is due; True once a reader runs."""
        if self.reader is not None:
            return True
        if self._build is None or self._monotonic() < self._next_attempt_mono:
            return False
        try:
            reader, sensor = self._build()
        except (SensorError, OSError) as error:
            self._next_attempt_mono = self._monotonic() + RETRY_S
            self.absent_why = f"the module's port cannot be opened: {error}"
            if self._logged_why != self.absent_why:  # once per distinct reason
                log.warning("%s; retrying every %.0f s", self.absent_why, RETRY_S)
                self._logged_why = self.absent_why
            return False
        reader.start()
        self.reader, self.sensor = reader, sensor
        self.started_mono = self._monotonic()
        return True

    def starting(self, mono_now: float, grace_s: float) -> bool:
        """The reader is still on its first connection attempt, within ``grace_s``."""
        status = self.status()
        return (status is not None and status.detail == "starting"
                and self.started_mono is not None and mono_now - self.started_mono < grace_s)

    def status(self) -> ReaderStatus | None:
        return self.reader.status if self.reader is not None else None

    def submit_health(self, run: JobFunction) -> Future | None:
        if self.reader is None:
            return None
        return self.reader.submit(run, Priority.HEALTH, "supervision_health")

    def set_led(self, control: int, speed: int, colour: int, count: int) -> Future | None:
        if self.reader is None or not self.reader.status.online:
            return None
        return self.reader.set_led(control, speed, colour, count)

    def request_reconcile(self, version: int | None) -> None:
        if self.reader is not None:
            self.reader.request_reconcile(version)

    def module_facts(self) -> tuple[str, int] | None:
        """(module_identity, capacity) of the module this door expects: from its record as
        soon as the reader exists, else once a bound module has been identified."""
        status = self.status()
        if status is None or not status.module_identity:
            return None
        capacity = self._capacity(status.module_identity)
        return None if capacity is None else (status.module_identity, capacity)

    def _capacity(self, identity: str) -> int | None:
        # The expected identity names the capacity; the connected module's parameters are
        # only a fallback (it may be a foreign module the door refuses).
        found = re.search(r"capacity=(\d+)", identity)
        if found:
            return int(found.group(1))
        params = self.sensor.params if self.sensor is not None else None
        return params.capacity if params is not None else None

    def state_name(self) -> str:
        """A short word for the heartbeat's ``reader_state``."""
        status = self.status()
        if status is None:
            return "disabled" if self._build is None else "absent"
        if not status.online:
            return "offline"
        return "ready" if status.biometric_ready else "held"

    def stop(self, timeout_s: float) -> None:
        if self.reader is not None:
            self.reader.stop(timeout_s)
        if self.sensor is not None:
            try:
                self.sensor.close()
            except Exception:  # closing a port at exit: nothing left to protect
                log.debug("closing the module port failed", exc_info=True)

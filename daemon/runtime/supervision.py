"""Module supervision: the health check, "reader offline", and the power cycle.

Owns ``ReaderPulse`` and ``ModuleSupervisor``. Every ``health_interval_s`` the supervisor
queues one ReadSysPara on the reader (a HEALTH job: never interleaved with a scan) with its
own ``health_deadline_s``; a module that misses it raises ``Timeout`` on the reader thread,
and the reader itself then reconnects (reopens a lost port) and re-verifies the binding and
identity, again and again, without a restart. The supervisor adds what the reader cannot:

- "reader offline" as soon as the reader reports it or a check is overdue (within 2 s of
  silence): an alarm (journalled, so it reaches the server's webhook and syslog), one beep
  and a blinking status LED; "reader online" when the module answers again;
- a power cycle of the module through ``hardware.module_power`` (when wired) after
  ``power_cycle_after_s`` offline, repeated with a doubling back-off;
- a reader built later when the module's port could not even be opened at start.

``ReaderPulse`` is the clock handed to the reader and its module client: both read it on
every turn and every exchange, so the time it was last read is the reader loop's proof of
life for the watchdog, whether or not the module answers. Runs on the service's supervision
thread; nothing here blocks for longer than one GPIO call.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass

from doorward.daemon.codec.alarms import Alarm, AlarmKind
from doorward.daemon.config.daemon import DaemonConfig
from doorward.daemon.runtime.link import ModuleLink
from doorward.drivers.gpio.door import DoorHardware
from doorward.drivers.r30x.sensor import R30xSensor

log = logging.getLogger(__name__)

POWER_CYCLE_MAX_GAP_S = 300.0
STARTUP_GRACE_S = 2.0  # a reader still on its first attempt is not "offline" yet


class ReaderPulse:
    """A monotonic clock that remembers when it was last read."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self.last_mono = monotonic()

    def __call__(self) -> float:
        self.last_mono = now = self._monotonic()
        return now


@dataclass
class SupervisionState:
    offline_since_mono: float | None = None  # None: online (or never seen yet)
    last_answer_mono: float | None = None  # the last health check the module answered
    power_cycles: int = 0
    power_off_until_mono: float | None = None


class ModuleSupervisor:
    def __init__(self, link: ModuleLink, hardware: DoorHardware, config: DaemonConfig,
                 raise_alarm: Callable[[Alarm], None], journal: Callable[[str, dict], None],
                 on_online: Callable[[], None],
                 show_availability: Callable[[bool], None] = lambda online: None) -> None:
        self._link, self._hardware, self._config = link, hardware, config
        self._raise_alarm, self._journal, self._on_online = raise_alarm, journal, on_online
        # The controller owns the status LED and buzzer: it is told, never bypassed.
        self._show_availability = show_availability
        self.state = SupervisionState()
        self._probe: Future | None = None
        self._probe_sent_mono = 0.0
        self._next_power_cycle_mono: float | None = None

    @property
    def offline(self) -> bool:
        return self.state.offline_since_mono is not None

    def tick(self, mono_now: float) -> None:
        """One supervision pass; call it often (every 100-250 ms)."""
        if not self._link.enabled:
            return  # no credential or cache: already alarmed as biometric_disabled
        if self._link.reader is None and not self._link.try_start():
            self._judge(mono_now, online=False, why=self._link.absent_why)
        elif not self._link.starting(mono_now, STARTUP_GRACE_S):
            self._health(mono_now)
        self._power(mono_now)

    # ---- the health check ----

    def _health(self, mono_now: float) -> None:
        if self._probe is not None and self._probe.done():
            self._probe_finished(self._probe, mono_now)
            self._probe = None
        status = self._link.status()
        overdue_s = self._config.health_interval_s + self._config.health_deadline_s + 0.25
        overdue = self._probe is not None and mono_now - self._probe_sent_mono > overdue_s
        online = status is not None and status.online and not overdue
        self._judge(mono_now, online, status.detail if status else "no reader")
        if self._probe is None and status is not None and status.online and \
                mono_now - self._probe_sent_mono >= self._config.health_interval_s:
            self._probe_sent_mono = mono_now
            self._probe = self._link.submit_health(self._read_parameters)

    def _read_parameters(self, sensor: R30xSensor) -> None:
        # Runs on the reader thread: the check's own deadline, not the module's default.
        saved_s, sensor.timeout_s = sensor.timeout_s, self._config.health_deadline_s
        try:
            sensor.read_system_parameters()
        finally:
            sensor.timeout_s = saved_s

    def _probe_finished(self, probe: Future, mono_now: float) -> None:
        if not probe.cancelled() and probe.exception() is None:
            self.state.last_answer_mono = mono_now

    def _judge(self, mono_now: float, online: bool, why: str) -> None:
        if online and self.offline:
            self._back_online(mono_now)
        elif not online and not self.offline:
            self._went_offline(mono_now, why)

    def _went_offline(self, mono_now: float, why: str) -> None:
        self.state.offline_since_mono = mono_now
        self._next_power_cycle_mono = mono_now + self._config.power_cycle_after_s
        self._raise_alarm(Alarm(AlarmKind.READER_OFFLINE, why))
        self._show_availability(False)

    def _back_online(self, mono_now: float) -> None:
        offline_s = mono_now - (self.state.offline_since_mono or mono_now)
        self.state.offline_since_mono = None
        self._next_power_cycle_mono = None
        self.state.power_cycles = 0
        log.info("reader online again after %.1f s", offline_s)
        self._journal("reader_online", {"offline_s": round(offline_s, 3)})
        self._show_availability(True)
        self._on_online()

    # ---- the power cycle ----

    def _power(self, mono_now: float) -> None:
        state = self.state
        if state.power_off_until_mono is not None:
            if mono_now >= state.power_off_until_mono:
                state.power_off_until_mono = None
                self._output(self._hardware.set_module_power, True)
            return
        due = self._next_power_cycle_mono
        if not self.offline or due is None or mono_now < due or not self._power_wired():
            return
        state.power_cycles += 1
        gap_s = min(self._config.power_cycle_after_s * 2 ** state.power_cycles,
                    POWER_CYCLE_MAX_GAP_S)
        self._next_power_cycle_mono = mono_now + gap_s
        state.power_off_until_mono = mono_now + self._config.power_off_s
        log.warning("reader offline for %.1f s: power-cycling the module",
                    mono_now - (state.offline_since_mono or mono_now))
        self._journal("module_power_cycled", {"attempt": state.power_cycles})
        self._output(self._hardware.set_module_power, False)

    def _power_wired(self) -> bool:
        return self._hardware.has_output("module_power")

    def _output(self, write: Callable[[bool], None], on: bool) -> None:
        try:
            write(on)
        except Exception as error:  # a stalled GPIO: the watchdog sees it; the loop goes on
            log.warning("GPIO write failed during supervision: %s", error)

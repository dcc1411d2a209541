"""Carrying out the door machine's actions on the GPIO edge, the journal and the alarm sinks.

Owns ``ActionRunner``: ``SetRelay`` drives the relay, ``Led``/``Buzzer`` start a pattern on an
``Indicator``, ``Ring`` shows a pattern on the module's ring LED where one is fitted (a
``RingOutput``; back to idle after its hold, on a timer), ``RaiseAlarm`` goes to the ``AlarmSink``, ``Journal`` to the ``JournalSink``,
``StartTimer``/``CancelTimer`` to the controller's ``TimerHeap``. Actions run in the order the
machine gives them; it puts ``SetRelay`` first, so an exit, a fire release or a relock never
waits for the journal.

A journal or alarm sink that raises must not stop the door: the failure is logged, a failed
journal raises a ``journal_failed`` alarm, and the next action runs. GPIO failures are not
swallowed here: they reach the controller's fault handling, which makes the relay safe.
Only the controller thread calls this.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Iterable, Protocol

from doorward.daemon.door.types import (
    Action, Buzzer, CancelTimer, Journal, Led, LedPattern, RaiseAlarm, Ring, SetRelay,
    StartTimer,
)
from doorward.daemon.door.indicators import BUZZER_PATTERNS, LED_PATTERNS, Indicator
from doorward.daemon.codec.alarms import Alarm, AlarmKind
from doorward.daemon.controller.sinks import AlarmSink, JournalSink
from doorward.daemon.door.timers import TimerHeap
from doorward.drivers.gpio.door import DoorHardware

log = logging.getLogger(__name__)


class RingOutput(Protocol):
    """The module's ring LED (``doorward.daemon.controller.ring.RingLed``): shows a pattern."""

    def show(self, pattern: LedPattern) -> None: ...


@dataclass(frozen=True)
class RingIdle:
    """Timer key: the ring's pattern has been held long enough; back to idle."""


@dataclass(frozen=True)
class IndicatorStep:
    """Timer key: the next step of the LED's or the buzzer's pattern is due."""

    output: str  # "status_led" or "buzzer"


class ActionRunner:
    def __init__(self, hardware: DoorHardware, journal: JournalSink, alarms: AlarmSink,
                 timers: TimerHeap, ring: RingOutput | None = None) -> None:
        self._hardware, self._journal, self._alarms, self.timers = (
            hardware, journal, alarms, timers)
        self._ring = ring
        self.relay_energised = False  # setup() left it de-energised
        self.reader_offline = False  # idle then shows the reader-offline flash instead
        self._indicators = {
            "status_led": Indicator(hardware.set_led),
            "buzzer": Indicator(hardware.set_buzzer),
        }

    def carry_out(self, actions: Iterable[Action], mono_now: float) -> None:
        for action in actions:
            self._HANDLERS[type(action)](self, action, mono_now)

    def set_relay(self, action: SetRelay, mono_now: float) -> None:
        self._hardware.set_relay(action.energised)
        self.relay_energised = action.energised

    def make_relay_safe(self) -> bool:
        """De-energise the relay whatever happened before; False if even that failed."""
        try:
            self._hardware.set_relay(False)
        except Exception:
            log.exception("the relay could not be de-energised")
            return False
        self.relay_energised = False
        return True

    def show_led(self, action: Led, mono_now: float) -> None:
        pattern = action.pattern
        if pattern is LedPattern.IDLE and self.reader_offline:
            pattern = LedPattern.READER_OFFLINE  # the door is idle, but the reader is not well
        self._play("status_led", self._indicators["status_led"].play(
            LED_PATTERNS[pattern], mono_now))

    def show_ring(self, action: Ring, mono_now: float) -> None:
        if self._ring is None:
            return
        self._ring.show(action.pattern)
        if action.hold_s is None:
            self.timers.cancel(RingIdle())
        else:
            self.timers.start(RingIdle(), mono_now + action.hold_s)

    def ring_idle(self) -> None:
        if self._ring is not None:
            self._ring.show(LedPattern.IDLE)

    def sound_buzzer(self, action: Buzzer, mono_now: float) -> None:
        self._play("buzzer", self._indicators["buzzer"].play(
            BUZZER_PATTERNS[action.pattern], mono_now))

    def indicator_step(self, key: IndicatorStep) -> None:
        self._play(key.output, self._indicators[key.output].advance())

    def _play(self, output: str, next_step_mono: float | None) -> None:
        if next_step_mono is None:
            self.timers.cancel(IndicatorStep(output))
        else:
            self.timers.start(IndicatorStep(output), next_step_mono)

    def raise_alarm(self, alarm: Alarm) -> None:
        try:
            self._alarms.raise_alarm(alarm)
        except Exception:  # nothing left to alarm with: the log is the last resort
            log.exception("alarm %s (%s) could not be raised", alarm.kind.value, alarm.detail)

    def journal(self, kind: str, detail: dict[str, Any]) -> bool:
        """Append to the journal; False (and a ``journal_failed`` alarm) if it failed."""
        try:
            self._journal.append(kind, detail)
        except Exception as error:
            log.exception("journal entry %s (%s) could not be written", kind, detail)
            self.raise_alarm(Alarm(AlarmKind.JOURNAL_FAILED, f"{kind}: {error}"))
            return False
        return True

    def _raise_alarm_action(self, action: RaiseAlarm, mono_now: float) -> None:
        self.raise_alarm(Alarm(action.kind, action.detail))

    def _journal_action(self, action: Journal, mono_now: float) -> None:
        self.journal(action.kind, {"detail": action.detail} if action.detail else {})

    def _start_timer(self, action: StartTimer, mono_now: float) -> None:
        self.timers.start(action.name, action.at_mono)

    def _cancel_timer(self, action: CancelTimer, mono_now: float) -> None:
        self.timers.cancel(action.name)

    _HANDLERS = {
        SetRelay: set_relay,
        Led: show_led,
        Ring: show_ring,
        Buzzer: sound_buzzer,
        RaiseAlarm: _raise_alarm_action,
        Journal: _journal_action,
        StartTimer: _start_timer,
        CancelTimer: _cancel_timer,
    }

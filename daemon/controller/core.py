"""The controller's single-threaded core: events in, pure functions called, actions out.

Owns the door's live state (``DoorState``, ``DecisionState``, the snapshot and policy in
force, the debounced input levels, the timers) and what each event means:

- a module claim: ``decide()``, then the decision is journalled (durable BEFORE the relay can
  move), then ``Grant(decision)`` goes through ``transition()``; the decision's alarms follow;
- a finger lift: ``finger_lifted`` (lockout strikes);
- an input edge: a re-read after ``debounce_ms``; a level still changed by then becomes a door
  event (contact, exit button, fire, tamper) or updates the lockdown (keyswitch OR the
  snapshot's flag) and tamper facts ``decide()`` reads;
- a snapshot applied: ``snapshot_applied``, its index built now, the door's timings rebuilt;
- a snapshot confirmed by the server: ``snapshot_confirmed`` (its validity counts from then);
- a clock trust change: ``clock_observed``.

Every handler runs under a guard: an exception is logged, the relay de-energised, an alarm
raised, the door state re-derived from the inputs after a back-off, and the loop goes on.
Times are passed in (``mono_now``, ``time.monotonic()``), except that a grant re-reads the
injected monotonic clock after the journal append, so an fsync never eats into the unlock
window. ``Controller`` owns the thread and the queue. Only the controller thread calls this.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from typing import Any, Callable, Hashable

from doorward.daemon.controller.actions import ActionRunner, IndicatorStep, RingIdle, RingOutput
from doorward.daemon.access.claim import Claim
from doorward.daemon.controller.events import (
    ClockTrustChanged, ControllerEvent, FingerLifted, InputEdge, ModuleClaim, ReaderAvailability,
    SnapshotApplied, SnapshotConfirmed,
)
from doorward.daemon.door.debounce import Debouncer
from doorward.daemon.access.decision import Decision, decide
from doorward.daemon.access.state import (
    BootKnowledge, DecisionState, clock_is_trusted, clock_observed, finger_lifted,
    knowledge_restored, snapshot_applied, snapshot_confirmed,
)
from doorward.daemon.door.machine import DoorState, transition
from doorward.daemon.door.types import (
    Buzzer, BuzzerPattern, ContactClosed, ContactOpened, DoorConfig, Event, ExitPressed, FireOff,
    FireOn, Grant, Led, LedPattern, LockdownOff, LockdownOn, Ring, TamperOff, TamperOn, Timer,
    TimerName,
)
from doorward.daemon.codec.policy import Policy
from doorward.daemon.codec.alarms import Alarm, AlarmKind
from doorward.daemon.controller.clock import ClockEdge
from doorward.daemon.controller.sinks import AlarmSink, JournalSink
from doorward.daemon.codec.snapshot import Snapshot
from doorward.daemon.door.timers import TimerHeap
from doorward.drivers.gpio.door import DoorHardware, DoorInput

log = logging.getLogger(__name__)

RESYNC_FIRST_S = 0.5  # after a fault, re-read the inputs this long later, doubling
RESYNC_MAX_S = 30.0  # so a fault that repeats (a hung GPIO) cannot flood the alarm sinks


@dataclass(frozen=True)
class Reread:
    """Timer key: the debounce time of an edge on ``door_input`` has passed."""

    door_input: DoorInput


RESYNC = "resync_inputs"  # timer key: re-derive the door from the inputs after a fault

# The inputs the controller debounces; the module's touch line belongs to the reader.
DOOR_INPUTS = frozenset({DoorInput.DOOR_CONTACT, DoorInput.EXIT_BUTTON, DoorInput.FIRE_ALARM,
                         DoorInput.LOCKDOWN_KEY, DoorInput.TAMPER})
_DOOR_EVENTS: dict[tuple[DoorInput, bool], Event] = {
    (DoorInput.DOOR_CONTACT, True): ContactOpened(),
    (DoorInput.DOOR_CONTACT, False): ContactClosed(),
    (DoorInput.EXIT_BUTTON, True): ExitPressed(),  # releasing the button means nothing
    (DoorInput.FIRE_ALARM, True): FireOn(),
    (DoorInput.FIRE_ALARM, False): FireOff(),
    (DoorInput.TAMPER, True): TamperOn(),
    (DoorInput.TAMPER, False): TamperOff(),
}


class ControllerCore:
    def __init__(self, hardware: DoorHardware, journal: JournalSink, alarms: AlarmSink,
                 clock: ClockEdge, default_policy: Policy, snapshot: Snapshot | None = None,
                 monotonic: Callable[[], float] = time.monotonic,
                 boot: BootKnowledge | None = None,
                 exit_without_rex_is_forced: bool = True,
                 ring: RingOutput | None = None) -> None:
        self.hardware, self.clock, self._monotonic = hardware, clock, monotonic
        self._exit_without_rex_is_forced = exit_without_rex_is_forced  # [hardware]: wiring
        self._boot = boot  # what earlier runs knew about time (the anchor file)
        self.timers = TimerHeap()
        self.actions = ActionRunner(hardware, journal, alarms, self.timers, ring)
        self.snapshot = snapshot
        self.policy = snapshot.policy if snapshot is not None else default_policy
        self.last_decision: Decision | None = None
        self.faults = 0
        self._fault_streak = 0
        self._relay_unconfirmed = False  # the last attempt to de-energise it failed
        self._clock_trusted: bool | None = None
        self.door = DoorState.initial(self._door_config())
        self.decision = DecisionState.initial()
        self.debouncer = Debouncer(hardware.debounce_s, {})

    # -- start ----------------------------------------------------------------------------

    def begin(self, mono_now: float) -> None:
        """Read the inputs once and bring the door machine to what they say. The relay is
        already de-energised (``DoorHardware.setup``); the boot snapshot counts as loaded
        from the cache, timed from what earlier runs knew (``boot``), else of unknown age
        until the clock is trusted (the boot policy, counted from now)."""
        if self.snapshot is not None:
            self.snapshot.index  # built now, so no scan pays for it
        levels = {name: self.hardware.is_active(name) for name in self.fitted_inputs()}
        self.debouncer = Debouncer(self.hardware.debounce_s, levels)
        self.decision = DecisionState.initial(levels.get(DoorInput.LOCKDOWN_KEY, False),
                                              levels.get(DoorInput.TAMPER, False), mono_now)
        if self._boot is not None:
            version = None if self.snapshot is None else self.snapshot.version
            self.decision = knowledge_restored(self.decision, self._boot, version)
        self.door = DoorState.initial(self._door_config(), levels.get(DoorInput.DOOR_CONTACT,
                                                                      False))
        for name in (DoorInput.FIRE_ALARM, DoorInput.TAMPER):
            if levels.get(name):
                self._input_changed(name, True, mono_now)
        self._sync_lockdown(mono_now)

    def fitted_inputs(self) -> tuple[DoorInput, ...]:
        return tuple(i for i in self.hardware.fitted_inputs() if i in DOOR_INPUTS)

    # -- the loop's entry points ----------------------------------------------------------

    def handle(self, event: ControllerEvent, mono_now: float) -> None:
        self._guarded(self._HANDLERS[type(event)], event, mono_now)

    def fire_due(self, mono_now: float) -> None:
        for key in self.timers.pop_due(mono_now):
            self._guarded(ControllerCore._fire_timer, key, mono_now)

    def seconds_until_next(self, mono_now: float) -> float | None:
        return self.timers.seconds_until_next(mono_now)

    def _guarded(self, work: Callable, subject: object, mono_now: float) -> None:
        try:
            work(self, subject, mono_now)
        except Exception as error:
            self._recover(error, mono_now)

    def _fire_timer(self, key: Hashable, mono_now: float) -> None:
        if isinstance(key, TimerName):
            self._step(Timer(key), mono_now)
        elif isinstance(key, Reread):
            self._reread(key.door_input, mono_now)
        elif isinstance(key, IndicatorStep):
            self.actions.indicator_step(key)
        elif isinstance(key, RingIdle):
            self.actions.ring_idle()
        elif key == RESYNC:
            self._resync_inputs(mono_now)

    # -- events ---------------------------------------------------------------------------

    def _on_claim(self, event: ModuleClaim, mono_now: float) -> None:
        decision, self.decision = decide(event.claim, self.snapshot, self.decision,
                                         self.clock.wall_now(), mono_now,
                                         self.clock.kernel_synchronised())
        self.last_decision = decision
        self.actions.journal(*decision_entry(decision, event.claim))  # before the relay moves
        # The window counts from the relay moving, not from the scan: the journal's fsync
        # must not shorten it (promise 4, unlock_s +- 20 ms).
        self._step(Grant(decision), self._monotonic())
        for alarm in decision.alarms:
            self.actions.raise_alarm(alarm)
        if event.lifted_at_mono is not None:
            self._on_lift(FingerLifted(event.lifted_at_mono), mono_now)

    def _on_lift(self, event: FingerLifted, mono_now: float) -> None:
        lifted_at = mono_now if event.at_mono is None else event.at_mono
        before = self.decision.locked_out_until_mono
        self.decision = finger_lifted(self.decision, self.policy.lockout, lifted_at)
        until = self.decision.locked_out_until_mono
        if until is not None and until != before:
            self.actions.journal("lockout", {"ignored_s": until - lifted_at})

    def _on_edge(self, event: InputEdge, mono_now: float) -> None:
        if event.door_input in DOOR_INPUTS:
            at_mono = self.debouncer.reread_at(event.door_input, mono_now)
            self.timers.start(Reread(event.door_input), at_mono)

    def _on_snapshot(self, event: SnapshotApplied, mono_now: float) -> None:
        snapshot = event.snapshot
        snapshot.index  # built here, once, on the controller thread; scans never pay for it
        self.snapshot, self.policy = snapshot, snapshot.policy
        self.decision = snapshot_applied(self.decision, mono_now)
        self.door = replace(self.door, config=self._door_config())
        log.info("snapshot version %s in force", snapshot.version)
        self._sync_lockdown(mono_now)

    def _on_confirmed(self, event: SnapshotConfirmed, mono_now: float) -> None:
        if self.snapshot is not None and self.snapshot.version == event.version:
            self.decision = snapshot_confirmed(self.decision, event.at_mono)

    def _on_clock(self, event: ClockTrustChanged, mono_now: float) -> None:
        wall_now = self.clock.wall_now()
        trusted = clock_is_trusted(self.clock.kernel_synchronised(), wall_now, self.snapshot)
        self.decision = clock_observed(self.decision, wall_now, mono_now, trusted)
        if trusted != self._clock_trusted:
            self._clock_trusted = trusted
            self.actions.journal("clock", {"trusted": trusted})

    def _on_reader(self, event: ReaderAvailability, mono_now: float) -> None:
        self.actions.reader_offline = not event.online
        pattern = LedPattern.IDLE if event.online else LedPattern.READER_OFFLINE
        self.actions.carry_out([Led(pattern), *([Ring(LedPattern.IDLE)] if event.online else [])],
                               mono_now)
        if not event.online:
            self.actions.carry_out([Buzzer(BuzzerPattern.DENIED)], mono_now)

    _HANDLERS = {
        ReaderAvailability: _on_reader,
        ModuleClaim: _on_claim,
        FingerLifted: _on_lift,
        InputEdge: _on_edge,
        SnapshotApplied: _on_snapshot,
        SnapshotConfirmed: _on_confirmed,
        ClockTrustChanged: _on_clock,
    }

    # -- inputs ---------------------------------------------------------------------------

    def _reread(self, name: DoorInput, mono_now: float) -> None:
        active = self.hardware.is_active(name)
        if self.debouncer.settle(name, active):
            self._input_changed(name, active, mono_now)

    def _input_changed(self, name: DoorInput, active: bool, mono_now: float) -> None:
        if name is DoorInput.LOCKDOWN_KEY:
            self.decision = replace(self.decision, keyswitch_lockdown=active)
            self._sync_lockdown(mono_now)
            return
        if name is DoorInput.TAMPER:  # decide() refuses scans while the housing is open
            self.decision = replace(self.decision, tamper_switch=active)
        event = _DOOR_EVENTS.get((name, active))
        if event is not None:
            self._step(event, mono_now)

    def _sync_lockdown(self, mono_now: float) -> None:
        wanted = bool(self.snapshot and self.snapshot.lockdown)
        wanted = wanted or self.decision.keyswitch_lockdown
        if wanted != self.door.lockdown:
            self._step(LockdownOn() if wanted else LockdownOff(), mono_now)

    # -- the door machine -----------------------------------------------------------------

    def _step(self, event: Event, mono_now: float) -> None:
        self.door, actions = transition(self.door, event, mono_now)
        self.actions.carry_out(actions, mono_now)

    def _door_config(self) -> DoorConfig:
        return DoorConfig.from_policy(self.policy, self._exit_without_rex_is_forced)

    # -- faults ---------------------------------------------------------------------------

    def _recover(self, error: Exception, mono_now: float) -> None:
        """Relay safe first, then the alarm, then a re-derivation of the door from the
        inputs (a still-active fire input re-releases the door) after a back-off."""
        log.exception("controller event handling failed; making the relay safe")
        self.faults += 1
        self._fault_streak += 1
        relay_safe = self.actions.make_relay_safe()
        self._relay_unconfirmed = not relay_safe
        self.door = replace(self.door, unlock_until_mono=None, opened_in_window=False,
                            fire=False)
        self.timers.cancel(TimerName.RELOCK)
        self.debouncer.forget(DoorInput.FIRE_ALARM, False)
        self.actions.raise_alarm(Alarm(AlarmKind.CONTROLLER_FAULT,
                                       f"{type(error).__name__}: {error}"))
        if not relay_safe:
            self.actions.raise_alarm(Alarm(AlarmKind.RELAY_UNSAFE, "de-energising failed"))
        delay_s = min(RESYNC_FIRST_S * 2 ** (self._fault_streak - 1), RESYNC_MAX_S)
        self.timers.start(RESYNC, mono_now + delay_s)

    def _resync_inputs(self, mono_now: float) -> None:
        if self._relay_unconfirmed and not self.actions.make_relay_safe():
            raise RuntimeError("the relay still cannot be de-energised")  # back off again
        self._relay_unconfirmed = False
        for name in self.fitted_inputs():
            self._reread(name, mono_now)
        self._fault_streak = 0


def decision_entry(decision: Decision, claim: Claim) -> tuple[str, dict[str, Any]]:
    """The journal's record of one decision: its kind, and the reason code and opaque ids."""
    kind = ("scan_ignored" if decision.ignored
            else "access_granted" if decision.granted else "access_denied")
    detail = {"reason": decision.reason.value, "user": decision.user_id,
              "finger": decision.finger_id, "claim": claim.kind.value, "page": claim.page,
              "score": claim.score}
    return kind, detail

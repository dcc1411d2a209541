"""The door state machine: ``transition(state, event, mono_now) -> (state, actions)``.

Owns the door's supervision rules: unlock for ``unlock_s`` on a grant or the exit button;
relock when the time runs out, or when the door closes after having opened
(``relock_on_close``); forced-open alarm at once when the contact opens while locked
(unless ``exit_without_rex_is_forced`` is false: a free-egress lever with no exit sensor
cannot tell an exit from a forced door); pre-alarm beeps from ``held_open_s - prealarm_s``
after opening and the held-open alarm at ``held_open_s``; fire release holds the relay
energised until the input clears; under lockdown only grants made under lockdown open, and
the exit button still lets people out; the tamper switch raises an alarm.

The relay is energised exactly while fire release is on or an access window (grant or exit)
is open; every transition derives it from that and emits ``SetRelay`` only on a change.
Timers are requests to the controller (``StartTimer``/``CancelTimer``); a timer that fires
late or stale is checked against the state's own deadlines, so a lost cancel is harmless.

Pure: no GPIO, no clock reads, no IO. Imports only ``doorward.daemon.access.decision`` and ``doorward.daemon.door.types``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace

from doorward.daemon.access.decision import Feedback
from doorward.daemon.codec.alarms import TAMPER_SWITCH_DETAIL, AlarmKind
from doorward.daemon.door.types import (
    Action, Buzzer, BuzzerPattern, CancelTimer, ContactClosed, ContactOpened, DoorConfig,
    Event, ExitPressed, FireOff, FireOn, Grant, Journal, Led, LedPattern, LockdownOff,
    LockdownOn, RaiseAlarm, Ring, SetRelay, StartTimer, TamperOff, TamperOn, Timer, TimerName,
)

__all__ = ["DoorState", "HeldStage", "transition"]

RING_DENIED_HOLD_S = 1.5  # three quick red flashes, then the ring is ready again


class HeldStage(str, enum.Enum):
    NONE = "none"
    PREALARM = "prealarm"
    ALARM = "alarm"


@dataclass(frozen=True)
class DoorState:
    config: DoorConfig
    unlock_until_mono: float | None = None  # end of the open access window, if any
    opened_in_window: bool = False  # the door opened since the window began
    contact_open: bool = False
    opened_at_mono: float | None = None  # start of held-open supervision
    held: HeldStage = HeldStage.NONE
    forced: bool = False
    fire: bool = False
    lockdown: bool = False
    tamper: bool = False

    @classmethod
    def initial(cls, config: DoorConfig, contact_open: bool = False) -> DoorState:
        """Locked, relay de-energised, no alarms; ``contact_open`` as read at start."""
        return cls(config=config, contact_open=contact_open)

    @property
    def relay_energised(self) -> bool:
        return self.fire or self.unlock_until_mono is not None


Step = tuple[DoorState, list[Action]]


def transition(state: DoorState, event: Event, mono_now: float) -> Step:
    """Apply one event at ``mono_now``; returns the new state and the actions to carry out."""
    handler = _HANDLERS[type(event)]
    new_state, actions = handler(state, event, mono_now)
    if new_state.relay_energised != state.relay_energised:
        # The relay first: it is the one action a person at the door is waiting for.
        actions.insert(0, SetRelay(new_state.relay_energised))
    return new_state, actions


def _on_grant(state: DoorState, event: Grant, mono_now: float) -> Step:
    granted, visible, under_lockdown = event.decision.door_view()
    if visible is Feedback.NONE:
        return state, []
    if visible is Feedback.WAITING:
        waiting = Ring(LedPattern.WAITING, state.config.two_person_window_s)
        return state, [Led(LedPattern.WAITING), waiting, Buzzer(BuzzerPattern.WAITING)]
    if not granted:
        return state, _denied()
    if state.lockdown and not under_lockdown:
        return state, [*_denied(), Journal("grant_refused", "lockdown")]
    state, actions = _open_window(state, mono_now, "grant")
    shown = [Led(LedPattern.GRANTED), Ring(LedPattern.GRANTED), Buzzer(BuzzerPattern.GRANTED)]
    return state, [*shown, *actions]


def _denied() -> list[Action]:
    return [Led(LedPattern.DENIED), Ring(LedPattern.DENIED, RING_DENIED_HOLD_S),
            Buzzer(BuzzerPattern.DENIED)]


def _on_exit(state: DoorState, event: ExitPressed, mono_now: float) -> Step:
    return _open_window(state, mono_now, "exit")  # lockdown never traps people inside


def _open_window(state: DoorState, mono_now: float, source: str) -> Step:
    until = mono_now + state.config.unlock_s
    state = replace(state, unlock_until_mono=until, opened_in_window=state.contact_open)
    return state, [StartTimer(TimerName.RELOCK, until), Journal("unlocked", source)]


def _close_window(state: DoorState, why: str) -> Step:
    if state.unlock_until_mono is None:
        return state, []
    state = replace(state, unlock_until_mono=None, opened_in_window=False)
    return state, [CancelTimer(TimerName.RELOCK), Led(LedPattern.IDLE), Ring(LedPattern.IDLE),
                   Journal("relocked", why)]


def _on_timer(state: DoorState, event: Timer, mono_now: float) -> Step:
    return _TIMER_HANDLERS[event.name](state, mono_now)


def _relock_due(state: DoorState, mono_now: float) -> Step:
    if state.unlock_until_mono is None or mono_now < state.unlock_until_mono:
        return state, []  # stale: the window was closed or extended
    if state.fire:
        return replace(state, unlock_until_mono=None), []  # fire release holds the relay anyway
    state, actions = _close_window(state, "timeout")
    return state, [a for a in actions if not isinstance(a, CancelTimer)]


def _prealarm_due(state: DoorState, mono_now: float) -> Step:
    due = _held_deadline(state, state.config.held_open_s - state.config.prealarm_s)
    if due is None or mono_now < due or state.held is not HeldStage.NONE:
        return state, []
    return replace(state, held=HeldStage.PREALARM), [
        Buzzer(BuzzerPattern.PREALARM), Journal("held_open_prealarm", "")]


def _held_open_due(state: DoorState, mono_now: float) -> Step:
    due = _held_deadline(state, state.config.held_open_s)
    if due is None or mono_now < due or state.held is HeldStage.ALARM:
        return state, []
    return replace(state, held=HeldStage.ALARM), [
        RaiseAlarm(AlarmKind.HELD_OPEN, f"open {state.config.held_open_s:g} s"),
        Buzzer(BuzzerPattern.ALARM), Journal("held_open", "")]


def _held_deadline(state: DoorState, after_s: float) -> float | None:
    if not state.contact_open or state.fire or state.opened_at_mono is None:
        return None
    return state.opened_at_mono + after_s


def _on_contact_opened(state: DoorState, event: ContactOpened, mono_now: float) -> Step:
    if state.contact_open:
        return state, []
    state = replace(state, contact_open=True, opened_in_window=state.unlock_until_mono is not None)
    if state.relay_energised:
        opened = [Journal("door_opened", "fire" if state.fire else "authorised")]
    elif state.config.exit_without_rex_is_forced:
        state = replace(state, forced=True)
        opened = [RaiseAlarm(AlarmKind.FORCED_OPEN, "opened while locked"),
                  Journal("forced_open", "")]
    else:
        opened = [Journal("door_opened", "free_egress_assumed")]
    state, supervise = _start_held_supervision(state, mono_now)
    return state, [*opened, *supervise]


def _start_held_supervision(state: DoorState, mono_now: float) -> Step:
    if state.fire or not state.contact_open:
        return state, []  # under fire release doors stand open on purpose
    state = replace(state, opened_at_mono=mono_now, held=HeldStage.NONE)
    config = state.config
    actions: list[Action] = []
    if config.prealarm_s > 0:
        prealarm_at = mono_now + config.held_open_s - config.prealarm_s
        actions.append(StartTimer(TimerName.PREALARM, prealarm_at))
    actions.append(StartTimer(TimerName.HELD_OPEN, mono_now + config.held_open_s))
    return state, actions


def _stop_held_supervision(state: DoorState) -> Step:
    actions: list[Action] = [CancelTimer(TimerName.PREALARM), CancelTimer(TimerName.HELD_OPEN)]
    if state.held is not HeldStage.NONE:
        actions += [Buzzer(BuzzerPattern.OFF), Journal("held_open_cleared", "")]
    return replace(state, opened_at_mono=None, held=HeldStage.NONE), actions


def _on_contact_closed(state: DoorState, event: ContactClosed, mono_now: float) -> Step:
    if not state.contact_open:
        return state, []
    relock = state.config.relock_on_close and state.opened_in_window
    state, actions = _stop_held_supervision(replace(state, contact_open=False))
    if state.forced:
        state = replace(state, forced=False)
        actions.append(Journal("forced_cleared", ""))
    actions.append(Journal("door_closed", ""))
    if relock:
        state, relocked = _close_window(state, "closed")
        actions += relocked
    return state, actions


def _on_fire_on(state: DoorState, event: FireOn, mono_now: float) -> Step:
    if state.fire:
        return state, []
    state, actions = _stop_held_supervision(replace(state, fire=True))
    return state, [Journal("fire_release", "on"), *actions]


def _on_fire_off(state: DoorState, event: FireOff, mono_now: float) -> Step:
    if not state.fire:
        return state, []
    state = replace(state, fire=False)
    if state.unlock_until_mono is not None and mono_now >= state.unlock_until_mono:
        state = replace(state, unlock_until_mono=None)  # a relock timer lost during fire
    state, supervise = _start_held_supervision(state, mono_now)
    return state, [Journal("fire_release", "off"), *supervise]


def _on_lockdown(state: DoorState, event: LockdownOn | LockdownOff, mono_now: float) -> Step:
    on = isinstance(event, LockdownOn)
    if state.lockdown == on:
        return state, []
    state = replace(state, lockdown=on)
    actions: list[Action] = [Journal("lockdown", "on" if on else "off")]
    if on:  # an entry window opened before lockdown closes now
        state, relocked = _close_window(state, "lockdown")
        actions += relocked
    return state, actions


def _on_tamper(state: DoorState, event: TamperOn | TamperOff, mono_now: float) -> Step:
    on = isinstance(event, TamperOn)
    if state.tamper == on:
        return state, []
    actions: list[Action] = [Journal("tamper", "on" if on else "off")]
    if on:
        actions.insert(0, RaiseAlarm(AlarmKind.TAMPER, TAMPER_SWITCH_DETAIL))
    return replace(state, tamper=on), actions


_TIMER_HANDLERS = {
    TimerName.RELOCK: _relock_due,
    TimerName.PREALARM: _prealarm_due,
    TimerName.HELD_OPEN: _held_open_due,
}

_HANDLERS = {
    Grant: _on_grant,
    ExitPressed: _on_exit,
    Timer: _on_timer,
    ContactOpened: _on_contact_opened,
    ContactClosed: _on_contact_closed,
    FireOn: _on_fire_on,
    FireOff: _on_fire_off,
    LockdownOn: _on_lockdown,
    LockdownOff: _on_lockdown,
    TamperOn: _on_tamper,
    TamperOff: _on_tamper,
}

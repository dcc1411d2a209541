"""The door state machine, scenario by scenario: every step's whole action list.

Times are injected monotonic seconds; timers are delivered as ``Timer`` events by the test.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from doorward.daemon.access.decision import Decision, Feedback, Reason
from doorward.daemon.codec.alarms import AlarmKind
from doorward.daemon.door.machine import RING_DENIED_HOLD_S, DoorState, transition
from doorward.daemon.door.types import (
    Buzzer, BuzzerPattern as B, CancelTimer, ContactClosed, ContactOpened, DoorConfig,
    ExitPressed, FireOff, FireOn, Grant, Journal, Led, LedPattern as L, LockdownOff, LockdownOn,
    RaiseAlarm, Ring, SetRelay, StartTimer, TamperOff, TamperOn, Timer, TimerName as T,
)
from doorward.daemon.codec.policy import Policy

CONFIG = DoorConfig(unlock_s=5, held_open_s=30, prealarm_s=10, relock_on_close=True,
                    exit_without_rex_is_forced=True)
GRANTED = Grant(Decision(True, Reason.GRANTED, Feedback.GRANTED, "u-1", "f-1"))
DURESS = Grant(Decision(True, Reason.GRANTED_DURESS, Feedback.GRANTED, "u-1", "f-1d"))
LOCKDOWN_GRANT = Grant(Decision(True, Reason.GRANTED, Feedback.GRANTED, "u-s", "f-s",
                                under_lockdown=True))
DENIED = Grant(Decision(False, Reason.OUTSIDE_SCHEDULE, Feedback.DENIED, "u-1", "f-1"))
WAITING = Grant(Decision(False, Reason.WAITING_SECOND_PERSON, Feedback.WAITING, "u-1", "f-1"))
IGNORED = Grant(Decision(False, Reason.LOCKED_OUT, Feedback.NONE, ignored=True))

UNLOCK_BY_GRANT = [SetRelay(True), Led(L.GRANTED), Ring(L.GRANTED), Buzzer(B.GRANTED),
                   StartTimer(T.RELOCK, 5), Journal("unlocked", "grant")]
RELOCK_ON_TIMEOUT = [SetRelay(False), Led(L.IDLE), Ring(L.IDLE), Journal("relocked", "timeout")]
CANCEL_HELD = [CancelTimer(T.PREALARM), CancelTimer(T.HELD_OPEN)]


def supervise(opened_at: float) -> list:
    return [StartTimer(T.PREALARM, opened_at + 20), StartTimer(T.HELD_OPEN, opened_at + 30)]


def play(steps: list[tuple[float, object]], config: DoorConfig = CONFIG,
         state: DoorState | None = None) -> list[tuple[float, list]]:
    state = state or DoorState.initial(config)
    seen = []
    for mono, event in steps:
        before = state
        state, actions = transition(state, event, mono)
        relays = [a for a in actions if isinstance(a, SetRelay)]
        # The relay action, when present, comes first and matches the state change.
        assert relays == ([actions[0]] if relays else [])
        assert state.relay_energised == (relays[-1].energised if relays else before.relay_energised)
        seen.append((mono, actions))
    return seen


SCENARIOS = {
    "grant, then relock when the time runs out": [
        (0, GRANTED, UNLOCK_BY_GRANT),
        (5, Timer(T.RELOCK), RELOCK_ON_TIMEOUT),
    ],
    "grant, open, close: relock on close": [
        (0, GRANTED, UNLOCK_BY_GRANT),
        (1, ContactOpened(), [Journal("door_opened", "authorised"), *supervise(1)]),
        (3, ContactClosed(), [SetRelay(False), *CANCEL_HELD, Journal("door_closed", ""),
                              CancelTimer(T.RELOCK), Led(L.IDLE), Ring(L.IDLE), Journal("relocked", "closed")]),
        (5, Timer(T.RELOCK), []),
    ],
    "a second grant extends the window; the first timer is stale": [
        (0, GRANTED, UNLOCK_BY_GRANT),
        (3, GRANTED, [Led(L.GRANTED), Ring(L.GRANTED), Buzzer(B.GRANTED), StartTimer(T.RELOCK, 8),
                      Journal("unlocked", "grant")]),
        (5, Timer(T.RELOCK), []),
        (8, Timer(T.RELOCK), RELOCK_ON_TIMEOUT),
    ],
    "exit button": [
        (0, ExitPressed(), [SetRelay(True), StartTimer(T.RELOCK, 5), Journal("unlocked", "exit")]),
        (2, ContactOpened(), [Journal("door_opened", "authorised"), *supervise(2)]),
        (4, ContactClosed(), [SetRelay(False), *CANCEL_HELD, Journal("door_closed", ""),
                              CancelTimer(T.RELOCK), Led(L.IDLE), Ring(L.IDLE), Journal("relocked", "closed")]),
    ],
    "forced open: alarm at once": [
        (0, ContactOpened(), [RaiseAlarm(AlarmKind.FORCED_OPEN, "opened while locked"),
                              Journal("forced_open", ""), *supervise(0)]),
        (0.1, ContactOpened(), []),
        (4, ContactClosed(), [*CANCEL_HELD, Journal("forced_cleared", ""), Journal("door_closed", "")]),
    ],
    "opened after the relock is forced too": [
        (0, GRANTED, UNLOCK_BY_GRANT),
        (5, Timer(T.RELOCK), RELOCK_ON_TIMEOUT),
        (5.5, ContactOpened(), [RaiseAlarm(AlarmKind.FORCED_OPEN, "opened while locked"),
                                Journal("forced_open", ""), *supervise(5.5)]),
    ],
    "held open: pre-alarm, alarm, cleared on close": [
        (0, GRANTED, UNLOCK_BY_GRANT),
        (1, ContactOpened(), [Journal("door_opened", "authorised"), *supervise(1)]),
        (5, Timer(T.RELOCK), RELOCK_ON_TIMEOUT),
        (20, Timer(T.PREALARM), []),  # early: stale
        (21, Timer(T.PREALARM), [Buzzer(B.PREALARM), Journal("held_open_prealarm", "")]),
        (31, Timer(T.HELD_OPEN), [RaiseAlarm(AlarmKind.HELD_OPEN, "open 30 s"), Buzzer(B.ALARM),
                                  Journal("held_open", "")]),
        (31.5, Timer(T.HELD_OPEN), []),
        (40, ContactClosed(), [*CANCEL_HELD, Buzzer(B.OFF), Journal("held_open_cleared", ""),
                               Journal("door_closed", "")]),
        (41, Timer(T.HELD_OPEN), []),
    ],
    "fire release holds the relay until the input clears": [
        (0, FireOn(), [SetRelay(True), Journal("fire_release", "on"), *CANCEL_HELD]),
        (5, Timer(T.RELOCK), []),
        (6, ContactOpened(), [Journal("door_opened", "fire")]),
        (60, Timer(T.HELD_OPEN), []),
        (100, FireOff(), [SetRelay(False), Journal("fire_release", "off"), *supervise(100)]),
    ],
    "fire during a grant: the window lapses quietly": [
        (0, GRANTED, UNLOCK_BY_GRANT),
        (1, FireOn(), [Journal("fire_release", "on"), *CANCEL_HELD]),
        (5, Timer(T.RELOCK), []),
        (10, FireOff(), [SetRelay(False), Journal("fire_release", "off")]),
    ],
    "fire clears inside a grant: the grant's time still counts": [
        (0, GRANTED, UNLOCK_BY_GRANT),
        (1, FireOn(), [Journal("fire_release", "on"), *CANCEL_HELD]),
        (3, FireOff(), [Journal("fire_release", "off")]),
        (5, Timer(T.RELOCK), RELOCK_ON_TIMEOUT),
    ],
    "fire on an open, held door silences supervision": [
        (0, ContactOpened(), [RaiseAlarm(AlarmKind.FORCED_OPEN, "opened while locked"),
                              Journal("forced_open", ""), *supervise(0)]),
        (20, Timer(T.PREALARM), [Buzzer(B.PREALARM), Journal("held_open_prealarm", "")]),
        (21, FireOn(), [SetRelay(True), Journal("fire_release", "on"), *CANCEL_HELD,
                        Buzzer(B.OFF), Journal("held_open_cleared", "")]),
        (30, Timer(T.HELD_OPEN), []),
    ],
    "lockdown: ordinary grants refused, lockdown grants and the exit button open": [
        (0, LockdownOn(), [Journal("lockdown", "on")]),
        (1, GRANTED, [Led(L.DENIED), Ring(L.DENIED, RING_DENIED_HOLD_S), Buzzer(B.DENIED), Journal("grant_refused", "lockdown")]),
        (2, LOCKDOWN_GRANT, [SetRelay(True), Led(L.GRANTED), Ring(L.GRANTED), Buzzer(B.GRANTED),
                             StartTimer(T.RELOCK, 7), Journal("unlocked", "grant")]),
        (7, Timer(T.RELOCK), RELOCK_ON_TIMEOUT),
        (8, ExitPressed(), [SetRelay(True), StartTimer(T.RELOCK, 13), Journal("unlocked", "exit")]),
        (13, Timer(T.RELOCK), RELOCK_ON_TIMEOUT),
        (14, LockdownOff(), [Journal("lockdown", "off")]),
        (15, GRANTED, [SetRelay(True), Led(L.GRANTED), Ring(L.GRANTED), Buzzer(B.GRANTED),
                       StartTimer(T.RELOCK, 20), Journal("unlocked", "grant")]),
    ],
    "lockdown relocks an open window at once": [
        (0, GRANTED, UNLOCK_BY_GRANT),
        (1, LockdownOn(), [SetRelay(False), Journal("lockdown", "on"), CancelTimer(T.RELOCK),
                           Led(L.IDLE), Ring(L.IDLE), Journal("relocked", "lockdown")]),
        (1.5, LockdownOn(), []),
        (5, Timer(T.RELOCK), []),
    ],
    "tamper switch": [
        (0, TamperOn(), [RaiseAlarm(AlarmKind.TAMPER, "reader tamper switch"), Journal("tamper", "on")]),
        (1, TamperOn(), []),
        (2, TamperOff(), [Journal("tamper", "off")]),
    ],
    "denied, waiting and ignored scans": [
        (0, DENIED, [Led(L.DENIED), Ring(L.DENIED, RING_DENIED_HOLD_S), Buzzer(B.DENIED)]),
        (1, WAITING, [Led(L.WAITING), Ring(L.WAITING, CONFIG.two_person_window_s), Buzzer(B.WAITING)]),
        (2, IGNORED, []),
    ],
    "closing a door that never opened changes nothing": [
        (0, GRANTED, UNLOCK_BY_GRANT),
        (1, ContactClosed(), []),
        (5, Timer(T.RELOCK), RELOCK_ON_TIMEOUT),
    ],
}


@pytest.mark.parametrize("name", SCENARIOS)
def test_scenario(name: str) -> None:
    steps = SCENARIOS[name]
    assert play([(mono, event) for mono, event, _ in steps]) == [(mono, want) for mono, _, want in steps]


def test_relock_on_close_off_waits_for_the_time() -> None:
    config = replace(CONFIG, relock_on_close=False)
    got = play([(0, GRANTED), (1, ContactOpened()), (2, ContactClosed()), (5, Timer(T.RELOCK))], config)
    assert [actions for _, actions in got] == [
        UNLOCK_BY_GRANT,
        [Journal("door_opened", "authorised"), *supervise(1)],
        [*CANCEL_HELD, Journal("door_closed", "")],
        RELOCK_ON_TIMEOUT,
    ]


def test_free_egress_without_exit_sensor_cannot_call_an_opening_forced() -> None:
    config = replace(CONFIG, exit_without_rex_is_forced=False)
    got = play([(0, ContactOpened()), (31, Timer(T.HELD_OPEN))], config)
    assert got == [
        (0, [Journal("door_opened", "free_egress_assumed"), *supervise(0)]),
        (31, [RaiseAlarm(AlarmKind.HELD_OPEN, "open 30 s"), Buzzer(B.ALARM), Journal("held_open", "")]),
    ]


def test_no_prealarm_timer_when_prealarm_is_zero() -> None:
    config = replace(CONFIG, prealarm_s=0)
    assert play([(0, ContactOpened())], config)[0][1][-1:] == [StartTimer(T.HELD_OPEN, 30)]
    assert StartTimer(T.PREALARM, 30) not in play([(0, ContactOpened())], config)[0][1]


def test_duress_grant_acts_exactly_like_a_normal_grant() -> None:
    assert play([(0, DURESS), (1, ContactOpened()), (2, ContactClosed())]) == \
        play([(0, GRANTED), (1, ContactOpened()), (2, ContactClosed())])


def test_door_config_from_policy() -> None:
    policy = Policy(unlock_s=3, held_open_s=40, prealarm_s=5, relock_on_close=False)
    assert DoorConfig.from_policy(policy, exit_without_rex_is_forced=False) == DoorConfig(3, 40, 5, False, False)


def test_initial_state_is_locked() -> None:
    state = DoorState.initial(CONFIG, contact_open=True)
    assert (state.relay_energised, state.contact_open, state.lockdown) == (False, True, False)

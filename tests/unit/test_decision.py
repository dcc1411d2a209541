"""decide(): one table row per rule and reason, then lockout, duress and the two-person rule.

Clocks are injected: ``wall`` is epoch seconds, ``mono`` monotonic seconds. No sleeps.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from doorward.daemon.access.claim import Claim, SlotState
from doorward.daemon.access.decision import Decision, DecisionState, Feedback, Reason, decide
from doorward.daemon.codec.alarms import Alarm, AlarmKind
from doorward.daemon.access.state import finger_lifted, snapshot_applied
from doorward.daemon.codec.policy import LockoutPolicy
from doorward.daemon.codec.snapshot import Snapshot
from doorward.sim.rig.access import (
    OTHER_MODULE, ZONE, finger, hit, local, snapshot, user,
)

MON_9 = local("2026-11-02 09:00")
PEOPLE = (
    user("u-staff", finger("f-staff"), finger("f-staff-duress", duress=True)),
    user("u-office", schedule="office"),
    user("u-sec", roles=["security"]),
    user("u-visitor", valid_from=local("2026-11-02 08:00"), valid_until=local("2026-11-03 08:00")),
    user("u-inactive", active=False),
    user("u-elsewhere", zone="elsewhere"),
    user("u-finger-off", finger("f-off", active=False)),
    user("u-r503", finger("f-r503", module=OTHER_MODULE)),
)
BASE = snapshot(*PEOPLE)
LOCKDOWN = snapshot(*PEOPLE, lockdown=True)
IGNORE_WINDOWS = snapshot(*PEOPLE, policy={"untrusted_clock": "ignore_windows"})
START = snapshot_applied(DecisionState.initial(), mono_now=0.0)


def run(claim: Claim, snap: Snapshot | None = BASE, state: DecisionState = START,
        wall: float = MON_9, mono: float = 1000.0, trusted: bool = True) -> tuple[Decision, DecisionState]:
    return decide(claim, snap, state, wall, mono, trusted)


TAMPER = AlarmKind.TAMPER
# (id, claim, keyword arguments of run(), reason, granted, alarm kinds)
RULES = [
    ("granted", hit("f-staff"), {}, Reason.GRANTED, True, []),
    ("poor image", Claim.poor_image(), {}, Reason.POOR_IMAGE, False, []),
    ("unknown finger", Claim.unknown(), {}, Reason.UNKNOWN_FINGER, False, []),
    ("empty slot", hit(None, SlotState.EMPTY), {}, Reason.TAMPER_EMPTY_SLOT, False, [TAMPER]),
    ("empty slot naming a finger", hit("f-staff", SlotState.EMPTY), {}, Reason.TAMPER_EMPTY_SLOT, False, [TAMPER]),
    ("unconfirmed hit", hit("f-staff", confirmed=False), {}, Reason.TAMPER_UNCONFIRMED, False, [TAMPER]),
    ("active slot without finger", hit(None), {}, Reason.TAMPER_UNCONFIRMED, False, [TAMPER]),
    ("pending delete", hit("f-staff", SlotState.PENDING_DELETE), {}, Reason.REVOKED, False, []),
    ("pending load", hit("f-staff", SlotState.PENDING_LOAD), {}, Reason.NOT_YET_LOADED, False, []),
    ("finger not in snapshot", hit("f-ghost"), {}, Reason.FINGER_NOT_IN_SNAPSHOT, False, []),
    ("module mismatch", hit("f-staff", module=OTHER_MODULE), {}, Reason.MODULE_MISMATCH, False, []),
    ("module mismatch, other side", hit("f-r503"), {}, Reason.MODULE_MISMATCH, False, []),
    ("made on the other module", hit("f-r503", module=OTHER_MODULE), {}, Reason.GRANTED, True, []),
    ("finger inactive", hit("f-off"), {}, Reason.FINGER_INACTIVE, False, []),
    ("user inactive", hit("f-u-inactive"), {}, Reason.USER_INACTIVE, False, []),
    ("no grant for this zone", hit("f-u-elsewhere"), {}, Reason.NO_GRANT, False, []),
    ("visitor too early", hit("f-u-visitor"), {"wall": local("2026-11-02 07:59:59")},
     Reason.USER_NOT_YET_VALID, False, []),
    ("visitor from valid_from", hit("f-u-visitor"), {"wall": local("2026-11-02 08:00")},
     Reason.GRANTED, True, []),
    ("visitor at valid_until", hit("f-u-visitor"), {"wall": local("2026-11-03 08:00")},
     Reason.USER_EXPIRED, False, []),
    ("inside schedule", hit("f-u-office"), {}, Reason.GRANTED, True, []),
    ("outside schedule", hit("f-u-office"), {"wall": local("2026-11-02 19:00")},
     Reason.OUTSIDE_SCHEDULE, False, []),
    ("holiday", hit("f-u-office"), {"wall": local("2026-12-25 10:00")}, Reason.HOLIDAY, False, []),
    ("Friday night shift after midnight", hit("f-u-office"), {"wall": local("2026-11-07 05:00")},
     Reason.GRANTED, True, []),
    ("duress", hit("f-staff-duress"), {}, Reason.GRANTED_DURESS, True, [AlarmKind.DURESS]),
    ("tamper switch", hit("f-staff"), {"state": replace(START, tamper_switch=True)},
     Reason.TAMPER_SWITCH, False, []),
    ("no snapshot yet", hit("f-staff"), {"snap": None}, Reason.NO_SNAPSHOT, False, []),
    ("lockdown flag, staff", hit("f-staff"), {"snap": LOCKDOWN}, Reason.LOCKDOWN, False, []),
    ("lockdown flag, security", hit("f-u-sec"), {"snap": LOCKDOWN}, Reason.GRANTED, True, []),
    ("keyswitch, staff", hit("f-staff"), {"state": replace(START, keyswitch_lockdown=True)},
     Reason.LOCKDOWN, False, []),
    ("lockdown, an inactive user is inactive first", hit("f-u-inactive"), {"snap": LOCKDOWN},
     Reason.USER_INACTIVE, False, []),
    ("untrusted clock, scheduled grant", hit("f-u-office"), {"trusted": False},
     Reason.CLOCK_UNTRUSTED, False, []),
    ("untrusted clock, validity window", hit("f-u-visitor"), {"trusted": False},
     Reason.CLOCK_UNTRUSTED, False, []),
    ("untrusted clock, grant at any time", hit("f-staff"), {"trusted": False}, Reason.GRANTED, True, []),
    ("untrusted clock, windows ignored", hit("f-u-office"),
     {"trusted": False, "snap": IGNORE_WINDOWS, "wall": local("2026-11-02 23:00")}, Reason.GRANTED, True, []),
    ("visitor, windows ignored", hit("f-u-visitor"),
     {"trusted": False, "snap": IGNORE_WINDOWS, "wall": local("2026-12-01 09:00")}, Reason.GRANTED, True, []),
    ("kernel synced but before issued_at minus skew", hit("f-u-office"),
     {"wall": BASE.issued_at - 301}, Reason.CLOCK_UNTRUSTED, False, []),
]


@pytest.mark.parametrize(("claim", "kwargs", "reason", "granted", "alarms"),
                         [row[1:] for row in RULES], ids=[row[0] for row in RULES])
def test_rules(claim: Claim, kwargs: dict, reason: Reason, granted: bool, alarms: list) -> None:
    decision, _ = run(claim, **kwargs)
    assert (decision.reason, decision.granted) == (reason, granted)
    assert [alarm.kind for alarm in decision.alarms] == alarms
    assert decision.visible is (Feedback.GRANTED if granted else Feedback.DENIED)
    assert not decision.ignored


def test_every_reason_has_a_row_or_a_dedicated_test() -> None:
    covered = {row[3] for row in RULES} | {
        Reason.LOCKED_OUT, Reason.WAITING_SECOND_PERSON, Reason.SAME_PERSON_TWICE,
        Reason.SNAPSHOT_EXPIRED_GRACE, Reason.SNAPSHOT_EXPIRED_ALLOW_LIST,
        Reason.SNAPSHOT_EXPIRED_DENIED, Reason.SNAPSHOT_EXPIRED_NOT_LISTED,
        Reason.BOOT_GRACE, Reason.BOOT_ALLOW_LIST, Reason.BOOT_GRACE_OVER,
        Reason.BOOT_UNTRUSTED_DENIED,  # tests/unit/test_decision_boot.py
    }
    assert covered == set(Reason)


def test_grant_names_user_and_finger() -> None:
    decision, _ = run(hit("f-staff"))
    assert decision == Decision(True, Reason.GRANTED, Feedback.GRANTED, "u-staff", "f-staff")


def test_under_lockdown_is_set_on_lockdown_grants_only() -> None:
    assert run(hit("f-u-sec"), snap=LOCKDOWN)[0].under_lockdown is True
    assert run(hit("f-u-sec"))[0].under_lockdown is False


# ---- duress ----


def test_duress_looks_like_a_normal_grant_at_the_door() -> None:
    normal, normal_state = run(hit("f-staff"))
    duress, duress_state = run(hit("f-staff-duress"))
    assert duress.door_view() == normal.door_view() == (True, Feedback.GRANTED, False)
    assert duress.alarms == (Alarm(AlarmKind.DURESS, "user u-staff"),)
    assert duress_state == normal_state


# ---- lockout ----

LOCKOUT = LockoutPolicy()


def unknown_and_lift(state: DecisionState, mono: float) -> tuple[Decision, DecisionState]:
    decision, state = run(Claim.unknown(), state=state, mono=mono)
    return decision, finger_lifted(state, LOCKOUT, mono + 0.5)


def test_three_unknowns_lock_out_for_five_seconds_then_doubling_to_sixty() -> None:
    state, mono, durations = START, 0.0, []
    for _ in range(6):
        for _ in range(3):
            decision, state = unknown_and_lift(state, mono)
            assert decision.reason is Reason.UNKNOWN_FINGER
            mono += 1.0
        until = state.locked_out_until_mono
        durations.append(until - (mono - 1.0 + 0.5))
        mono = until
    assert durations == [5.0, 10.0, 20.0, 40.0, 60.0, 60.0]


def test_scans_during_lockout_are_ignored_and_count_nothing() -> None:
    state = START
    for mono in (0.0, 1.0, 2.0):
        _, state = unknown_and_lift(state, mono)
    assert state.locked_out_until_mono == 7.5
    for claim in (Claim.unknown(), hit("f-staff"), Claim.poor_image()):
        decision, after = run(claim, state=state, mono=7.4)
        assert decision == Decision(False, Reason.LOCKED_OUT, Feedback.NONE, ignored=True)
        assert finger_lifted(after, LOCKOUT, 7.45) == after
    assert run(hit("f-staff"), state=state, mono=7.5)[0].reason is Reason.GRANTED


def test_tamper_evidence_is_never_ignored_during_lockout() -> None:
    state = replace(START, locked_out_until_mono=100.0)
    decision, _ = run(hit(None, SlotState.EMPTY), state=state, mono=50.0)
    assert decision.reason is Reason.TAMPER_EMPTY_SLOT and decision.alarms


def test_strikes_count_on_lift_only_and_poor_images_do_not_count() -> None:
    state = START
    _, state = run(Claim.unknown(), state=state)
    assert state.unknown_streak == 0  # not yet lifted
    state = finger_lifted(state, LOCKOUT, 1.0)
    _, state = run(Claim.poor_image(), state=state)
    state = finger_lifted(state, LOCKOUT, 2.0)
    _, state = run(hit("f-u-office"), state=state, wall=local("2026-11-02 20:00"))  # a deny
    state = finger_lifted(state, LOCKOUT, 3.0)
    assert (state.unknown_streak, state.locked_out_until_mono) == (1, None)


def test_a_grant_resets_strikes_and_doubling() -> None:
    state = replace(START, unknown_streak=2, lockouts=3, locked_out_until_mono=10.0)
    _, state = run(hit("f-staff"), state=state, mono=20.0)
    assert (state.unknown_streak, state.lockouts, state.locked_out_until_mono) == (0, 0, None)


# ---- two-person rule ----

TENT = snapshot(*PEOPLE, zone={"id": ZONE, "two_person": True})
TENT_10S = snapshot(*PEOPLE, zone={"id": ZONE, "two_person": True, "two_person_window_s": 10})


def sequence(snap: Snapshot, scans: list[tuple[str, float]]) -> list[Reason]:
    state, reasons = START, []
    for finger_id, mono in scans:
        decision, state = run(hit(finger_id), snap=snap, state=state, mono=mono)
        reasons.append(decision.reason)
    return reasons


TWO_PERSON = [
    ("pair", TENT, [("f-staff", 0), ("f-u-sec", 29.9)],
     [Reason.WAITING_SECOND_PERSON, Reason.GRANTED]),
    ("same person twice", TENT, [("f-staff", 0), ("f-staff", 5), ("f-u-sec", 6)],
     [Reason.WAITING_SECOND_PERSON, Reason.SAME_PERSON_TWICE, Reason.GRANTED]),
    ("same person, other finger", TENT, [("f-staff", 0), ("f-staff-duress", 5)],
     [Reason.WAITING_SECOND_PERSON, Reason.SAME_PERSON_TWICE]),
    ("window runs out", TENT, [("f-staff", 0), ("f-u-sec", 30), ("f-staff", 31)],
     [Reason.WAITING_SECOND_PERSON, Reason.WAITING_SECOND_PERSON, Reason.GRANTED]),
    ("same person does not refresh the window", TENT, [("f-staff", 0), ("f-staff", 25), ("f-u-sec", 31)],
     [Reason.WAITING_SECOND_PERSON, Reason.SAME_PERSON_TWICE, Reason.WAITING_SECOND_PERSON]),
    ("zone window", TENT_10S, [("f-staff", 0), ("f-u-sec", 10)],
     [Reason.WAITING_SECOND_PERSON, Reason.WAITING_SECOND_PERSON]),
    ("an unauthorised second person", TENT, [("f-staff", 0), ("f-u-elsewhere", 1), ("f-u-sec", 2)],
     [Reason.WAITING_SECOND_PERSON, Reason.NO_GRANT, Reason.GRANTED]),
    ("an unauthorised first person", TENT, [("f-u-inactive", 0), ("f-staff", 1)],
     [Reason.USER_INACTIVE, Reason.WAITING_SECOND_PERSON]),
    ("a pair opens once", TENT, [("f-staff", 0), ("f-u-sec", 1), ("f-staff", 2)],
     [Reason.WAITING_SECOND_PERSON, Reason.GRANTED, Reason.WAITING_SECOND_PERSON]),
    ("ordinary zone", BASE, [("f-staff", 0)], [Reason.GRANTED]),
]


@pytest.mark.parametrize(("snap", "scans", "expected"), [r[1:] for r in TWO_PERSON],
                         ids=[r[0] for r in TWO_PERSON])
def test_two_person_rule(snap: Snapshot, scans: list, expected: list[Reason]) -> None:
    assert sequence(snap, scans) == expected


def test_waiting_shows_amber_and_duress_still_alarms() -> None:
    decision, state = run(hit("f-staff-duress"), snap=TENT)
    assert (decision.granted, decision.visible) == (False, Feedback.WAITING)
    assert [a.kind for a in decision.alarms] == [AlarmKind.DURESS]
    assert state.pending_first is not None and state.pending_first.user_id == "u-staff"


def test_a_new_snapshot_drops_a_waiting_first_person() -> None:
    _, state = run(hit("f-staff"), snap=TENT, mono=0.0)
    state = snapshot_applied(state, mono_now=1.0)
    assert run(hit("f-u-sec"), snap=TENT, state=state, mono=2.0)[0].reason is Reason.WAITING_SECOND_PERSON

"""decide() against time: expiry and the offline policy, clock trust, DST, a week offline."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from doorward.daemon.access.claim import Claim
from doorward.daemon.access.decision import Decision, DecisionState, Feedback, Reason, decide
from doorward.daemon.codec.alarms import AlarmKind
from doorward.daemon.access.state import snapshot_applied
from doorward.daemon.codec.snapshot import Snapshot
from doorward.sim.rig.access import finger, hit, local, snapshot, user, utc

PEOPLE = (
    user("u-staff", finger("f-staff"), finger("f-staff-duress", duress=True)),
    user("u-office", schedule="office"),
    user("u-sec", roles=["security"]),
)
GRACE_S = 3600.0
DENY_AFTER = snapshot(*PEOPLE, policy={"offline": {"grace_s": GRACE_S, "then": "deny"}})
LISTED = snapshot(*PEOPLE, policy={"offline": {"grace_s": GRACE_S, "then": "allow_list",
                                               "allow_list": ["u-staff", "u-office"]}})
EXPIRES = DENY_AFTER.expires_at  # Friday 2027-01-01 07:00 local: inside office hours
VALIDITY_S = DENY_AFTER.validity_s
APPLIED = snapshot_applied(DecisionState.initial(), mono_now=0.0)


def reasons(snap: Snapshot, scans: list[tuple[str, float, float, bool]],
            state: DecisionState = APPLIED) -> list[tuple[Reason, tuple[AlarmKind, ...]]]:
    """Run (finger, wall, mono, trusted) scans in order; (reason, alarm kinds) of each."""
    seen = []
    for finger_id, wall, mono, trusted in scans:
        decision, state = decide(hit(finger_id), snap, state, wall, mono, trusted)
        seen.append((decision.reason, tuple(alarm.kind for alarm in decision.alarms)))
    return seen


GRACE = AlarmKind.OFFLINE_GRACE
OFFLINE = [
    ("fresh until expires_at", DENY_AFTER, [("f-staff", EXPIRES - 1, 10, True)],
     [(Reason.GRANTED, ())]),
    ("grace: one alarm, then quiet", DENY_AFTER,
     [("f-staff", EXPIRES, 10, True), ("f-u-sec", EXPIRES + 10, 20, True)],
     [(Reason.SNAPSHOT_EXPIRED_GRACE, (GRACE,)), (Reason.SNAPSHOT_EXPIRED_GRACE, ())]),
    ("grace keeps schedules", DENY_AFTER, [("f-u-office", EXPIRES - 61, 10, True)],
     [(Reason.OUTSIDE_SCHEDULE, ())]),
    ("grace with duress", DENY_AFTER, [("f-staff-duress", EXPIRES + 5, 10, True)],
     [(Reason.GRANTED_DURESS, (AlarmKind.DURESS, GRACE))]),
    ("then deny, even security", DENY_AFTER,
     [("f-u-sec", EXPIRES + GRACE_S, 10, True), ("f-staff", EXPIRES + 9e6, 20, True)],
     [(Reason.SNAPSHOT_EXPIRED_DENIED, ()), (Reason.SNAPSHOT_EXPIRED_DENIED, ())]),
    ("then the allow-list", LISTED,
     [("f-staff", EXPIRES + GRACE_S, 10, True), ("f-u-sec", EXPIRES + GRACE_S, 20, True)],
     [(Reason.SNAPSHOT_EXPIRED_ALLOW_LIST, ()), (Reason.SNAPSHOT_EXPIRED_NOT_LISTED, ())]),
    ("the allow-list keeps schedules", LISTED,
     [("f-u-office", EXPIRES + 12 * 3600, 10, True), ("f-u-office", EXPIRES + 2 * 3600, 20, True)],
     [(Reason.OUTSIDE_SCHEDULE, ()), (Reason.SNAPSHOT_EXPIRED_ALLOW_LIST, ())]),
    ("a clock pushed ahead, then corrected", DENY_AFTER,
     [("f-staff", EXPIRES + 60 * 86400, 10, True), ("f-staff", EXPIRES - 86400, 20, True)],
     [(Reason.SNAPSHOT_EXPIRED_DENIED, ()), (Reason.GRANTED, ())]),
]


@pytest.mark.parametrize(("snap", "scans", "expected"), [r[1:] for r in OFFLINE],
                         ids=[r[0] for r in OFFLINE])
def test_offline_policy(snap: Snapshot, scans: list, expected: list) -> None:
    assert reasons(snap, scans) == expected


def test_a_new_snapshot_may_raise_the_grace_alarm_again() -> None:
    _, state = decide(hit("f-staff"), DENY_AFTER, APPLIED, EXPIRES + 1, 10.0, True)
    assert state.grace_alarm_raised
    state = snapshot_applied(state, mono_now=20.0)
    decision, _ = decide(hit("f-staff"), DENY_AFTER, state, EXPIRES + 2, 30.0, True)
    assert [a.kind for a in decision.alarms] == [GRACE]


# ---- untrusted clock: expiry on monotonic time ----

NOW_WALL = local("2026-11-02 09:00")
UNTRUSTED_EXPIRY = [
    ("applied this boot, within validity", APPLIED, [("f-staff", 0.0, VALIDITY_S - 1, False)],
     [(Reason.GRANTED, ())]),
    ("applied this boot, validity over", APPLIED, [("f-staff", 0.0, VALIDITY_S, False)],
     [(Reason.SNAPSHOT_EXPIRED_GRACE, (GRACE,))]),
    ("applied this boot, grace over", APPLIED, [("f-staff", 0.0, VALIDITY_S + GRACE_S, False)],
     [(Reason.SNAPSHOT_EXPIRED_DENIED, ())]),
    ("reboot with an untrusted clock: the boot policy (tests/unit/test_decision_boot.py)",
     DecisionState.initial(started_mono=0.0), [("f-staff", NOW_WALL, 5.0, False)],
     [(Reason.BOOT_GRACE, (AlarmKind.BOOT_GRACE,))]),
    ("trusted earlier this boot, timed on from there", DecisionState.initial(),
     [("f-staff", EXPIRES - 100, 1000.0, True), ("f-staff", 0.0, 1099.0, False),
      ("f-staff", 0.0, 1100.0, False)],
     [(Reason.GRANTED, ()), (Reason.GRANTED, ()), (Reason.SNAPSHOT_EXPIRED_GRACE, (GRACE,))]),
    ("a wall clock behind issued_at is not trusted", DecisionState.initial(started_mono=0.0),
     [("f-staff", DENY_AFTER.issued_at - 301, 5.0, True)],
     [(Reason.BOOT_GRACE, (AlarmKind.BOOT_GRACE,))]),
    ("the allowed skew is allowed", DecisionState.initial(),
     [("f-staff", DENY_AFTER.issued_at - 300, 5.0, True)], [(Reason.GRANTED, ())]),
]


@pytest.mark.parametrize(("state", "scans", "expected"), [r[1:] for r in UNTRUSTED_EXPIRY],
                         ids=[r[0] for r in UNTRUSTED_EXPIRY])
def test_expiry_on_monotonic_time_while_untrusted(state: DecisionState, scans: list, expected: list) -> None:
    assert reasons(DENY_AFTER, scans, state) == expected


def test_reboot_with_untrusted_clock_still_honours_the_allow_list() -> None:
    after_boot_grace = DecisionState.initial(started_mono=0.0)
    assert reasons(LISTED, [("f-staff", 0.0, GRACE_S, False), ("f-u-sec", 0.0, GRACE_S, False)],
                   after_boot_grace) == [(Reason.BOOT_ALLOW_LIST, ()), (Reason.BOOT_GRACE_OVER, ())]


# ---- DST through decide() ----

SUNDAY_EDGES = [
    {"id": "early", "weekly": {"sun": [["00:00", "02:30"]]}},
    {"id": "late", "weekly": {"sun": [["02:30", "06:00"]]}},
]
DST_SNAPSHOT = snapshot(
    user("u-early", schedule="early"), user("u-late", schedule="late"),
    issued_at=utc("2026-03-01 00:00"), expires_at=utc("2026-12-31 00:00"), schedules=SUNDAY_EDGES,
)
DST = [
    ("spring: 01:59 CET", utc("2026-03-29 00:59"), Reason.GRANTED, Reason.OUTSIDE_SCHEDULE),
    ("spring: the jump to 03:00 CEST", utc("2026-03-29 01:00"), Reason.OUTSIDE_SCHEDULE, Reason.GRANTED),
    ("fall: 02:29 CEST", utc("2026-10-25 00:29"), Reason.GRANTED, Reason.OUTSIDE_SCHEDULE),
    ("fall: 02:30 CEST", utc("2026-10-25 00:30"), Reason.OUTSIDE_SCHEDULE, Reason.GRANTED),
    ("fall: 02:10 CET, the repeated hour", utc("2026-10-25 01:10"), Reason.OUTSIDE_SCHEDULE, Reason.GRANTED),
    ("fall: 05:59 CET", utc("2026-10-25 04:59"), Reason.OUTSIDE_SCHEDULE, Reason.GRANTED),
    ("fall: 06:00 CET", utc("2026-10-25 05:00"), Reason.OUTSIDE_SCHEDULE, Reason.OUTSIDE_SCHEDULE),
]


@pytest.mark.parametrize(("wall", "early", "late"), [r[1:] for r in DST], ids=[r[0] for r in DST])
def test_dst_edges_inside_the_shifted_hour(wall: float, early: Reason, late: Reason) -> None:
    got = [decide(hit(f), DST_SNAPSHOT, APPLIED, wall, 1.0, True)[0].reason for f in ("f-u-early", "f-u-late")]
    assert got == [early, late]


# ---- promise 1 in miniature: a week offline against an independent table ----

WEEK_SNAPSHOT = snapshot(
    *PEOPLE, issued_at=utc("2026-10-01 00:00"), expires_at=utc("2026-10-23 12:00"),
    policy={"offline": {"grace_s": 2 * 86400, "then": "allow_list", "allow_list": ["u-office"]}},
)


def expected_reason(finger_id: str, wall: float) -> Reason:
    """Written from the rules, not from the code: local readings via datetime only."""
    past_s = wall - utc("2026-10-23 12:00")
    phase = "fresh" if past_s < 0 else "grace" if past_s < 2 * 86400 else "after"
    reading = dt.datetime.fromtimestamp(wall, ZoneInfo("Europe/Berlin"))
    if finger_id == "f-staff":
        return {"fresh": Reason.GRANTED, "grace": Reason.SNAPSHOT_EXPIRED_GRACE,
                "after": Reason.SNAPSHOT_EXPIRED_NOT_LISTED}[phase]
    day_shift = reading.weekday() < 5 and 7 <= reading.hour < 19
    night_shift = (reading.weekday(), reading.hour >= 22) == (4, True) or (
        reading.weekday() == 5 and reading.hour < 6)  # Friday 22:00 to Saturday 06:00
    if not (day_shift or night_shift):
        return Reason.OUTSIDE_SCHEDULE
    return {"fresh": Reason.GRANTED, "grace": Reason.SNAPSHOT_EXPIRED_GRACE,
            "after": Reason.SNAPSHOT_EXPIRED_ALLOW_LIST}[phase]


def test_a_week_offline_every_ten_minutes_across_expiry_grace_and_dst() -> None:
    start = utc("2026-10-21 00:00")  # Wednesday; the clocks go back on Sunday the 25th
    state = snapshot_applied(DecisionState.initial(), mono_now=0.0)
    got, want = [], []
    for step in range(7 * 24 * 6):
        wall = start + step * 600
        for finger_id in ("f-staff", "f-u-office"):
            decision, state = decide(hit(finger_id), WEEK_SNAPSHOT, state, wall, 1e6 + step, True)
            got.append((wall, finger_id, decision.reason))
            want.append((wall, finger_id, expected_reason(finger_id, wall)))
    assert got == want
    assert {reason for _, _, reason in got} == {
        Reason.GRANTED, Reason.SNAPSHOT_EXPIRED_GRACE, Reason.SNAPSHOT_EXPIRED_NOT_LISTED,
        Reason.OUTSIDE_SCHEDULE, Reason.SNAPSHOT_EXPIRED_ALLOW_LIST}


def test_a_poor_image_needs_neither_snapshot_nor_clock() -> None:
    decision, _ = decide(Claim.poor_image(), None, DecisionState.initial(), 0.0, 0.0, False)
    assert decision == Decision(False, Reason.POOR_IMAGE, Feedback.DENIED)

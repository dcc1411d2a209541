"""Properties of decide() over random snapshots, claims, states and times (hypothesis).

The central one: no grant without a confirmed hit on an active slot of an active finger of an
active user, and a grant for this zone valid at that time, judged by an oracle written here
from the rules (local readings through ``datetime``), not by the code under test.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from doorward.daemon.access.claim import Claim, ClaimKind, SlotState
from doorward.daemon.access.decision import DecisionState, Feedback, Reason, decide
from doorward.daemon.codec.snapshot import Snapshot
from doorward.sim.rig.access import (
    HOLIDAY_MORNINGS, ISSUED_AT, MODULE, OFFICE, OTHER_MODULE, ZONE, finger, payload,
)

# ~200 examples keep the suite well under a minute; the soak profile's larger count still wins.
PROPERTY_SETTINGS = settings(max_examples=max(200, settings.default.max_examples))

BERLIN = ZoneInfo("Europe/Berlin")
SCHEDULES = {s["id"]: s for s in (OFFICE, HOLIDAY_MORNINGS)}
HOLIDAYS = {dt.date(2026, 12, 25)}
GRANTING = {Reason.GRANTED, Reason.GRANTED_DURESS, Reason.SNAPSHOT_EXPIRED_GRACE, Reason.BOOT_GRACE, Reason.BOOT_ALLOW_LIST,
            Reason.SNAPSHOT_EXPIRED_ALLOW_LIST}
DAY_S = 86400

def mostly(usual, *unusual):
    """Mostly the usual value, so that grants are common enough to test."""
    return st.sampled_from([usual] * 4 + list(unusual))


instants = st.integers(0, 70 * 24 * 60).map(lambda minute: ISSUED_AT + minute * 60.0)
grants = st.lists(st.fixed_dictionaries({
    "zone": mostly(ZONE, "elsewhere"),
    "schedule": st.sampled_from([None, "office", "holiday-mornings"]),
}), min_size=1, max_size=2)
windows = st.one_of(st.just((None, None)), st.just((None, None)), st.tuples(instants, st.integers(1, 30 * DAY_S)).map(
    lambda pair: (pair[0], pair[0] + pair[1])))
user_parts = st.tuples(grants, windows, mostly(True, False), st.booleans(), st.lists(
    st.tuples(st.booleans(), mostly(True, False), mostly(MODULE, OTHER_MODULE)),
    min_size=1, max_size=2))


@st.composite
def snapshots(draw) -> Snapshot:
    users = []
    for number, (user_grants, (start, end), active, security, fingers) in enumerate(
            draw(st.lists(user_parts, min_size=1, max_size=4))):
        users.append({
            "id": f"u-{number}", "active": active, "valid_from": start, "valid_until": end,
            "roles": ["security"] if security else [], "grants": user_grants,
            "fingers": [finger(f"f-{number}-{n}", duress=duress, active=on, module=module)
                        for n, (duress, on, module) in enumerate(fingers)],
        })
    policy = {
        "untrusted_clock": draw(st.sampled_from(["deny_windowed", "ignore_windows"])),
        "offline": {"grace_s": draw(st.sampled_from([0, 3600, 5 * DAY_S])),
                    "then": draw(st.sampled_from(["deny", "allow_list"])),
                    "allow_list": draw(st.lists(st.sampled_from(["u-0", "u-1", "u-9"]), max_size=2))},
    }
    zone = {"id": ZONE, "two_person": draw(mostly(False, True))}
    return Snapshot.from_payload(payload(*users, policy=policy, zone=zone,
                                         lockdown=draw(mostly(False, True))))


CLAIM_FAULTS = ["unknown", "poor_image", "pending_load", "pending_delete", "empty", "unconfirmed",
                "ghost_finger", "no_finger", "other_module"]
STATE_FAULTS = ["tamper", "keyswitch", "locked_out", "lockout_over", "reboot"]


@st.composite
def claims(draw, snapshot: Snapshot) -> Claim:
    """A good hit on a real finger, spoiled by up to two faults (often none)."""
    faults = set(draw(st.lists(st.sampled_from(CLAIM_FAULTS), max_size=2)))
    if faults & {"unknown", "poor_image"}:
        return Claim(ClaimKind.UNKNOWN if "unknown" in faults else ClaimKind.POOR_IMAGE)
    finger_id = draw(st.sampled_from([f.finger_id for u in snapshot.users for f in u.fingers]))
    slot = next((SlotState(f) for f in ("pending_load", "pending_delete", "empty") if f in faults),
                SlotState.ACTIVE)
    if faults & {"ghost_finger", "no_finger"}:
        finger_id = "f-ghost" if "ghost_finger" in faults else None
    return Claim.hit(draw(st.integers(0, 999)), 100, slot, finger_id, "unconfirmed" not in faults,
                     OTHER_MODULE if "other_module" in faults else MODULE)


@st.composite
def states(draw) -> DecisionState:
    faults = set(draw(st.lists(st.sampled_from(STATE_FAULTS), max_size=2)))
    lockout_until = 500.0 if "locked_out" in faults else 50.0 if "lockout_over" in faults else None
    return DecisionState(
        keyswitch_lockdown="keyswitch" in faults, tamper_switch="tamper" in faults,
        locked_out_until_mono=lockout_until,
        snapshot_applied_mono=None if "reboot" in faults else 0.0,
    )


def minute_in(period: list[str], minute: int, started_today: bool) -> bool:
    start, end = (int(t[:2]) * 60 + int(t[3:]) for t in period)
    crosses = end <= start or end == 24 * 60
    if started_today:
        return start <= minute and (crosses or minute < end)
    return crosses and end != 24 * 60 and minute < end


def oracle_inside(schedule_id: str, wall: float) -> bool:
    reading = dt.datetime.fromtimestamp(wall, BERLIN)
    minute = reading.hour * 60 + reading.minute
    schedule = SCHEDULES[schedule_id]
    for day, today in ((reading.date() - dt.timedelta(days=1), False), (reading.date(), True)):
        name = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[day.weekday()]
        periods = schedule.get("holiday", []) if day in HOLIDAYS else schedule["weekly"].get(name, [])
        if any(minute_in(period, minute, today) for period in periods):
            return True
    return False


def allowed_by_oracle(claim: Claim, snap: Snapshot, state: DecisionState, wall: float,
                      mono: float, trusted: bool) -> bool:
    entry = snap.index.fingers.get(claim.finger_id) if claim.finger_id else None
    if (claim.kind is not ClaimKind.HIT or claim.slot_state is not SlotState.ACTIVE
            or not claim.match_confirmed or entry is None or state.tamper_switch
            or state.locked_out(mono)):
        return False
    user, fing = entry.user, entry.finger
    if not (fing.active and user.active and fing.module_identity == claim.module_identity):
        return False
    if (snap.lockdown or state.keyswitch_lockdown) and "security" not in user.roles:
        return False
    ignore = snap.policy.untrusted_clock == "ignore_windows"
    if user.valid_from is not None and not (
            (trusted and user.valid_from <= wall < user.valid_until) or (not trusted and ignore)):
        return False
    if trusted and wall >= snap.expires_at + snap.policy.offline.grace_s and not (
            snap.policy.offline.then == "allow_list" and user.user_id in snap.policy.offline.allow_list):
        return False
    zone_grants = [g for g in user.grants if g.zone_id == ZONE]
    return any(g.schedule_id is None or (oracle_inside(g.schedule_id, wall) if trusted else ignore)
               for g in zone_grants)


@PROPERTY_SETTINGS
@given(st.data(), snapshots(), states(), instants, mostly(True, False))
def test_no_grant_without_active_slot_and_a_zone_grant_valid_then(data, snap, state, wall, trusted) -> None:
    claim = data.draw(claims(snap))
    mono = 100.0
    decision, _ = decide(claim, snap, state, wall, mono, trusted)
    if decision.granted:
        assert allowed_by_oracle(claim, snap, state, wall, mono, trusted), decision
    assert decision.granted == (decision.reason in GRANTING)
    assert decision.granted == (decision.visible is Feedback.GRANTED)


@PROPERTY_SETTINGS
@given(st.data(), snapshots(), states(), instants, mostly(True, False))
def test_the_oracle_and_decide_agree_where_nothing_else_intervenes(data, snap, state, wall, trusted) -> None:
    """The converse, for ordinary zones and a fresh snapshot on a trusted clock."""
    claim = data.draw(claims(snap))
    fresh = wall < snap.expires_at
    decision, _ = decide(claim, snap, state, wall, 100.0, trusted)
    if not snap.zone.two_person and fresh and trusted:
        assert decision.granted == allowed_by_oracle(claim, snap, state, wall, 100.0, True), decision

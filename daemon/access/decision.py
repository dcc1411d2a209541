"""The access decision: ``decide(claim, snapshot, state, wall_now, mono_now, clock_trusted)``.

Owns ``Decision``, ``Reason`` (stable codes, documented in docs/reasons.md), ``Feedback``,
``Alarm`` and the order in which the rules are checked:

1. the scan itself: reader tamper switch, a lying module (empty slot, a hit the 1:1 Match
   did not confirm) even during lockout, then lockout (scan ignored), poor image, unknown
   finger, slot pending deletion or load, no snapshot yet;
2. the finger and its user: in the snapshot, made on this module, active;
3. the snapshot's freshness (offline policy; the boot policy when its age cannot be known),
   the user's validity window, lockdown, the zone grant and its schedule (clock trust
   decides what windows mean);
4. duress and the two-person rule, then the grant.

``wall_now`` is epoch seconds (UTC, a float, as ``time.time()`` gives); ``mono_now`` is
``time.monotonic()`` seconds; ``clock_trusted`` is the kernel's "synchronised" (or an RTC) and
is further checked here against the snapshot's ``issued_at`` minus the allowed skew.

Pure: no serial, GPIO, SQLite, HTTP or ``time`` calls; imports only the access modules.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace

from doorward.daemon.codec.alarms import Alarm, AlarmKind
from doorward.daemon.access.claim import Claim, ClaimKind, SlotState
from doorward.daemon.access.state import (
    DecisionState,
    Freshness,
    PendingFirst,
    clock_is_trusted,
    clock_observed,
    after_grant,
    snapshot_freshness,
)
from doorward.daemon.codec.schedule import Verdict, schedule_verdict
from doorward.daemon.codec.snapshot import FingerEntry, Snapshot, User

__all__ = ["Alarm", "AlarmKind", "Claim", "ClaimKind", "Decision", "DecisionState",
           "Feedback", "Reason", "SlotState", "decide"]


class Reason(str, enum.Enum):
    # granted
    GRANTED = "granted"
    GRANTED_DURESS = "granted_duress"
    SNAPSHOT_EXPIRED_GRACE = "snapshot_expired_grace"
    SNAPSHOT_EXPIRED_ALLOW_LIST = "snapshot_expired_allow_list"
    BOOT_GRACE = "boot_grace"
    BOOT_ALLOW_LIST = "boot_allow_list"
    # the scan
    NO_SNAPSHOT = "no_snapshot"
    TAMPER_SWITCH = "tamper_switch"
    TAMPER_EMPTY_SLOT = "tamper_empty_slot"
    TAMPER_UNCONFIRMED = "tamper_unconfirmed"
    LOCKED_OUT = "locked_out"
    POOR_IMAGE = "poor_image"
    UNKNOWN_FINGER = "unknown_finger"
    REVOKED = "revoked"
    NOT_YET_LOADED = "not_yet_loaded"
    # the finger and its user
    FINGER_NOT_IN_SNAPSHOT = "finger_not_in_snapshot"
    MODULE_MISMATCH = "module_mismatch"
    FINGER_INACTIVE = "finger_inactive"
    USER_INACTIVE = "user_inactive"
    # time, place and policy
    SNAPSHOT_EXPIRED_DENIED = "snapshot_expired_denied"
    SNAPSHOT_EXPIRED_NOT_LISTED = "snapshot_expired_not_listed"
    BOOT_GRACE_OVER = "boot_grace_over"
    BOOT_UNTRUSTED_DENIED = "boot_untrusted_denied"
    CLOCK_UNTRUSTED = "clock_untrusted"
    USER_NOT_YET_VALID = "user_not_yet_valid"
    USER_EXPIRED = "user_expired"
    LOCKDOWN = "lockdown"
    NO_GRANT = "no_grant"
    OUTSIDE_SCHEDULE = "outside_schedule"
    HOLIDAY = "holiday"
    WAITING_SECOND_PERSON = "waiting_second_person"
    SAME_PERSON_TWICE = "same_person_twice"


class Feedback(str, enum.Enum):
    """What the person at the door may see and hear. Duress never shows."""

    GRANTED = "granted"
    DENIED = "denied"
    WAITING = "waiting"
    NONE = "none"  # scan ignored


@dataclass(frozen=True)
class Decision:
    granted: bool
    reason: Reason
    visible: Feedback
    user_id: str | None = None
    finger_id: str | None = None
    alarms: tuple[Alarm, ...] = ()
    ignored: bool = False  # a scan during lockout: no feedback, no strike
    under_lockdown: bool = False  # made while lockdown was in force (the door checks this)

    def door_view(self) -> tuple[bool, Feedback, bool]:
        """The only fields the door state machine reads. A duress grant equals a normal one."""
        return (self.granted, self.visible, self.under_lockdown)


def decide(
    claim: Claim,
    snapshot: Snapshot | None,
    state: DecisionState,
    wall_now: float,
    mono_now: float,
    clock_trusted: bool,
) -> tuple[Decision, DecisionState]:
    """Decide one scan. Returns the decision and the state to pass to the next call."""
    trusted = clock_is_trusted(clock_trusted, wall_now, snapshot)
    state = clock_observed(state, wall_now, mono_now, trusted,
                           unknown_awaiting_lift=claim.kind is ClaimKind.UNKNOWN)
    screened = _screen_scan(claim, state, mono_now)
    if screened is not None:
        if screened.ignored:  # the unknown finger of an ignored scan is no strike either
            state = replace(state, unknown_awaiting_lift=False)
        return screened, state
    if snapshot is None:
        return _deny(Reason.NO_SNAPSHOT, claim), state
    entry = snapshot.index.fingers.get(claim.finger_id)  # type: ignore[arg-type]
    if entry is None:
        return _deny(Reason.FINGER_NOT_IN_SNAPSHOT, claim), state
    return _decide_person(entry, claim, snapshot, state, wall_now, mono_now, trusted)


def _deny(reason: Reason, claim: Claim, user_id: str | None = None,
          alarms: tuple[Alarm, ...] = (), visible: Feedback = Feedback.DENIED) -> Decision:
    return Decision(False, reason, visible, user_id, claim.finger_id, alarms)


def _screen_scan(claim: Claim, state: DecisionState, mono_now: float) -> Decision | None:
    """Checks on the scan alone. Tamper evidence beats the lockout: it is never ignored."""
    if state.tamper_switch:
        return _deny(Reason.TAMPER_SWITCH, claim)
    if claim.kind is ClaimKind.HIT and claim.slot_state is SlotState.EMPTY:
        alarm = Alarm(AlarmKind.TAMPER, f"hit on empty page {claim.page}")
        return _deny(Reason.TAMPER_EMPTY_SLOT, claim, alarms=(alarm,))
    active_hit = claim.kind is ClaimKind.HIT and claim.slot_state is SlotState.ACTIVE
    if active_hit and not claim.match_confirmed:
        alarm = Alarm(AlarmKind.TAMPER, f"1:1 match did not confirm page {claim.page}")
        return _deny(Reason.TAMPER_UNCONFIRMED, claim, alarms=(alarm,))
    if state.locked_out(mono_now):
        return Decision(False, Reason.LOCKED_OUT, Feedback.NONE, ignored=True)
    return _screen_outcome(claim)


_SCAN_OUTCOMES = {
    ClaimKind.POOR_IMAGE: Reason.POOR_IMAGE,
    ClaimKind.UNKNOWN: Reason.UNKNOWN_FINGER,
}
_SLOT_OUTCOMES = {
    SlotState.PENDING_DELETE: Reason.REVOKED,
    SlotState.PENDING_LOAD: Reason.NOT_YET_LOADED,
}


def _screen_outcome(claim: Claim) -> Decision | None:
    if claim.kind in _SCAN_OUTCOMES:
        return _deny(_SCAN_OUTCOMES[claim.kind], claim)
    if claim.slot_state in _SLOT_OUTCOMES:
        return _deny(_SLOT_OUTCOMES[claim.slot_state], claim)  # type: ignore[index]
    if claim.slot_state is not SlotState.ACTIVE or claim.finger_id is None:
        # A hit that names no slot state or no finger is malformed: treat it as the module lying.
        alarm = Alarm(AlarmKind.TAMPER, f"malformed hit on page {claim.page}")
        return _deny(Reason.TAMPER_UNCONFIRMED, claim, alarms=(alarm,))
    return None


def _decide_person(
    entry: FingerEntry, claim: Claim, snapshot: Snapshot, state: DecisionState,
    wall_now: float, mono_now: float, trusted: bool,
) -> tuple[Decision, DecisionState]:
    user = entry.user
    freshness = snapshot_freshness(snapshot, state, wall_now, mono_now, trusted)
    lockdown = snapshot.lockdown or state.keyswitch_lockdown
    reason = (
        _identity_reason(entry, claim)
        or _offline_reason(freshness, user, snapshot)
        or _validity_reason(user, wall_now, trusted, snapshot)
        or (Reason.LOCKDOWN if lockdown and not user.is_security else None)
        or _grant_reason(entry, wall_now, trusted, snapshot)
    )
    if reason is not None:
        return _deny(reason, claim, user.user_id), state
    alarms, state = _authorised_alarms(entry, freshness, state)
    return _admit(entry, claim, snapshot, state, mono_now, freshness, alarms, lockdown)


def _identity_reason(entry: FingerEntry, claim: Claim) -> Reason | None:
    if entry.finger.module_identity != claim.module_identity:
        return Reason.MODULE_MISMATCH
    if not entry.finger.active:
        return Reason.FINGER_INACTIVE
    if not entry.user.active:
        return Reason.USER_INACTIVE
    return None


_PAST_GRACE_DENIALS = {  # freshness -> (then = "deny", then = "allow_list" but not listed)
    Freshness.PAST_GRACE: (Reason.SNAPSHOT_EXPIRED_DENIED, Reason.SNAPSHOT_EXPIRED_NOT_LISTED),
    Freshness.BOOT_OVER: (Reason.BOOT_GRACE_OVER, Reason.BOOT_GRACE_OVER),
    Freshness.BOOT_DENY: (Reason.BOOT_UNTRUSTED_DENIED, Reason.BOOT_UNTRUSTED_DENIED),
}


def _offline_reason(freshness: Freshness, user: User, snapshot: Snapshot) -> Reason | None:
    """Past the grace (expired, or of unknown age once the boot grace is over): only the
    allow-list, if the policy names one."""
    denials = _PAST_GRACE_DENIALS.get(freshness)
    if denials is None:
        return None
    if snapshot.policy.offline.then == "deny":
        return denials[0]
    if user.user_id not in snapshot.index.allow_list:
        return denials[1]
    return None


def _validity_reason(
    user: User, wall_now: float, trusted: bool, snapshot: Snapshot
) -> Reason | None:
    if not user.has_validity_window:
        return None
    if not trusted:
        ignore = snapshot.policy.untrusted_clock == "ignore_windows"
        return None if ignore else Reason.CLOCK_UNTRUSTED
    if user.valid_from is not None and wall_now < user.valid_from:
        return Reason.USER_NOT_YET_VALID
    if user.valid_until is not None and wall_now >= user.valid_until:
        return Reason.USER_EXPIRED
    return None


def _grant_reason(
    entry: FingerEntry, wall_now: float, trusted: bool, snapshot: Snapshot
) -> Reason | None:
    schedules = entry.zone_schedules
    if not schedules:
        return Reason.NO_GRANT
    if None in schedules:  # a grant at any time needs no clock
        return None
    if not trusted:
        ignore = snapshot.policy.untrusted_clock == "ignore_windows"
        return None if ignore else Reason.CLOCK_UNTRUSTED
    index = snapshot.index
    verdicts = {
        schedule_verdict(s, wall_now, index.tz, index.holidays)  # type: ignore[arg-type]
        for s in schedules
    }
    if Verdict.INSIDE in verdicts:
        return None
    return Reason.HOLIDAY if Verdict.HOLIDAY in verdicts else Reason.OUTSIDE_SCHEDULE


def _authorised_alarms(
    entry: FingerEntry, freshness: Freshness, state: DecisionState
) -> tuple[tuple[Alarm, ...], DecisionState]:
    alarms: list[Alarm] = []
    if entry.finger.duress:
        alarms.append(Alarm(AlarmKind.DURESS, f"user {entry.user.user_id}"))
    if freshness is Freshness.GRACE and not state.grace_alarm_raised:
        alarms.append(Alarm(AlarmKind.OFFLINE_GRACE, "granting on an expired snapshot"))
        state = replace(state, grace_alarm_raised=True)
    if freshness is Freshness.BOOT_GRACE and not state.boot_alarm_raised:
        alarms.append(Alarm(AlarmKind.BOOT_GRACE, "granting on a snapshot of unknown age: "
                            "restarted without a trusted clock"))
        state = replace(state, boot_alarm_raised=True)
    return tuple(alarms), state


def _admit(
    entry: FingerEntry, claim: Claim, snapshot: Snapshot, state: DecisionState,
    mono_now: float, freshness: Freshness, alarms: tuple[Alarm, ...], lockdown: bool,
) -> tuple[Decision, DecisionState]:
    user_id = entry.user.user_id
    if snapshot.zone.two_person:
        waiting = _second_person_check(user_id, snapshot, state, mono_now)
        if waiting is not None:
            reason, state = waiting
            return _deny(reason, claim, user_id, alarms, Feedback.WAITING), state
    reason = _grant_reason_code(entry, freshness)
    decision = Decision(True, reason, Feedback.GRANTED, user_id, claim.finger_id, alarms,
                        under_lockdown=lockdown)
    return decision, after_grant(state)


def _second_person_check(
    user_id: str, snapshot: Snapshot, state: DecisionState, mono_now: float
) -> tuple[Reason, DecisionState] | None:
    """None when this person completes a pair; else why not, and the state to keep."""
    zone_id = snapshot.zone.zone_id
    pending = state.pending_first
    window_s = snapshot.index.two_person_window_s
    if pending is None or pending.zone_id != zone_id or mono_now - pending.at_mono >= window_s:
        first = PendingFirst(user_id, zone_id, mono_now)
        return Reason.WAITING_SECOND_PERSON, replace(state, pending_first=first)
    if pending.user_id == user_id:
        return Reason.SAME_PERSON_TWICE, state  # the window keeps its original start
    return None


_GRANT_REASONS = {
    Freshness.FRESH: Reason.GRANTED,
    Freshness.GRACE: Reason.SNAPSHOT_EXPIRED_GRACE,
    Freshness.PAST_GRACE: Reason.SNAPSHOT_EXPIRED_ALLOW_LIST,
    Freshness.BOOT_GRACE: Reason.BOOT_GRACE,
    Freshness.BOOT_OVER: Reason.BOOT_ALLOW_LIST,
    Freshness.BOOT_DENY: Reason.BOOT_ALLOW_LIST,
}


def _grant_reason_code(entry: FingerEntry, freshness: Freshness) -> Reason:
    if entry.finger.duress:
        return Reason.GRANTED_DURESS
    return _GRANT_REASONS[freshness]

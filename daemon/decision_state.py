"""The memory ``decide()`` carries between scans, and how door-side facts update it.

Owns ``DecisionState`` (frozen; every update returns a new one), the lockout strike counting
(``finger_lifted``), snapshot application (``snapshot_applied``), the clock anchor
(``clock_observed``) and the snapshot's freshness under the offline rules
(``snapshot_freshness``). All times are arguments: ``mono_now`` is ``time.monotonic()``
seconds, ``wall_now`` epoch seconds (UTC).

Pure: standard library and the snapshot/policy types. No clock reads, no IO.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace

from daemon.policy import LockoutPolicy
from daemon.snapshot import Snapshot


@dataclass(frozen=True)
class PendingFirst:
    """The first authorised person at a two-person zone, waiting for a second."""

    user_id: str
    zone_id: str
    at_mono: float


@dataclass(frozen=True)
class DecisionState:
    unknown_streak: int = 0  # unknown fingers in a row, counted when the finger lifts
    unknown_awaiting_lift: bool = False  # the last scan was an unknown finger
    lockouts: int = 0  # lockouts since the last grant; each doubles the next one
    locked_out_until_mono: float | None = None
    pending_first: PendingFirst | None = None
    grace_alarm_raised: bool = False  # the offline-grace alarm goes out once per snapshot
    keyswitch_lockdown: bool = False
    tamper_switch: bool = False  # the reader's tamper switch is open
    snapshot_applied_mono: float | None = None  # None: loaded from the cache at boot
    last_trusted_wall: float | None = None  # the newest (wall, mono) pair seen while trusted
    last_trusted_mono: float | None = None

    @classmethod
    def initial(
        cls, keyswitch_lockdown: bool = False, tamper_switch: bool = False
    ) -> DecisionState:
        """State at boot: no strikes, snapshot from the cache, clock never trusted yet."""
        return cls(keyswitch_lockdown=keyswitch_lockdown, tamper_switch=tamper_switch)

    @property
    def clock_ever_trusted(self) -> bool:
        return self.last_trusted_mono is not None

    def locked_out(self, mono_now: float) -> bool:
        return self.locked_out_until_mono is not None and mono_now < self.locked_out_until_mono


def finger_lifted(state: DecisionState, lockout: LockoutPolicy, mono_now: float) -> DecisionState:
    """Count an unknown finger as a strike once it lifts; enough strikes start a lockout.

    Counting on lift, not on scan, stops one finger left on the glass from locking the door
    by itself being re-scanned.
    """
    if not state.unknown_awaiting_lift:
        return state
    streak = state.unknown_streak + 1
    if streak < lockout.strikes:
        return replace(state, unknown_streak=streak, unknown_awaiting_lift=False)
    return replace(
        state,
        unknown_streak=0,
        unknown_awaiting_lift=False,
        lockouts=state.lockouts + 1,
        locked_out_until_mono=mono_now + lockout.duration_s(state.lockouts),
    )


def after_grant(state: DecisionState) -> DecisionState:
    """A grant resets strikes and the doubling, and completes any two-person entry."""
    if (state.unknown_streak, state.lockouts, state.locked_out_until_mono, state.pending_first) == (
            0, 0, None, None):
        return state  # the common case; decide() is on the hot path of every scan
    return replace(
        state, unknown_streak=0, lockouts=0, locked_out_until_mono=None, pending_first=None
    )


def snapshot_applied(state: DecisionState, mono_now: float) -> DecisionState:
    """A new snapshot is in force: its validity runs from now on the monotonic clock,
    its grace alarm may fire again, and a half-done two-person entry starts over."""
    return replace(
        state, snapshot_applied_mono=mono_now, grace_alarm_raised=False, pending_first=None
    )


def clock_observed(
    state: DecisionState, wall_now: float, mono_now: float, trusted: bool, **also: object
) -> DecisionState:
    """Remember the newest trusted reading, so that an untrusted stretch can still be timed.

    ``also`` names further fields to change in the same copy (one copy per scan is cheaper).
    """
    if trusted:
        also.update(last_trusted_wall=wall_now, last_trusted_mono=mono_now)
    if all(getattr(state, name) == value for name, value in also.items()):
        return state
    return replace(state, **also)


def clock_is_trusted(kernel_synced: bool, wall_now: float, snapshot: Snapshot | None) -> bool:
    """Synchronised (or RTC) and not earlier than the snapshot's issue minus the allowed skew."""
    if not kernel_synced or snapshot is None:
        return kernel_synced
    return wall_now >= snapshot.issued_at - snapshot.policy.max_clock_skew_s


class Freshness(str, enum.Enum):
    FRESH = "fresh"
    GRACE = "grace"  # past expires_at, within grace_s
    PAST_GRACE = "past_grace"  # past the grace period, or its age cannot be known


def seconds_past_expiry(
    snapshot: Snapshot, state: DecisionState, wall_now: float, mono_now: float, trusted: bool
) -> float | None:
    """How long ago the snapshot expired (negative: not yet); None when it cannot be known.

    Trusted: on wall time. Untrusted: on monotonic time, from the apply (validity counted
    from then) and from the last trusted reading, whichever says "older". A reboot with an
    untrusted clock and a cached snapshot has neither, so its age is unknown.
    """
    if trusted:
        return wall_now - snapshot.expires_at
    estimates = []
    if state.snapshot_applied_mono is not None:
        estimates.append(mono_now - state.snapshot_applied_mono - snapshot.validity_s)
    if state.last_trusted_wall is not None and state.last_trusted_mono is not None:
        estimated_wall = state.last_trusted_wall + (mono_now - state.last_trusted_mono)
        estimates.append(estimated_wall - snapshot.expires_at)
    return max(estimates) if estimates else None


def snapshot_freshness(
    snapshot: Snapshot, state: DecisionState, wall_now: float, mono_now: float, trusted: bool
) -> Freshness:
    past_s = seconds_past_expiry(snapshot, state, wall_now, mono_now, trusted)
    if past_s is None:
        # Deny by default: the door cannot tell how long it was off, so no grace is left.
        return Freshness.PAST_GRACE
    if past_s < 0:
        return Freshness.FRESH
    if past_s < snapshot.policy.offline.grace_s:
        return Freshness.GRACE
    return Freshness.PAST_GRACE

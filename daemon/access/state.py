"""The memory ``decide()`` carries between scans, and how door-side facts update it.

Owns ``DecisionState`` (frozen; every update returns a new one), the lockout strike counting
(``finger_lifted``), snapshot application and the server's confirmation that it is still
current (``snapshot_applied``, ``snapshot_confirmed``), the clock anchor (``clock_observed``),
what a starting daemon knows from earlier runs (``BootKnowledge``, ``knowledge_restored``)
and the snapshot's freshness under the offline and boot rules (``snapshot_freshness``). All
times are arguments: ``mono_now`` is ``time.monotonic()`` seconds, ``wall_now`` epoch
seconds (UTC).

The boot policy (docs/reasons.md, "Boot"): after a reboot with an untrusted clock the door
knows the last trusted wall time it stored, the snapshot's ``issued_at`` (both lower bounds
on now) and the monotonic time since it started, but not how long it was off, so it cannot
tell whether the snapshot expired. Unless that lower bound already proves the grace period
over, ``policy.boot_untrusted = "grace"`` keeps granting (what needs no wall clock) for
``offline.grace_s`` on the monotonic clock from the first start in this boot; ``"deny"``
does not.

Pure: standard library and the snapshot/policy types. No clock reads, no IO.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace

from doorward.daemon.codec.policy import LockoutPolicy
from doorward.daemon.codec.snapshot import Snapshot


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
    # The snapshot's validity counts from here: its apply, or the server's newest signed
    # confirmation that it is still current. None: loaded from the cache at boot.
    snapshot_applied_mono: float | None = None
    last_trusted_wall: float | None = None  # the newest (wall, mono) pair seen while trusted
    last_trusted_mono: float | None = None
    boot_started_mono: float | None = None  # the first daemon start in this boot
    wall_floor: float | None = None  # the wall time at boot_started_mono was at least this
    boot_alarm_raised: bool = False  # the boot-grace alarm goes out once

    @classmethod
    def initial(
        cls, keyswitch_lockdown: bool = False, tamper_switch: bool = False,
        started_mono: float | None = None,
    ) -> DecisionState:
        """State at start: no strikes, snapshot from the cache, clock never trusted yet; the
        boot grace, if it comes to that, counts from ``started_mono``."""
        return cls(keyswitch_lockdown=keyswitch_lockdown, tamper_switch=tamper_switch,
                   boot_started_mono=started_mono)

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


def snapshot_confirmed(state: DecisionState, at_mono: float) -> DecisionState:
    """The server confirmed (signed, with this poll's nonce) that the snapshot in force is
    still its current version, as of no earlier than ``at_mono``: validity counts from then.
    A half-done two-person entry stands; the grace alarm may fire again in a later outage."""
    if state.snapshot_applied_mono is not None and state.snapshot_applied_mono >= at_mono:
        return state
    return replace(state, snapshot_applied_mono=at_mono, grace_alarm_raised=False)


@dataclass(frozen=True)
class BootKnowledge:
    """What a starting daemon knows about time from earlier runs (its anchor file).

    ``started_mono``: the first daemon start in this boot (a restart keeps it, so restarts
    never stretch the boot grace). ``wall_floor``: the newest trusted wall time an earlier
    boot stored, a lower bound on now. ``last_trusted``: a (wall, mono) pair trusted earlier
    in this boot. ``fresh``: (version, mono) of the newest apply or confirmation in this boot.
    Monotonic times from another boot mean nothing, so the caller keeps only this boot's.
    """

    started_mono: float
    wall_floor: float | None = None
    last_trusted: tuple[float, float] | None = None
    fresh: tuple[int, float] | None = None


def knowledge_restored(state: DecisionState, knowledge: BootKnowledge,
                       snapshot_version: int | None) -> DecisionState:
    """Start from what earlier runs knew: a restart within one boot loses nothing."""
    changes: dict[str, object] = {"boot_started_mono": knowledge.started_mono,
                                  "wall_floor": knowledge.wall_floor}
    if knowledge.last_trusted is not None and state.last_trusted_mono is None:
        changes["last_trusted_wall"], changes["last_trusted_mono"] = knowledge.last_trusted
    fresh = knowledge.fresh
    if fresh is not None and fresh[0] == snapshot_version and state.snapshot_applied_mono is None:
        changes["snapshot_applied_mono"] = fresh[1]
    return replace(state, **changes)


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
    PAST_GRACE = "past_grace"  # past the grace period
    # Its age cannot be known (a reboot with an untrusted clock): the boot policy decides.
    BOOT_GRACE = "boot_grace"  # boot_untrusted = "grace", within grace_s of the start
    BOOT_OVER = "boot_over"  # the boot grace is over (or its start is unknown)
    BOOT_DENY = "boot_deny"  # boot_untrusted = "deny"


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
        return boot_freshness(snapshot, state, mono_now)
    if past_s < 0:
        return Freshness.FRESH
    if past_s < snapshot.policy.offline.grace_s:
        return Freshness.GRACE
    return Freshness.PAST_GRACE


def boot_freshness(snapshot: Snapshot, state: DecisionState, mono_now: float) -> Freshness:
    """A snapshot whose age is unknown: provably past the grace is PAST_GRACE (an honest
    "expired"); otherwise the boot policy, its grace counted from the first start."""
    if state.boot_started_mono is None:
        return Freshness.BOOT_OVER  # deny by default: no start to count the grace from
    since_start_s = mono_now - state.boot_started_mono
    floor = max(snapshot.issued_at, state.wall_floor or snapshot.issued_at)
    grace_s = snapshot.policy.offline.grace_s
    if floor + since_start_s - snapshot.expires_at >= grace_s:
        return Freshness.PAST_GRACE
    if snapshot.policy.boot_untrusted == "deny":
        return Freshness.BOOT_DENY
    return Freshness.BOOT_GRACE if since_start_s < grace_s else Freshness.BOOT_OVER

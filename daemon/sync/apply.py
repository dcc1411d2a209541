"""The bundle policy: whether a received bundle is applied to the cache, and what to report.

Owns ``apply_bundle``, its result (``ApplyResult``, with the alarms and journal records the
caller writes) and the typed refusals, all under ``BundleRefused``. The order of checks:

1. the codec (``bundle.verify_bundle``): size cap, format, pinned key, signature, door id;
2. the version against the cache's stored version (the larger of database and backstop):
   higher applies, equal is a no-op unless the cache is empty (after a wipe), lower is a
   rollback: refused with an alarm;
3. expiry, against trusted time only: a newer, correctly signed bundle is applied even while
   the clock is untrusted (decisions then follow the untrusted-clock policy);
4. the slot map for the module (``slotmap.plan_slot_map``): every deletion applies, what fits
   loads, and fingers beyond the module's capacity raise an alarm, never silently dropped;
5. the cache write (one transaction), then a clock-skew alarm when ``issued_at`` is more than
   ``max_clock_skew_s`` ahead of a trusted clock.

Reason codes (stable strings, journalled as ``bundle_refused`` events): ``bundle_malformed``,
``bundle_too_large``, ``bundle_unknown_key``, ``bundle_bad_signature``, ``bundle_wrong_door``,
``bundle_rollback``, ``bundle_expired``. Alarms: ``bundle_rollback``, ``bundle_unknown_key``,
``bundle_bad_signature``, ``bundle_wrong_door``, ``module_overflow``,
``module_identity_mismatch``, ``clock_skew``. No clock reads: times are arguments.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from doorward.daemon.codec.alarms import Alarm, AlarmKind
from doorward.daemon.codec import bundle
from doorward.daemon.storage.cache import PermissionCache
from doorward.daemon.errors import DoorwardError
from doorward.daemon.library.slotmap import SlotPlan, plan_slot_map
from doorward.daemon.codec.snapshot import Snapshot

MAX_IDS_IN_ALARM = 50  # an alarm names the first fingers; the count says how many in all


class BundleRefused(DoorwardError, ValueError):
    """A bundle was not applied. ``reason`` is a stable code; ``detail`` is journalled."""

    reason: ClassVar[str] = "bundle_refused"
    raises_alarm: ClassVar[bool] = False

    def __init__(self, message: str, **detail: Any) -> None:
        super().__init__(message)
        self.detail = detail

    @property
    def alarm(self) -> Alarm | None:
        if not self.raises_alarm:
            return None
        return Alarm(AlarmKind(self.reason), str(self), dict(self.detail))

    def journal_records(self) -> list[tuple[str, dict[str, Any]]]:
        records = [("bundle_refused", {"reason": self.reason, "message": str(self), **self.detail})]
        return records + ([self.alarm.record()] if self.alarm else [])


class BundleMalformed(BundleRefused):
    reason = "bundle_malformed"


class BundleOversized(BundleRefused):
    reason = "bundle_too_large"


class BundleUnknownKey(BundleRefused):
    reason, raises_alarm = "bundle_unknown_key", True


class BundleSignatureInvalid(BundleRefused):
    reason, raises_alarm = "bundle_bad_signature", True


class BundleWrongDoor(BundleRefused):
    reason, raises_alarm = "bundle_wrong_door", True


class RollbackRefused(BundleRefused):
    reason, raises_alarm = "bundle_rollback", True


class BundleExpired(BundleRefused):
    reason = "bundle_expired"


_CODEC_REFUSALS: tuple[tuple[type[bundle.BundleError], type[BundleRefused]], ...] = (
    (bundle.BundleTooLargeError, BundleOversized),
    (bundle.UnknownKeyError, BundleUnknownKey),
    (bundle.BundleSignatureError, BundleSignatureInvalid),
    (bundle.WrongDoorError, BundleWrongDoor),
    (bundle.BundleError, BundleMalformed),
)


@dataclass(frozen=True)
class ApplyResult:
    action: str  # "applied" or "noop"
    version: int
    previous_version: int | None
    snapshot: Snapshot
    slot_plan: SlotPlan | None = None  # None for a no-op
    alarms: tuple[Alarm, ...] = ()

    @property
    def applied(self) -> bool:
        return self.action == "applied"

    def journal_records(self) -> list[tuple[str, dict[str, Any]]]:
        """(kind, detail) pairs for the journal: nothing for a no-op."""
        if not self.applied:
            return []
        applied = ("bundle_applied", {"version": self.version,
                                      "previous_version": self.previous_version,
                                      "expires_at": self.snapshot.expires_at})
        return [applied, *(alarm.record() for alarm in self.alarms)]


def apply_bundle(
    envelope: bytes, *, cache: PermissionCache, trusted_keys: dict[str, Ed25519PublicKey],
    door_id: str, module_identity: str, capacity: int, wall_now: float, clock_trusted: bool,
    max_clock_skew_s: float, max_bundle_bytes: int = bundle.MAX_BUNDLE_BYTES,
) -> ApplyResult:  # fmt: skip
    """Verify a received bundle and apply it to the cache, or raise a ``BundleRefused``."""
    snapshot = _verified(envelope, trusted_keys, door_id, max_bundle_bytes)
    stored = cache.stored_version()
    if not _version_wanted(snapshot, stored, cache.is_empty()):
        return ApplyResult("noop", snapshot.version, stored, snapshot)
    _check_expiry(snapshot, wall_now, clock_trusted)
    plan = plan_slot_map(cache.slot_map(), snapshot, module_identity, capacity)
    cache.apply(snapshot, plan.slot_map)
    alarms = _plan_alarms(plan, capacity) + _skew_alarms(
        snapshot, wall_now, clock_trusted, max_clock_skew_s)
    return ApplyResult("applied", snapshot.version, stored, snapshot, plan, alarms)


def _verified(envelope: bytes, trusted_keys: dict[str, Ed25519PublicKey], door_id: str,
              max_bundle_bytes: int) -> Snapshot:
    try:
        return bundle.verify_bundle(envelope, trusted_keys, door_id=door_id,
                                    max_bytes=max_bundle_bytes)
    except bundle.BundleError as error:
        refusal = next(ours for codec, ours in _CODEC_REFUSALS if isinstance(error, codec))
        raise refusal(str(error), envelope_bytes=len(envelope)) from error


def _version_wanted(snapshot: Snapshot, stored: int | None, cache_empty: bool) -> bool:
    action = bundle.version_action(snapshot.version, stored, cache_empty)
    if action == "rollback":
        raise RollbackRefused(
            f"bundle version {snapshot.version} is older than the stored version {stored}",
            version=snapshot.version, stored_version=stored)
    return action == "apply"


def _check_expiry(snapshot: Snapshot, wall_now: float, clock_trusted: bool) -> None:
    # An untrusted clock cannot say a bundle is expired, and a newer signed bundle is always
    # better than the one in the cache; decide() then applies the untrusted-clock policy.
    if clock_trusted and wall_now >= snapshot.expires_at:
        raise BundleExpired(
            f"bundle version {snapshot.version} expired at {snapshot.expires_at} "
            f"(trusted clock reads {wall_now})",
            version=snapshot.version, expires_at=snapshot.expires_at, wall_now=wall_now)


def _plan_alarms(plan: SlotPlan, capacity: int) -> tuple[Alarm, ...]:
    alarms = []
    if plan.overflow:
        alarms.append(Alarm(AlarmKind.MODULE_OVERFLOW,
                            f"{len(plan.overflow)} fingers beyond the module's capacity {capacity}", {
            "capacity": capacity, "count": len(plan.overflow),
            "finger_ids": list(plan.overflow[:MAX_IDS_IN_ALARM])}))
    if plan.unusable:
        alarms.append(Alarm(AlarmKind.MODULE_IDENTITY_MISMATCH,
                            f"{len(plan.unusable)} fingers enrolled on another module model", {
            "count": len(plan.unusable), "finger_ids": list(plan.unusable[:MAX_IDS_IN_ALARM])}))
    return tuple(alarms)


def _skew_alarms(snapshot: Snapshot, wall_now: float, clock_trusted: bool,
                 max_clock_skew_s: float) -> tuple[Alarm, ...]:
    ahead_s = snapshot.issued_at - wall_now
    if clock_trusted and ahead_s > max_clock_skew_s:
        facts = {"issued_at": snapshot.issued_at, "wall_now": wall_now, "ahead_s": ahead_s,
                 "max_clock_skew_s": max_clock_skew_s}
        return (Alarm(AlarmKind.CLOCK_SKEW,
                      f"the bundle was issued {ahead_s:.0f} s ahead of this clock", facts),)
    return ()

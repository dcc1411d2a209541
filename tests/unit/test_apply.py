"""The bundle policy: every attack of the issue is a typed refusal with a journal record, a
newer signed bundle applies even under an untrusted clock, overflow and skew raise alarms."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from doorward.daemon.codec import bundle
from doorward.daemon.sync.apply import (
    ApplyResult, BundleExpired, BundleMalformed, BundleOversized, BundleRefused,
    BundleSignatureInvalid, BundleUnknownKey, BundleWrongDoor, RollbackRefused, apply_bundle,
)  # fmt: skip
from doorward.daemon.storage.cache import PermissionCache
from doorward.daemon.access.claim import SlotState
from doorward.daemon.errors import DoorwardError
from doorward.sim.rig.access import EXPIRES_AT, ISSUED_AT, MODULE, OTHER_MODULE
from tests.support.sync import DOOR, door_snapshot, signed, signed_version, signing_key, trusted

KEY = bytes(range(32))
SERVER = signing_key()
NOW = ISSUED_AT + 3600


@pytest.fixture
def cache(tmp_path: Path) -> PermissionCache:
    return PermissionCache(tmp_path / "cache.db", KEY)


def apply(envelope: bytes, cache: PermissionCache, **changes) -> ApplyResult:
    options = dict(cache=cache, trusted_keys=trusted(SERVER), door_id=DOOR,
                   module_identity=MODULE, capacity=1000, wall_now=NOW, clock_trusted=True,
                   max_clock_skew_s=300.0)
    return apply_bundle(envelope, **(options | changes))


def test_a_newer_bundle_is_applied_and_journalled(cache: PermissionCache) -> None:
    assert apply(signed_version(7), cache).applied
    result = apply(signed_version(8), cache)
    assert (result.action, result.version, result.previous_version) == ("applied", 8, 7)
    assert cache.snapshot() == result.snapshot and cache.stored_version() == 8
    assert result.alarms == ()
    assert result.journal_records()[0] == (
        "bundle_applied", {"version": 8, "previous_version": 7, "expires_at": EXPIRES_AT})


def test_a_replayed_older_bundle_is_a_rollback_alarm(cache: PermissionCache) -> None:
    old = signed_version(7)
    apply(old, cache)
    apply(signed_version(8), cache)
    with pytest.raises(RollbackRefused, match="7 is older than the stored version 8") as refused:
        apply(old, cache)
    assert cache.snapshot().version == 8
    kinds = [kind for kind, _ in refused.value.journal_records()]
    assert kinds == ["bundle_refused", "alarm"]
    assert refused.value.journal_records()[1][1]["alarm"] == "bundle_rollback"
    assert refused.value.detail == {"version": 7, "stored_version": 8}


def test_an_equal_version_is_a_no_op(cache: PermissionCache) -> None:
    envelope = signed_version(7)
    apply(envelope, cache)
    result = apply(envelope, cache)
    assert result.action == "noop" and result.journal_records() == []


def test_an_equal_version_is_applied_when_the_cache_was_wiped(tmp_path: Path) -> None:
    cache = PermissionCache(tmp_path / "cache.db", KEY)
    apply(signed_version(7), cache)
    cache.close()
    PermissionCache.wipe(tmp_path / "cache.db")
    wiped = PermissionCache(tmp_path / "cache.db", KEY)
    assert wiped.is_empty() and wiped.stored_version() == 7
    with pytest.raises(RollbackRefused):
        apply(signed_version(6), wiped)
    assert apply(signed_version(7), wiped).applied and not wiped.is_empty()


def test_an_expired_bundle_under_a_trusted_clock_is_refused(cache: PermissionCache) -> None:
    with pytest.raises(BundleExpired) as refused:
        apply(signed_version(7), cache, wall_now=EXPIRES_AT + 1)
    assert refused.value.reason == "bundle_expired" and cache.is_empty()
    assert refused.value.alarm is None


def test_a_newer_bundle_is_applied_while_the_clock_is_untrusted(cache: PermissionCache) -> None:
    apply(signed_version(7), cache)
    result = apply(signed_version(8), cache, wall_now=EXPIRES_AT + 86400, clock_trusted=False)
    assert result.applied and cache.snapshot().version == 8
    result = apply(signed_version(9), cache, wall_now=0.0, clock_trusted=False)  # 1970
    assert result.applied and result.alarms == ()


def test_another_keys_signature_is_refused(cache: PermissionCache) -> None:
    stranger = bundle.generate_signing_key()
    with pytest.raises(BundleUnknownKey) as refused:
        apply(signed_version(7, key=stranger), cache)
    assert refused.value.alarm.kind == "bundle_unknown_key"
    forged = json.loads(signed_version(7, key=stranger))
    forged["key_id"] = bundle.public_key_id(SERVER.public_key())  # claims the pinned key
    with pytest.raises(BundleSignatureInvalid):
        apply(bundle.canonical_json(forged), cache)
    assert cache.is_empty()


def test_another_doors_bundle_with_the_same_version_is_refused(cache: PermissionCache) -> None:
    apply(signed_version(7), cache)
    with pytest.raises(BundleWrongDoor, match="door-2"):
        apply(signed_version(7, door="door-2"), cache)
    with pytest.raises(BundleWrongDoor):
        apply(signed_version(8, door="door-2"), cache)
    assert cache.snapshot().door_id == DOOR and cache.stored_version() == 7


def test_an_oversized_bundle_is_refused_before_parsing(cache: PermissionCache) -> None:
    envelope = signed_version(7)
    with pytest.raises(BundleOversized) as refused:
        apply(envelope, cache, max_bundle_bytes=len(envelope) - 1)
    assert refused.value.detail == {"envelope_bytes": len(envelope)}
    with pytest.raises(BundleOversized):
        apply(b" " * (bundle.MAX_BUNDLE_BYTES + 1), cache)


@pytest.mark.parametrize("envelope", [
    b"{not json", b"[]", b'{"format": "doorward-bundle/1"}', "ü".encode("latin-1"),
    json.dumps({"format": "doorward-bundle/9", "key_id": "x", "payload": "", "signature": ""}
               ).encode(),
], ids=["broken", "array", "fields-missing", "not-utf8", "unknown-format"])
def test_malformed_envelopes_are_refused(cache: PermissionCache, envelope: bytes) -> None:
    with pytest.raises(BundleMalformed):
        apply(envelope, cache)


def test_a_signed_but_malformed_payload_is_refused(cache: PermissionCache) -> None:
    payload = b'{"format":"doorward-bundle/1","door":"door-1"}'
    envelope = bundle.canonical_json({
        "format": bundle.FORMAT, "key_id": bundle.public_key_id(SERVER.public_key()),
        "payload": base64.b64encode(payload).decode(),
        "signature": base64.b64encode(SERVER.sign(payload)).decode()})
    with pytest.raises(BundleMalformed, match="payload"):
        apply(envelope, cache)


def test_every_refusal_is_one_typed_family() -> None:
    for refusal in (BundleExpired, BundleMalformed, BundleOversized, BundleSignatureInvalid,
                    BundleUnknownKey, BundleWrongDoor, RollbackRefused):
        assert issubclass(refusal, BundleRefused) and issubclass(refusal, DoorwardError)
        assert refusal.reason.startswith("bundle_")


def test_overflow_loads_what_fits_and_raises_an_alarm(cache: PermissionCache) -> None:
    result = apply(signed_version(7, users=3), cache, capacity=4)  # 6 fingers, 4 pages
    alarm = {a.kind: a for a in result.alarms}["module_overflow"]
    assert alarm.facts["count"] == 2 and alarm.facts["capacity"] == 4
    assert len(alarm.facts["finger_ids"]) == 2
    assert [s.page for s in cache.slot_map().slots] == [0, 1, 2, 3]
    assert alarm.record() in result.journal_records()
    assert alarm.record()[1]["alarm"] == "module_overflow" and "capacity 4" in alarm.detail


def test_revoked_fingers_are_pending_delete_after_apply(cache: PermissionCache) -> None:
    apply(signed_version(7, users=2), cache)
    active = cache.slot_map()
    for slot in active.slots:
        active = active.with_state(slot.page, SlotState.ACTIVE)
    cache.save_slot_map(active)
    apply(signed_version(8, users=1), cache)
    states = {s.finger_id: s.state for s in cache.slot_map().slots}
    assert states == {"f-0-0": SlotState.ACTIVE, "f-0-1": SlotState.ACTIVE,
                      "f-1-0": SlotState.PENDING_DELETE, "f-1-1": SlotState.PENDING_DELETE}


def test_fingers_of_another_module_identity_raise_an_alarm(cache: PermissionCache) -> None:
    result = apply(signed_version(7, module=OTHER_MODULE), cache)
    assert [a.kind for a in result.alarms] == ["module_identity_mismatch"]
    assert cache.slot_map().slots == ()


def test_a_bundle_issued_ahead_of_a_trusted_clock_raises_clock_skew(cache: PermissionCache) -> None:
    result = apply(signed_version(7), cache, wall_now=ISSUED_AT - 3600)
    assert result.applied
    (alarm,) = result.alarms
    assert alarm.kind == "clock_skew" and alarm.facts["ahead_s"] == 3600
    untrusted = apply(signed_version(8), cache, wall_now=ISSUED_AT - 3600, clock_trusted=False)
    assert untrusted.alarms == ()
    within = apply(signed(door_snapshot(9)), cache, wall_now=ISSUED_AT - 299)
    assert within.alarms == ()

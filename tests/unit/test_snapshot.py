"""The snapshot is exactly the bundle payload: it round-trips, and bad fields are named."""

from __future__ import annotations

import copy
import datetime as dt
import json

import pytest

from doorward.daemon.codec.policy import OfflinePolicy, Policy
from doorward.daemon.codec.snapshot import Finger, Grant, Snapshot, SnapshotError, User, Zone
from doorward.sim.rig.access import MODULE, ZONE, finger, payload, sha, snapshot, user


def full_payload() -> dict:
    return payload(
        user("u-1", finger("f-1"), finger("f-1d", duress=True), roles=["security", "staff"],
             valid_from=1.0e9, valid_until=2.0e9),
        user("u-2", schedule="office", active=False),
        zone={"id": ZONE, "two_person": True, "two_person_window_s": 20.0},
        policy={"offline": {"grace_s": 60, "then": "allow_list", "allow_list": ["u-1"]}},
        lockdown=True,
    )


def test_from_payload_builds_every_field() -> None:
    built = Snapshot.from_payload(full_payload())
    assert built.zone == Zone(ZONE, True, 20.0)
    assert built.lockdown is True and built.time_zone == "Europe/Berlin"
    assert built.holidays == (dt.date(2026, 12, 25),)
    assert built.policy.offline == OfflinePolicy(60.0, "allow_list", ("u-1",))
    assert built.users[0] == User(
        "u-1", True, 1.0e9, 2.0e9, ("security", "staff"), (Grant(ZONE, None),),
        (Finger("f-1", MODULE, sha("f-1"), "sealed:f-1", False, True),
         Finger("f-1d", MODULE, sha("f-1d"), "sealed:f-1d", True, True)),
    )
    assert built.users[1].grants == (Grant(ZONE, "office"),) and not built.users[1].active


def test_payload_round_trips_through_json() -> None:
    built = Snapshot.from_payload(full_payload())
    wire = json.loads(json.dumps(built.to_payload()))
    assert Snapshot.from_payload(wire) == built
    assert Snapshot.from_payload(wire).to_payload() == built.to_payload()


def test_to_payload_writes_defaults_explicitly() -> None:
    written = snapshot(user("u-1")).to_payload()
    assert written["users"][0] == {
        "id": "u-1", "active": True, "valid_from": None, "valid_until": None, "roles": [],
        "grants": [{"zone": ZONE, "schedule": None}],
        "fingers": [{"id": "f-u-1", "module_identity": MODULE, "template_sha256": sha("f-u-1"),
                     "sealed_template": "sealed:f-u-1", "duress": False, "active": True}],
    }
    assert written["policy"] == Policy().to_mapping()
    assert written["zone"] == {"id": ZONE, "two_person": False, "two_person_window_s": None}


def edited(path: str, value: object) -> dict:
    """full_payload() with one field replaced (``users.0.fingers.0.id``); DELETE removes it."""
    data = copy.deepcopy(full_payload())
    *parents, last = path.split(".")
    target = data
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target[part]
    key = int(last) if isinstance(target, list) else last
    if value is DELETE:
        del target[key]
    else:
        target[key] = value
    return data


DELETE = object()
BAD_FIELDS = [
    ("door", DELETE, "door: missing"),
    ("door", "", "door: expected a non-empty string"),
    ("version", -1, "version: expected a whole number"),
    ("version", True, "version: expected a whole number"),
    ("issued_at", "2026-11-02", "issued_at: expected epoch seconds"),
    ("expires_at", 1.0, "expires_at: not after issued_at"),
    ("lockdown", "no", "lockdown: expected true or false"),
    ("time_zone", "Mars/Olympus", "time_zone: unknown IANA time zone"),
    ("holidays", ["25.12.2026"], r"holidays\[0\]: expected a local date"),
    ("surprise", 1, "payload.surprise: unknown field"),
    ("zone.two_person_window_s", 0, "zone.two_person_window_s: must be > 0"),
    ("policy.unlock_s", "5", "policy.unlock_s: expected a number of seconds"),
    ("policy.offline.then", "open", "policy.offline.then: expected one of"),
    ("schedules.0.weekly.mon", [["07:00", "07:00"]], r"schedules\[0\].weekly.mon\[0\]: period starts"),
    ("schedules.0.weekly.funday", [], r"schedules\[0\].weekly.funday: unknown field"),
    ("schedules.1.id", "office", r"schedules.id: 'office' appears twice"),
    ("users.0.fingers.0.template_sha256", "ABC", r"users\[0\].fingers\[0\].template_sha256"),
    ("users.0.fingers.0.module_identity", None, r"users\[0\].fingers\[0\].module_identity"),
    ("users.0.fingers.0.name", "Alice", r"users\[0\].fingers\[0\].name: unknown field"),
    ("users.0.fingers.1.id", "f-1", r"users\[\].fingers.id: 'f-1' appears twice"),
    ("users.1.id", "u-1", r"users.id: 'u-1' appears twice"),
    ("users.0.valid_until", 0.5e9, r"users\[0\].valid_until: not after valid_from"),
    ("users.0.roles", "security", r"users\[0\].roles: expected a list"),
    ("users.1.grants.0.schedule", "nights", r"users\[1\].grants\[0\].schedule: no schedule 'nights'"),
    ("users.1.grants.0.zone", 3, r"users\[1\].grants\[0\].zone: expected a non-empty string"),
]


@pytest.mark.parametrize(("path", "value", "message"), BAD_FIELDS, ids=[c[0] for c in BAD_FIELDS])
def test_bad_payload_fields_are_named(path: str, value: object, message: str) -> None:
    with pytest.raises(SnapshotError, match=message):
        Snapshot.from_payload(edited(path, value))


def test_snapshot_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        Snapshot.from_payload([])  # type: ignore[arg-type]


def test_index_resolves_fingers_to_users_and_this_zones_schedules() -> None:
    built = snapshot(
        user("u-1", finger("f-a"), finger("f-b")),
        {"id": "u-2", "grants": [{"zone": ZONE, "schedule": "office"},
                                 {"zone": "elsewhere", "schedule": None}],
         "fingers": [finger("f-c")]},
        user("u-3", zone="elsewhere"),
        zone={"id": ZONE, "two_person": True},
        policy={"two_person_window_s": 45},
    )
    index = built.index
    assert sorted(index.fingers) == ["f-a", "f-b", "f-c", "f-u-3"]
    assert index.fingers["f-b"].user.user_id == "u-1"
    assert index.fingers["f-a"].zone_schedules == (None,)
    assert [s.schedule_id for s in index.fingers["f-c"].zone_schedules] == ["office"]
    assert index.fingers["f-u-3"].zone_schedules == ()
    assert index.two_person_window_s == 45.0
    assert built.index is index  # built once per snapshot

"""The dict form of a snapshot: validate a bundle payload into a ``Snapshot``, and back.

Owns the payload's field names and checks. Every error is a ``SnapshotError`` whose message
starts with the path of the bad field (``users[2].fingers[0].template_sha256: ...``).
Unknown keys are refused: the payload is exactly the snapshot, and a field this door does not
understand must not be silently dropped. ``to_payload`` writes every field, defaults included.

Pure: standard library and the snapshot modules only. No IO.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any, Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from doorward.daemon.errors import ConfigError
from doorward.daemon.codec.policy import Policy
from doorward.daemon.codec.schedule import WEEKDAYS, Period, Schedule
from doorward.daemon.codec.snapshot import Finger, Grant, Snapshot, SnapshotError, User, Zone

_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def snapshot_from_payload(payload: Any) -> Snapshot:
    fields = _table(payload, "payload", required={"door", "zone", "version", "issued_at",
                    "expires_at", "policy", "lockdown", "time_zone", "users"},
                    optional={"schedules", "holidays"})
    schedules = _items(fields.get("schedules", []), "schedules", _schedule)
    snapshot = Snapshot(
        door_id=_text(fields["door"], "door"),
        zone=_zone(fields["zone"], "zone"),
        version=_whole(fields["version"], "version"),
        issued_at=_instant(fields["issued_at"], "issued_at"),
        expires_at=_instant(fields["expires_at"], "expires_at"),
        policy=_policy(fields["policy"]),
        lockdown=_flag(fields["lockdown"], "lockdown"),
        time_zone=_time_zone(fields["time_zone"], "time_zone"),
        schedules=schedules,
        holidays=_items(fields.get("holidays", []), "holidays", _date),
        users=_items(fields["users"], "users", _user),
    )
    _check_consistency(snapshot)
    return snapshot


def snapshot_to_payload(snapshot: Snapshot) -> dict[str, Any]:
    return {
        "door": snapshot.door_id,
        "zone": {"id": snapshot.zone.zone_id, "two_person": snapshot.zone.two_person,
                 "two_person_window_s": snapshot.zone.two_person_window_s},
        "version": snapshot.version,
        "issued_at": snapshot.issued_at,
        "expires_at": snapshot.expires_at,
        "policy": snapshot.policy.to_mapping(),
        "lockdown": snapshot.lockdown,
        "time_zone": snapshot.time_zone,
        "schedules": [_schedule_payload(schedule) for schedule in snapshot.schedules],
        "holidays": [day.isoformat() for day in snapshot.holidays],
        "users": [_user_payload(user) for user in snapshot.users],
    }


def _schedule_payload(schedule: Schedule) -> dict[str, Any]:
    weekly = {
        name: [p.to_pair() for p in periods] for name, periods in zip(WEEKDAYS, schedule.weekly)
    }
    return {"id": schedule.schedule_id, "weekly": weekly,
            "holiday": [p.to_pair() for p in schedule.holiday]}


def _user_payload(user: User) -> dict[str, Any]:
    return {
        "id": user.user_id, "active": user.active,
        "valid_from": user.valid_from, "valid_until": user.valid_until,
        "roles": list(user.roles),
        "grants": [{"zone": g.zone_id, "schedule": g.schedule_id} for g in user.grants],
        "fingers": [
            {"id": f.finger_id, "module_identity": f.module_identity,
             "template_sha256": f.template_sha256, "sealed_template": f.sealed_template,
             "duress": f.duress, "active": f.active}
            for f in user.fingers
        ],
    }


# ---- parts -------------------------------------------------------------------------------


def _zone(value: Any, where: str) -> Zone:
    fields = _table(value, where, required={"id"}, optional={"two_person", "two_person_window_s"})
    window = fields.get("two_person_window_s")
    return Zone(
        zone_id=_text(fields["id"], f"{where}.id"),
        two_person=_flag(fields.get("two_person", False), f"{where}.two_person"),
        two_person_window_s=(
            None if window is None else _duration(window, f"{where}.two_person_window_s")
        ),
    )


def _policy(value: Any) -> Policy:
    try:
        return Policy.from_mapping(value, where="policy")
    except ConfigError as error:
        raise SnapshotError(str(error)) from None


def _schedule(value: Any, where: str) -> Schedule:
    fields = _table(value, where, required={"id", "weekly"}, optional={"holiday"})
    days = _table(fields["weekly"], f"{where}.weekly", required=set(), optional=set(WEEKDAYS))
    weekly = tuple(
        _items(days.get(name, []), f"{where}.weekly.{name}", _period) for name in WEEKDAYS
    )
    holiday = _items(fields.get("holiday", []), f"{where}.holiday", _period)
    return Schedule(_text(fields["id"], f"{where}.id"), weekly, holiday)


def _period(value: Any, where: str) -> Period:
    try:
        return Period.parse(value)
    except ValueError as error:
        raise SnapshotError(f"{where}: {error}") from None


def _user(value: Any, where: str) -> User:
    fields = _table(value, where, required={"id", "grants", "fingers"},
                    optional={"active", "valid_from", "valid_until", "roles"})
    user = User(
        user_id=_text(fields["id"], f"{where}.id"),
        active=_flag(fields.get("active", True), f"{where}.active"),
        valid_from=_optional_instant(fields.get("valid_from"), f"{where}.valid_from"),
        valid_until=_optional_instant(fields.get("valid_until"), f"{where}.valid_until"),
        roles=_items(fields.get("roles", []), f"{where}.roles", _text),
        grants=_items(fields["grants"], f"{where}.grants", _grant),
        fingers=_items(fields["fingers"], f"{where}.fingers", _finger),
    )
    start, end = user.valid_from, user.valid_until
    if start is not None and end is not None and end <= start:
        raise SnapshotError(f"{where}.valid_until: not after valid_from")
    return user


def _grant(value: Any, where: str) -> Grant:
    fields = _table(value, where, required={"zone"}, optional={"schedule"})
    schedule = fields.get("schedule")
    return Grant(_text(fields["zone"], f"{where}.zone"),
                 None if schedule is None else _text(schedule, f"{where}.schedule"))


def _finger(value: Any, where: str) -> Finger:
    fields = _table(value, where, required={"id", "module_identity", "template_sha256",
                    "sealed_template"}, optional={"duress", "active"})
    digest = fields["template_sha256"]
    if not isinstance(digest, str) or not _SHA256_HEX.fullmatch(digest):
        raise SnapshotError(
            f"{where}.template_sha256: expected 64 lowercase hex digits, got {digest!r}"
        )
    return Finger(
        finger_id=_text(fields["id"], f"{where}.id"),
        module_identity=_text(fields["module_identity"], f"{where}.module_identity"),
        template_sha256=digest,
        sealed_template=_text(fields["sealed_template"], f"{where}.sealed_template"),
        duress=_flag(fields.get("duress", False), f"{where}.duress"),
        active=_flag(fields.get("active", True), f"{where}.active"),
    )


def _check_consistency(snapshot: Snapshot) -> None:
    if snapshot.expires_at <= snapshot.issued_at:
        raise SnapshotError("expires_at: not after issued_at")
    _unique([s.schedule_id for s in snapshot.schedules], "schedules", "id")
    _unique([u.user_id for u in snapshot.users], "users", "id")
    _unique([f.finger_id for u in snapshot.users for f in u.fingers], "users[].fingers", "id")
    known = {s.schedule_id for s in snapshot.schedules}
    for u_pos, user in enumerate(snapshot.users):
        for g_pos, grant in enumerate(user.grants):
            if grant.schedule_id is not None and grant.schedule_id not in known:
                raise SnapshotError(
                    f"users[{u_pos}].grants[{g_pos}].schedule: no schedule {grant.schedule_id!r}"
                )


def _unique(values: list[str], where: str, key: str) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise SnapshotError(f"{where}.{key}: {value!r} appears twice")
        seen.add(value)


# ---- scalars -----------------------------------------------------------------------------


def _table(value: Any, where: str, required: set[str], optional: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise SnapshotError(f"{where}: expected an object, got {type(value).__name__}")
    for key in sorted(required - value.keys()):
        raise SnapshotError(f"{where}.{key}: missing")
    for key in sorted(value.keys() - required - optional):
        raise SnapshotError(f"{where}.{key}: unknown field")
    return value


def _items(value: Any, where: str, parse: Callable[[Any, str], Any]) -> tuple:
    if not isinstance(value, (list, tuple)):
        raise SnapshotError(f"{where}: expected a list, got {type(value).__name__}")
    return tuple(parse(item, f"{where}[{position}]") for position, item in enumerate(value))


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise SnapshotError(f"{where}: expected a non-empty string, got {value!r}")
    return value


def _flag(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise SnapshotError(f"{where}: expected true or false, got {value!r}")
    return value


def _whole(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise SnapshotError(f"{where}: expected a whole number >= 0, got {value!r}")
    return value


def _instant(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise SnapshotError(f"{where}: expected epoch seconds (UTC), got {value!r}")
    return float(value)


def _optional_instant(value: Any, where: str) -> float | None:
    return None if value is None else _instant(value, where)


def _duration(value: Any, where: str) -> float:
    seconds = _instant(value, where)
    if seconds <= 0:
        raise SnapshotError(f"{where}: must be > 0 seconds, got {value!r}")
    return seconds


def _time_zone(value: Any, where: str) -> str:
    name = _text(value, where)
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise SnapshotError(f"{where}: unknown IANA time zone {name!r}") from None
    return name


def _date(value: Any, where: str) -> dt.date:
    try:
        return dt.date.fromisoformat(_text(value, where))
    except ValueError:
        raise SnapshotError(
            f"{where}: expected a local date \"YYYY-MM-DD\", got {value!r}"
        ) from None

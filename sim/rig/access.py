"""Builders of access snapshots, claims and instants, for the access-logic tests and the
benchmarks: snapshot payloads, claims and site-local times.

Every builder returns plain payload dicts or frozen objects, so a test states only what it
changes. Times: ``local(...)`` turns a site-local wall-clock reading into epoch seconds.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any
from zoneinfo import ZoneInfo

from doorward.daemon.access.claim import Claim, SlotState
from doorward.daemon.codec.snapshot import Snapshot

SITE_TZ = "Europe/Berlin"
ZONE = "tent-apollo"
MODULE = "model=R307;system_id=0x0009;capacity=1000"
OTHER_MODULE = "model=R503;system_id=0x0009;capacity=200"
ISSUED_AT = dt.datetime(2026, 11, 2, 6, 0, tzinfo=dt.timezone.utc).timestamp()  # a Monday
EXPIRES_AT = ISSUED_AT + 60 * 86400  # 2027-01-01 06:00 UTC
OFFICE = {  # Mon-Fri 07:00-19:00, a night shift crossing midnight on Friday, no holiday hours
    "id": "office",
    "weekly": {day: [["07:00", "19:00"]] for day in ("mon", "tue", "wed", "thu")}
    | {"fri": [["07:00", "19:00"], ["22:00", "06:00"]]},
    "holiday": [],
}
HOLIDAY_MORNINGS = {"id": "holiday-mornings", "weekly": {"mon": [["07:00", "19:00"]]},
                    "holiday": [["09:00", "12:00"]]}


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def finger(finger_id: str, duress: bool = False, active: bool = True,
           module: str = MODULE) -> dict[str, Any]:
    return {"id": finger_id, "module_identity": module, "template_sha256": sha(finger_id),
            "sealed_template": f"sealed:{finger_id}", "duress": duress, "active": active}


def user(user_id: str, *fingers: dict[str, Any], schedule: str | None = None,
         zone: str = ZONE, **fields: Any) -> dict[str, Any]:
    payload = {"id": user_id, "grants": [{"zone": zone, "schedule": schedule}],
               "fingers": list(fingers) or [finger(f"f-{user_id}")]}
    payload.update(fields)
    return payload


def payload(*users: dict[str, Any], **fields: Any) -> dict[str, Any]:
    base = {
        "door": "door-1", "zone": {"id": ZONE}, "version": 7,
        "issued_at": ISSUED_AT, "expires_at": EXPIRES_AT, "policy": {}, "lockdown": False,
        "time_zone": SITE_TZ, "schedules": [OFFICE, HOLIDAY_MORNINGS],
        "holidays": ["2026-12-25"], "users": list(users),
    }
    base.update(fields)
    return base


def snapshot(*users: dict[str, Any], **fields: Any) -> Snapshot:
    return Snapshot.from_payload(payload(*users, **fields))


def hit(finger_id: str | None, slot: SlotState = SlotState.ACTIVE, confirmed: bool = True,
        module: str = MODULE, page: int = 3) -> Claim:
    return Claim.hit(page, 120, slot, finger_id, confirmed, module)


def local(text: str, fold: int = 0, tz: str = SITE_TZ) -> float:
    """``"2026-11-02 08:00"`` read on the site's wall clock -> epoch seconds."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(tz), fold=fold).timestamp()


def utc(text: str) -> float:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.timezone.utc).timestamp()

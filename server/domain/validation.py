"""Checks shared by the API and the CLI that need the door's own rules: policy, schedules,
time zones. They run the candidate through the codec's payload parser, so the server can
never store a policy or schedule that a door would refuse.
"""

from __future__ import annotations

import json
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from doorward.daemon.codec.bundle import Snapshot, SnapshotError
from doorward.server.errors import Invalid


def _probe(**overrides: Any) -> Snapshot:
    payload = {"door": "probe", "zone": {"id": "probe"}, "version": 0, "issued_at": 0,
               "expires_at": 1, "policy": {}, "lockdown": False, "time_zone": "UTC",
               "users": [], **overrides}
    return Snapshot.from_payload(payload)


def check_time_zone(name: str, field: str = "time_zone") -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid(field, f"unknown IANA time zone {name!r}") from None
    return name


def check_policy(policy: dict[str, Any], field: str = "policy") -> str:
    """The policy as canonical JSON with every default filled in."""
    try:
        snapshot = _probe(policy=policy)
    except SnapshotError as error:
        raise Invalid(field, str(error).removeprefix("policy").lstrip(".: ") or str(error)) from None
    return json.dumps(snapshot.to_payload()["policy"], sort_keys=True)


def check_schedule(weekly: dict[str, Any], holiday: list[Any], field: str = "weekly") -> None:
    try:
        _probe(schedules=[{"id": "probe", "weekly": weekly, "holiday": holiday}])
    except SnapshotError as error:
        raise Invalid(field, str(error).removeprefix("schedules[0].")) from None

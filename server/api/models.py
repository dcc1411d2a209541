"""Request bodies of the API, validated by pydantic: a bad field is a 422 naming it.

Owns the field limits. Every string is bounded and must be valid UTF-8 (a lone surrogate
would otherwise reach SQLite and fail there); anything else is stored verbatim, whatever SQL
or markup it contains, because every query is parameterised.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from doorward.server.errors import Invalid


def _utf8(value: str) -> str:
    value.encode("utf-8")  # UnicodeEncodeError is a ValueError: pydantic reports the field
    return value


def _date(value: str) -> str:
    dt.date.fromisoformat(value)  # ValueError names an impossible date
    return value


def _json_utf8(value: dict[str, Any]) -> dict[str, Any]:
    json.dumps(value, ensure_ascii=False, allow_nan=False).encode("utf-8")  # NaN is not JSON
    return value


def _base64(value: str) -> bytes:
    try:
        return base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise ValueError("expected base64") from None


Name = Annotated[str, StringConstraints(min_length=1, max_length=200), AfterValidator(_utf8)]
Text = Annotated[str, StringConstraints(max_length=2000), AfterValidator(_utf8)]
Ident = Annotated[str, StringConstraints(min_length=1, max_length=64), AfterValidator(_utf8)]
Identity = Annotated[str, StringConstraints(min_length=1, max_length=300), AfterValidator(_utf8)]
Role = Annotated[str, StringConstraints(min_length=1, max_length=64), AfterValidator(_utf8)]
Day = Annotated[str, StringConstraints(pattern=r"^\d{4}-\d{2}-\d{2}$"), AfterValidator(_date)]
Instant = Annotated[float, Field(ge=0, le=32503680000)]  # up to year 3000
JsonObject = Annotated[dict[str, Any], AfterValidator(_json_utf8)]
Short = Annotated[str, StringConstraints(max_length=8)]
Periods = list[Short]  # ["08:00", "18:00"]; the codec's parser checks them
Secret = Annotated[str, StringConstraints(min_length=1, max_length=256), AfterValidator(_utf8)]
Template = Annotated[str, StringConstraints(min_length=4, max_length=12000), AfterValidator(_base64)]
PublicKey = Annotated[str, StringConstraints(min_length=44, max_length=44), AfterValidator(_base64)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


def changes_of(patch: BaseModel, nullable: tuple[str, ...] = ()) -> dict[str, Any]:
    """The fields a PATCH body sets; an explicit null only where null means something."""
    changes = patch.model_dump(exclude_unset=True)
    for name, value in changes.items():
        if value is None and name not in nullable:
            raise Invalid(f"body.{name}", "may not be null")
    return changes


class LoginBody(Body):
    name: Name
    password: Annotated[str, StringConstraints(min_length=1, max_length=1000), AfterValidator(_utf8)]


class AdminBody(Body):
    name: Name
    role: Role
    password: Annotated[str, StringConstraints(min_length=12, max_length=1000), AfterValidator(_utf8)]


class SiteBody(Body):
    name: Name
    time_zone: Name


class SitePatch(Body):
    time_zone: Name


class ZoneBody(Body):
    site_id: Ident
    name: Name
    two_person: bool = False
    two_person_window_s: Annotated[float, Field(gt=0, le=3600)] | None = None


class ZonePatch(Body):
    two_person: bool | None = None
    two_person_window_s: Annotated[float, Field(gt=0, le=3600)] | None = None
    lockdown: bool | None = None


class ScheduleBody(Body):
    site_id: Ident
    name: Name
    weekly: dict[Short, list[Periods]]
    holiday: list[Periods] = []


class SchedulePatch(Body):
    weekly: dict[Short, list[Periods]]
    holiday: list[Periods] = []


class HolidayBody(Body):
    day: Day
    name: Text = ""


class DeviceBody(Body):
    name: Name
    site_id: Ident
    zone_id: Ident | None = None
    module_identity: Identity
    capacity: Annotated[int, Field(ge=1, le=10000)]
    policy: JsonObject = {}


class DevicePatch(Body):
    name: Name | None = None
    zone_id: Ident | None = None
    module_identity: Identity | None = None
    capacity: Annotated[int, Field(ge=1, le=10000)] | None = None
    policy: JsonObject | None = None
    lockdown: bool | None = None


class PersonBody(Body):
    name: Name
    roles: list[Role] = Field(default=[], max_length=16)
    valid_from: Instant | None = None
    valid_until: Instant | None = None


class PersonPatch(Body):
    name: Name | None = None
    roles: list[Role] | None = Field(default=None, max_length=16)
    active: bool | None = None
    valid_from: Instant | None = None
    valid_until: Instant | None = None


class ConsentBody(Body):
    reference: Text = Field(description="where the signed consent is kept, e.g. a form number")


class FingerBody(Body):
    name: Name
    module_identity: Identity
    template: Template = Field(description="base64 of the module's template bytes")
    duress: bool = False


class EnrolmentBody(Body):
    person_id: Ident | None = Field(default=None, description="an existing person; else `person`")
    person: PersonBody | None = None
    consent: ConsentBody
    fingers: list[FingerBody] = Field(min_length=1, max_length=10)


class GrantBody(Body):
    person_id: Ident
    zone_id: Ident
    schedule_id: Ident | None = None


class PairBody(Body):
    code: Annotated[str, StringConstraints(min_length=1, max_length=64), AfterValidator(_utf8)]
    x25519_public: PublicKey
    signing_public: PublicKey | None = None
    module_identity: Identity
    module_password: Secret | None = None


class EventBody(Body):
    door_id: Ident
    journal_id: Ident
    seq: Annotated[int, Field(ge=1, le=2**62)]
    at: Annotated[str, StringConstraints(max_length=40), AfterValidator(_utf8)]
    kind: Annotated[str, StringConstraints(min_length=1, max_length=64), AfterValidator(_utf8)]
    detail: JsonObject = {}
    prev_hash: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
    hash: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class LossBody(Body):
    """Records of one journal the door can no longer send (``docs/sync-protocol.md``)."""

    journal_id: Ident
    from_seq: Annotated[int, Field(ge=1, le=2**62)]
    to_seq: Annotated[int, Field(ge=1, le=2**62)] | None = None  # null: all after from_seq
    reason: Annotated[str, StringConstraints(min_length=1, max_length=64), AfterValidator(_utf8)]


class EventsBody(Body):
    events: list[EventBody] = Field(max_length=1000)
    losses: list[LossBody] = Field(default=[], max_length=100)


class StorageReport(Body):
    """The door journal's state: a failing journal or a low disk is the door_storage alarm."""

    journal_failing: bool
    disk_low: bool
    pending: Annotated[int, Field(ge=0, le=2**62)] = 0
    dropped: Annotated[int, Field(ge=0, le=2**62)] = 0
    error: Text | None = None


class HeartbeatBody(Body):
    applied_version: Annotated[int, Field(ge=0, le=2**62)] | None = None
    reconciled_version: Annotated[int, Field(ge=0, le=2**62)] | None = None
    module_identity: Identity | None = None
    clock_trusted: bool | None = None
    reader_state: Name | None = None
    backlog: Annotated[int, Field(ge=0, le=2**62)] | None = None
    disk_free_bytes: Annotated[int, Field(ge=0, le=2**62)] | None = None
    power: Name | None = None
    storage: StorageReport | None = None
    apply_error: Text | None = None  # why the last bundle could not be applied (door behind)

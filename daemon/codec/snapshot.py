"""The permission snapshot: exactly the signed bundle payload, as frozen dataclasses.

Owns ``Snapshot`` and its parts, ``Snapshot.from_payload`` / ``to_payload`` (a plain JSON-able
dict that round-trips every field, so the sync codec can carry it), and ``SnapshotIndex``, the
lookups ``decide()`` needs, built once per snapshot. Nothing door-local lives here: no slot
map, no module pages, no keys. The envelope (format, signature, key id) is the codec's.

Times are epoch seconds (UTC); holidays are local dates ``"YYYY-MM-DD"``; schedule periods are
local ``"HH:MM"`` pairs (see ``doorward.daemon.codec.schedule``). Users carry opaque ids only, never names.

Pure: standard library, ``doorward.daemon.errors``, ``doorward.daemon.codec.policy``, ``doorward.daemon.codec.schedule``; the dict
form lives in ``doorward.daemon.codec.payload``. No IO.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

from doorward.daemon.errors import DoorwardError
from doorward.daemon.codec.policy import Policy
from doorward.daemon.codec.schedule import Schedule

SECURITY_ROLE = "security"


class SnapshotError(DoorwardError, ValueError):
    """A bundle payload is malformed; the message names the field (``users[3].fingers[0].id``)."""


@dataclass(frozen=True)
class Zone:
    """The door's zone. A restricted project area ("tent") may need two people."""

    zone_id: str
    two_person: bool = False
    two_person_window_s: float | None = None  # None: the policy's default


@dataclass(frozen=True)
class Finger:
    finger_id: str
    module_identity: str  # the driver's module_identity(), compared whole
    template_sha256: str  # 64 lowercase hex digits
    sealed_template: str  # sealed to the door's key by the codec; opaque here
    duress: bool = False
    active: bool = True


@dataclass(frozen=True)
class Grant:
    zone_id: str
    schedule_id: str | None = None  # None: at any time


@dataclass(frozen=True)
class User:
    user_id: str
    active: bool = True
    valid_from: float | None = None  # UTC instant; None: no lower bound
    valid_until: float | None = None  # UTC instant, exclusive; None: no upper bound
    roles: tuple[str, ...] = ()
    grants: tuple[Grant, ...] = ()
    fingers: tuple[Finger, ...] = ()

    @property
    def is_security(self) -> bool:
        return SECURITY_ROLE in self.roles

    @property
    def has_validity_window(self) -> bool:
        return self.valid_from is not None or self.valid_until is not None


@dataclass(frozen=True)
class Snapshot:
    door_id: str
    zone: Zone
    version: int
    issued_at: float
    expires_at: float
    policy: Policy
    lockdown: bool
    time_zone: str  # IANA name, e.g. "Europe/Berlin"
    schedules: tuple[Schedule, ...] = ()
    holidays: tuple[dt.date, ...] = ()
    users: tuple[User, ...] = field(default=())

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Snapshot:
        """Validate a bundle payload dict; raises SnapshotError naming the bad field."""
        from doorward.daemon.codec.payload import snapshot_from_payload  # it imports this module

        return snapshot_from_payload(payload)

    def to_payload(self) -> dict[str, Any]:
        """A plain JSON-able dict; ``from_payload(to_payload())`` gives an equal Snapshot."""
        from doorward.daemon.codec.payload import snapshot_to_payload

        return snapshot_to_payload(self)

    @property
    def validity_s(self) -> float:
        return self.expires_at - self.issued_at

    @cached_property
    def index(self) -> SnapshotIndex:
        """Built on first use; touch it when the snapshot is applied so scans never pay."""
        return SnapshotIndex(self)


@dataclass(frozen=True)
class FingerEntry:
    """What decide() needs about one finger, resolved once per snapshot."""

    user: User
    finger: Finger
    # Schedules of the user's grants for this door's zone; None in the tuple means "always".
    zone_schedules: tuple[Schedule | None, ...]


class SnapshotIndex:
    """O(1) lookups over one snapshot: finger id -> user, grants and schedules of this zone."""

    def __init__(self, snapshot: Snapshot) -> None:
        schedules = {schedule.schedule_id: schedule for schedule in snapshot.schedules}
        self.tz = ZoneInfo(snapshot.time_zone)
        self.holidays = frozenset(snapshot.holidays)
        self.allow_list = frozenset(snapshot.policy.offline.allow_list)
        self.two_person_window_s = (
            snapshot.zone.two_person_window_s
            if snapshot.zone.two_person_window_s is not None
            else snapshot.policy.two_person_window_s
        )
        self.fingers: dict[str, FingerEntry] = {}
        for user in snapshot.users:
            zone_schedules = tuple(
                None if grant.schedule_id is None else schedules[grant.schedule_id]
                for grant in user.grants
                if grant.zone_id == snapshot.zone.zone_id
            )
            for finger in user.fingers:
                self.fingers[finger.finger_id] = FingerEntry(user, finger, zone_schedules)

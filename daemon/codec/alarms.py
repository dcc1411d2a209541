"""Every alarm a door raises, in one vocabulary that the door and the server share.

Owns ``AlarmKind`` (each kind a door can raise, as the stable string the journal and the
server carry), ``INCIDENT_NAMES`` (the shorter names the server gives two incidents) and
``Alarm``, the one value the door's parts hand to an alarm sink. A door journals every alarm
as one record of kind ``alarm`` (``Alarm.record``: ``{"alarm": kind, "detail": text, ...}``),
and the server raises exactly one alarm per such record (docs/server.md, "Alarms"); the
door's other records around an incident (``forced_open``, ``tamper`` on/off ...) are events.

Pure: standard library only.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class AlarmKind(str, enum.Enum):
    # What people at the door cause (the door state machine and the access decision).
    FORCED_OPEN = "forced_open"  # the contact opened while locked, without an exit request
    HELD_OPEN = "held_open"  # open past held_open_s
    DURESS = "duress"  # a duress finger: the door opens as usual, the alarm is silent
    TAMPER = "tamper"  # the reader's housing, an empty or unconfirmed hit, a foreign module
    OFFLINE_GRACE = "offline_grace"  # granting on an expired bundle, within its grace
    BOOT_GRACE = "boot_grace"  # granting on a bundle of unknown age after a start
    # The reader and the module's library.
    READER_OFFLINE = "reader_offline"
    MODULE_LIBRARY_FULL = "module_library_full"
    MODULE_PAGE_OUT_OF_RANGE = "module_page_out_of_range"
    TEMPLATE_VERIFY_FAILED = "template_verify_failed"
    TEMPLATE_UNAVAILABLE = "template_unavailable"
    RECONCILE_STUCK = "reconcile_stuck"
    # Bundles.
    BUNDLE_ROLLBACK = "bundle_rollback"
    BUNDLE_UNKNOWN_KEY = "bundle_unknown_key"
    BUNDLE_BAD_SIGNATURE = "bundle_bad_signature"
    BUNDLE_WRONG_DOOR = "bundle_wrong_door"
    MODULE_OVERFLOW = "module_overflow"
    MODULE_IDENTITY_MISMATCH = "module_identity_mismatch"
    CLOCK_SKEW = "clock_skew"
    # The door itself.
    BIOMETRIC_DISABLED = "biometric_disabled"
    CACHE_DAMAGED = "cache_damaged"
    CLOCK_STATUS_UNKNOWN = "clock_status_unknown"
    JOURNAL_FAILED = "journal_failed"
    JOURNAL_LOSS = "journal_loss"
    JOURNAL_CHAIN_BREAK = "journal_chain_break"  # logged at the door; the server raises its own
    CONTROLLER_FAULT = "controller_fault"
    RELAY_UNSAFE = "relay_unsafe"


# The detail of the tamper switch's alarm (the reader's housing): the server ends only that
# tamper alarm when the housing closes, not one of the sensor line raised meanwhile.
TAMPER_SWITCH_DETAIL = "reader tamper switch"

# The server's names for two incidents; every other kind keeps its name there.
INCIDENT_NAMES: Mapping[str, str] = {AlarmKind.FORCED_OPEN.value: "forced",
                                     AlarmKind.HELD_OPEN.value: "held"}


@dataclass(frozen=True)
class Alarm:
    kind: AlarmKind
    detail: str = ""  # words for people: what happened, never a name
    facts: Mapping[str, Any] = field(default_factory=dict)  # numbers and opaque ids

    def record(self) -> tuple[str, dict[str, Any]]:
        """The journal record that carries this alarm to the server."""
        return "alarm", {"alarm": self.kind.value, "detail": self.detail, **self.facts}

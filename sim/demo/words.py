"""How the interactive demo words what it saw: decisions, door states, versions, alarms.

Owns ``decision_text``, ``door_text``, ``versions_text``, ``alarm_text`` and the words of every
reason code (``REASON_WORDS``, the codes of docs/reasons.md) and of the alarm kinds. Each
takes the dicts the demo already reads (the door's status file, the server's door record,
the webhook's alarms) and returns one line: a decision in words with its reason code in
brackets, a version with the time the server issued it, an alarm with the device's name.

Pure: times arrive as arguments (``tz`` is the zone to show them in, local by default).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

KIND_WORDS = {"access_granted": "GRANTED", "access_denied": "DENIED", "scan_ignored": "IGNORED"}
REASON_WORDS = {
    "granted": "may enter",
    "granted_duress": "opens as usual; a silent duress alarm goes out",
    "snapshot_expired_grace": "may enter on an expired bundle (grace period, with an alarm)",
    "snapshot_expired_allow_list": "may enter on an expired bundle (on the allow-list)",
    "no_snapshot": "the door has no bundle yet",
    "tamper_switch": "the reader's tamper switch is open",
    "tamper_empty_slot": "the module named a slot that should be empty (tamper alarm)",
    "tamper_unconfirmed": "the 1:1 match did not confirm the module's hit (tamper alarm)",
    "locked_out": "too many unknown fingers in a row: scans are ignored for a while",
    "poor_image": "the image was too poor to read",
    "unknown_finger": "a finger this door does not hold",
    "revoked": "the finger was revoked; the module is removing it",
    "not_yet_loaded": "the finger is still being loaded into the module",
    "finger_not_in_snapshot": "the finger is not in the door's bundle",
    "module_mismatch": "the finger was enrolled on another module model",
    "finger_inactive": "the finger is switched off",
    "user_inactive": "the person is switched off",
    "snapshot_expired_denied": "the bundle has expired and the offline policy denies",
    "snapshot_expired_not_listed": "the bundle has expired and the person is not on the allow-list",
    "clock_untrusted": "the clock is not trusted and the grant is time-limited",
    "user_not_yet_valid": "before the person's validity window",
    "user_expired": "after the person's validity window",
    "lockdown": "the door is in lockdown",
    "no_grant": "no grant for this door's zone",
    "outside_schedule": "outside the grant's schedule",
    "holiday": "a holiday: the schedule does not apply",
    "waiting_second_person": "waiting for a second person (two-person rule); the lock stays shut",
    "same_person_twice": "the same person again: a different second person must scan",
    "boot_grace": "may enter: the door started without a trusted clock (boot grace, with an alarm)",
    "boot_allow_list": "may enter on the allow-list: the clock is not trusted since the start",
    "boot_grace_over": "the clock is not trusted since the start and the boot grace is over",
    "boot_untrusted_denied": "the clock is not trusted since the start and the policy denies",
}
ALARM_WORDS = {
    "forced": "the door was forced open", "forced_open": "the door was forced open",
    "held": "the door was held open", "held_open": "the door was held open",
    "duress": "a duress finger was used", "granted_duress": "a duress finger was used",
    "tamper": "tamper", "tamper_switch": "the reader's tamper switch opened",
    "tamper_empty_slot": "the module named an empty slot",
    "tamper_unconfirmed": "the module's hit did not confirm",
    "reader_offline": "the reader stopped answering", "door_offline": "no heartbeat for three intervals",
    "rollback": "the door was offered an older bundle", "chain_break": "the event chain broke",
    "server_clock": "the server's clock is not synchronised",
    "offline_grace": "the door grants on an expired bundle",
    "boot_grace": "the door grants without a trusted clock since its start",
    "journal_loss": "journal records were lost", "door_storage": "the door's disk is full or failing",
}


def clock_text(epoch_s: float | None, tz: dt.tzinfo | None = None) -> str:
    if epoch_s is None:
        return "?"
    return dt.datetime.fromtimestamp(epoch_s, tz=dt.timezone.utc).astimezone(tz).strftime("%H:%M:%S")


def _epoch_of(utc: str | None) -> float | None:
    """The status file's ``at`` (``YYYY-MM-DDTHH:MM:SS.ffffffZ``) as epoch seconds."""
    if not utc:
        return None
    try:
        return dt.datetime.fromisoformat(utc.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def decision_text(door_name: str, who: str | None, decision: dict[str, Any],
                  tz: dt.tzinfo | None = None) -> str:  # fmt: skip
    """``Lobby door, alice: GRANTED, may enter [granted] at 12:03:04``."""
    kind, reason = decision.get("kind"), decision.get("reason")
    words = REASON_WORDS.get(str(reason), "no words for this reason: see docs/reasons.md")
    subject = f"{door_name}, {who}" if who else door_name
    at = _epoch_of(decision.get("at"))
    when = f" at {clock_text(at, tz)}" if at is not None else ""
    return f"{subject}: {KIND_WORDS.get(str(kind), kind)}, {words} [{reason}]{when}"


def door_text(door: dict[str, Any]) -> str:
    state = str(door.get("state", "?")).replace("_", " ")
    relay = "relay ENERGISED" if door.get("relay_energised") else "relay at rest"
    contact = "contact open" if door.get("contact_open") else "contact closed"
    flags = [name for name in ("lockdown", "forced", "tamper") if door.get(name)]
    if door.get("held") not in (None, "none"):
        flags.append(f"held open ({door['held']})")
    return ", ".join([state, relay, contact, *flags])


def versions_text(versions: dict[str, Any], record: dict[str, Any] | None,
                  tz: dt.tzinfo | None = None) -> str:  # fmt: skip
    """``version 7 (issued 12:03:04), module reconciled``; what the server has waiting."""
    applied, reconciled = versions.get("applied"), versions.get("reconciled")
    if applied is None:
        return "no bundle applied yet"
    record = record or {}
    issued = record.get("bundle_issued_at") if record.get("bundle_version") == applied else None
    text = f"version {applied}" + (f" (issued {clock_text(issued, tz)})" if issued else "")
    text += ", module reconciled" if reconciled == applied else f", module still at {reconciled}"
    waiting = record.get("bundle_version")
    if isinstance(waiting, int) and waiting > applied:
        text += f"; the server has version {waiting} waiting"
    return text


def alarm_text(alarm_id: int, kind: str, device: str, age_s: float) -> str:
    """``#4 door_offline from Lobby door: no heartbeat for three intervals (12 s ago)``."""
    words = ALARM_WORDS.get(kind, "see docs/server.md, Alarms")
    return f"#{alarm_id} {kind} from {device}: {words} ({age_s:.0f} s ago)"

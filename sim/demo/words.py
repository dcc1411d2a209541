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

from doorward.daemon.codec.words import ALARM_WORDS, KIND_WORDS, REASON_WORDS

__all__ = ["ALARM_WORDS", "KIND_WORDS", "REASON_WORDS", "alarm_text", "clock_text", "decision_text",
           "door_text", "versions_text"]


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

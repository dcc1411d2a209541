"""How the console words what it shows: times, ages, outcomes, reasons, versions, door
status. Pure: the current time and the zone are arguments (``None``: the machine's zone, as
the server's command line shows times).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from typing import Any

from doorward.daemon.codec.words import ALARM_WORDS, REASON_WORDS
from doorward.server.cli.times import local_text
from doorward.server.domain.event_log import Cursor

OUTCOMES = {"access_granted": "granted", "access_denied": "denied", "scan_ignored": "ignored"}


def when_text(epoch_s: float | None, zone: dt.tzinfo | None = None) -> str:
    return local_text(epoch_s, zone)


def at_text(at: str | None, zone: dt.tzinfo | None = None) -> str:
    """A door's ``at`` (ISO 8601 UTC) as local time; shown as sent if it is not one."""
    if not at:
        return "-"
    try:
        return local_text(dt.datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp(), zone)
    except ValueError:
        return at


def ago_text(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    seconds = max(seconds, 0.0)
    for unit_s, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= unit_s:
            return f"{int(seconds // unit_s)} {unit} ago"
    return f"{int(seconds)} s ago"


def outcome_text(kind: str) -> str:
    return OUTCOMES.get(kind, kind.replace("_", " "))


def reason_text(code: Any) -> str:
    """docs/reasons.md in one line; an alarm's name in words; '' for none."""
    if code is None:
        return ""
    code = str(code)
    return REASON_WORDS.get(code) or ALARM_WORDS.get(code) or f"{code} (no words for this code)"


def alarm_text(kind: str) -> str:
    return ALARM_WORDS.get(kind, kind.replace("_", " "))


def connection_state(paired: bool, seen_at: float | None, now: float, offline_after_s: float) -> str:
    """The door-offline alarm's rule (``Monitor.raise_offline``): a paired device is offline
    once its last heartbeat, or its pairing when it has sent none, is older than
    ``offline_after_s``."""
    if not paired:
        return "not paired"
    if seen_at is None or now - seen_at > offline_after_s:
        return "offline"
    return "online"


def version_text(applied: int | None, reconciled: int | None, issued: int | None) -> str:
    """``7 (module 7)``; what the server has waiting when the door is behind."""
    if applied is None:
        return "no bundle yet" if issued is None else f"none yet (server has {issued})"
    text = f"{applied} (module {'?' if reconciled is None else reconciled})"
    if issued is not None and issued > applied:
        text += f", server has {issued}"
    return text


def window_text(valid_from: float | None, valid_until: float | None, now: float,
                zone: dt.tzinfo | None = None) -> str:
    """A visitor's validity window and where now stands in it; '-' for a person without one."""
    if valid_from is None and valid_until is None:
        return "-"
    start = when_text(valid_from, zone) if valid_from is not None else "always"
    end = when_text(valid_until, zone) if valid_until is not None else "open-ended"
    if valid_until is not None and now >= valid_until:
        where = "expired"
    elif valid_from is not None and now < valid_from:
        where = "not yet valid"
    else:
        where = "valid now"
    return f"{start} to {end} ({where})"


def lockdown_text(sources: list[str], confirmed: bool) -> str:
    """``on (zone), confirmed``: whether the door runs the bundle with the current state
    (``off`` alone when nothing is on and nothing is waiting)."""
    if not sources:
        return "off" if confirmed else "off, waiting for the door"
    return f"on ({', '.join(sources)}), {'confirmed' if confirmed else 'waiting for the door'}"


def clock_text(trusted: bool | None) -> str:
    return {True: "trusted", False: "NOT trusted"}.get(trusted, "-")


def encode_cursor(cursor: Cursor | None) -> str:
    if cursor is None:
        return ""
    return base64.urlsafe_b64encode(json.dumps(list(cursor)).encode()).decode().rstrip("=")


def decode_cursor(text: str) -> Cursor:
    """The ``before`` of a page link; ValueError naming the problem when it is not one."""
    try:
        raw = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise ValueError("before: not a page position this console made") from None
    shapes = (float, float, str, str, int)
    if not isinstance(raw, list) or len(raw) != 5 or not all(
            isinstance(value, kind) or (kind is float and type(value) is int)
            for value, kind in zip(raw, shapes, strict=True)) or isinstance(raw[4], bool):
        raise ValueError("before: not a page position this console made")
    return (float(raw[0]), float(raw[1]), raw[2], raw[3], raw[4])

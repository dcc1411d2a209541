"""Times as the server's command line shows and reads them.

Owns the two printed forms of an epoch time: ``local_text`` for people (the machine's local
time, ``2026-12-03 14:05:09``) and ``utc_text`` for machines (ISO 8601 UTC with microseconds
and ``Z``, the format doors journal ``at`` in), and ``parse_moment``, which reads the times an
admin types (``--since``, ``--valid-until``). Pure: the current time and the local zone are
arguments; ``None`` as the zone means the machine's own.
"""

from __future__ import annotations

import datetime as dt
import re

UTC = dt.timezone.utc
DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
EXAMPLES = "e.g. 2026-12-03, '2026-12-03 14:05', 2026-12-03T13:05:09Z"


class MomentError(ValueError):
    """A typed time the command line cannot read; the message says what it accepts."""


def local_text(epoch_s: float | None, zone: dt.tzinfo | None = None) -> str:
    """``2026-12-03 14:05:09`` in ``zone`` (default: the machine's local time); '-' for none."""
    if epoch_s is None:
        return "-"
    return dt.datetime.fromtimestamp(epoch_s, tz=UTC).astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")


def utc_text(epoch_s: float) -> str:
    """``2026-12-03T13:05:09.026855Z``: what ``--json`` prints for every time."""
    return dt.datetime.fromtimestamp(epoch_s, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_moment(text: str, option: str, *, now_s: float, zone: dt.tzinfo | None = None,
                 relative: bool = False, end_of_day: bool = False) -> float:
    """Epoch seconds of an ISO 8601 date or date and time. Without an offset or ``Z`` it is
    local time in ``zone``. With ``relative``, ``30m``, ``12h``, ``7d`` or ``2w`` mean that
    long before ``now_s``. With ``end_of_day`` a bare date is an end, so the day it names is
    inside: ``--valid-until 2026-12-05`` lets a visitor in all of the 5th, and the moment
    returned is the next local midnight (the bound is exclusive)."""
    cleaned = text.strip()
    found = RELATIVE.match(cleaned) if relative else None
    if found:
        return now_s - float(found.group(1)) * UNIT_S[found.group(2)]
    try:
        moment = dt.datetime.fromisoformat(cleaned.replace("z", "Z"))
    except ValueError:
        accepted = EXAMPLES + (", or an age: 30m, 12h, 7d, 2w" if relative else "")
        raise MomentError(f"{option}: cannot read {text!r} as a time ({accepted})") from None
    if end_of_day and DATE_ONLY.match(cleaned):
        moment += dt.timedelta(days=1)  # wall-clock days: a summer-time change day stays whole
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone) if zone else moment.astimezone()
    return moment.timestamp()

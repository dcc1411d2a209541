"""What only an admin-role operator may set at the kiosk: a duress finger, a visitor's window.

Owns ``ADMIN_ROLE``, ``is_admin``, ``AdminOnly``, ``Window``, ``validity_window`` and
``requested_window``. The page shows the duress toggle and the validity fields to an admin
only, and the kiosk's actions refuse them from anyone else with ``AdminOnly`` (HTTP 403): a
hidden control is not a check. The window arrives as epoch seconds (the page turns the kiosk's local date and time into an
instant, the browser and the kiosk share one clock and zone) and is checked here before
anything is recorded.

Pure: the current time is an argument.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from doorward.enrol.progress import EnrolmentFailed
from doorward.enrol.strings import TEXT

ADMIN_ROLE = "admin"
LATEST_INSTANT = 32_503_680_000.0  # the server's limit for an instant (the year 3000)


def is_admin(role: str) -> bool:
    return role == ADMIN_ROLE


class AdminOnly(EnrolmentFailed):
    """An enroller posted what only an admin may set; ``key`` names which."""

    def __init__(self, what: str) -> None:
        super().__init__(f"admin_only_{what}")


@dataclass(frozen=True)
class Window:
    """When a person's fingers open doors; ``None`` is an open end."""

    valid_from: float | None
    valid_until: float | None

    def as_json(self) -> dict:
        return {"valid_from": self.valid_from, "valid_until": self.valid_until}


def validity_window(valid_from: object, valid_until: object, now: float) -> Window | None:
    """The window from the page's two fields (``None`` or ``""`` is an open end), or None
    when both are empty. Refuses a non-number, an end before the start, and an end that has
    already passed (the visitor could never come in)."""
    start, end = _instant(valid_from, "page.valid_from"), _instant(valid_until, "page.valid_until")
    if start is None and end is None:
        return None
    if start is not None and end is not None and end <= start:
        raise EnrolmentFailed("window_order")
    if end is not None and end <= now:
        raise EnrolmentFailed("window_over")
    return Window(start, end)


def requested_window(valid_from: object, valid_until: object, stored: Window | None,
                     now: float) -> Window | None:  # fmt: skip
    """What the page's fields ask for: the stored window when they show it unchanged (an
    ended window is not refused again for being shown), else a checked new one."""
    if stored is not None and (valid_from, valid_until) == (stored.valid_from, stored.valid_until):
        return stored
    return validity_window(valid_from, valid_until, now)


def _instant(value: object, label: str) -> float | None:
    """Seconds since the epoch, or None; the error names the field by its label."""
    if value is None or value == "":
        return None
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not number or not math.isfinite(value) or not 0 <= value <= LATEST_INSTANT:
        raise EnrolmentFailed("window_invalid", field=TEXT[label])
    return float(value)

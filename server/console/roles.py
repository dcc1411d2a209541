"""Who may do what in the console: one table, checked on the server by every route.

Owns ``ACTIONS`` (each console action and the roles allowed it), ``may`` and ``menu``.
``admin`` does everything; ``security`` watches (board, events, alarms), acknowledges alarms
and will lock down, but changes no grant; ``auditor`` reads; ``enroller`` sees only what the
kiosk needs: people, whom it may add (without a visitor window or the security role, which
change who a door lets in: the API's rule).
Pure.
"""

from __future__ import annotations

WATCHERS = frozenset({"admin", "security", "auditor"})
EVERYONE = frozenset({"admin", "security", "enroller", "auditor"})

ACTIONS: dict[str, frozenset[str]] = {
    "home": EVERYONE,
    "board": WATCHERS,
    "events": WATCHERS,
    "events.export": WATCHERS,
    "alarms": WATCHERS,
    "alarms.acknowledge": frozenset({"admin", "security"}),
    "lockdown.view": WATCHERS,
    "lockdown": frozenset({"admin", "security"}),
    "audit": WATCHERS,
    "people": EVERYONE,
    "people.create": frozenset({"admin", "enroller"}),  # a visitor window or the security role: admin
}
# The pages in the navigation, in order: (action, label, path).
PAGES = (("people", "People", "/console/people"), ("board", "Doors", "/console/board"), ("events", "Events", "/console/events"),
         ("alarms", "Alarms", "/console/alarms"), ("lockdown.view", "Lockdown", "/console/lockdown"),
         ("audit", "Audit", "/console/audit"))


def may(role: str, action: str) -> bool:
    """Whether ``role`` may do ``action``; an action missing from the table is refused."""
    return role in ACTIONS.get(action, frozenset())


def menu(role: str) -> list[tuple[str, str]]:
    """(label, path) of every page the role may open."""
    return [(label, path) for action, label, path in PAGES if may(role, action)]

"""How many templates each door's module must hold, and who has no usable template there.

Owns the eligibility query (who a door's bundle carries) shared with the bundle builder, and
``check_doors``, which a write calls inside its transaction so that an overflowing grant or
enrolment is refused with 409 naming the door and its numbers, and nothing is stored.
"""

from __future__ import annotations

import sqlite3
from typing import Any, Iterable

from doorward.server.errors import Conflict

# Users a door's bundle carries: granted the door's zone, active, not yet expired.
ELIGIBLE_USERS = """
    SELECT DISTINCT g.user_id FROM grants g JOIN users u ON u.id = g.user_id
    WHERE g.zone_id = :zone AND u.active = 1 AND (u.valid_until IS NULL OR u.valid_until > :now)
"""


def templates_needed(conn: sqlite3.Connection, door: sqlite3.Row, now: float) -> int:
    if door["kind"] == "station":
        return conn.execute("SELECT COUNT(*) FROM fingers WHERE module_identity = ?",
                            (door["module_identity"],)).fetchone()[0]
    return conn.execute(
        f"SELECT COUNT(*) FROM fingers WHERE module_identity = :identity AND user_id IN ({ELIGIBLE_USERS})",
        {"identity": door["module_identity"], "zone": door["zone_id"], "now": now}).fetchone()[0]


def people_without_usable_template(conn: sqlite3.Connection, door: sqlite3.Row,
                                   now: float) -> list[dict[str, Any]]:
    """People a door should let in whose fingers were all enrolled on other module models."""
    if door["kind"] == "station":
        return []
    rows = conn.execute(
        f"SELECT u.id, u.name FROM users u WHERE u.id IN ({ELIGIBLE_USERS}) AND NOT EXISTS"
        " (SELECT 1 FROM fingers f WHERE f.user_id = u.id AND f.module_identity = :identity)"
        " ORDER BY u.name",
        {"identity": door["module_identity"], "zone": door["zone_id"], "now": now})
    return [{"id": row["id"], "name": row["name"]} for row in rows]


def check_doors(conn: sqlite3.Connection, door_ids: Iterable[str], now: float) -> None:
    """Raise Conflict for the first door (not station) whose module would overflow."""
    for door_id in sorted(set(door_ids)):
        door = conn.execute("SELECT * FROM devices WHERE id = ? AND kind = 'door'", (door_id,)).fetchone()
        if door is None:
            continue
        used = templates_needed(conn, door, now)
        if used > door["capacity"]:
            raise Conflict(
                f"door {door['name']!r} ({door_id}) would need {used} templates but its module"
                f" holds {door['capacity']}", door_id=door_id, door=door["name"],
                templates_needed=used, capacity=door["capacity"])


def doors_of_zone(conn: sqlite3.Connection, zone_id: str) -> list[str]:
    return [row[0] for row in conn.execute("SELECT id FROM devices WHERE zone_id = ?", (zone_id,))]


def doors_of_user(conn: sqlite3.Connection, user_id: str) -> list[str]:
    return [row[0] for row in conn.execute(
        "SELECT id FROM devices WHERE zone_id IN (SELECT zone_id FROM grants WHERE user_id = ?)",
        (user_id,))]

"""Sites, zones, schedules and holidays: the places and times that grants refer to.

Owns their create/update/list services. Each write marks the devices it affects dirty and is
audited. Callers pass an open transaction, the time and the actor.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from doorward.server.context import audit, mark_devices_dirty
from doorward.server.store.db import new_id
from doorward.server.errors import Conflict, NotFound
from doorward.server.store.ledger import RemovalLedger
from doorward.server.domain.validation import check_schedule, check_time_zone


def fetch(conn: sqlite3.Connection, table: str, ident: str, what: str) -> sqlite3.Row:
    """One row by id; ``table`` comes from code, never from a request."""
    row = conn.execute(f"SELECT * FROM {table} WHERE id = ?", (ident,)).fetchone()
    if row is None:
        raise NotFound(what, ident)
    return row


def _unique_name(conn: sqlite3.Connection, sql: str, params: tuple, message: str) -> None:
    if conn.execute(sql, params).fetchone():
        raise Conflict(message)


def create_site(conn: sqlite3.Connection, now: float, actor: str, name: str, time_zone: str) -> str:
    check_time_zone(time_zone)
    _unique_name(conn, "SELECT 1 FROM sites WHERE name = ?", (name,), f"site {name!r} already exists")
    ident = new_id("s")
    conn.execute("INSERT INTO sites (id, name, time_zone, created_at) VALUES (?,?,?,?)",
                 (ident, name, time_zone, now))
    audit(conn, now, actor, "site.create", ident, name=name, time_zone=time_zone)
    return ident


def update_site(conn: sqlite3.Connection, now: float, actor: str, ident: str, time_zone: str) -> None:
    fetch(conn, "sites", ident, "site")
    conn.execute("UPDATE sites SET time_zone = ? WHERE id = ?", (check_time_zone(time_zone), ident))
    mark_devices_dirty(conn, "site_id = ?", (ident,))
    audit(conn, now, actor, "site.update", ident, time_zone=time_zone)


def create_zone(conn: sqlite3.Connection, now: float, actor: str, site_id: str, name: str,
                two_person: bool = False, two_person_window_s: float | None = None) -> str:
    fetch(conn, "sites", site_id, "site")
    _unique_name(conn, "SELECT 1 FROM zones WHERE site_id = ? AND name = ?", (site_id, name),
                 f"zone {name!r} already exists in this site")
    ident = new_id("z")
    conn.execute("INSERT INTO zones (id, site_id, name, two_person, two_person_window_s)"
                 " VALUES (?,?,?,?,?)", (ident, site_id, name, int(two_person), two_person_window_s))
    audit(conn, now, actor, "zone.create", ident, name=name, site_id=site_id, two_person=two_person)
    return ident


def update_zone(conn: sqlite3.Connection, now: float, actor: str, ident: str,
                changes: dict[str, Any], *, ledger: RemovalLedger) -> None:
    """``changes`` may hold two_person, two_person_window_s and lockdown."""
    fetch(conn, "zones", ident, "zone")
    for column in ("two_person", "two_person_window_s", "lockdown"):
        if column in changes:
            value = changes[column]
            conn.execute(f"UPDATE zones SET {column} = ? WHERE id = ?",
                         (int(value) if isinstance(value, bool) else value, ident))
    mark_devices_dirty(conn, "zone_id = ?", (ident,))
    if "lockdown" in changes:
        ledger.record("zone.lockdown", ident, now, actor, lockdown=bool(changes["lockdown"]))
    audit(conn, now, actor, "zone.update", ident, **changes)


def delete_zone(conn: sqlite3.Connection, now: float, actor: str, ident: str) -> None:
    fetch(conn, "zones", ident, "zone")
    if conn.execute("SELECT 1 FROM devices WHERE zone_id = ? UNION SELECT 1 FROM grants WHERE zone_id = ?",
                    (ident, ident)).fetchone():
        raise Conflict(f"zone {ident!r} still has doors or grants; move or revoke them first")
    conn.execute("DELETE FROM zones WHERE id = ?", (ident,))
    audit(conn, now, actor, "zone.delete", ident)


def create_schedule(conn: sqlite3.Connection, now: float, actor: str, site_id: str, name: str,
                    weekly: dict[str, list], holiday: list) -> str:
    fetch(conn, "sites", site_id, "site")
    check_schedule(weekly, holiday)
    _unique_name(conn, "SELECT 1 FROM schedules WHERE site_id = ? AND name = ?", (site_id, name),
                 f"schedule {name!r} already exists in this site")
    ident = new_id("sch")
    conn.execute("INSERT INTO schedules (id, site_id, name, weekly, holiday) VALUES (?,?,?,?,?)",
                 (ident, site_id, name, json.dumps(weekly, sort_keys=True), json.dumps(holiday)))
    audit(conn, now, actor, "schedule.create", ident, name=name, weekly=weekly, holiday=holiday)
    return ident


def update_schedule(conn: sqlite3.Connection, now: float, actor: str, ident: str,
                    weekly: dict[str, list], holiday: list) -> None:
    row = fetch(conn, "schedules", ident, "schedule")
    check_schedule(weekly, holiday)
    conn.execute("UPDATE schedules SET weekly = ?, holiday = ? WHERE id = ?",
                 (json.dumps(weekly, sort_keys=True), json.dumps(holiday), ident))
    mark_devices_dirty(conn, "site_id = ?", (row["site_id"],))
    audit(conn, now, actor, "schedule.update", ident, weekly=weekly, holiday=holiday)


def delete_schedule(conn: sqlite3.Connection, now: float, actor: str, ident: str) -> None:
    fetch(conn, "schedules", ident, "schedule")
    if conn.execute("SELECT 1 FROM grants WHERE schedule_id = ?", (ident,)).fetchone():
        raise Conflict(f"schedule {ident!r} is used by grants; revoke them first")
    conn.execute("DELETE FROM schedules WHERE id = ?", (ident,))
    audit(conn, now, actor, "schedule.delete", ident)


def set_holiday(conn: sqlite3.Connection, now: float, actor: str, site_id: str, day: str,
                name: str) -> None:
    fetch(conn, "sites", site_id, "site")
    conn.execute("INSERT INTO holidays (site_id, day, name) VALUES (?,?,?) ON CONFLICT"
                 " (site_id, day) DO UPDATE SET name = excluded.name", (site_id, day, name))
    mark_devices_dirty(conn, "site_id = ?", (site_id,))
    audit(conn, now, actor, "holiday.set", site_id, day=day, name=name)


def delete_holiday(conn: sqlite3.Connection, now: float, actor: str, site_id: str, day: str) -> None:
    if conn.execute("DELETE FROM holidays WHERE site_id = ? AND day = ?", (site_id, day)).rowcount == 0:
        raise NotFound("holiday", day)
    mark_devices_dirty(conn, "site_id = ?", (site_id,))
    audit(conn, now, actor, "holiday.delete", site_id, day=day)


def list_rows(conn: sqlite3.Connection, sql: str, params: tuple = ()) -> list[dict[str, Any]]:
    return [dict(row) for row in conn.execute(sql, params)]


def schedule_view(row: sqlite3.Row) -> dict[str, Any]:
    return {"id": row["id"], "site_id": row["site_id"], "name": row["name"],
            "weekly": json.loads(row["weekly"]), "holiday": json.loads(row["holiday"])}

"""What the server's list and show commands read: rows with consistent types and the names
the server knows beside every opaque id (``site_name`` beside ``site_id``...).

Owns these read-only queries for the command line; the API's views stay in their services
(``devices.device_view``, ``people.person_view``), which these extend. Booleans come out as
bool; times stay epoch seconds until ``cli_table.machine`` or a table formats them.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from doorward.server.domain import alarms
from doorward.server.domain import devices
from doorward.server.domain import directory
from doorward.server.domain import people


def _names(conn: sqlite3.Connection, table: str) -> dict[str, str]:
    """id -> name of one table; ``table`` comes from code, never from input."""
    return {row[0]: row[1] for row in conn.execute(f"SELECT id, name FROM {table}")}


def sites(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    return directory.list_rows(conn, "SELECT id, name, time_zone, created_at FROM sites ORDER BY name")


def zones(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT z.id, z.name, z.site_id, s.name AS site_name, z.two_person, z.two_person_window_s,"
        " z.lockdown FROM zones z LEFT JOIN sites s ON s.id = z.site_id ORDER BY s.name, z.name")
    return [{**dict(row), "two_person": bool(row["two_person"]), "lockdown": bool(row["lockdown"])}
            for row in rows]


def device_list(conn: sqlite3.Connection, now: float, offline_after_s: float) -> list[dict[str, Any]]:
    site_names, zone_names = _names(conn, "sites"), _names(conn, "zones")
    rows = conn.execute("SELECT * FROM devices ORDER BY kind, name").fetchall()
    return [{**devices.device_view(conn, row, now, offline_after_s),
             "site_name": site_names.get(row["site_id"]), "zone_name": zone_names.get(row["zone_id"])}
            for row in rows]


def device(conn: sqlite3.Connection, ident: str, now: float, offline_after_s: float) -> dict[str, Any]:
    row = directory.fetch(conn, "devices", ident, "device")
    names = {table: _names(conn, table) for table in ("sites", "zones", "users")}
    removals = devices.removals(conn, "device_id = ?", (ident,))
    return {**devices.device_view(conn, row, now, offline_after_s),
            "site_name": names["sites"].get(row["site_id"]),
            "zone_name": names["zones"].get(row["zone_id"]),
            "capacity_report": devices.capacity_report(conn, row, now),
            "removals": [{**r, "user_name": names["users"].get(r["user_id"])} for r in removals]}


def person_list(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT u.id, u.name, u.roles, u.active, u.valid_from, u.valid_until, u.consent_at,"
        " (SELECT COUNT(*) FROM fingers f WHERE f.user_id = u.id) AS fingers"
        " FROM users u ORDER BY u.name, u.id")
    return [{**dict(row), "roles": json.loads(row["roles"]), "active": bool(row["active"])}
            for row in rows]


def person(conn: sqlite3.Connection, ident: str) -> dict[str, Any]:
    view = people.person_view(conn, ident)
    zone_names, schedule_names = _names(conn, "zones"), _names(conn, "schedules")
    device_names = _names(conn, "devices")
    grants = [{**g, "zone_name": zone_names.get(g["zone_id"]),
               "schedule_name": schedule_names.get(g["schedule_id"])} for g in view["grants"]]
    removals = [{**r, "device_name": device_names.get(r["device_id"])}
                for r in devices.removals(conn, "user_id = ?", (ident,))]
    return {**view, "grants": grants, "removals": removals}


def alarm_list(conn: sqlite3.Connection, state: str | None, limit: int) -> list[dict[str, Any]]:
    device_names = _names(conn, "devices")
    return [{**alarm, "device_name": device_names.get(alarm["device_id"])}
            for alarm in alarms.list_alarms(conn, state, limit)]

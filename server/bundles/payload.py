"""From database rows to a door's bundle payload: who and what one device's bundle carries.

Owns the selection (a door: the users granted its zone, active and unexpired, with their
fingers of the door's exact module identity; a station: every finger of its module identity
up to its capacity) and the payload dict that ``doorward.daemon.codec.bundle`` signs. Templates are opened
with the data key and sealed to the device's X25519 key here; nothing else sees them.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any, Callable

from doorward.server.bundles.capacity import ELIGIBLE_USERS

# seal(template_sealed_at_rest, finger_id) -> template sealed to the device, base64 text
Sealer = Callable[[bytes, str], str]


@dataclass(frozen=True)
class Issue:
    version: int
    issued_at: float
    expires_at: float


def build_payload(conn: sqlite3.Connection, device: sqlite3.Row, issue: Issue, now: float,
                  seal: Sealer) -> dict[str, Any]:
    site = conn.execute("SELECT time_zone FROM sites WHERE id = ?", (device["site_id"],)).fetchone()
    users, grants = _selection(conn, device, now)
    schedule_ids = sorted({g["schedule_id"] for g in grants if g["schedule_id"]})
    return {
        "door": device["id"], "zone": _zone(conn, device), "version": issue.version,
        "issued_at": issue.issued_at, "expires_at": issue.expires_at,
        "policy": json.loads(device["policy"]), "lockdown": _lockdown(conn, device),
        "time_zone": site["time_zone"], "schedules": _schedules(conn, schedule_ids),
        "holidays": [r[0] for r in conn.execute(
            "SELECT day FROM holidays WHERE site_id = ? ORDER BY day", (device["site_id"],))],
        "users": _users(users, grants, _fingers(conn, device, now), seal),
    }


def _zone(conn: sqlite3.Connection, device: sqlite3.Row) -> dict[str, Any]:
    if device["kind"] == "station":
        return {"id": f"station:{device['id']}"}  # a zone no grant names: a station opens nothing
    zone = conn.execute("SELECT * FROM zones WHERE id = ?", (device["zone_id"],)).fetchone()
    return {"id": zone["id"], "two_person": bool(zone["two_person"]),
            "two_person_window_s": zone["two_person_window_s"]}


def _lockdown(conn: sqlite3.Connection, device: sqlite3.Row) -> bool:
    if device["lockdown"]:
        return True
    row = conn.execute("SELECT lockdown FROM zones WHERE id = ?", (device["zone_id"],)).fetchone()
    return bool(row and row["lockdown"])


def _selection(conn: sqlite3.Connection, device: sqlite3.Row, now: float) -> tuple[list, list]:
    if device["kind"] == "station":
        users = conn.execute(
            "SELECT * FROM users WHERE id IN (SELECT user_id FROM fingers WHERE module_identity = ?)"
            " ORDER BY id", (device["module_identity"],)).fetchall()
        return users, []
    params = {"zone": device["zone_id"], "now": now}
    users = conn.execute(f"SELECT * FROM users WHERE id IN ({ELIGIBLE_USERS}) ORDER BY id", params).fetchall()
    grants = conn.execute("SELECT user_id, zone_id, schedule_id FROM grants WHERE zone_id = :zone"
                          " ORDER BY user_id, IFNULL(schedule_id, '')", params).fetchall()
    return users, grants


def _fingers(conn: sqlite3.Connection, device: sqlite3.Row, now: float) -> list[sqlite3.Row]:
    columns = "id, user_id, module_identity, template_sealed, template_sha256, duress"
    if device["kind"] == "station":
        return conn.execute(
            f"SELECT {columns} FROM fingers WHERE module_identity = ? ORDER BY enrolled_at, id LIMIT ?",
            (device["module_identity"], device["capacity"])).fetchall()
    return conn.execute(
        f"SELECT {columns} FROM fingers WHERE module_identity = :identity AND user_id IN"
        f" ({ELIGIBLE_USERS}) ORDER BY enrolled_at, id",
        {"identity": device["module_identity"], "zone": device["zone_id"], "now": now}).fetchall()


def _schedules(conn: sqlite3.Connection, ids: list[str]) -> list[dict[str, Any]]:
    rows = [conn.execute("SELECT * FROM schedules WHERE id = ?", (i,)).fetchone() for i in ids]
    return [{"id": r["id"], "weekly": json.loads(r["weekly"]), "holiday": json.loads(r["holiday"])}
            for r in rows]


def _users(users: list, grants: list, fingers: list, seal: Sealer) -> list[dict[str, Any]]:
    by_user: dict[str, list] = {}
    for finger in fingers:
        by_user.setdefault(finger["user_id"], []).append({
            "id": finger["id"], "module_identity": finger["module_identity"],
            "template_sha256": finger["template_sha256"],
            "sealed_template": seal(finger["template_sealed"], finger["id"]),
            "duress": bool(finger["duress"]), "active": True})
    grants_of: dict[str, list] = {}
    for grant in grants:
        grants_of.setdefault(grant["user_id"], []).append(
            {"zone": grant["zone_id"], "schedule": grant["schedule_id"]})
    return [{"id": u["id"], "active": bool(u["active"]), "valid_from": u["valid_from"],
             "valid_until": u["valid_until"], "roles": json.loads(u["roles"]),
             "grants": grants_of.get(u["id"], []), "fingers": by_user.get(u["id"], [])}
            for u in users if u["id"] in by_user or grants_of.get(u["id"])]

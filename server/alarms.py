"""Alarms: raising them with their outbox rows, listing, acknowledging and clearing.

Owns the alarm kinds and which door events become alarms. Raising writes the alarm and one
outbox row per configured sink in the caller's transaction, so an alarm is never lost
between "stored" and "queued"; ``server.delivery`` sends them.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from server.config import AlarmSinks
from server.context import audit
from server.directory import fetch
from server.errors import Conflict

# Door event kind -> alarm kind. A door may also journal kind "alarm" with detail.alarm.
EVENT_ALARMS = {
    "forced_open": "forced", "forced": "forced",
    "held_open": "held", "held": "held",
    "duress": "duress", "granted_duress": "duress",
    "tamper": "tamper", "tamper_switch": "tamper", "tamper_empty_slot": "tamper",
    "tamper_unconfirmed": "tamper",
    "reader_offline": "reader_offline",
    "rollback": "rollback",
}
SERVER_ALARMS = ("chain_break", "door_offline", "server_clock", "offline_grace")
STATES = ("open", "acknowledged", "cleared")


def alarm_kind_of(kind: str, detail: dict[str, Any]) -> str | None:
    if kind == "alarm" and isinstance(detail.get("alarm"), str):
        return EVENT_ALARMS.get(detail["alarm"], detail["alarm"][:64])
    return EVENT_ALARMS.get(kind)


def sinks_of(config: AlarmSinks) -> list[str]:
    return [name for name, target in (("webhook", config.webhook_url), ("syslog", config.syslog_host))
            if target]


def raise_alarm(conn: sqlite3.Connection, now: float, sinks: list[str], kind: str,
                device_id: str | None, detail: dict[str, Any], once: bool = False) -> int | None:
    """Store an alarm and queue it for every sink. ``once``: not if one of this kind for this
    device is still open (door offline, server clock)."""
    if once and conn.execute(
            "SELECT 1 FROM alarms WHERE kind = ? AND IFNULL(device_id, '') = IFNULL(?, '')"
            " AND state != 'cleared'", (kind, device_id)).fetchone():
        return None
    cursor = conn.execute("INSERT INTO alarms (device_id, kind, raised_at, detail) VALUES (?,?,?,?)",
                          (device_id, kind, now, json.dumps(detail, sort_keys=True)))
    for sink in sinks:
        conn.execute("INSERT INTO outbox (alarm_id, sink, next_attempt_at) VALUES (?,?,?)",
                     (cursor.lastrowid, sink, now))
    return cursor.lastrowid


def alarm_view(row: sqlite3.Row) -> dict[str, Any]:
    return {**dict(row), "detail": json.loads(row["detail"])}


def list_alarms(conn: sqlite3.Connection, state: str | None, limit: int) -> list[dict[str, Any]]:
    if state is None:
        rows = conn.execute("SELECT * FROM alarms ORDER BY id DESC LIMIT ?", (limit,))
    else:
        rows = conn.execute("SELECT * FROM alarms WHERE state = ? ORDER BY id DESC LIMIT ?", (state, limit))
    return [alarm_view(row) for row in rows]


def acknowledge(conn: sqlite3.Connection, now: float, actor: str, ident: int) -> None:
    row = fetch(conn, "alarms", ident, "alarm")
    if row["state"] != "open":
        raise Conflict(f"alarm {ident} is {row['state']}, not open")
    conn.execute("UPDATE alarms SET state = 'acknowledged', acknowledged_by = ?, acknowledged_at = ?"
                 " WHERE id = ?", (actor, now, ident))
    audit(conn, now, actor, "alarm.acknowledge", str(ident))


def clear(conn: sqlite3.Connection, now: float, actor: str, ident: int) -> None:
    row = fetch(conn, "alarms", ident, "alarm")
    if row["state"] == "cleared":
        raise Conflict(f"alarm {ident} is already cleared")
    conn.execute("UPDATE alarms SET state = 'cleared', cleared_by = ?, cleared_at = ? WHERE id = ?",
                 (actor, now, ident))
    audit(conn, now, actor, "alarm.clear", str(ident))


def delivery_status(conn: sqlite3.Connection, ident: int) -> list[dict[str, Any]]:
    rows = conn.execute("SELECT sink, attempts, delivered_at, last_error FROM outbox WHERE alarm_id = ?",
                        (ident,))
    return [dict(row) for row in rows]

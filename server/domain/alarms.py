"""Alarms: raising them with their outbox rows, ending, listing, acknowledging and clearing.

Owns the alarm kinds and which door events become alarms. One incident, one alarm: only a
door record of kind ``alarm`` raises one (``detail.alarm`` names it: ``forced_open`` becomes
``forced``, ``held_open`` becomes ``held``, every other name is kept); the door's state
records (``forced_open``, ``held_open``, ``tamper`` on and off, ...) are events. The record
that ends an incident (``forced_cleared``, ``held_open_cleared``, ``tamper`` off,
``reader_online``) sets ``ended_at`` and ``end_event`` on the newest alarm of that incident
on that door that has not ended yet. Raising writes the alarm and one outbox row per
configured sink in the caller's transaction, so an alarm is never lost between "stored"
and "queued"; ``doorward.server.duties.delivery`` sends them.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from doorward.daemon.codec.alarms import INCIDENT_NAMES, TAMPER_SWITCH_DETAIL, AlarmKind
from doorward.server.config import AlarmSinks
from doorward.server.context import audit
from doorward.server.domain.directory import fetch
from doorward.server.errors import Conflict, Invalid

# (door event kind, its detail.detail) -> (alarm kind it ends, the ended alarm's detail.detail)
INCIDENT_ENDS: dict[tuple[str, str | None], tuple[str, str | None]] = {
    ("forced_cleared", None): (INCIDENT_NAMES[AlarmKind.FORCED_OPEN.value], None),
    ("held_open_cleared", None): (INCIDENT_NAMES[AlarmKind.HELD_OPEN.value], None),
    ("tamper", "off"): (AlarmKind.TAMPER.value, TAMPER_SWITCH_DETAIL),
    ("reader_online", None): (AlarmKind.READER_OFFLINE.value, None),
}
SERVER_ALARMS = ("chain_break", "journal_loss", "door_offline", "server_clock")
STATES = ("open", "acknowledged", "cleared")


def alarm_kind_of(kind: str, detail: dict[str, Any]) -> str | None:
    """The alarm a door record raises: only records of kind ``alarm`` raise one."""
    if kind == "alarm" and isinstance(detail.get("alarm"), str):
        return INCIDENT_NAMES.get(detail["alarm"], detail["alarm"][:64])
    return None


def end_incident(conn: sqlite3.Connection, now: float, device_id: str, kind: str,
                 detail: dict[str, Any], reference: dict[str, Any]) -> int | None:
    """If the record ends an incident, record that on its alarm; the alarm's id, if any."""
    sub = detail.get("detail") if isinstance(detail.get("detail"), str) else None
    ending = INCIDENT_ENDS.get((kind, sub))
    if ending is None:
        return None
    alarm_kind, source = ending
    rows = conn.execute("SELECT id, detail FROM alarms WHERE device_id = ? AND kind = ? AND"
                        " ended_at IS NULL ORDER BY id DESC LIMIT 50", (device_id, alarm_kind))
    for ident, text in rows.fetchall():
        if source is None or json.loads(text).get("event", {}).get("detail") == source:
            conn.execute("UPDATE alarms SET ended_at = ?, end_event = ? WHERE id = ?",
                         (now, json.dumps({**reference, "event_kind": kind}, sort_keys=True),
                          ident))
            return ident
    return None


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
    view = {**dict(row), "detail": json.loads(row["detail"])}
    if view.get("end_event"):
        view["end_event"] = json.loads(view["end_event"])
    return view


def list_alarms(conn: sqlite3.Connection, state: str | None, limit: int) -> list[dict[str, Any]]:
    if state is None:
        rows = conn.execute("SELECT * FROM alarms ORDER BY id DESC LIMIT ?", (limit,))
    else:
        rows = conn.execute("SELECT * FROM alarms WHERE state = ? ORDER BY id DESC LIMIT ?", (state, limit))
    return [alarm_view(row) for row in rows]


MAX_COMMENT_CHARS = 2000


def kinds_seen(conn: sqlite3.Connection) -> list[str]:
    return [row[0] for row in conn.execute("SELECT DISTINCT kind FROM alarms ORDER BY kind")]


def acknowledge(conn: sqlite3.Connection, now: float, actor: str, ident: int, comment: str = "") -> None:
    """Who acknowledged, when, and what they wrote (the console asks; the API may not)."""
    comment = comment.strip()
    if len(comment) > MAX_COMMENT_CHARS:
        raise Invalid("comment", f"at most {MAX_COMMENT_CHARS} characters, got {len(comment)}")
    row = fetch(conn, "alarms", ident, "alarm")
    if row["state"] != "open":
        raise Conflict(f"alarm {ident} is {row['state']}, not open")
    conn.execute("UPDATE alarms SET state = 'acknowledged', acknowledged_by = ?, acknowledged_at = ?,"
                 " acknowledge_comment = ? WHERE id = ?", (actor, now, comment or None, ident))
    audit(conn, now, actor, "alarm.acknowledge", str(ident), **({"comment": comment} if comment else {}))


def open_first(conn: sqlite3.Connection, *, state: str | None = None, kind: str | None = None,
               device_id: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
    """Alarms for people: open ones first, then acknowledged, then cleared; newest first in each."""
    clauses, params = [], []
    for column, value in (("a.state", state), ("a.kind", kind), ("a.device_id", device_id)):
        if value:
            clauses.append(f"{column} = ?")
            params.append(value)
    where = " WHERE " + " AND ".join(clauses) if clauses else ""
    rows = conn.execute(
        "SELECT a.*, d.name AS device_name FROM alarms a LEFT JOIN devices d ON d.id = a.device_id"
        f"{where} ORDER BY CASE a.state WHEN 'open' THEN 0 WHEN 'acknowledged' THEN 1 ELSE 2 END,"
        " a.id DESC LIMIT ?", [*params, limit])
    return [alarm_view(row) for row in rows]


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

"""What the server knows of each door, read from the store: the rows behind the Prometheus
collector and the MQTT bridge's state messages.

Owns ``door_figures`` (one ``DoorFigures`` per paired door, from its last heartbeat and the
server's own records) and the counts of alarms and access decisions. Doors open no listener:
every figure here is what a door last told the server, or what the server decided itself.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

READER_DOWN = ("offline", "absent")  # heartbeat reader_state words of a reader not answering
DECISION_KINDS = ("access_granted", "access_denied")


@dataclass(frozen=True)
class DoorFigures:
    door_id: str
    name: str
    online: bool
    last_heartbeat_at: float | None
    lockdown: bool
    backlog: int | None
    applied_version: int | None
    reconciled_version: int | None
    bundle_version: int | None
    reader_state: str | None

    @property
    def reader_online(self) -> bool:
        return self.reader_state is not None and self.reader_state not in READER_DOWN


def door_figures(conn: sqlite3.Connection, now: float, offline_after_s: float) -> list[DoorFigures]:
    rows = conn.execute(
        "SELECT d.id, d.name, d.lockdown, d.last_heartbeat_at, d.heartbeat, d.applied_version,"
        " d.reconciled_version, b.version AS bundle_version, IFNULL(z.lockdown, 0) AS zone_lockdown"
        " FROM devices d LEFT JOIN bundles b ON b.device_id = d.id"
        " LEFT JOIN zones z ON z.id = d.zone_id"
        " WHERE d.kind = 'door' AND d.token_sha256 IS NOT NULL ORDER BY d.name")
    return [_figures(row, now, offline_after_s) for row in rows]


def _figures(row: sqlite3.Row, now: float, offline_after_s: float) -> DoorFigures:
    report: dict[str, Any] = json.loads(row["heartbeat"]) if row["heartbeat"] else {}
    seen = row["last_heartbeat_at"]
    backlog = report.get("backlog")
    reader = report.get("reader_state")
    return DoorFigures(
        door_id=row["id"], name=row["name"],
        online=seen is not None and now - seen <= offline_after_s, last_heartbeat_at=seen,
        lockdown=bool(row["lockdown"] or row["zone_lockdown"]),
        backlog=backlog if isinstance(backlog, int) else None,
        applied_version=row["applied_version"], reconciled_version=row["reconciled_version"],
        bundle_version=row["bundle_version"], reader_state=reader if isinstance(reader, str) else None)


def alarm_counts(conn: sqlite3.Connection) -> list[tuple[str, str, int]]:
    """(kind, state, how many) of the alarms stored."""
    rows = conn.execute("SELECT kind, state, COUNT(*) FROM alarms GROUP BY kind, state ORDER BY 1, 2")
    return [(kind, state, count) for kind, state, count in rows]


def decision_counts(conn: sqlite3.Connection) -> list[tuple[str, str, str, int]]:
    """(door id, granted or denied, reason code, how many) of the decisions doors uploaded.
    A scan of the stored decisions: cheap for a site's years of entries, not free."""
    rows = conn.execute(
        "SELECT device_id, kind, IFNULL(json_extract(detail, '$.reason'), 'unknown'), COUNT(*)"
        " FROM events WHERE kind IN (?, ?) GROUP BY 1, 2, 3 ORDER BY 1, 2, 3", DECISION_KINDS)
    return [(door, "granted" if kind == "access_granted" else "denied", str(reason), count)
            for door, kind, reason, count in rows]

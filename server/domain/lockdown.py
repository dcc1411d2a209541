"""Lockdown: per zone and site-wide, and each door's confirmation that it is locked down.

Owns ``set_zone``, ``set_site`` (every zone of the site; the doors' own flags are left as
they are) and ``status``. A door has confirmed a lockdown when the server has no change
waiting for it (``dirty`` is 0, so its newest bundle carries the flag) and the door reports
that bundle applied. Zone changes go through ``directory.update_zone``, which marks the doors
dirty, writes the removal ledger and audits.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from doorward.server.domain import directory
from doorward.server.domain.directory import fetch
from doorward.server.store.ledger import RemovalLedger


def set_zone(conn: sqlite3.Connection, now: float, actor: str, zone_id: str, on: bool, *,
             ledger: RemovalLedger) -> None:
    directory.update_zone(conn, now, actor, zone_id, {"lockdown": on}, ledger=ledger)


def set_site(conn: sqlite3.Connection, now: float, actor: str, site_id: str, on: bool, *,
             ledger: RemovalLedger) -> int:
    """Every zone of the site; how many zones changed."""
    fetch(conn, "sites", site_id, "site")
    zones = [row[0] for row in conn.execute("SELECT id FROM zones WHERE site_id = ? AND lockdown != ?"
                                            " ORDER BY name", (site_id, int(on)))]
    for zone_id in zones:
        set_zone(conn, now, actor, zone_id, on, ledger=ledger)
    return len(zones)


def door_confirmed(dirty: int, applied: int | None, issued: int | None) -> bool:
    """Whether the door runs the bundle that carries the current lockdown state."""
    return dirty == 0 and issued is not None and applied is not None and applied >= issued


def status(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Sites by name, each with its zones by name, each with its doors and their confirmation."""
    doors: dict[str, list[dict[str, Any]]] = {}
    for row in conn.execute(
            "SELECT d.id, d.name, d.zone_id, d.lockdown, d.dirty, d.applied_version, b.version AS issued,"
            " z.lockdown AS zone_lockdown FROM devices d JOIN zones z ON z.id = d.zone_id"
            " LEFT JOIN bundles b ON b.device_id = d.id WHERE d.kind = 'door' ORDER BY d.name"):
        requested = bool(row["lockdown"] or row["zone_lockdown"])
        doors.setdefault(row["zone_id"], []).append({
            "id": row["id"], "name": row["name"], "locked_down": requested, "own_flag": bool(row["lockdown"]),
            "confirmed": door_confirmed(row["dirty"], row["applied_version"], row["issued"])})
    sites = []
    for site in conn.execute("SELECT id, name FROM sites ORDER BY name").fetchall():
        zones = [{"id": zone["id"], "name": zone["name"], "lockdown": bool(zone["lockdown"]),
                  "doors": doors.get(zone["id"], [])}
                 for zone in conn.execute("SELECT id, name, lockdown FROM zones WHERE site_id = ? ORDER BY name",
                                          (site["id"],))]
        sites.append({"id": site["id"], "name": site["name"], "zones": zones,
                      "all_locked": bool(zones) and all(zone["lockdown"] for zone in zones)})
    return sites

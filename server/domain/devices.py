"""Doors and stations (enrolment kiosks): their records, settings and status views.

Owns creating and changing devices and ``device_view``: templates used out of capacity,
people with no usable template, the module identity the door reports, pairing and
heartbeat state, and the removals it has confirmed. Pairing itself is ``doorward.server.domain.pairing``.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from doorward.daemon.codec import bundle
from doorward.server.bundles import capacity
from doorward.server.context import audit, mark_devices_dirty
from doorward.server.store.db import new_id
from doorward.server.domain.directory import fetch
from doorward.server.errors import Invalid
from doorward.server.store.ledger import RemovalLedger
from doorward.server.domain.validation import check_policy

SETTABLE = ("name", "zone_id", "module_identity", "capacity", "policy", "lockdown")


def create_device(conn: sqlite3.Connection, now: float, actor: str, *, kind: str, name: str,
                  site_id: str, zone_id: str | None, module_identity: str, capacity_templates: int,
                  policy: dict[str, Any] | None = None) -> str:
    fetch(conn, "sites", site_id, "site")
    _check_zone(conn, kind, site_id, zone_id)
    ident = new_id("d" if kind == "door" else "k")
    conn.execute(
        "INSERT INTO devices (id, kind, name, site_id, zone_id, module_identity, capacity, policy,"
        " created_at) VALUES (?,?,?,?,?,?,?,?,?)",
        (ident, kind, name, site_id, zone_id, module_identity, capacity_templates,
         check_policy(policy or {}), now))
    capacity.check_doors(conn, [ident], now)
    audit(conn, now, actor, f"{kind}.create", ident, name=name, zone_id=zone_id,
          module_identity=module_identity, capacity=capacity_templates)
    return ident


def _check_zone(conn: sqlite3.Connection, kind: str, site_id: str, zone_id: str | None) -> None:
    if kind == "station":
        if zone_id is not None:
            raise Invalid("zone_id", "a station grants no access and has no zone")
        return
    if zone_id is None:
        raise Invalid("zone_id", "a door needs a zone")
    if fetch(conn, "zones", zone_id, "zone")["site_id"] != site_id:
        raise Invalid("zone_id", f"zone {zone_id!r} belongs to another site")


def update_device(conn: sqlite3.Connection, now: float, actor: str, ident: str,
                  changes: dict[str, Any], *, ledger: RemovalLedger) -> None:
    row = fetch(conn, "devices", ident, "device")
    if "zone_id" in changes:
        _check_zone(conn, row["kind"], row["site_id"], changes["zone_id"])
    for column in SETTABLE:
        if column in changes:
            value = changes[column]
            if column == "policy":
                value = check_policy(value)
            elif isinstance(value, bool):
                value = int(value)
            conn.execute(f"UPDATE devices SET {column} = ? WHERE id = ?", (value, ident))
    capacity.check_doors(conn, [ident], now)
    mark_devices_dirty(conn, "id = ?", (ident,))
    if "lockdown" in changes:
        ledger.record("device.lockdown", ident, now, actor, lockdown=bool(changes["lockdown"]))
    audit(conn, now, actor, f"{row['kind']}.update", ident, **changes)


def delete_device(conn: sqlite3.Connection, now: float, actor: str, ident: str, *,
                  ledger: RemovalLedger) -> None:
    """Decommission: the token and keys die with the record; events and removals stay."""
    row = fetch(conn, "devices", ident, "device")
    conn.execute("DELETE FROM devices WHERE id = ?", (ident,))
    ledger.record("device.decommissioned", ident, now, actor)
    audit(conn, now, actor, f"{row['kind']}.delete", ident, name=row["name"])


def device_view(conn: sqlite3.Connection, row: sqlite3.Row, now: float,
                offline_after_s: float) -> dict[str, Any]:
    bundle = conn.execute("SELECT version, issued_at, expires_at FROM bundles WHERE device_id = ?",
                          (row["id"],)).fetchone()
    reported = row["reported_module_identity"]
    last_seen = row["last_heartbeat_at"]
    return {
        "id": row["id"], "kind": row["kind"], "name": row["name"], "site_id": row["site_id"],
        "zone_id": row["zone_id"], "module_identity": row["module_identity"],
        "reported_module_identity": reported,
        "module_mismatch": reported is not None and reported != row["module_identity"],
        "capacity": row["capacity"], "templates_used": capacity.templates_needed(conn, row, now),
        "policy": json.loads(row["policy"]), "lockdown": bool(row["lockdown"]),
        "paired": row["token_sha256"] is not None, "paired_at": row["paired_at"],
        "x25519_fingerprint": _key_fingerprint(row["x25519_public"]),
        "last_heartbeat_at": last_seen,
        "online": last_seen is not None and now - last_seen <= offline_after_s,
        "heartbeat": json.loads(row["heartbeat"]) if row["heartbeat"] else None,
        "applied_version": row["applied_version"], "reconciled_version": row["reconciled_version"],
        "bundle_version": bundle["version"] if bundle else None,
        "bundle_issued_at": bundle["issued_at"] if bundle else None,
        "bundle_expires_at": bundle["expires_at"] if bundle else None,
    }


def _key_fingerprint(raw: bytes | None) -> str | None:
    """The door's sealing key as the door shows it, for an admin to compare after pairing."""
    return None if raw is None else bundle.key_fingerprint(X25519PublicKey.from_public_bytes(bytes(raw)))


def capacity_report(conn: sqlite3.Connection, row: sqlite3.Row, now: float) -> dict[str, Any]:
    return {"device_id": row["id"], "capacity": row["capacity"],
            "templates_used": capacity.templates_needed(conn, row, now),
            "module_identity": row["module_identity"],
            "people_without_usable_template": capacity.people_without_usable_template(conn, row, now)}


def removals(conn: sqlite3.Connection, where: str, params: tuple) -> list[dict[str, Any]]:
    """Fingers that left a device's bundle, and when the device confirmed them gone."""
    rows = conn.execute(
        "SELECT device_id, finger_id, user_id, version, requested_at, cache_confirmed_at,"
        f" module_confirmed_at FROM removals WHERE {where} ORDER BY requested_at, device_id", params)
    return [dict(row) for row in rows]

"""People, their consent, fingers and grants; enrolment and erasure.

Owns every write that changes who a door lets in. No finger is stored before consent is
recorded; templates are sealed with the server's data key before they reach SQL. Every
removal (erasure, deactivation or validity change, finger deletion, grant revocation) is
written to the removal ledger before its transaction commits, after every check. Each write
marks the affected devices dirty and checks the affected doors' capacity in the same
transaction, so an overflow stores nothing (409).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from doorward.server.bundles import capacity
from doorward.server.context import audit, mark_devices_dirty
from doorward.server.store.db import new_id
from doorward.server.domain.directory import fetch
from doorward.server.errors import Conflict, Invalid
from doorward.server.store.keys import DataKey, template_context
from doorward.server.store.ledger import RemovalLedger


# Changing any of these changes who may enter: the removal ledger keeps the latest values.
ACCESS_COLUMNS = {"active", "valid_from", "valid_until"}


@dataclass(frozen=True)
class NewFinger:
    name: str
    module_identity: str
    template: bytes
    duress: bool = False


def _check_validity(valid_from: float | None, valid_until: float | None) -> None:
    if valid_from is not None and valid_until is not None and valid_until <= valid_from:
        raise Invalid("valid_until", "must be after valid_from")


def create_person(conn: sqlite3.Connection, now: float, actor: str, *, name: str,
                  roles: list[str] = (), valid_from: float | None = None,
                  valid_until: float | None = None) -> str:
    _check_validity(valid_from, valid_until)
    ident = new_id("u")
    conn.execute("INSERT INTO users (id, name, roles, valid_from, valid_until, created_at)"
                 " VALUES (?,?,?,?,?,?)", (ident, name, json.dumps(list(roles)), valid_from,
                                          valid_until, now))
    audit(conn, now, actor, "person.create", ident, roles=list(roles))
    return ident


def update_person(conn: sqlite3.Connection, now: float, actor: str, ident: str,
                  changes: dict[str, Any], *, ledger: RemovalLedger) -> None:
    row = fetch(conn, "users", ident, "person")
    _check_validity(changes.get("valid_from", row["valid_from"]),
                    changes.get("valid_until", row["valid_until"]))
    for column in ("name", "roles", "active", "valid_from", "valid_until"):
        if column in changes:
            value = changes[column]
            value = json.dumps(list(value)) if column == "roles" else value
            conn.execute(f"UPDATE users SET {column} = ? WHERE id = ?",
                         (int(value) if isinstance(value, bool) else value, ident))
    _changed_user(conn, now, ident)
    if ACCESS_COLUMNS & changes.keys():
        after = fetch(conn, "users", ident, "person")
        ledger.record("person.access", ident, now, actor, active=bool(after["active"]),
                      valid_from=after["valid_from"], valid_until=after["valid_until"])
    audit(conn, now, actor, "person.update", ident, **{k: v for k, v in changes.items() if k != "name"})


def record_consent(conn: sqlite3.Connection, now: float, actor: str, ident: str, reference: str) -> None:
    fetch(conn, "users", ident, "person")
    conn.execute("UPDATE users SET consent_at = ?, consent_by = ?, consent_reference = ? WHERE id = ?",
                 (now, actor, reference, ident))
    audit(conn, now, actor, "person.consent", ident, reference=reference)


def add_finger(conn: sqlite3.Connection, now: float, actor: str, data_key: DataKey,
               user_id: str, finger: NewFinger) -> str:
    if fetch(conn, "users", user_id, "person")["consent_at"] is None:
        raise Conflict(f"person {user_id!r} has no consent recorded; record consent before"
                       " storing any finger", field="consent")
    digest = hashlib.sha256(finger.template).hexdigest()
    if conn.execute("SELECT 1 FROM fingers WHERE template_sha256 = ?", (digest,)).fetchone():
        # Byte-identical templates mean a replayed upload, never a second real scan.
        raise Conflict("this template is already enrolled", field="template")
    ident = new_id("f")
    conn.execute(
        "INSERT INTO fingers (id, user_id, name, module_identity, template_sealed, template_sha256,"
        " duress, enrolled_at, enrolled_by) VALUES (?,?,?,?,?,?,?,?,?)",
        (ident, user_id, finger.name, finger.module_identity,
         data_key.seal(finger.template, template_context(ident)),
         digest, int(finger.duress), now, actor))
    mark_devices_dirty(conn, "kind = 'station' AND module_identity = ?", (finger.module_identity,))
    _changed_user(conn, now, user_id)
    audit(conn, now, actor, "finger.add", ident, user_id=user_id,
          module_identity=finger.module_identity, duress=finger.duress)
    return ident


def delete_finger(conn: sqlite3.Connection, now: float, actor: str, ident: str, *,
                  ledger: RemovalLedger) -> None:
    row = fetch(conn, "fingers", ident, "finger")
    conn.execute("DELETE FROM fingers WHERE id = ?", (ident,))
    mark_devices_dirty(conn, "kind = 'station' AND module_identity = ?", (row["module_identity"],))
    mark_devices_dirty(conn, "zone_id IN (SELECT zone_id FROM grants WHERE user_id = ?)", (row["user_id"],))
    ledger.record("finger.deleted", ident, now, actor)
    audit(conn, now, actor, "finger.delete", ident, user_id=row["user_id"])


def enrol(conn: sqlite3.Connection, now: float, actor: str, data_key: DataKey, *,
          person: dict[str, Any], consent_reference: str, fingers: list[NewFinger]) -> dict[str, Any]:
    """The kiosk's one call: person, consent and fingers, all or nothing (the caller's
    transaction rolls everything back if any part fails)."""
    user_id = person.get("id") or create_person(conn, now, actor, **person)
    record_consent(conn, now, actor, user_id, consent_reference)
    finger_ids = [add_finger(conn, now, actor, data_key, user_id, finger) for finger in fingers]
    return {"person_id": user_id, "finger_ids": finger_ids}


def delete_person(conn: sqlite3.Connection, now: float, actor: str, ident: str, *,
                  ledger: RemovalLedger) -> None:
    """Erasure: the person, their fingers and grants go; every device that carried them is
    bumped, and ``removals`` records per door when it confirms the templates gone."""
    fetch(conn, "users", ident, "person")
    identities = [r[0] for r in conn.execute(
        "SELECT DISTINCT module_identity FROM fingers WHERE user_id = ?", (ident,))]
    for identity in identities:
        mark_devices_dirty(conn, "kind = 'station' AND module_identity = ?", (identity,))
    mark_devices_dirty(conn, "zone_id IN (SELECT zone_id FROM grants WHERE user_id = ?)", (ident,))
    conn.execute("DELETE FROM users WHERE id = ?", (ident,))
    ledger.record("person.erased", ident, now, actor)
    audit(conn, now, actor, "person.delete", ident)


def add_grant(conn: sqlite3.Connection, now: float, actor: str, user_id: str, zone_id: str,
              schedule_id: str | None = None) -> str:
    fetch(conn, "users", user_id, "person")
    zone = fetch(conn, "zones", zone_id, "zone")
    schedule = fetch(conn, "schedules", schedule_id, "schedule") if schedule_id is not None else None
    if schedule is not None and schedule["site_id"] != zone["site_id"]:
        raise Invalid("schedule_id", "the schedule belongs to another site than the zone")
    if conn.execute("SELECT 1 FROM grants WHERE user_id = ? AND zone_id = ? AND IFNULL(schedule_id, '')"
                    " = IFNULL(?, '')", (user_id, zone_id, schedule_id)).fetchone():
        raise Conflict("this person already has that grant")
    ident = new_id("g")
    conn.execute("INSERT INTO grants (id, user_id, zone_id, schedule_id, created_at) VALUES (?,?,?,?,?)",
                 (ident, user_id, zone_id, schedule_id, now))
    capacity.check_doors(conn, capacity.doors_of_zone(conn, zone_id), now)
    mark_devices_dirty(conn, "zone_id = ?", (zone_id,))
    audit(conn, now, actor, "grant.create", ident, user_id=user_id, zone_id=zone_id,
          schedule_id=schedule_id)
    return ident


def revoke_grant(conn: sqlite3.Connection, now: float, actor: str, ident: str, *,
                 ledger: RemovalLedger) -> None:
    row = fetch(conn, "grants", ident, "grant")
    conn.execute("DELETE FROM grants WHERE id = ?", (ident,))
    mark_devices_dirty(conn, "zone_id = ?", (row["zone_id"],))
    ledger.record("grant.revoked", ident, now, actor)
    audit(conn, now, actor, "grant.revoke", ident, user_id=row["user_id"], zone_id=row["zone_id"])


def _changed_user(conn: sqlite3.Connection, now: float, user_id: str) -> None:
    capacity.check_doors(conn, capacity.doors_of_user(conn, user_id), now)
    mark_devices_dirty(conn, "zone_id IN (SELECT zone_id FROM grants WHERE user_id = ?)", (user_id,))


def search(conn: sqlite3.Connection, text: str, limit: int) -> list[dict[str, Any]]:
    """People whose name contains ``text`` (any case) or whose id is ``text``, by name, with
    how many fingers and grants each has."""
    pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    rows = conn.execute(
        "SELECT u.id, u.name, u.active, u.valid_from, u.valid_until, u.consent_at, u.roles,"
        " (SELECT COUNT(*) FROM fingers f WHERE f.user_id = u.id) AS fingers,"
        " (SELECT COUNT(*) FROM grants g WHERE g.user_id = u.id) AS grants"
        " FROM users u WHERE u.name LIKE ? ESCAPE '\\' OR u.id = ? ORDER BY u.name, u.id LIMIT ?",
        (pattern, text, limit))
    return [{**dict(row), "roles": json.loads(row["roles"])} for row in rows]


def person_view(conn: sqlite3.Connection, ident: str) -> dict[str, Any]:
    row = fetch(conn, "users", ident, "person")
    fingers = conn.execute(
        "SELECT id, name, module_identity, template_sha256, duress, enrolled_at, enrolled_by,"
        " last_used_at, retention_warned_at FROM fingers WHERE user_id = ? ORDER BY enrolled_at",
        (ident,))
    grants = conn.execute("SELECT id, zone_id, schedule_id, created_at FROM grants WHERE user_id = ?"
                          " ORDER BY created_at", (ident,))
    return {
        "id": row["id"], "name": row["name"], "roles": json.loads(row["roles"]),
        "active": bool(row["active"]), "valid_from": row["valid_from"],
        "valid_until": row["valid_until"], "consent_at": row["consent_at"],
        "consent_by": row["consent_by"], "consent_reference": row["consent_reference"],
        "fingers": [{**dict(f), "duress": bool(f["duress"])} for f in fingers],
        "grants": [dict(g) for g in grants],
    }

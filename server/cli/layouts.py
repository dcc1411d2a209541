"""How each list and show of the server's command line reads for people: the columns of
sites, zones, doors, people and alarms, and the records of ``door show`` and ``person show``.

Owns layouts only; the rows come from ``doorward.server.cli.views``. Times are the machine's local
time, booleans yes/no, and a referenced object shows its name (with its id in records).
"""

from __future__ import annotations

from typing import Any

from doorward.server.cli.table import Column, compact, named, record, table, yes_no
from doorward.server.cli.times import local_text


def _local(key: str):
    return lambda row: local_text(row[key])


def _flag(key: str):
    return lambda row: yes_no(row[key])


def _name_or_id(name_key: str, id_key: str):
    return lambda row: row[name_key] if row[name_key] is not None else row[id_key]


SITES = (Column("ID", lambda r: r["id"]), Column("NAME", lambda r: r["name"]),
         Column("TIME ZONE", lambda r: r["time_zone"]), Column("CREATED", _local("created_at")))

ZONES = (Column("ID", lambda r: r["id"]), Column("NAME", lambda r: r["name"]),
         Column("SITE", _name_or_id("site_name", "site_id")),
         Column("TWO-PERSON", _flag("two_person")), Column("LOCKDOWN", _flag("lockdown")))


def _module(row: dict[str, Any]) -> str:
    if row["reported_module_identity"] is None:
        return "not reported"
    return "MISMATCH" if row["module_mismatch"] else "as configured"


DOORS = (Column("ID", lambda r: r["id"]), Column("KIND", lambda r: r["kind"]),
         Column("NAME", lambda r: r["name"]), Column("SITE", _name_or_id("site_name", "site_id")),
         Column("ZONE", lambda r: r["zone_name"] or r["zone_id"]),
         Column("PAIRED", _flag("paired")), Column("ONLINE", _flag("online")),
         Column("LOCKDOWN", _flag("lockdown")), Column("LAST HEARTBEAT", _local("last_heartbeat_at")),
         Column("TEMPLATES", lambda r: f"{r['templates_used']}/{r['capacity']}"),
         Column("MODULE", _module))

PEOPLE = (Column("ID", lambda r: r["id"]), Column("NAME", lambda r: r["name"]),
          Column("ROLES", lambda r: ", ".join(r["roles"]) or "-"), Column("ACTIVE", _flag("active")),
          Column("VALID FROM", _local("valid_from")), Column("VALID UNTIL", _local("valid_until")),
          Column("CONSENT", _local("consent_at")), Column("FINGERS", lambda r: r["fingers"]))

ALARMS = (Column("ID", lambda r: r["id"]), Column("RAISED", _local("raised_at")),
          Column("KIND", lambda r: r["kind"]), Column("DOOR", _name_or_id("device_name", "device_id")),
          Column("STATE", lambda r: r["state"]),
          Column("BY", lambda r: r["cleared_by"] or r["acknowledged_by"]),
          Column("DETAIL", lambda r: compact(r["detail"])))

FINGERS = (Column("ID", lambda r: r["id"]), Column("NAME", lambda r: r["name"]),
           Column("DURESS", _flag("duress")), Column("ENROLLED", _local("enrolled_at")),
           Column("BY", lambda r: r["enrolled_by"]), Column("LAST USED", _local("last_used_at")),
           Column("MODULE IDENTITY", lambda r: r["module_identity"]))

GRANTS = (Column("ID", lambda r: r["id"]), Column("ZONE", lambda r: named(r["zone_name"], r["zone_id"])),
          Column("SCHEDULE", lambda r: named(r["schedule_name"], r["schedule_id"])
                 if r["schedule_id"] else "at any time"),
          Column("CREATED", _local("created_at")))


def _removals(where: Column) -> tuple[Column, ...]:
    return (where, Column("FINGER", lambda r: r["finger_id"]), Column("VERSION", lambda r: r["version"]),
            Column("REQUESTED", _local("requested_at")),
            Column("GONE FROM CACHE", _local("cache_confirmed_at")),
            Column("GONE FROM MODULE", _local("module_confirmed_at")))


def lines(columns: tuple[Column, ...]):
    return lambda rows: table(columns, rows)


def _section(title: str, body: list[str]) -> list[str]:
    return ["", f"{title}:", *("  " + line for line in body)]


def door_page(door: dict[str, Any]) -> list[str]:
    capacity = door["capacity_report"]
    head = record([
        ("ID", door["id"]), ("Kind", door["kind"]), ("Name", door["name"]),
        ("Site", named(door["site_name"], door["site_id"])), ("Zone", named(door["zone_name"], door["zone_id"])),
        ("Module identity", door["module_identity"]),
        ("Reported identity", door["reported_module_identity"]), ("Module", _module(door)),
        ("Templates", f"{door['templates_used']} of {door['capacity']}"),
        ("Policy", compact(door["policy"])), ("Lockdown", yes_no(door["lockdown"])),
        ("Paired", yes_no(door["paired"])), ("Paired at", local_text(door["paired_at"])),
        ("Sealing key", door["x25519_fingerprint"]), ("Online", yes_no(door["online"])),
        ("Last heartbeat", local_text(door["last_heartbeat_at"])),
        ("Heartbeat", compact(door["heartbeat"]) if door["heartbeat"] else None),
        ("Bundle version", door["bundle_version"]), ("Bundle issued", local_text(door["bundle_issued_at"])),
        ("Bundle expires", local_text(door["bundle_expires_at"])),
        ("Applied version", door["applied_version"]), ("Reconciled version", door["reconciled_version"]),
    ])
    missing = [named(p["name"], p["id"]) for p in capacity["people_without_usable_template"]]
    person = Column("PERSON", lambda r: named(r["user_name"], r["user_id"]))
    return [*head, *_section("Granted, but no template of this module", missing or ["(none)"]),
            *_section("Removals", table(_removals(person), door["removals"]))]


def person_page(person: dict[str, Any]) -> list[str]:
    consent = ("no" if person["consent_at"] is None else
               f"{local_text(person['consent_at'])} by {person['consent_by']} ({person['consent_reference']})")
    head = record([
        ("ID", person["id"]), ("Name", person["name"]), ("Roles", ", ".join(person["roles"]) or "-"),
        ("Active", yes_no(person["active"])), ("Valid from", local_text(person["valid_from"])),
        ("Valid until", local_text(person["valid_until"])), ("Consent", consent),
    ])
    door = Column("DOOR", lambda r: named(r["device_name"], r["device_id"]))
    return [*head, *_section("Fingers", table(FINGERS, person["fingers"])),
            *_section("Grants", table(GRANTS, person["grants"])),
            *_section("Removals", table(_removals(door), person["removals"]))]

"""What each console page shows, read from the database and worded for people: the doors
board, a page of the event log, the alarms. Owns ``EventFilters`` (the event log's form,
checked) and the view models; the queries are the domain's (``event_log``, ``alarms``) but
for the board's, which reads what heartbeats stored. Times are arguments; read-only.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from dataclasses import dataclass
from typing import Any, Mapping

from doorward.daemon.codec.words import REASON_WORDS
from doorward.server.cli.times import MomentError, parse_moment, utc_text
from doorward.server.config import ServerConfig
from doorward.server.console import formatting as fmt
from doorward.server.domain import alarms, audit_log, event_log, people
from doorward.server.domain import lockdown as lockdown_domain
from doorward.server.errors import Invalid

PAGE_SIZE = 50
ACCESS_KINDS = ("access_granted", "access_denied")
OUTCOME_KINDS = {"granted": ("access_granted",), "denied": ("access_denied",),
                 "ignored": ("scan_ignored",), "access": ("access_granted", "access_denied")}
MAX_FIELD_CHARS = 200


def offline_after_s(config: ServerConfig) -> float:
    return config.heartbeat_interval_s * config.missed_heartbeats


# -- the doors board ---------------------------------------------------------------------------

def board(conn: sqlite3.Connection, now: float, config: ServerConfig) -> list[dict[str, Any]]:
    """Every door, then every kiosk station, by name, with its last heartbeat's report."""
    rows = conn.execute(
        "SELECT d.*, z.name AS zone_name, z.lockdown AS zone_lockdown, b.version AS issued_version"
        " FROM devices d LEFT JOIN zones z ON z.id = d.zone_id LEFT JOIN bundles b ON b.device_id = d.id"
        " ORDER BY d.kind, d.name").fetchall()
    return [_board_row(conn, row, now, offline_after_s(config)) for row in rows]


def _board_row(conn: sqlite3.Connection, row: sqlite3.Row, now: float, offline_s: float) -> dict[str, Any]:
    report = json.loads(row["heartbeat"]) if row["heartbeat"] else {}
    paired = row["token_sha256"] is not None
    seen = row["last_heartbeat_at"] if row["last_heartbeat_at"] is not None else row["paired_at"]
    state = fmt.connection_state(paired, seen, now, offline_s)
    reported = row["reported_module_identity"]
    lockdown = [why for why, on in (("door", row["lockdown"]), ("zone", row["zone_lockdown"])) if on]
    last = _last_access(conn, row["id"])
    return {
        "id": row["id"], "kind": "door" if row["kind"] == "door" else "kiosk station",
        "name": row["name"], "zone": row["zone_name"] or "-", "state": state,
        "seen": fmt.ago_text(None if row["last_heartbeat_at"] is None else now - row["last_heartbeat_at"]),
        "reader": report.get("reader_state") or "-",
        "versions": fmt.version_text(row["applied_version"], row["reconciled_version"], row["issued_version"]),
        "module_matches": "-" if reported is None else ("yes" if reported == row["module_identity"] else "NO"),
        "clock": fmt.clock_text(report.get("clock_trusted")),
        "backlog": report.get("backlog", "-") if report.get("backlog") is not None else "-",
        "lockdown": fmt.lockdown_text(lockdown, lockdown_domain.door_confirmed(
            row["dirty"], row["applied_version"], row["issued_version"])) if row["kind"] == "door" else "-",
        "last_access": last,
    }


def _last_access(conn: sqlite3.Connection, device_id: str) -> str:
    events, _ = event_log.page(conn, event_log.EventQuery(device_ids=(device_id,), kinds=ACCESS_KINDS), 1)
    if not events:
        return "-"
    event = events[0]
    who = event["user_name"] or event["user_id"] or "unknown finger"
    return f"{fmt.at_text(event['at'])} {fmt.outcome_text(event['kind'])}: {who}"


# -- the event log -----------------------------------------------------------------------------

@dataclass(frozen=True)
class EventFilters:
    """The event log's filters as typed (kept to refill the form) and as a query."""

    typed: dict[str, str]
    query: event_log.EventQuery
    before: event_log.Cursor | None


FIELDS = ("since", "until", "door", "person", "outcome", "reason", "before")


def event_filters(conn: sqlite3.Connection, params: Mapping[str, str], now: float) -> EventFilters:
    """Read the form; Invalid names the field that is wrong."""
    typed = {name: str(params.get(name, "") or "").strip() for name in FIELDS}
    for name, value in typed.items():
        if len(value) > MAX_FIELD_CHARS:
            raise Invalid(name, f"at most {MAX_FIELD_CHARS} characters")
    since, until = (_moment(typed[name], name, now) for name in ("since", "until"))
    doors = (typed["door"],) if typed["door"] else ()
    if doors and not conn.execute("SELECT 1 FROM devices WHERE id = ?", doors).fetchone():
        raise Invalid("door", "no such door or station")
    people: tuple[str, ...] = ()
    if typed["person"]:
        try:
            people = event_log.person_ids(conn, typed["person"])
        except Invalid:
            raise Invalid("person", f"no person has the id or name {typed['person']!r}") from None
    if typed["outcome"] and typed["outcome"] not in OUTCOME_KINDS:
        raise Invalid("outcome", f"expected one of {', '.join(OUTCOME_KINDS)}")
    if typed["reason"] and typed["reason"] not in REASON_WORDS:
        raise Invalid("reason", "not a reason code of docs/reasons.md")
    try:
        before = fmt.decode_cursor(typed["before"]) if typed["before"] else None
    except ValueError as error:
        raise Invalid("before", str(error).split(": ", 1)[1]) from None
    query = event_log.EventQuery(since=since, until=until, device_ids=doors, user_ids=people,
                                 kinds=OUTCOME_KINDS.get(typed["outcome"], ()),
                                 reasons=(typed["reason"],) if typed["reason"] else ())
    return EventFilters(typed, query, before)


def _moment(text: str, name: str, now: float) -> str | None:
    if not text:
        return None
    try:
        # A date alone as "until" includes that day, as on the command line.
        return utc_text(parse_moment(text, name, now_s=now, relative=True, end_of_day=name == "until"))
    except MomentError as error:
        raise Invalid(name, str(error).split(": ", 1)[1]) from None


def event_rows(conn: sqlite3.Connection, filters: EventFilters,
               size: int = PAGE_SIZE) -> tuple[list[dict[str, Any]], str]:
    """One page newest first, worded, and the ``before`` of the next page ('' on the last)."""
    events, following = event_log.page(conn, filters.query, size, filters.before)
    zones = dict(conn.execute("SELECT d.id, z.name FROM devices d JOIN zones z ON z.id = d.zone_id").fetchall())
    return [event_view(event, zones) for event in events], fmt.encode_cursor(following)


def event_view(event: dict[str, Any], zones: Mapping[str, str]) -> dict[str, Any]:
    detail = event["detail"]
    reason = detail.get("reason", detail.get("alarm"))
    return {
        "at": fmt.at_text(event["at"]), "door": event["device_name"] or event["device_id"],
        "zone": zones.get(event["device_id"], "-"),
        "outcome": fmt.outcome_text(event["kind"]), "kind": event["kind"],
        "person": event["user_name"] or event["user_id"] or "",
        "finger": event["finger_name"] or event["finger_id"] or "",
        "reason": reason if reason is not None else "", "reason_words": fmt.reason_text(reason),
        "chain_ok": event["chain_ok"],
    }


def choices(conn: sqlite3.Connection) -> dict[str, list[tuple[str, str]]]:
    """The options of the filter form's lists: (value, label)."""
    doors = [(row["id"], row["name"]) for row in conn.execute("SELECT id, name FROM devices ORDER BY name")]
    return {"doors": doors, "outcomes": [(key, key) for key in OUTCOME_KINDS],
            "reasons": [(code, f"{code}: {words}") for code, words in sorted(REASON_WORDS.items())]}


# -- alarms ------------------------------------------------------------------------------------

ALARM_STATES = alarms.STATES


ALARM_FIELDS = ("state", "kind", "door")


def alarm_filters(conn: sqlite3.Connection, params: Mapping[str, str]) -> dict[str, str]:
    """The alarm list's filters as typed; Invalid names the one that is wrong."""
    typed = {name: str(params.get(name, "") or "").strip()[:MAX_FIELD_CHARS] for name in ALARM_FIELDS}
    if typed["state"] and typed["state"] not in ALARM_STATES:
        raise Invalid("state", f"expected one of {', '.join(ALARM_STATES)}")
    if typed["door"] and not conn.execute("SELECT 1 FROM devices WHERE id = ?", (typed["door"],)).fetchone():
        raise Invalid("door", "no such door or station")
    return typed


def alarm_choices(conn: sqlite3.Connection) -> dict[str, list[tuple[str, str]]]:
    doors = [(row["id"], row["name"]) for row in conn.execute("SELECT id, name FROM devices ORDER BY name")]
    return {"states": [(state, state) for state in ALARM_STATES], "doors": doors,
            "kinds": [(kind, f"{kind}: {fmt.alarm_text(kind)}") for kind in alarms.kinds_seen(conn)]}


def alarm_rows(conn: sqlite3.Connection, now: float, typed: Mapping[str, str]) -> list[dict[str, Any]]:
    found = alarms.open_first(conn, state=typed.get("state") or None, kind=typed.get("kind") or None,
                              device_id=typed.get("door") or None)
    return [{
        "id": alarm["id"], "kind": alarm["kind"], "words": fmt.alarm_text(alarm["kind"]),
        "device": alarm["device_name"] or alarm["device_id"] or "the server",
        "raised": fmt.when_text(alarm["raised_at"]), "ago": fmt.ago_text(now - alarm["raised_at"]),
        "state": alarm["state"], "ended": fmt.when_text(alarm.get("ended_at")),
        "acknowledged_by": alarm["acknowledged_by"] or "",
        "acknowledged_at": fmt.when_text(alarm["acknowledged_at"]) if alarm["acknowledged_at"] else "",
        "comment": alarm.get("acknowledge_comment") or "",
    } for alarm in found]


# -- lockdown ----------------------------------------------------------------------------------

def lockdown_target(conn: sqlite3.Connection, target: str) -> dict[str, Any]:
    """``zone:ID`` or ``site:ID`` as what the confirmation page names; Invalid otherwise."""
    kind, _, ident = target.partition(":")
    table = {"zone": "zones", "site": "sites"}.get(kind)
    row = conn.execute(f"SELECT id, name FROM {table} WHERE id = ?", (ident,)).fetchone() if table else None
    if row is None:
        raise Invalid("target", "no such zone or site")
    where = "d.zone_id = ?" if kind == "zone" else "d.site_id = ?"
    doors = [r[0] for r in conn.execute(f"SELECT d.name FROM devices d WHERE d.kind = 'door' AND {where}"
                                        " ORDER BY d.name", (ident,))]
    return {"kind": kind, "id": row["id"], "name": row["name"], "doors": doors, "target": target}


# -- the audit log -----------------------------------------------------------------------------

AUDIT_FIELDS = ("actor", "action", "since", "until", "before")


def audit_rows(conn: sqlite3.Connection, params: Mapping[str, str], now: float,
               size: int = PAGE_SIZE) -> tuple[dict[str, str], list[dict[str, Any]], str]:
    """(the filters as typed, one page worded, the next page's ``before`` or '')."""
    typed = {name: str(params.get(name, "") or "").strip()[:MAX_FIELD_CHARS] for name in AUDIT_FIELDS}
    since, until = (_moment(typed[name], name, now) for name in ("since", "until"))
    if typed["before"] and not typed["before"].isdigit():
        raise Invalid("before", "not a page position this console made")
    query = audit_log.AuditQuery(actor=typed["actor"] or None, action=typed["action"] or None,
                                 since=_epoch(since), until=_epoch(until))
    rows, following = audit_log.page(conn, query, size, int(typed["before"]) if typed["before"] else None)
    worded = [{"id": row["id"], "at": fmt.when_text(row["at"]), "actor": row["actor"], "action": row["action"],
               "target": row["target"], "address": row["detail"].get("address", ""),
               "detail": json.dumps({k: v for k, v in row["detail"].items() if k != "address"},
                                    sort_keys=True, ensure_ascii=False)} for row in rows]
    return typed, worded, "" if following is None else str(following)


def _epoch(utc: str | None) -> float | None:
    return None if utc is None else dt.datetime.fromisoformat(utc.replace("Z", "+00:00")).timestamp()


# -- people ------------------------------------------------------------------------------------

PEOPLE_SHOWN = 100
MAX_NAME_CHARS = 200


def people_rows(conn: sqlite3.Connection, text: str, now: float) -> list[dict[str, Any]]:
    return [{
        "id": row["id"], "name": row["name"], "active": "yes" if row["active"] else "no",
        "window": fmt.window_text(row["valid_from"], row["valid_until"], now),
        "consent": fmt.when_text(row["consent_at"]) if row["consent_at"] else "not recorded",
        "fingers": row["fingers"], "grants": row["grants"], "roles": ", ".join(row["roles"]) or "-",
    } for row in people.search(conn, text[:MAX_FIELD_CHARS], PEOPLE_SHOWN)]


@dataclass(frozen=True)
class NewPerson:
    name: str
    valid_from: float | None
    valid_until: float | None
    roles: tuple[str, ...]

    @property
    def changes_who_enters(self) -> bool:
        """A visitor window or the security role: an admin's decision (as in the API)."""
        return self.valid_from is not None or self.valid_until is not None or bool(self.roles)


def new_person(form: Mapping[str, str], now: float) -> NewPerson:
    name = form.get("name", "").strip()
    if not name or len(name) > MAX_NAME_CHARS:
        raise Invalid("name", f"1 to {MAX_NAME_CHARS} characters")
    moments = {}
    for field in ("valid_from", "valid_until"):
        text = form.get(field, "").strip()[:MAX_FIELD_CHARS]
        try:
            moments[field] = parse_moment(text, field, now_s=now, end_of_day=field == "valid_until") if text else None
        except MomentError as error:
            raise Invalid(field, str(error).split(": ", 1)[1]) from None
    return NewPerson(name, moments["valid_from"], moments["valid_until"],
                     ("security",) if form.get("security") == "yes" else ())

"""The received door events, filtered and with names: what ``doorward server events`` lists.

Owns ``EventQuery`` (a time range, doors, people, kinds, reasons, a limit), the lookups that
turn a typed door or person (id or name) into ids, ``select``, which yields matching events
oldest first with the door's, person's and finger's names resolved on the server (doors send
opaque ids only), and ``page``, the same events newest first a page at a time for the console:
keyset pagination (the page after the sort key of the last row shown, never OFFSET), served
by the ``events_by_time`` and ``events_by_door_time`` indexes (migration 4). Times in the range are compared with the door's own ``at`` (UTC ISO 8601); a
record whose ``at`` SQLite cannot read never matches a range. Read-only.
"""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass
from typing import Any, Iterator

from doorward.server.errors import Invalid

# Doors journal the person as detail.user and the finger as detail.finger (server.events
# also accepts finger_id); a detail without a user falls back to the finger's owner.
NAMED_USER = "COALESCE(json_extract(e.detail, '$.user'), json_extract(e.detail, '$.user_id'))"
USER = f"COALESCE({NAMED_USER[len('COALESCE('):-1]}, f.user_id)"
FINGER = "COALESCE(json_extract(e.detail, '$.finger'), json_extract(e.detail, '$.finger_id'))"
OPAQUE_ID = re.compile(r"^[a-z]{1,3}_[0-9a-f]{16}$")

COLUMNS = f"""
SELECT e.device_id, d.name AS device_name, e.journal_id, e.seq, e.at, e.kind, e.detail,
       e.chain_ok, e.received_at, {USER} AS user_id, u.name AS user_name,
       {FINGER} AS finger_id, f.name AS finger_name"""
JOINS = f"""
FROM events e
LEFT JOIN devices d ON d.id = e.device_id
LEFT JOIN fingers f ON f.id = {FINGER}
LEFT JOIN users u ON u.id = {USER}
"""
SELECT = COLUMNS + JOINS
SORTED = COLUMNS + ", julianday(e.at) AS sort_at" + JOINS
REASON = "COALESCE(json_extract(e.detail, '$.reason'), json_extract(e.detail, '$.alarm'))"
# The sort key of a row, newest last: (julianday(at), received_at, device_id, journal_id, seq).
Cursor = tuple[float, float, str, str, int]


@dataclass(frozen=True)
class EventQuery:
    since: str | None = None  # ISO 8601 UTC, inclusive
    until: str | None = None  # ISO 8601 UTC, exclusive
    device_ids: tuple[str, ...] = ()  # empty: every door
    user_ids: tuple[str, ...] = ()  # empty: everyone, and events naming no one
    kinds: tuple[str, ...] = ()  # empty: every kind (access_granted, access_denied, alarm, ...)
    reasons: tuple[str, ...] = ()  # empty: any; else detail.reason (or detail.alarm) is one of these
    limit: int | None = None  # the newest this many, still listed oldest first


def _lookup(conn: sqlite3.Connection, table: str, text: str, what: str, option: str) -> tuple[str, ...]:
    """Ids for a typed id or name: an exact name first, then one ignoring case."""
    if conn.execute(f"SELECT 1 FROM {table} WHERE id = ?", (text,)).fetchone() or OPAQUE_ID.match(text):
        return (text,)  # an id, or the id of one deleted since (its events stay)
    for compare in ("name = ?", "name = ? COLLATE NOCASE"):
        ids = tuple(row[0] for row in conn.execute(f"SELECT id FROM {table} WHERE {compare} ORDER BY id", (text,)))
        if ids:
            return ids
    raise Invalid(option, f"no {what} has the id or name {text!r}")


def door_ids(conn: sqlite3.Connection, text: str) -> tuple[str, ...]:
    return _lookup(conn, "devices", text, "door or station", "--door")  # device names are unique


def person_ids(conn: sqlite3.Connection, text: str) -> tuple[str, ...]:
    """Every person of that name: two people may share one, the events of both are listed."""
    return _lookup(conn, "users", text, "person", "--person")


def _fingers_of(conn: sqlite3.Connection, user_ids: tuple[str, ...]) -> tuple[str, ...]:
    if not user_ids:
        return ()
    rows = conn.execute(f"SELECT id FROM fingers WHERE user_id IN ({','.join('?' * len(user_ids))}) ORDER BY id",
                        user_ids)
    return tuple(row[0] for row in rows)


def _where(query: EventQuery, fingers: tuple[str, ...] = ()) -> tuple[str, list[Any]]:
    """The WHERE clause; ``fingers``: the current fingers of ``query.user_ids``."""
    clauses, params = [], []
    if query.since is not None:
        clauses.append("julianday(e.at) >= julianday(?)")
        params.append(query.since)
    if query.until is not None:
        clauses.append("julianday(e.at) < julianday(?)")
        params.append(query.until)
    for column, values in (("e.device_id", query.device_ids), ("e.kind", query.kinds), (REASON, query.reasons)):
        if values:
            # One value: its index yields the rows in order. Several: the index would need a
            # sort of all of them, so a unary + keeps SQLite on the time order instead.
            column = column if len(values) == 1 else f"+{column}"
            clauses.append(f"{column} IN ({','.join('?' * len(values))})")
            params.extend(values)
    if query.user_ids:
        # USER IN (...), spelt so that the events_by_person and events_by_finger indexes
        # serve it: the person the record names, else the owner of the finger it names. The
        # finger ids are values, not a subquery: SQLite uses no expression index for IN (SELECT).
        named = f"{NAMED_USER} IN ({','.join('?' * len(query.user_ids))})"
        params.extend(query.user_ids)
        if fingers:
            named = (f"({named} OR ({FINGER} IN ({','.join('?' * len(fingers))})"
                     f" AND {NAMED_USER} IS NULL))")
            params.extend(fingers)
        clauses.append(named)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


ORDER = " ORDER BY julianday(e.at) {0}, e.received_at {0}, e.device_id {0}, e.journal_id {0}, e.seq {0}"


def select(conn: sqlite3.Connection, query: EventQuery) -> Iterator[dict[str, Any]]:
    """Matching events oldest first, one at a time (a CSV export streams them)."""
    where, params = _where(query, _fingers_of(conn, query.user_ids))
    if query.limit is None:
        rows = conn.execute(SELECT + where + ORDER.format("ASC"), params)
    else:
        newest = conn.execute(SELECT + where + ORDER.format("DESC") + " LIMIT ?", [*params, query.limit])
        rows = reversed(newest.fetchall())
    for row in rows:
        yield _event(row)


def page(conn: sqlite3.Connection, query: EventQuery, size: int,
         before: Cursor | None = None) -> tuple[list[dict[str, Any]], Cursor | None]:
    """Up to ``size`` matching events newest first, older than ``before`` if given, and the
    cursor of the next page (None on the last). ``query.limit`` is not used. An event whose
    ``at`` SQLite cannot read has no sort key: it is listed, but never paged past."""
    where, params = _where(query, _fingers_of(conn, query.user_ids))
    if before is not None:
        # The first clause bounds the index range; the row value picks the exact position.
        where += (" AND " if where else " WHERE ") + (
            "julianday(e.at) <= ? AND (julianday(e.at), e.received_at, e.device_id, e.journal_id, e.seq)"
            " < (?, ?, ?, ?, ?)")
        params += [before[0], *before]
    rows = conn.execute(SORTED + where + ORDER.format("DESC") + " LIMIT ?", [*params, size + 1]).fetchall()
    shown = rows[:size]
    following = None
    if len(rows) > size and shown[-1]["sort_at"] is not None:
        last = shown[-1]
        following = (last["sort_at"], last["received_at"], last["device_id"], last["journal_id"], last["seq"])
    return [_event(row) for row in shown], following


def _event(row: sqlite3.Row) -> dict[str, Any]:
    event = {**dict(row), "detail": json.loads(row["detail"]), "chain_ok": bool(row["chain_ok"])}
    event.pop("sort_at", None)
    return event

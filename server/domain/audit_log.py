"""The audit log read back: every admin action (who, what, on what, when, with what detail),
filtered and a page at a time, newest first, by keyset on the row id (never OFFSET).

Owns ``AuditQuery`` and ``page``. Writing is ``doorward.server.context.audit``. Read-only.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class AuditQuery:
    actor: str | None = None  # a substring of the actor, e.g. "alice" or "security:"
    action: str | None = None  # an exact action, or a prefix ending in "." ("person.")
    since: float | None = None  # epoch seconds, inclusive
    until: float | None = None  # epoch seconds, exclusive


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def page(conn: sqlite3.Connection, query: AuditQuery, size: int,
         before: int | None = None) -> tuple[list[dict[str, Any]], int | None]:
    """Up to ``size`` rows newest first, older than row ``before``; the next page's ``before``."""
    clauses, params = [], []
    if query.actor:
        clauses.append("actor LIKE ? ESCAPE '\\'")
        params.append(f"%{_like(query.actor)}%")
    if query.action:
        if query.action.endswith("."):
            clauses.append("action LIKE ? ESCAPE '\\'")
            params.append(_like(query.action) + "%")
        else:
            clauses.append("action = ?")
            params.append(query.action)
    for clause, value in (("at >= ?", query.since), ("at < ?", query.until), ("id < ?", before)):
        if value is not None:
            clauses.append(clause)
            params.append(value)
    where = " WHERE " + " AND ".join(clauses) if clauses else ""
    rows = conn.execute(f"SELECT * FROM audit_log{where} ORDER BY id DESC LIMIT ?", [*params, size + 1]).fetchall()
    shown = [{**dict(row), "detail": json.loads(row["detail"])} for row in rows[:size]]
    return shown, (shown[-1]["id"] if len(rows) > size else None)


def actions(conn: sqlite3.Connection) -> list[str]:
    return [row[0] for row in conn.execute("SELECT DISTINCT action FROM audit_log ORDER BY action")]

"""Numbered schema migrations for the three SQLite files doorward keeps: the server's database,
the door's permission cache and the door's event journal. One mechanism for all three.

Owns ``Migration`` (a number, a name, its SQL and an optional step after the SQL),
``check_sequence`` (numbers run 1, 2, 3 ... with no gap or repeat), ``latest``,
``schema_version``, ``statements`` and ``migrate``, which applies every migration above the file's version, each in
its own ``BEGIN IMMEDIATE`` transaction together with the new version number, so a crash
leaves the file at the last whole migration and a second process waits instead of applying
the same migration twice.

Why ``PRAGMA user_version``: it lives in the database header, so it changes in the same
transaction as the schema it describes, needs no table of its own, and can be read from a
file opened read-only (``doorward migrate`` refuses a newer file before it opens it for
writing). The cache used to record its migrations by name in sqlite-utils' table
``_sqlite_migrations``; ``migrate`` takes such a record over as a version (``adopt``) and
leaves the table in place, so an older release still recognises its file.

Connections are expected in autocommit mode (``isolation_level=None``): the transactions
here are explicit.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Migration:
    number: int
    name: str
    sql: str  # one or more statements, separated by semicolons
    then: Callable[[sqlite3.Connection], None] | None = None  # inside the same transaction


def check_sequence(migrations: Sequence[Migration]) -> None:
    """Raise ``ValueError`` unless the numbers are 1, 2, ... n in order."""
    numbers = [migration.number for migration in migrations]
    if numbers != list(range(1, len(numbers) + 1)):
        raise ValueError(f"migration numbers must run 1..n without gaps, not {numbers}")


def latest(migrations: Sequence[Migration]) -> int:
    return migrations[-1].number if migrations else 0


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def statements(sql: str) -> list[str]:
    """The complete statements of a script, split where SQLite says a statement ends."""
    found, pending = [], ""
    for piece in sql.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \t\n;"):
                found.append(pending.strip())
            pending = ""
    if pending.strip(" \t\n;"):
        raise ValueError(f"an incomplete SQL statement: {pending.strip()[:80]!r}")
    return found


def migrate(conn: sqlite3.Connection, migrations: Sequence[Migration],
            adopt: Callable[[sqlite3.Connection], int] | None = None) -> int:
    """Apply every migration above the file's version; returns the version now recorded.

    ``adopt`` reads an older marker of the same file (called only while the version is 0)
    and returns the version it proves. A file newer than ``migrations`` is left untouched:
    the caller decides whether it may be used."""
    check_sequence(migrations)
    current = schema_version(conn)
    if current == 0 and adopt is not None and (adopted := adopt(conn)):
        _in_transaction(conn, [], None, adopted)
        current = adopted
    for migration in _pending(migrations, current):
        _in_transaction(conn, statements(migration.sql), migration.then, migration.number)
        current = migration.number
    return current


def _pending(migrations: Iterable[Migration], current: int) -> list[Migration]:
    return [migration for migration in migrations if migration.number > current]


def _in_transaction(conn: sqlite3.Connection, sql: list[str],
                    then: Callable[[sqlite3.Connection], None] | None, number: int) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        if schema_version(conn) >= number:  # another process got here first
            conn.execute("ROLLBACK")
            return
        for statement in sql:
            conn.execute(statement)
        if then is not None:
            then(conn)
        conn.execute(f"PRAGMA user_version = {int(number)}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise

"""The one migration mechanism of the server database, the door's cache and its journal."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from doorward.daemon.codec.migrations import (
    Migration, check_sequence, latest, migrate, schema_version, statements,
)
from doorward.daemon.journal.file import schema as journal_schema
from doorward.daemon.storage.cache_schema import SCHEMA as CACHE_SCHEMA
from doorward.server.store.schema import SCHEMA as SERVER_SCHEMA

STEPS = (Migration(1, "people", "CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT);"),
         Migration(2, "names", "CREATE INDEX people_by_name ON people (name);"
                               "INSERT INTO people (name) VALUES ('a; b');"))


def connect(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None, check_same_thread=False)


def tables(conn: sqlite3.Connection) -> set[str]:
    return {name for (name,) in conn.execute("SELECT name FROM sqlite_master")}


def test_every_pending_migration_runs_once_in_order(tmp_path: Path) -> None:
    conn = connect(tmp_path / "db")
    assert migrate(conn, STEPS[:1]) == 1
    assert migrate(conn, STEPS) == 2
    assert migrate(conn, STEPS) == 2
    assert conn.execute("SELECT name FROM people").fetchall() == [("a; b",)]
    assert {"people", "people_by_name"} <= tables(conn)


def test_a_failing_migration_leaves_the_file_at_the_last_whole_one(tmp_path: Path) -> None:
    conn = connect(tmp_path / "db")
    broken = (*STEPS, Migration(3, "broken", "CREATE TABLE half (x); INSERT INTO nowhere VALUES (1);"))
    with pytest.raises(sqlite3.OperationalError, match="nowhere"):
        migrate(conn, broken)
    assert schema_version(conn) == 2 and "half" not in tables(conn) and not conn.in_transaction


def test_the_step_after_the_sql_runs_in_the_same_transaction(tmp_path: Path) -> None:
    conn = connect(tmp_path / "db")

    def refuse(connection: sqlite3.Connection) -> None:
        connection.execute("INSERT INTO people (name) VALUES ('x')")
        raise RuntimeError("no")

    with pytest.raises(RuntimeError):
        migrate(conn, (Migration(1, "people", STEPS[0].sql, then=refuse),))
    assert schema_version(conn) == 0 and "people" not in tables(conn)


def test_two_processes_opening_at_once_apply_each_migration_once(tmp_path: Path) -> None:
    counted = []

    def count(connection: sqlite3.Connection) -> None:
        counted.append(1)

    steps = (Migration(1, "people", STEPS[0].sql, then=count),)
    barrier = threading.Barrier(4)

    def open_one() -> None:
        conn = connect(tmp_path / "db")
        conn.execute("PRAGMA busy_timeout = 5000")
        barrier.wait()
        migrate(conn, steps)
        conn.close()

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert counted == [1]


def test_a_newer_file_is_recognised_and_left_alone(tmp_path: Path) -> None:
    conn = connect(tmp_path / "db")
    migrate(conn, STEPS)
    conn.execute("PRAGMA user_version = 9")
    assert schema_version(conn) > latest(STEPS)
    assert migrate(conn, STEPS) == 9


def test_an_earlier_marker_is_adopted_only_for_an_unversioned_file(tmp_path: Path) -> None:
    conn = connect(tmp_path / "db")
    conn.execute(STEPS[0].sql)  # an earlier release made the table and said so its own way
    assert migrate(conn, STEPS, adopt=lambda c: 1) == 2  # 1 is not run again
    assert conn.execute("SELECT count(*) FROM people").fetchone()[0] == 1


@pytest.mark.parametrize("numbers", [[1, 3], [2], [1, 1], [2, 1]])
def test_numbers_must_run_from_one_without_gaps(numbers: list[int]) -> None:
    with pytest.raises(ValueError, match="without gaps"):
        check_sequence([Migration(n, f"m{n}", "SELECT 1;") for n in numbers])


def test_scripts_split_where_sqlite_says_a_statement_ends() -> None:
    script = ("CREATE TABLE t (x TEXT DEFAULT ';');\n"
              "CREATE TRIGGER t_ins AFTER INSERT ON t BEGIN UPDATE t SET x = 'a;b'; END;\n")
    assert len(statements(script)) == 2
    with pytest.raises(ValueError, match="incomplete"):
        statements("SELECT 'an unterminated string")


@pytest.mark.parametrize("schema", [SERVER_SCHEMA, CACHE_SCHEMA, journal_schema("door-1")],
                         ids=["server", "cache", "journal"])
def test_each_database_schema_applies_from_empty(tmp_path: Path, schema) -> None:  # noqa: ANN001
    conn = connect(tmp_path / "db")
    assert migrate(conn, schema) == len(schema)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

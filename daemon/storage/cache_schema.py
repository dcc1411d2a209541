"""The permission cache's files: the SQLite database (schema, migrations, pragmas, checks)
and the version backstop file beside it.

Owns ``SCHEMA`` and ``open_cache_database`` (creates the file with mode 0600, WAL with
``synchronous=FULL``, ``PRAGMA quick_check``, numbered migrations from empty through
``doorward.daemon.codec.migrations``, the mechanism the journal and the server use too),
``remove_cache_files`` and the backstop
(``read_backstop``/``write_backstop``: write a temporary file, fsync, rename, fsync the
directory). The rows themselves are opaque blobs here; ``daemon/storage/cache.py`` encrypts them.

Releases before the one migration mechanism recorded the cache's migrations by name in
sqlite-utils' ``_sqlite_migrations`` table: ``adopt_named`` turns that record into the version
it proves; the table stays, so an older release still recognises the file.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from sqlite_utils import Database

from doorward.daemon.codec.migrations import Migration, migrate
from doorward.daemon.storage.cache_crypto import CacheDamaged, CacheError, fsync_directory

BACKSTOP_SUFFIX = ".version"
BACKSTOP_MAGIC = "doorward-cache-version/1"
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")

# One state row: the applied bundle version (plaintext: it is the AD every row is bound to,
# so changing it breaks every row), the encrypted head of the snapshot and the version the
# module was last reconciled to.
INITIAL = """
CREATE TABLE state (id INTEGER PRIMARY KEY CHECK (id = 1), applied_version INTEGER, head BLOB,
    reconciled_version INTEGER);
INSERT INTO state (id) VALUES (1);
CREATE TABLE users (position INTEGER PRIMARY KEY, body BLOB NOT NULL);
CREATE TABLE slots (page INTEGER PRIMARY KEY, body BLOB NOT NULL);
"""
SCHEMA: tuple[Migration, ...] = (Migration(1, "initial", INITIAL),)
# sqlite-utils' migration names of earlier releases -> the version each proves.
NAMED_MIGRATIONS = {"0001_initial": 1}
NAMED_MIGRATION_SET = "doorward-cache"


def adopt_named(conn: sqlite3.Connection) -> int:
    """The version an earlier release's named record proves (0: none)."""
    if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = "
                    "'_sqlite_migrations'").fetchone() is None:
        return 0
    names = conn.execute("SELECT name FROM _sqlite_migrations WHERE migration_set = ?",
                         (NAMED_MIGRATION_SET,)).fetchall()
    return max((NAMED_MIGRATIONS.get(name, 0) for (name,) in names), default=0)


def open_cache_database(path: Path) -> Database:
    """Open or create the cache database; raises CacheDamaged when it fails its checks."""
    _create_private_file(path)
    connection = sqlite3.connect(path, check_same_thread=False)
    db = Database(connection)
    try:
        configure_durable(db)
        check_quick(db, path)
        _migrate(connection)
    except sqlite3.DatabaseError as error:
        connection.close()
        raise CacheDamaged(f"{path}: not a usable cache database: {error}") from None
    except CacheError:
        connection.close()
        raise
    return db


def _migrate(connection: sqlite3.Connection) -> None:
    # The migrations open their own transactions: autocommit while they run.
    previous, connection.isolation_level = connection.isolation_level, None
    try:
        migrate(connection, SCHEMA, adopt=adopt_named)
    finally:
        connection.isolation_level = previous


def configure_durable(db: Database) -> None:
    """WAL, and FULL sync: a commit that returned survives a crash or a power cut."""
    db.enable_wal()
    db.execute("PRAGMA synchronous=FULL")


def check_quick(db: Database, path: Path) -> None:
    problems = [row[0] for row in db.execute("PRAGMA quick_check").fetchall()]
    if problems != ["ok"]:
        raise CacheDamaged(f"{path}: quick_check failed: {'; '.join(problems[:5])}")


def _create_private_file(path: Path) -> None:
    # SQLite gives the -wal and -shm files the database file's mode, so 0600 here covers all.
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
    os.close(descriptor)


def backstop_path(path: Path) -> Path:
    return path.with_name(path.name + BACKSTOP_SUFFIX)


def read_backstop(path: Path) -> int | None:
    """The version in the backstop file; None when there is none; CacheDamaged if unreadable."""
    try:
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise CacheDamaged(f"{path}: cannot read the version backstop: {error}") from None
    magic, _, number = text.strip().partition(" ")
    if magic != BACKSTOP_MAGIC or not number.isdigit():
        raise CacheDamaged(f"{path}: not a version backstop file: {text[:60]!r}")
    return int(number)


def write_backstop(path: Path, version: int) -> None:
    """Replace the backstop atomically: a crash leaves the old file or the new, never half."""
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "w", encoding="ascii") as backstop:
        backstop.write(f"{BACKSTOP_MAGIC} {version}\n")
        backstop.flush()
        os.fsync(backstop.fileno())
    os.replace(temporary, path)
    fsync_directory(path.parent)


def remove_cache_files(path: Path) -> None:
    """Delete the database and SQLite's side files. The backstop stays, unless it is
    unreadable: it keeps the rollback check alive across a wipe and a re-sync."""
    for name in (path.name, *(path.name + suffix for suffix in SQLITE_SIDE_FILES)):
        (path.parent / name).unlink(missing_ok=True)
    try:
        read_backstop(backstop_path(path))
    except CacheDamaged:
        backstop_path(path).unlink(missing_ok=True)
    if path.parent.exists():
        fsync_directory(path.parent)

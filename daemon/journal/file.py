"""The journal's SQLite file: opening it durable, checking it, migrating it, setting it aside.

Owns the journal's errors, ``open_file`` (WAL, ``synchronous=FULL``: a commit that returned
survives a crash or power cut; ``quick_check``; numbered migrations from empty, recorded
in ``user_version``) and ``set_aside`` (a file that cannot continue the chain is renamed
with its side files, never deleted: it is evidence).

Version 1 of the schema is the chain itself (``meta``: the journal id, the door, the
acknowledged sequence; ``events``: one row per record, the newest being the chain's head).
Version 2 adds ``losses``: the ranges this journal declared lost, each with the sequence of
its declaring record, so a hole is declared once and the upload can name the gaps the
server should accept until the declaration itself is acknowledged. A new journal gets a
random id in the migration that creates it.
"""

from __future__ import annotations

import logging
import os
import secrets
import sqlite3
import time
from pathlib import Path

from doorward.daemon.codec.bundle import GENESIS_HASH
from doorward.daemon.codec.migrations import Migration, latest, migrate
from doorward.daemon.errors import DoorwardError

log = logging.getLogger(__name__)

SIDE_FILES = ("-wal", "-shm")
INITIAL = """
CREATE TABLE meta (id INTEGER PRIMARY KEY CHECK (id = 1), journal_id TEXT NOT NULL,
    door_id TEXT NOT NULL, acked_seq INTEGER NOT NULL);
CREATE TABLE events (seq INTEGER PRIMARY KEY, wall_s REAL NOT NULL, hash TEXT NOT NULL,
    record TEXT NOT NULL);
"""
LOSSES = """
CREATE TABLE losses (declared_seq INTEGER PRIMARY KEY, journal_id TEXT NOT NULL,
    from_seq INTEGER NOT NULL, to_seq INTEGER, reason TEXT NOT NULL);
"""


def schema(door_id: str) -> tuple[Migration, ...]:
    """The journal's migrations; the first gives a new journal its random id and its door."""
    def identify(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO meta VALUES (1, ?, ?, 0)", ("j-" + secrets.token_hex(8), door_id))

    return (Migration(1, "the chain", INITIAL, then=identify),
            Migration(2, "declared losses", LOSSES))


SCHEMA_VERSION = latest(schema(""))


class JournalError(DoorwardError):
    """The journal cannot be opened or used; the message names the file."""


class JournalWriteError(JournalError, OSError):
    """An append did not become durable (disk full, I/O error); nothing was half-written."""


class JournalUnreadable(JournalError):
    """The file is not a usable journal database (garbage, a failed integrity check)."""


def open_file(path: Path, door_id: str) -> sqlite3.Connection:
    """The journal's connection, the file created (0600) and migrated as needed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600))
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        _check(conn, path)
        migrate(conn, schema(door_id))
    except sqlite3.DatabaseError as error:
        conn.close()
        raise JournalUnreadable(f"{path}: not a usable journal database: {error}") from None
    except JournalError:
        conn.close()
        raise
    return conn


def read_head(conn: sqlite3.Connection, path: Path, door_id: str) -> tuple[str, int, str]:
    """(journal id, the newest record's seq and hash); refuses another door's journal."""
    try:
        journal_id, stored_door = conn.execute(
            "SELECT journal_id, door_id FROM meta WHERE id = 1").fetchone()
        head = conn.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
    except sqlite3.Error as error:
        raise JournalWriteError(f"{path}: cannot read the journal head: {error}") from error
    if stored_door != door_id:
        raise JournalError(f"{path}: journal of door {stored_door!r}, not {door_id!r}; "
                           "move it aside to start a new one")
    seq, digest = head or (0, GENESIS_HASH)
    return journal_id, seq, digest


def set_aside(path: Path, label: str) -> Path:
    """Rename the journal and its side files out of the way; returns the new name."""
    aside = path.with_name(f"{path.name}.set-aside-{label}-{int(time.time())}")
    for suffix in ("", *SIDE_FILES):
        source = path.with_name(path.name + suffix)
        if source.exists():
            os.replace(source, aside.with_name(aside.name + suffix))
    log.error("%s: set aside as %s", path, aside.name)
    return aside


def _check(conn: sqlite3.Connection, path: Path) -> None:
    problems = [row[0] for row in conn.execute("PRAGMA quick_check").fetchall()]
    if problems != ["ok"]:
        raise JournalUnreadable(f"{path}: quick_check failed: {'; '.join(problems[:5])}")

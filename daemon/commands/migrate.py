"""``doorward migrate``: bring the state databases to this release's schema, or refuse.

    doorward migrate --state-dir DIR     (the installer's upgrade hook)
    doorward migrate [--config PATH]     (the state directory of the configuration)

Both databases record their schema as a number (``PRAGMA user_version``, the one migration
mechanism, ``doorward.daemon.codec.migrations``). A number above this release's means the
state was written by a newer release: that is
refused with exit code 3 *before* anything is opened for writing, so a downgrade never
touches it. Otherwise the cache's pending migrations run (``open_cache_database``) and the
journal is opened, which runs its own. Missing databases are fine (a fresh door, or a
server's state directory): nothing to do. Exit codes: 0 current, 2 usage or a database
that cannot be read, 3 newer schema refused.
"""

from __future__ import annotations

import contextlib
import sqlite3
import sys
from pathlib import Path

from doorward.daemon.codec.migrations import latest, schema_version
from doorward.daemon.storage.cache_schema import SCHEMA as CACHE_SCHEMA, adopt_named, open_cache_database
from doorward.daemon.config.loader import default_config_path, load_config
from doorward.daemon.errors import DoorwardError
from doorward.daemon.journal.store import SCHEMA_VERSION, EventJournal
from doorward.daemon.commands.arguments import parser_for

EXIT_OK, EXIT_FAILED, EXIT_NEWER = 0, 2, 3
CACHE_NAME, JOURNAL_NAMES = "cache.db", ("journal.db", "journal-unpaired.db")


class NewerSchema(DoorwardError):
    """The state on disk was written by a newer release."""


def cache_schema_version(path: Path) -> int:
    """The schema number of a cache database (an earlier release's named record counts)."""
    with _read_only(path) as connection:
        return schema_version(connection) or adopt_named(connection)


def journal_schema(path: Path) -> tuple[int, str | None]:
    """(user_version, door id) of a journal database."""
    with _read_only(path) as connection:
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        door = None
        if _has_table(connection, "meta"):
            row = connection.execute("SELECT door_id FROM meta WHERE id = 1").fetchone()
            door = row[0] if row else None
    return version, door


def migrate_state(state_dir: Path) -> list[str]:
    """Check everything, then migrate; returns what was done. Raises NewerSchema."""
    cache, journals = state_dir / CACHE_NAME, [state_dir / n for n in JOURNAL_NAMES]
    journals = [path for path in journals if path.exists()]
    _refuse_newer(cache, journals)
    done = []
    if cache.exists():
        open_cache_database(cache).close()
        done.append(f"{cache}: current")
    for path in journals:
        version, door = journal_schema(path)
        if door is not None:  # an initialised journal; an empty file is left to the daemon
            EventJournal(path, door).close()
        done.append(f"{path}: current (schema {max(version, SCHEMA_VERSION)})")
    return done


def _refuse_newer(cache: Path, journals: list[Path]) -> None:
    if cache.exists() and (version := cache_schema_version(cache)) > latest(CACHE_SCHEMA):
        raise NewerSchema(f"{cache}: cache schema {version} is newer than this release's "
                          f"{latest(CACHE_SCHEMA)}")
    for path in journals:
        version, _ = journal_schema(path)
        if version > SCHEMA_VERSION:
            raise NewerSchema(f"{path}: journal schema {version} is newer than this "
                              f"release's {SCHEMA_VERSION}")


def _read_only(path: Path) -> contextlib.closing[sqlite3.Connection]:
    # Read-only: a refused (newer) database must not be touched at all.
    return contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True))


def _has_table(connection: sqlite3.Connection, name: str) -> bool:
    return connection.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                              (name,)).fetchone() is not None


def main(argv: list[str]) -> int:
    parser = parser_for("doorward migrate", __doc__)
    parser.add_argument("--state-dir", type=Path, default=None, help="the state directory")
    parser.add_argument("--config", type=Path, default=None, help="the door's TOML configuration")
    args = parser.parse_args(argv)
    try:
        state_dir = args.state_dir or load_config(args.config or default_config_path(),
                                                  sections=("storage",)).storage.state_dir
        for line in migrate_state(state_dir):
            print(line)
    except NewerSchema as error:
        print(f"doorward migrate: refused: {error}", file=sys.stderr)
        return EXIT_NEWER
    except (DoorwardError, sqlite3.Error, OSError) as error:
        print(f"doorward migrate: {error}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK

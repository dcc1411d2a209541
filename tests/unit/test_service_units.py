"""The daemon's small parts without processes: notify, the status file, migrate, the journal
tail, the ring LED and the bundle applier's wait for the module."""

from __future__ import annotations

import os
import socket
import sqlite3
import time
from pathlib import Path

from doorward.daemon.storage.cache_crypto import create_cache_key
from doorward.daemon.storage.cache import PermissionCache
from doorward.daemon.journal.store import EventJournal
from doorward.daemon.runtime.notify import Notifier
from doorward.daemon.commands.events import JournalTail
from doorward.daemon.commands.migrate import EXIT_NEWER, EXIT_OK, main as migrate
from doorward.daemon.storage.status_file import is_live, read_status, write_status


def test_notify_speaks_datagrams_and_knows_its_watchdog(tmp_path: Path) -> None:
    path = tmp_path / "notify"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(str(path))
    notifier = Notifier({"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "4000000"})
    notifier.ready("door locked")
    notifier.watchdog()
    assert listener.recv(100) == b"READY=1\nSTATUS=door locked"
    assert listener.recv(100) == b"WATCHDOG=1"
    assert notifier.watchdog_interval_s == 2.0
    assert Notifier({"WATCHDOG_USEC": "4000000", "WATCHDOG_PID": "1"}).watchdog_interval_s is None
    silent = Notifier({})
    silent.ready("x")  # without NOTIFY_SOCKET nothing is sent and nothing fails
    assert not silent.enabled


def test_the_status_file_is_replaced_whole_and_ages(tmp_path: Path) -> None:
    path = tmp_path / "status.json"

    write_status(path, {"state": "running", "pid": os.getpid(), "updated_mono": time.monotonic()})
    assert is_live(read_status(path))
    write_status(path, {"state": "running", "pid": os.getpid(), "updated_mono": 0.0})
    assert not is_live(read_status(path))
    assert [p.name for p in tmp_path.iterdir()] == ["status.json"]  # no temporary left


def state_dir_with_databases(tmp_path: Path) -> Path:
    journal = EventJournal(tmp_path / "journal.db", "door-1")
    for n in range(3):
        journal.append("test", {"n": n}, wall_now=1e9 + n, wall_trusted=True, mono_now=n,
                       boot_id="b")
    journal.close()
    PermissionCache(tmp_path / "cache.db", create_cache_key(tmp_path / "cache.key")).close()
    return tmp_path


def test_migrate_is_current_then_refuses_a_newer_journal(tmp_path: Path) -> None:
    state = state_dir_with_databases(tmp_path)
    assert migrate(["--state-dir", str(state)]) == EXIT_OK
    with sqlite3.connect(state / "journal.db") as connection:
        connection.execute("PRAGMA user_version = 99")
    assert migrate(["--state-dir", str(state)]) == EXIT_NEWER


def test_migrate_refuses_a_cache_of_a_newer_schema_and_leaves_it_untouched(tmp_path: Path) -> None:
    state = state_dir_with_databases(tmp_path)
    with sqlite3.connect(state / "cache.db") as connection:
        connection.execute("PRAGMA user_version = 99")
    before = (state / "cache.db").read_bytes()
    assert migrate(["--state-dir", str(state)]) == EXIT_NEWER
    assert (state / "cache.db").read_bytes() == before
    assert migrate(["--state-dir", str(tmp_path / "empty")]) == EXIT_OK  # nothing to migrate


def test_the_journal_tail_verifies_the_chain_and_finds_a_broken_record(tmp_path: Path) -> None:
    state = state_dir_with_databases(tmp_path)
    with JournalTail.for_state_dir(state) as tail:
        assert [e.seq for e in tail.read_new()] == [1, 2, 3] and tail.broken is None
    with sqlite3.connect(state / "journal.db") as connection:
        record = connection.execute("SELECT record FROM events WHERE seq = 2").fetchone()[0]
        connection.execute("UPDATE events SET record = ? WHERE seq = 2",
                           (record.replace('"n":1', '"n":7'),))
    with JournalTail.for_state_dir(state) as tail:
        assert [e.seq for e in tail.read_new()] == [1]
        assert "record 2" in tail.broken and "BROKEN" in tail.summary()



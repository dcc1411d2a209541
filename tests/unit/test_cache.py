"""The encrypted permission cache: round trip, migrations, durability pragmas, rows bound to
their place and version, the key file's mode, nothing readable in a copied file, and the
backstop version winning over a database restored from an older copy."""

from __future__ import annotations

import contextlib

import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from doorward.daemon.codec import bundle
from doorward.daemon.storage.cache import CacheDamaged, CacheKeyError, PermissionCache, load_cache_key
from doorward.daemon.storage.cache_crypto import CacheError, create_cache_key
from doorward.daemon.storage.cache_schema import SCHEMA
from doorward.daemon.access.claim import SlotState
from doorward.daemon.journal.store import EventJournal
from doorward.daemon.library.slotmap import SlotMap, plan_slot_map
from doorward.sim.rig.access import MODULE
from tests.support.sync import door_key, door_snapshot, template_bytes

KEY = bytes(range(32))


def plan(snapshot, current: SlotMap = SlotMap(), capacity: int = 1000) -> SlotMap:
    return plan_slot_map(current, snapshot, MODULE, capacity).slot_map


def applied(path: Path, *versions: int, users: int = 3) -> PermissionCache:
    cache = PermissionCache(path, KEY)
    for version in versions:
        snapshot = door_snapshot(version, users=users)
        cache.apply(snapshot, plan(snapshot, cache.slot_map()))
    return cache


def raw(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)


def test_round_trip_survives_a_reopen(tmp_path: Path) -> None:
    snapshot = door_snapshot(7)
    cache = PermissionCache(tmp_path / "cache.db", KEY)
    cache.apply(snapshot, plan(snapshot))
    cache.set_reconciled_version(7)
    cache.close()
    again = PermissionCache(tmp_path / "cache.db", KEY)
    assert again.snapshot() == snapshot
    assert again.slot_map() == plan(snapshot)
    versions = again.stored_version(), again.applied_version(), again.reconciled_version()
    assert versions == (7, 7, 7)
    assert not again.is_empty() and not again.behind_backstop


def test_numbered_migrations_run_once_from_empty(tmp_path: Path) -> None:
    cache = PermissionCache(tmp_path / "cache.db", KEY)
    assert cache.is_empty() and cache.snapshot() is None and cache.stored_version() is None
    assert cache.slot_map() == SlotMap()
    cache.close()
    PermissionCache(tmp_path / "cache.db", KEY).close()
    connection = raw(tmp_path / "cache.db")
    assert connection.execute("PRAGMA user_version").fetchone()[0] == len(SCHEMA)
    assert connection.execute("SELECT count(*) FROM state").fetchone()[0] == 1  # not twice


def test_a_cache_of_the_release_that_named_its_migrations_is_taken_over(tmp_path: Path) -> None:
    """Earlier releases recorded sqlite-utils' named migrations, not user_version: such a cache
    keeps its rows, is not migrated again, and keeps the named record for an older release."""
    applied(tmp_path / "cache.db", 7).close()
    with contextlib.closing(raw(tmp_path / "cache.db")) as connection:
        connection.execute("CREATE TABLE _sqlite_migrations (id INTEGER PRIMARY KEY, "
                           "migration_set TEXT, name TEXT, applied_at TEXT)")
        connection.execute("INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
                           "VALUES ('doorward-cache', '0001_initial', '2026-11-01')")
        connection.execute("PRAGMA user_version = 0")
    again = PermissionCache(tmp_path / "cache.db", KEY)
    assert again.applied_version() == 7
    again.close()
    with contextlib.closing(raw(tmp_path / "cache.db")) as connection:
        assert connection.execute("PRAGMA user_version").fetchone()[0] == 1
        assert connection.execute("SELECT name FROM _sqlite_migrations").fetchall() == [("0001_initial",)]


def test_both_databases_are_wal_with_synchronous_full(tmp_path: Path) -> None:
    cache = PermissionCache(tmp_path / "cache.db", KEY)
    journal = EventJournal(tmp_path / "journal.db", "door-1")
    assert cache.durability() == {"journal_mode": "wal", "synchronous": 2}
    assert journal.durability() == {"journal_mode": "wal", "synchronous": 2}


def test_new_files_are_private(tmp_path: Path) -> None:
    applied(tmp_path / "cache.db", 7).close()
    assert os.stat(tmp_path / "cache.db").st_mode & 0o077 == 0


def test_slot_map_progress_and_reconciled_version_persist(tmp_path: Path) -> None:
    cache = applied(tmp_path / "cache.db", 7)
    first = cache.slot_map().slots[0]
    progressed = cache.slot_map().with_state(first.page, SlotState.ACTIVE)
    cache.save_slot_map(progressed)
    with pytest.raises(ValueError, match="newer than the applied"):
        cache.set_reconciled_version(8)
    cache.close()
    assert PermissionCache(tmp_path / "cache.db", KEY).slot_map() == progressed


def test_a_new_version_replaces_every_row(tmp_path: Path) -> None:
    cache = applied(tmp_path / "cache.db", 7, 8, users=3)
    smaller = door_snapshot(9, users=1)
    cache.apply(smaller, plan(smaller, cache.slot_map()))
    cache.close()
    again = PermissionCache(tmp_path / "cache.db", KEY)
    assert again.snapshot() == smaller
    assert {s.state for s in again.slot_map().slots if not s.finger_id.startswith("f-0-")} == {
        SlotState.PENDING_DELETE}


@pytest.mark.parametrize("table, key", [("users", "position"), ("slots", "page")])
def test_two_rows_with_swapped_ciphertexts_are_detected(tmp_path: Path, table: str,
                                                        key: str) -> None:
    applied(tmp_path / "cache.db", 7).close()
    db = raw(tmp_path / "cache.db")
    (a, body_a), (b, body_b) = db.execute(
        f"SELECT {key}, body FROM {table} ORDER BY {key} LIMIT 2").fetchall()
    db.execute(f"UPDATE {table} SET body = ? WHERE {key} = ?", (body_b, a))
    db.execute(f"UPDATE {table} SET body = ? WHERE {key} = ?", (body_a, b))
    db.close()
    with pytest.raises(CacheDamaged, match="does not authenticate"):
        PermissionCache(tmp_path / "cache.db", KEY)


def test_a_row_replayed_from_an_older_version_is_detected(tmp_path: Path) -> None:
    cache = applied(tmp_path / "cache.db", 7)
    old_row = raw(tmp_path / "cache.db").execute(
        "SELECT body FROM users WHERE position = 0").fetchone()[0]
    cache.apply(door_snapshot(8), plan(door_snapshot(8), cache.slot_map()))
    cache.close()
    raw(tmp_path / "cache.db").execute("UPDATE users SET body = ? WHERE position = 0", (old_row,))
    with pytest.raises(CacheDamaged, match=r"users\[0\] of version 8"):
        PermissionCache(tmp_path / "cache.db", KEY)


@pytest.mark.parametrize("tamper", [
    "UPDATE state SET applied_version = 6",
    "DELETE FROM users WHERE position = 2",
    "INSERT INTO users SELECT 3, body FROM users WHERE position = 0",
])
def test_edited_versions_and_missing_or_extra_rows_are_detected(tmp_path: Path,
                                                                tamper: str) -> None:
    applied(tmp_path / "cache.db", 7).close()
    raw(tmp_path / "cache.db").execute(tamper)
    with pytest.raises(CacheDamaged):
        PermissionCache(tmp_path / "cache.db", KEY)


def test_another_key_cannot_read_the_cache(tmp_path: Path) -> None:
    applied(tmp_path / "cache.db", 7).close()
    with pytest.raises(CacheDamaged):
        PermissionCache(tmp_path / "cache.db", bytes(32))


def test_a_damaged_file_is_reported_and_wiped(tmp_path: Path) -> None:
    applied(tmp_path / "cache.db", 7).close()
    for suffix in ("-wal", "-shm"):
        (tmp_path / f"cache.db{suffix}").unlink(missing_ok=True)
    (tmp_path / "cache.db").write_bytes(b"this is not SQLite at all" * 100)
    with pytest.raises(CacheDamaged, match="cache.db"):
        PermissionCache(tmp_path / "cache.db", KEY)
    PermissionCache.wipe(tmp_path / "cache.db")
    fresh = PermissionCache(tmp_path / "cache.db", KEY)
    assert fresh.is_empty() and fresh.stored_version() == 7  # the backstop outlives a wipe


def test_the_backstop_wins_over_a_database_restored_from_an_older_copy(tmp_path: Path) -> None:
    path = tmp_path / "cache.db"
    applied(path, 7).close()
    shutil.copy(path, tmp_path / "old-copy.db")
    applied(path, 8).close()
    for suffix in ("-wal", "-shm"):
        (tmp_path / f"cache.db{suffix}").unlink(missing_ok=True)
    shutil.copy(tmp_path / "old-copy.db", path)
    restored = PermissionCache(path, KEY)
    assert restored.applied_version() == 7 and restored.stored_version() == 8
    assert restored.behind_backstop
    assert restored.is_empty() and restored.snapshot() is None  # never serve the older grants
    assert bundle.version_action(7, restored.stored_version(), restored.is_empty()) == "rollback"
    assert bundle.version_action(8, restored.stored_version(), restored.is_empty()) == "apply"


def test_an_unreadable_backstop_is_damage(tmp_path: Path) -> None:
    applied(tmp_path / "cache.db", 7).close()
    (tmp_path / "cache.db.version").write_text("seven\n")
    with pytest.raises(CacheDamaged, match="backstop"):
        PermissionCache(tmp_path / "cache.db", KEY)


def test_a_copied_cache_reveals_no_template_and_no_id(tmp_path: Path) -> None:
    snapshot = door_snapshot(7, users=4)
    cache = PermissionCache(tmp_path / "cache.db", KEY)
    cache.apply(snapshot, plan(snapshot))
    cache.close()
    files = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    secrets_in_clear = [template_bytes(f.finger_id, 7 // 3)[:32] for u in snapshot.users
                        for f in u.fingers]
    secrets_in_clear += [f.sealed_template[:40].encode() for u in snapshot.users
                         for f in u.fingers]
    secrets_in_clear += [f.template_sha256.encode() for u in snapshot.users for f in u.fingers]
    secrets_in_clear += [text.encode() for u in snapshot.users
                         for text in (u.user_id, *(f.finger_id for f in u.fingers))]
    assert [s for s in secrets_in_clear if s in files] == []
    assert b"tent-apollo" not in files and b"Europe/Berlin" not in files


def test_templates_stay_sealed_to_the_door_key_inside_the_cache(tmp_path: Path) -> None:
    cache = applied(tmp_path / "cache.db", 7)
    finger = cache.snapshot().users[0].fingers[0]
    opened = bundle.open_template(finger.sealed_template, door_key(), door_id="door-1",
                                  finger_id=finger.finger_id)
    assert opened == template_bytes(finger.finger_id, 7 // 3)


def test_a_key_file_readable_by_others_is_refused_with_its_mode(tmp_path: Path) -> None:
    key_file = tmp_path / "cache.key"
    key_file.write_bytes(KEY)
    key_file.chmod(0o644)
    with pytest.raises(CacheKeyError, match=rf"{key_file}: cache key file has mode 0644"):
        load_cache_key(key_file)
    key_file.chmod(0o600)
    assert load_cache_key(key_file) == KEY


def test_key_files_are_made_private_and_never_replaced(tmp_path: Path) -> None:
    key = create_cache_key(tmp_path / "cache.key")
    assert os.stat(tmp_path / "cache.key").st_mode & 0o777 == 0o600
    assert load_cache_key(tmp_path / "cache.key") == key
    with pytest.raises(CacheKeyError, match="already exists"):
        create_cache_key(tmp_path / "cache.key")


@pytest.mark.parametrize("content, complaint", [(b"short", "holds 5"), (bytes(33), "holds more")],
                         ids=["short", "long"])
def test_a_key_file_of_the_wrong_length_is_refused(tmp_path: Path, content: bytes,
                                                   complaint: str) -> None:
    key_file = tmp_path / "cache.key"
    key_file.write_bytes(content)
    key_file.chmod(0o600)
    with pytest.raises(CacheKeyError, match=complaint):
        load_cache_key(key_file)
    with pytest.raises(CacheKeyError, match="cannot open"):
        load_cache_key(tmp_path / "missing.key")


def test_the_cache_never_stores_an_older_version(tmp_path: Path) -> None:
    cache = applied(tmp_path / "cache.db", 8)
    with pytest.raises(CacheError, match="versions never go backwards"):
        cache.apply(door_snapshot(7), SlotMap())
    assert cache.snapshot().version == 8


def test_slot_map_needs_an_applied_snapshot(tmp_path: Path) -> None:
    cache = PermissionCache(tmp_path / "cache.db", KEY)
    with pytest.raises(CacheError, match="no snapshot is applied"):
        cache.save_slot_map(SlotMap())

"""The server's storage: pragmas, migrations from empty, templates sealed at rest, key files."""

from __future__ import annotations

import os
import sqlite3

import pytest

from doorward.server.store import backup
from doorward.server.clock import ManualClock
from doorward.server.store.db import Database
from doorward.server.store.keys import create_keys, load_keys
from doorward.server.store.schema import MIGRATIONS
from doorward.server.store.versions import next_version
from tests.support.server import enrol, make_site, running_server, template


def test_migrations_are_numbered_without_gaps_and_apply_from_empty(tmp_path) -> None:
    assert [number for number, _, _ in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))
    db = Database(tmp_path / "new.db")
    assert db.migrate() == len(MIGRATIONS)
    assert db.migrate() == len(MIGRATIONS)  # idempotent
    conn = db.connection()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    db.close()


def test_a_copy_of_the_database_alone_yields_no_template(tmp_path) -> None:
    with running_server(tmp_path) as server:
        site = make_site(server)
        enrol(site.admin, "Alice", fingers=3)
        person = site.admin.get("/api/v1/people").json()[0]["id"]
        site.admin.post("/api/v1/grants", json={"person_id": person, "zone_id": site.zone_id})
        site.door.fetch()
    raw = b"".join(path.read_bytes() for path in tmp_path.glob("doorward.server.store.db*"))
    for n in range(3):
        plain = template(n)
        assert plain not in raw and plain[:64] not in raw
        assert plain.hex().encode() not in raw
    conn = sqlite3.connect(tmp_path / "doorward.server.store.db")
    dump = "\n".join(conn.iterdump())
    conn.close()
    import base64
    assert base64.b64encode(template(0)).decode()[:40] not in dump
    assert not any(path.suffix == ".key" for path in tmp_path.glob("*"))  # keys live elsewhere


def test_key_files_are_private_and_never_overwritten(tmp_path) -> None:
    signing, data = tmp_path / "k" / "signing.key", tmp_path / "k" / "data.key"
    keys = create_keys(signing, data)
    assert oct(signing.stat().st_mode & 0o777) == "0o600" and oct(data.stat().st_mode & 0o777) == "0o600"
    with pytest.raises(FileExistsError):
        create_keys(signing, data)
    assert load_keys(signing, data).fingerprint == keys.fingerprint
    os.chmod(data, 0o644)
    with pytest.raises(PermissionError):
        load_keys(signing, data)


def test_a_sealed_template_cannot_be_moved_to_another_finger(tmp_path) -> None:
    keys = create_keys(tmp_path / "s.key", tmp_path / "d.key")
    sealed = keys.data.seal(b"template", "template\x00f_1")
    assert keys.data.open(sealed, "template\x00f_1") == b"template"
    from cryptography.exceptions import InvalidTag
    with pytest.raises(InvalidTag):
        keys.data.open(sealed, "template\x00f_2")


def test_the_server_imports_only_the_codec_from_daemon() -> None:
    import ast
    import pathlib

    for path in sorted((pathlib.Path(__file__).parents[2] / "server").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + ([f"daemon.{a.name}" for a in node.names] if node.module == "daemon" else [])
            for name in names:
                if name.split(".")[0] == "daemon":
                    assert name in ("daemon", "doorward.daemon.codec.bundle"), f"{path.name} imports {name}"


def test_a_version_is_above_the_last_the_floor_and_the_server_time_in_microseconds() -> None:
    assert next_version(last=5, floor=7, now=1.0) == 1_000_000  # the time term
    assert next_version(last=2_000_000, floor=7, now=1.0) == 2_000_001
    assert next_version(last=5, floor=3_000_000, now=1.0) == 3_000_001
    assert next_version(last=0, floor=0, now=1_800_000_000.25) == 1_800_000_000_250_000


def test_a_restore_that_also_lost_the_version_floor_still_issues_versions_above_the_doors(tmp_path) -> None:
    """The floor file is gone too (keys_dir rebuilt from an older copy): while the clock is
    right, the time term alone keeps every new version above what doors already hold."""
    with running_server(tmp_path) as server:
        site = make_site(server)
        keys = server.keys
        first = site.door.fetch()
        backup.backup(server.config.database, tmp_path / "backup.db")
        enrol(site.admin, "Late")  # a change after the backup: doors get a higher version
        site.admin.patch(f"/api/v1/doors/{site.door_id}", json={"lockdown": True})
        held = site.door.fetch()
        assert held.version > first.version
    backup.restore(tmp_path / "backup.db", tmp_path / "doorward.server.store.db", server.ctx.ledger)
    (tmp_path / "keys" / "bundle-version.floor").unlink()
    clock = ManualClock(server.clock.now() + 1)
    with running_server(tmp_path, clock=clock, keys=keys) as server:
        door = site.door
        door.server = server
        assert door.fetch().version > held.version

"""The server's storage: pragmas, migrations from empty, templates sealed at rest, key files."""

from __future__ import annotations

import os
import sqlite3

import pytest

from server.db import Database
from server.keys import create_keys, load_keys
from server.schema import MIGRATIONS
from tests.serverhelpers import enrol, make_site, running_server, template


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
    raw = b"".join(path.read_bytes() for path in tmp_path.glob("server.db*"))
    for n in range(3):
        plain = template(n)
        assert plain not in raw and plain[:64] not in raw
        assert plain.hex().encode() not in raw
    conn = sqlite3.connect(tmp_path / "server.db")
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

    for path in sorted((pathlib.Path(__file__).parents[1] / "server").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + ([f"daemon.{a.name}" for a in node.names] if node.module == "daemon" else [])
            for name in names:
                if name.split(".")[0] == "daemon":
                    assert name in ("daemon", "daemon.bundle"), f"{path.name} imports {name}"

"""A restore cannot bring back what was taken away since the backup: the removal ledger is
re-applied (re-pairings, decommissioning, retention, the latest activation), it is written
before its change commits, and a damaged ledger refuses the restore before anything changes."""

from __future__ import annotations

import json
import os

import httpx
import pytest

from doorward.server.store import backup
from doorward.server.clock import ManualClock
from doorward.server.store.ledger import LedgerError, RemovalLedger
from tests.support.server import TestDoor, enrol, make_site, running_server, wait_until

DAY_S = 86400.0


def restart(tmp_path, server, **config):
    """Stop nothing (the caller's ``with`` did); restore the backup, start again."""
    report = backup.restore(tmp_path / "backup.db", tmp_path / "doorward.server.store.db", server.ctx.ledger)
    clock = ManualClock(server.clock.now())
    return report, running_server(tmp_path, clock=clock, keys=server.keys, **config)


def grant(site, person: dict) -> None:
    answer = site.admin.post("/api/v1/grants", json={"person_id": person["person_id"], "zone_id": site.zone_id})
    assert answer.status_code == 201, answer.text


def test_a_door_paired_again_after_the_backup_keeps_its_new_token_and_the_old_one_stays_dead(tmp_path) -> None:
    with running_server(tmp_path) as server:
        site = make_site(server)
        grant(site, enrol(site.admin, "Alice"))
        old_token = site.door.token
        backup.backup(server.config.database, tmp_path / "backup.db")
        code = site.admin.post(f"/api/v1/doors/{site.door_id}/pairing-codes").json()["code"]
        door = TestDoor(server)  # a new SD card: new keys
        assert door.pair(code).status_code == 201
    report, restarted = restart(tmp_path, server)
    assert [entry.kind for entry in report.reapplied] == ["device.paired"]
    with restarted as server:
        door.server = server
        with server.client(old_token) as stolen_card:
            assert stolen_card.get("/api/v1/device/bundle").status_code == 401
        snapshot = door.fetch()  # verified and opened with the new key
        finger = snapshot.users[0].fingers[0]
        assert door.open_template(snapshot, finger.finger_id)


def test_a_decommissioned_door_stays_decommissioned(tmp_path) -> None:
    with running_server(tmp_path) as server:
        site = make_site(server)
        backup.backup(server.config.database, tmp_path / "backup.db")
        assert site.admin.delete(f"/api/v1/doors/{site.door_id}").status_code == 204
    report, restarted = restart(tmp_path, server)
    assert [entry.describe().split(" (")[0] for entry in report.reapplied] == [
        f"device {site.door_id} decommissioned: its token is dead"]
    with restarted as server:
        site.door.server = server
        assert site.door.poll().status_code == 401


def test_a_person_deactivated_then_reactivated_after_the_backup_is_active_after_the_restore(tmp_path) -> None:
    """The ledger keeps the latest activation and validity, not only the removals."""
    with running_server(tmp_path) as server:
        site = make_site(server)
        ann, bo = enrol(site.admin, "Ann"), enrol(site.admin, "Bo", start=5)
        grant(site, ann), grant(site, bo)
        backup.backup(server.config.database, tmp_path / "backup.db")
        for changes in ({"active": False}, {"active": True, "valid_until": server.clock.now() + DAY_S}):
            assert site.admin.patch(f"/api/v1/people/{ann['person_id']}", json=changes).status_code == 200
        assert site.admin.patch(f"/api/v1/people/{bo['person_id']}", json={"active": False}).status_code == 200
    report, restarted = restart(tmp_path, server)
    assert sorted(entry.ident for entry in report.reapplied) == sorted([ann["person_id"], bo["person_id"]])
    with restarted as server:
        site.door.server = server
        (user,) = site.door.fetch().users
        assert user.user_id == ann["person_id"] and user.valid_until == server.clock.now() + DAY_S


def test_a_template_deleted_by_retention_after_the_backup_stays_deleted(tmp_path) -> None:
    retention = {"retention_days": 100.0, "retention_warning_days": 10.0, "session_s": 1e9}
    with running_server(tmp_path, **retention) as server:
        site = make_site(server)
        idle = enrol(site.admin, "Idle")
        grant(site, idle)
        backup.backup(server.config.database, tmp_path / "backup.db")
        server.clock.advance(95 * DAY_S)
        wait_until(lambda: site.admin.get("/api/v1/retention").json())
        server.clock.advance(10 * DAY_S)
        wait_until(lambda: not site.admin.get(f"/api/v1/people/{idle['person_id']}").json()["fingers"])
    report, restarted = restart(tmp_path, server, **retention)
    assert [(e.kind, e.ident, e.actor) for e in report.reapplied] == [
        ("finger.deleted", idle["finger_ids"][0], "server:retention")]
    with restarted as server:
        site.door.server = server
        assert [u.fingers for u in site.door.fetch().users] == [()]


def test_a_revocation_whose_ledger_entry_cannot_be_written_is_refused_and_changes_nothing(tmp_path) -> None:
    with running_server(tmp_path) as server:
        site = make_site(server)
        alice = enrol(site.admin, "Alice")
        grant(site, alice)
        before = site.door.fetch()
        ledger = server.config.removal_ledger_path
        ledger.unlink(missing_ok=True)
        ledger.mkdir()  # unwritable, even for root
        refused = site.admin.delete(f"/api/v1/people/{alice['person_id']}")
        assert refused.status_code == 503 and str(ledger) in refused.json()["detail"]
        refused = site.admin.patch(f"/api/v1/people/{alice['person_id']}", json={"active": False})
        assert refused.status_code == 503
        assert site.admin.get(f"/api/v1/people/{alice['person_id']}").json()["active"] is True
        assert site.door.fetch().version == before.version  # nothing committed, nothing rebuilt


def test_a_line_torn_by_a_crash_is_cut_off_and_a_damaged_line_refuses_the_restore(tmp_path) -> None:
    ledger = RemovalLedger(tmp_path / "removals.ledger")
    ledger.record("grant.revoked", "g_1", 1.0, "test")
    with open(ledger.path, "ab") as handle:
        handle.write(b'{"kind": "grant.rev')  # the writer died here, before its commit
    assert [e.ident for e in ledger.entries()] == ["g_1"]
    ledger.record("finger.deleted", "f_1", 2.0, "test")
    assert [e.ident for e in ledger.entries()] == ["g_1", "f_1"]
    assert oct(os.stat(ledger.path).st_mode & 0o777) == "0o600"
    lines = ledger.path.read_text().splitlines()
    ledger.path.write_text("\n".join([lines[0], "not json", lines[1]]) + "\n")
    with pytest.raises(LedgerError, match=r"removals.ledger, line 2: not a ledger entry"):
        ledger.entries()


def test_a_damaged_ledger_refuses_the_restore_before_the_database_changes(tmp_path) -> None:
    with running_server(tmp_path) as server:
        site = make_site(server)
        backup.backup(server.config.database, tmp_path / "backup.db")
        enrol(site.admin, "After the backup")
    with server.config.removal_ledger_path.open("a") as handle:
        handle.write(json.dumps({"kind": "person.vanished", "id": "u_1", "at": 0, "actor": "x", "values": {}}) + "\n")
    with pytest.raises(LedgerError, match=r"line \d+: not a ledger entry \(KeyError: 'person.vanished'\)"):
        backup.restore(tmp_path / "backup.db", tmp_path / "doorward.server.store.db", server.ctx.ledger)
    with running_server(tmp_path, keys=server.keys) as server:
        with httpx.Client(base_url=server.url, trust_env=False) as client:
            assert client.get("/api/v1/health").status_code == 200
        names = [row[0] for row in server.ctx.read().execute("SELECT name FROM users")]
        assert names == ["After the backup"]  # the database was left as it was


def test_a_restore_that_fails_while_preparing_leaves_the_database_as_it_was(tmp_path, monkeypatch) -> None:
    """The backup is prepared in a scratch file and copied over the database in one step
    only when ready: the bare backup, without the ledger re-applied, never lands."""
    with running_server(tmp_path) as server:
        site = make_site(server)
        backup.backup(server.config.database, tmp_path / "backup.db")
        enrol(site.admin, "After the backup")

    def crash(conn, entries):
        conn.execute("DELETE FROM users")  # half done when it fails
        raise OSError("disk gone")

    monkeypatch.setattr(backup, "reapply", crash)
    with pytest.raises(OSError, match="disk gone"):
        backup.restore(tmp_path / "backup.db", tmp_path / "doorward.server.store.db", server.ctx.ledger)
    assert not list(tmp_path.glob("doorward.server.store.db.restoring*"))
    with running_server(tmp_path, keys=server.keys) as server:
        assert [row[0] for row in server.ctx.read().execute("SELECT name FROM users")] == ["After the backup"]

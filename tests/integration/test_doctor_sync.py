"""Doctor's link and journal checks, against a real server on loopback and real journals."""

from __future__ import annotations

import dataclasses
import socket
import sqlite3
from pathlib import Path

from doorward.daemon.commands.doctor.system import DoctorContext
from doorward.daemon.commands.doctor.probe import Status, SystemProbe
from doorward.daemon.commands.doctor.sync import journal_check, server_check
from doorward.daemon.journal.store import EventJournal
from doorward.daemon.sync.pairing import PairingRequest, pair
from tests.support.server import R307, running_server


def context(state_dir: Path) -> DoctorContext:
    return DoctorContext(probe=SystemProbe(), hardware=None, is_pi=False, state_dir=str(state_dir))


def paired(server):  # noqa: ANN001, ANN201
    admin = server.add_admin("root")
    site = admin.post("/api/v1/sites", json={"name": "HQ", "time_zone": "UTC"}).json()["id"]
    zone = admin.post("/api/v1/zones", json={"site_id": site, "name": "Z"}).json()["id"]
    door = admin.post("/api/v1/doors", json={"name": "D", "site_id": site, "zone_id": zone,
                                             "module_identity": R307, "capacity": 10}).json()["id"]
    code = admin.post(f"/api/v1/doors/{door}/pairing-codes").json()["code"]
    return pair(PairingRequest(server.url, code, server.keys.fingerprint, R307))


def test_server_check_ok_fail_and_warn(tmp_path: Path) -> None:
    with running_server(tmp_path) as server:
        credentials = paired(server)
        assert server_check(lambda c: credentials)(context(tmp_path)).status is Status.OK
        other = dataclasses.replace(credentials, server_key_fingerprint="0000:" * 7 + "0000")
        result = server_check(lambda c: other)(context(tmp_path))
        assert result.status is Status.FAIL and "pair the door again" in result.fix
    sock = socket.create_server(("127.0.0.1", 0))
    gone = dataclasses.replace(credentials, server_url=f"http://127.0.0.1:{sock.getsockname()[1]}")
    sock.close()
    assert server_check(lambda c: gone)(context(tmp_path)).status is Status.WARN
    unpaired = server_check(lambda c: None)(context(tmp_path))
    assert unpaired.status is Status.WARN and "doorward pair" in unpaired.fix


def append(journal: EventJournal, n: int) -> None:
    for i in range(n):
        journal.append("access_granted", {"i": i}, wall_now=1e9 + i, wall_trusted=True,
                       mono_now=float(i), boot_id="b")


def test_journal_check_reads_a_copy_and_verifies_the_chain(tmp_path: Path) -> None:
    assert journal_check(context(tmp_path)).status is Status.WARN  # not created yet
    journal = EventJournal(tmp_path / "journal.db", "door-1")
    append(journal, 5)
    journal.acknowledge(2)
    result = journal_check(context(tmp_path))
    assert result.status is Status.OK and "3 not yet uploaded" in result.detail
    before = sorted(p.name for p in tmp_path.iterdir())
    journal_check(context(tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing created beside it
    journal.close()
    conn = sqlite3.connect(tmp_path / "journal.db")
    conn.execute("""UPDATE events SET record = replace(record, '"i":3', '"i":9') WHERE seq = 4""")
    conn.commit()
    conn.close()
    broken = journal_check(context(tmp_path))
    assert broken.status is Status.FAIL and "seq 4" in broken.detail


def test_journal_check_fails_on_a_damaged_file(tmp_path: Path) -> None:
    (tmp_path / "journal.db").write_bytes(b"not a database" * 100)
    assert journal_check(context(tmp_path)).status is Status.FAIL


def test_journal_check_names_a_deleted_and_an_unreadable_record_and_keeps_the_file(
        tmp_path: Path) -> None:  # fmt: skip
    journal = EventJournal(tmp_path / "journal.db", "door-1")
    append(journal, 6)
    journal.close()
    conn = sqlite3.connect(tmp_path / "journal.db")
    conn.execute("DELETE FROM events WHERE seq = 3")
    conn.execute("UPDATE events SET record = 'not json {' WHERE seq = 5")
    conn.commit()
    conn.close()
    result = journal_check(context(tmp_path))
    assert result.status is Status.FAIL
    assert "record 3 missing" in result.detail and "record 5 unreadable" in result.detail
    assert "aside" not in result.fix.replace("sets an unreadable journal aside itself", "")
    assert "security" in result.fix


def test_server_check_uses_the_configured_ca_file(tmp_path: Path) -> None:
    """The check talks to the server as the daemon does: with ``[server] ca_file`` (it used
    the system's store, so a door on a private CA showed as unreachable while it synced)."""
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate\n")
    with running_server(tmp_path) as server:
        credentials = paired(server)
        checked = dataclasses.replace(context(tmp_path), ca_file=str(bad))
        result = server_check(lambda c: credentials)(checked)
    assert result.status is Status.WARN and "ca.pem cannot be used" in result.detail

"""Promises 2 and 17 across processes: ``doorward run`` (its own process, on the simulated
hub and module) and the server on loopback. A deleted and a corrupted journal record, and a
wiped journal file, stop nothing: later events (a forced opening) still reach the server,
and each loss raises one ``journal_loss`` alarm naming it, within one sync interval (the
door runs the default 30 s). A forced opening and a reader housing opened and closed give
exactly one forced and one tamper alarm at the server, each with its end recorded."""

from __future__ import annotations

import dataclasses
import signal
import sqlite3
import time
from pathlib import Path

import pytest

from doorward.daemon.storage.credentials import load_credentials, write_credentials
from doorward.server.clock import ManualClock
from tests.support.daemon import CONTACT, SimulatedDoor, door_factory, wait_until  # noqa: F401
from tests.support.server import running_server

pytestmark = pytest.mark.serial_timing
TAMPER = 24
SYNC_INTERVAL_S = 30.0  # the policy default, which these doors run
TAMPER_CONFIG = '\n[hardware.tamper]\npin = 24\nactive = "high"\n'
UNREACHABLE = "http://127.0.0.1:9"  # the discard port: refused at once on loopback


@pytest.fixture
def server(tmp_path: Path):
    with running_server(tmp_path, clock=ManualClock(time.time() - 5)) as server:
        yield server


def start(door: SimulatedDoor, online: bool = True) -> dict:
    door.start_daemon()
    return door.wait_status(lambda s: s["sync"].get("online") == online, 30,
                            "sync " + ("online" if online else "offline"))


def stop(door: SimulatedDoor) -> None:
    door.process.send_signal(signal.SIGTERM)
    assert door.process.wait(10) == 0


def forced_opening(door: SimulatedDoor) -> None:
    door.hub.control.drive(CONTACT, 1)
    door.wait_status(lambda s: s["door"]["forced"], 5, "forced open")
    door.hub.control.drive(CONTACT, 0)
    door.wait_status(lambda s: not s["door"]["forced"] and not s["door"]["contact_open"], 5,
                     "door closed")


def journal_rows(door: SimulatedDoor) -> list[tuple[int, str]]:
    with sqlite3.connect(door.state_dir / "journal.db") as conn:
        return conn.execute("SELECT seq, record FROM events ORDER BY seq").fetchall()


def seq_of(door: SimulatedDoor, fragment: str) -> int:
    return next(seq for seq, record in journal_rows(door) if fragment in record)


def damage(door: SimulatedDoor, sql: str, seq: int) -> None:
    with sqlite3.connect(door.state_dir / "journal.db") as conn:
        conn.execute(sql, (seq,))


def alarms(server, door: SimulatedDoor, kind: str) -> list[dict]:  # noqa: ANN001
    listed = door.admin.get("/api/v1/alarms", params={"limit": 1000}).json()
    return [a for a in listed if a["kind"] == kind and a["device_id"] == door.door_id]


def test_a_deleted_and_a_corrupted_record_stop_nothing(door_factory, server) -> None:  # noqa: F811
    door = door_factory()
    door.pair_in_process(server)
    paired = load_credentials(door.credential)
    write_credentials(dataclasses.replace(paired, server_url=UNREACHABLE), door.credential)
    start(door, online=False)  # the server is out of reach: every record stays unacknowledged
    forced_opening(door)
    stop(door)
    deleted = seq_of(door, '"alarm":"forced_open"')  # the forced-open alarm itself
    corrupted = seq_of(door, '"kind":"door_closed"')
    damage(door, "DELETE FROM events WHERE seq = ?", deleted)
    damage(door, "UPDATE events SET record = '{\"door_id\": \"trunc' WHERE seq = ?", corrupted)
    write_credentials(paired, door.credential)
    started = time.monotonic()
    start(door)
    losses = wait_until(lambda: len(alarms(server, door, "journal_loss")) == 2
                      and alarms(server, door, "journal_loss"), SYNC_INTERVAL_S, "loss alarms")
    assert time.monotonic() - started < SYNC_INTERVAL_S
    named = sorted((a["detail"]["from_seq"], a["detail"]["to_seq"], a["detail"]["reason"])
                   for a in losses)
    assert named == sorted([(deleted, deleted, "missing"), (corrupted, corrupted, "unreadable")])
    forced_opening(door)  # later events still arrive
    forced = wait_until(lambda: alarms(server, door, "forced"), 10, "the forced alarm")
    status = door.wait_status(lambda s: s["sync"]["online"], 10, "online")
    assert status["sync"]["last_error"] is None
    assert "journal_loss" in {alarm["alarm"] for alarm in status["recent_alarms"]}
    events = door.doorward("events")
    assert events.returncode == 1 and "Traceback" not in events.stderr
    assert f"record {deleted + 1} follows {deleted - 1}; declared lost (missing)" in events.stderr
    time.sleep(1.0)
    assert len(alarms(server, door, "journal_loss")) == 2 and len(forced) == 1


def test_a_wiped_journal_is_declared_and_later_events_arrive(door_factory, server) -> None:  # noqa: F811
    door = door_factory()
    door.pair_in_process(server)
    start(door)
    door.wait_status(lambda s: s["sync"]["events_acknowledged"] > 0, 10, "events acknowledged")
    stop(door)
    journal = door.state_dir / "journal.db"
    with sqlite3.connect(journal) as conn:
        old_id, acked = conn.execute("SELECT journal_id, acked_seq FROM meta").fetchone()
    assert acked > 0
    journal.write_bytes(b"")  # wiped: zero length
    for side in ("-wal", "-shm"):
        journal.with_name(journal.name + side).unlink(missing_ok=True)
    started = time.monotonic()
    start(door)
    [loss] = wait_until(lambda: alarms(server, door, "journal_loss"), SYNC_INTERVAL_S, "loss alarm")
    assert time.monotonic() - started < SYNC_INTERVAL_S
    detail = loss["detail"]
    assert (detail["journal_id"], detail["from_seq"], detail["to_seq"], detail["reason"]) == \
        (old_id, acked + 1, None, "journal_wiped")
    assert detail["declared_by"]["seq"] == 1  # the new chain's first record
    # An upload in flight at the stop may have reached the server unacknowledged: the
    # server says how much of the declared range it holds after all.
    assert detail["server_holds"] == detail["server_last_seq"] - acked >= 0
    forced_opening(door)
    wait_until(lambda: alarms(server, door, "forced"), 10, "the forced alarm")
    time.sleep(1.0)
    assert len(alarms(server, door, "journal_loss")) == 1  # not a second, undeclared one


def test_one_forced_opening_and_one_housing_open_close_give_one_alarm_each(
        door_factory, server) -> None:  # noqa: F811
    door = door_factory()
    with door.config_path.open("a") as config:
        config.write(TAMPER_CONFIG)
    door.hub.control.drive(TAMPER, 0)  # the housing closed
    door.pair_in_process(server)
    start(door)
    forced_opening(door)
    door.hub.control.drive(TAMPER, 1)
    door.wait_status(lambda s: s["door"]["tamper"], 5, "tamper")
    door.hub.control.drive(TAMPER, 0)
    door.wait_status(lambda s: not s["door"]["tamper"], 5, "housing closed")

    def ended() -> bool:
        found = alarms(server, door, "forced") + alarms(server, door, "tamper")
        return len(found) >= 2 and all(a["ended_at"] is not None for a in found)

    wait_until(ended, 10, "both alarms raised and ended")
    time.sleep(1.0)  # a duplicate would have arrived with the same batches
    forced, tamper = alarms(server, door, "forced"), alarms(server, door, "tamper")
    assert len(forced) == 1 and len(tamper) == 1
    assert forced[0]["end_event"]["event_kind"] == "forced_cleared"
    assert tamper[0]["end_event"]["event_kind"] == "tamper"

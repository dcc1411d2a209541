"""``doorward run`` end to end: its own process, the module simulator on a pty, the hub, the
server on loopback. Grants and denials with the relay's timeline from the hub, the lying
module, a silent module, no listening socket, ``status``/``sync``/``events``."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from doorward.daemon.storage.status_file import read_status
from doorward.server.clock import ManualClock
from tests.support.daemon import (
    POWER, RELAY, UNLOCK_S, SimulatedDoor, door_factory, wait_until,  # noqa: F401 (fixture)
)
from tests.support.server import running_server

pytestmark = pytest.mark.serial_timing
LIFT_SETTLE_S = 0.4  # the reader polls the touch line every 200 ms while waiting for a lift
TOLERANCE_S = 0.1


@pytest.fixture
def site(tmp_path: Path):
    # The server's clock at the real time, so the door's clock is not before issued_at.
    with running_server(tmp_path, clock=ManualClock(time.time() - 5)) as server:
        yield server


@pytest.fixture
def ready_door(door_factory, site) -> SimulatedDoor:  # noqa: F811
    door = door_factory(power_cycle_after_s=3.0)
    door.pair_in_process(site)
    door.enrol("f-alice")
    door.start_daemon()
    door.wait_ready(30)
    return door


def scan(door: SimulatedDoor, finger_id: str, decisions_before: int) -> dict:
    door.place(finger_id)
    status = door.wait_status(lambda s: len(s["last_decisions"]) > decisions_before, 10,
                              f"a decision for {finger_id}")
    door.lift()
    time.sleep(LIFT_SETTLE_S)
    return status["last_decisions"][-1]


def events(door: SimulatedDoor) -> str:
    result = door.doorward("events")
    assert result.returncode == 0, result.stderr
    assert "chain OK" in result.stderr
    return result.stdout


def test_a_granted_and_a_denied_scan_move_the_relay_once(ready_door: SimulatedDoor) -> None:
    door = ready_door
    granted = scan(door, "f-alice", 0)
    assert (granted["kind"], granted["reason"]) == ("access_granted", "granted")
    door.hub.control.wait_until(lambda: door.relay_levels() == [0, 1, 0], 5)
    (on_at, _), (off_at, _) = door.hub.control.timeline(RELAY)[-2:]
    assert abs((off_at - on_at) - UNLOCK_S) < TOLERANCE_S
    denied = scan(door, "f-mallory", 1)
    assert (denied["kind"], denied["reason"]) == ("access_denied", "unknown_finger")
    assert door.relay_levels() == [0, 1, 0]
    ring = door.module({"state": True})["led"]
    assert (ring["control"], ring["colour"]) == (2, 1)  # the R503 ring: red flashes
    assert "user" not in str(door.status()["last_decisions"])  # no ids in the status file
    log = events(door)
    assert "access_granted" in log and "access_denied" in log


def test_status_sync_and_no_listening_socket(ready_door: SimulatedDoor) -> None:
    door = ready_door
    status = door.doorward("status")
    assert status.returncode == 0 and "running" in status.stdout, status.stdout + status.stderr
    assert door.doorward("sync").returncode == 0
    wait_until(lambda: "sync requested" in door.log_text(), 5, "SIGUSR1 handled")
    assert listening_sockets(door.process.pid) == []


def listening_sockets(pid: int) -> list[str]:
    """The process's own TCP sockets in LISTEN state and any UDP socket it holds."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = fd.readlink().name
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:["):-1])
    found = []
    for table in ("tcp", "tcp6", "udp", "udp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            listening = table.startswith("udp") or fields[3] == "0A"
            if fields[9] in inodes and listening:
                found.append(f"{table} {fields[1]}")
    assert inodes, "the daemon holds sockets (hub, server): the check must see them"
    return found


def test_a_lying_module_is_caught(ready_door: SimulatedDoor) -> None:
    door = ready_door
    door.module({"lie": {"page": 5, "score": 200}})  # a page the slot map holds as empty
    empty = scan(door, "f-alice", 0)
    assert (empty["kind"], empty["reason"]) == ("access_denied", "tamper_empty_slot")
    door.module({"lie": {"page": 0, "score": 200}})  # Alice's active page, Mallory's finger
    unconfirmed = scan(door, "f-mallory", 1)
    assert (unconfirmed["kind"], unconfirmed["reason"]) == ("access_denied", "tamper_unconfirmed")
    assert door.relay_levels() == [0]
    assert events(door).count('alarm="tamper"') == 2


def test_a_hung_module_is_offline_within_2_s_and_cured_by_the_daemons_power_cycle(
        ready_door: SimulatedDoor) -> None:
    door = ready_door
    pid = door.process.pid
    power_before = door.hub.control.levels(POWER)
    hung_at = time.monotonic()
    # A latch-up: nothing but cutting the module's supply clears it, and the test never
    # touches the module again: only the daemon's power cycle can bring it back.
    assert door.module({"hang": True})["ok"]
    offline = door.wait_status(lambda s: not s["reader"]["online"], 5, "reader offline")
    assert offline["updated_mono"] - hung_at < 2.0
    door.hub.control.wait_until(
        lambda: door.hub.control.levels(POWER) == [*power_before, 0, 1], 8)
    door.wait_status(lambda s: s["reader"]["biometric_ready"], 10, "reader back")
    assert door.module({"state": True})["hung"] is False
    assert door.process.pid == pid and door.process.poll() is None  # no restart
    assert scan(door, "f-alice", 0)["reason"] == "granted"
    log = events(door)
    assert 'alarm="reader_offline"' in log and "module_power_cycled" in log
    assert "reader_online" in log


def test_the_status_file_says_stopped_after_sigterm(ready_door: SimulatedDoor) -> None:
    door = ready_door
    door.process.send_signal(signal.SIGTERM)
    assert door.process.wait(5) == 0
    assert read_status(door.state_dir / "status.json")["state"] == "stopped"
    assert door.doorward("status").returncode == 1

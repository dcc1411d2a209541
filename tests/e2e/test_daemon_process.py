"""``doorward run`` as a process: SIGKILL during an unlock in both kernel modes, SIGTERM within
a second, the systemd notify protocol and a watchdog that stops pinging when the GPIO hangs,
and a door without its credential that still works its exit button."""

from __future__ import annotations

import signal
import socket
import time
from pathlib import Path

import pytest

from doorward.server.clock import ManualClock
from tests.support.daemon import (
    EXIT, RELAY, SimulatedDoor, door_factory, wait_until,  # noqa: F401 (fixture)
)
from tests.support.server import running_server

pytestmark = pytest.mark.serial_timing


def granted_and_unlocked(door: SimulatedDoor, site) -> None:  # noqa: ANN001
    door.pair_in_process(site, unlock_s=5.0)
    door.enrol("f-alice")
    door.start_daemon()
    door.wait_ready(30)
    door.place("f-alice")
    door.hub.control.wait_until(lambda: door.relay_levels() == [0, 1], 5)
    door.lift()


@pytest.fixture
def site(tmp_path: Path):
    with running_server(tmp_path, clock=ManualClock(time.time() - 5)) as server:
        yield server


def test_sigkill_during_an_unlock_strict_mode_relay_safe_at_the_kill_and_after(
        door_factory, site) -> None:  # noqa: F811
    door = door_factory(mode="strict")
    granted_and_unlocked(door, site)
    door.process.kill()
    killed_at = time.monotonic()
    door.process.wait(5)
    door.hub.control.wait_until(lambda: door.relay_levels() == [0, 1, 0], 2)
    assert door.hub.control.timeline(RELAY)[-1][0] - killed_at < 0.5  # released at the kill
    door.start_daemon()
    door.wait_ready(30)
    time.sleep(0.5)
    assert door.relay_levels() == [0, 1, 0]  # and never energised through the restart
    result = door.doorward("events", "--quiet")
    assert result.returncode == 0 and "chain OK" in result.stdout, result.stdout + result.stderr


def test_sigkill_in_persist_mode_is_made_safe_by_relay_safe(door_factory, site) -> None:  # noqa: F811
    door = door_factory(mode="persist")
    granted_and_unlocked(door, site)
    door.process.kill()
    door.process.wait(5)
    time.sleep(0.3)
    assert door.relay_levels() == [0, 1]  # the Pi kernel's default: the line keeps its level
    assert door.doorward("relay-safe").returncode == 0  # what the unit's stop hook runs
    assert door.relay_levels() == [0, 1, 0]
    door.start_daemon()
    door.wait_ready(30)
    assert door.relay_levels() == [0, 1, 0]
    assert door.doorward("events", "--quiet").returncode == 0


class NotifySocket:
    """The test plays systemd: a datagram socket that collects what the daemon sends."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.socket.bind(str(path))
        self.socket.settimeout(0.05)
        self.messages: list[tuple[float, str]] = []

    def collect(self, seconds: float) -> list[str]:
        deadline, got = time.monotonic() + seconds, []
        while time.monotonic() < deadline:
            try:
                data = self.socket.recv(4096).decode()
            except TimeoutError:
                continue
            self.messages.append((time.monotonic(), data))
            got.append(data)
        return got

    def pings(self, seconds: float) -> int:
        return sum(1 for message in self.collect(seconds) if message == "WATCHDOG=1")


def test_notify_watchdog_stall_and_sigterm_within_a_second(door_factory) -> None:  # noqa: F811
    door = door_factory()  # no credential: the door runs degraded, its exit button works
    notify = NotifySocket(door.directory / "notify.sock")
    door.start_daemon(env={"NOTIFY_SOCKET": str(notify.path), "WATCHDOG_USEC": "1000000"})
    wait_until(lambda: any(m.startswith("READY=1") for m in notify.collect(0.2)), 15, "READY=1")
    assert notify.pings(2.0) >= 3
    door.hub.control.fault("stall")  # every GPIO call now hangs until its deadline
    notify.collect(3.5)  # the GPIO read-back goes stale within watchdog_stale_s (3 s)
    assert notify.pings(2.0) == 0
    door.hub.control.fault(None)
    assert notify.pings(3.0) >= 2  # back to life without a restart
    status = door.status()
    assert status["sync"]["enabled"] is False and "credential" in status["sync"]["why"]
    door.hub.control.drive(EXIT, 0)  # the exit button still unlocks
    door.hub.control.wait_until(lambda: door.relay_levels() == [0, 1], 3)
    door.hub.control.drive(EXIT, 1)
    door.process.send_signal(signal.SIGTERM)
    signalled_at = time.monotonic()
    assert door.process.wait(5) == 0
    assert time.monotonic() - signalled_at < 1.0
    assert door.relay_levels() == [0, 1, 0]
    assert door.hub.control.timeline(RELAY)[-1][0] - signalled_at < 1.0
    notify.collect(0.2)
    assert any(message == "STOPPING=1" for _, message in notify.messages)

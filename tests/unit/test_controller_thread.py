"""``Controller`` on its real thread, over the fake GPIO: start, stop, faults, status.

Waits are on the controller's own signals (alarms, the recorded pin history) with deadlines;
the one duration measured here is how long ``stop()`` takes.
"""

from __future__ import annotations

import threading
import time

import pytest

from doorward.sim.rig.processes import wait_until
from doorward.daemon.access.claim import Claim
from doorward.daemon.controller.thread import Controller
from doorward.daemon.controller.events import FingerLifted, ModuleClaim
from doorward.daemon.codec.policy import Policy
from doorward.daemon.controller.clock import FakeClock
from doorward.daemon.controller.sinks import MemoryAlarms, MemoryJournal
from doorward.drivers.gpio.door import DoorHardware
from doorward.sim.rig.access import hit
from tests.unit.test_controller import (
    CONTACT, LED, POLICY, RELAY, WALL, MemoryGpio, access_snapshot, wired_door,
)

pytestmark = pytest.mark.serial_timing  # real threads; only stop() is timed


class Running:
    """A started controller over a fake GPIO, with its sinks."""

    def __init__(self, policy: dict | None = None) -> None:
        self.gpio = MemoryGpio(time.monotonic)
        self.hardware = DoorHardware(self.gpio, wired_door(debounce_ms=20).door_pins())
        self.journal = MemoryJournal()
        self.alarms = MemoryAlarms()
        self.controller = Controller(
            self.hardware, journal=self.journal, alarms=self.alarms,
            clock=FakeClock(WALL), default_policy=Policy.from_mapping(POLICY),
            snapshot=access_snapshot(policy or POLICY))
        self.controller.start()

    def relay_levels(self) -> list[int]:
        return [level for _, level in self.gpio.history[RELAY]]

    def wait_until(self, predicate, timeout_s: float = 3.0) -> None:
        wait_until(predicate, timeout_s, "the controller's expected state")


@pytest.fixture
def running():
    rigs: list[Running] = []

    def make(policy: dict | None = None) -> Running:
        rigs.append(Running(policy))
        return rigs[-1]

    yield make
    for rig in rigs:
        rig.controller.stop()


def test_stop_returns_in_milliseconds_with_long_timers_pending_and_leaves_the_relay_safe(
        running):
    rig = running({"unlock_s": 60.0, "held_open_s": 120.0, "prealarm_s": 10.0})
    rig.controller.post(ModuleClaim(hit("f-alice")))
    rig.wait_until(lambda: rig.relay_levels() == [0, 1])
    started = time.perf_counter()
    rig.controller.stop()
    assert time.perf_counter() - started < 0.1
    assert rig.relay_levels() == [0, 1, 0]
    assert not rig.controller.status().running
    assert not any(t.name == "door-controller" for t in threading.enumerate())


def test_a_grant_runs_through_the_thread_and_relocks(running):
    rig = running()
    rig.controller.post(ModuleClaim(hit("f-alice")))
    rig.wait_until(lambda: rig.relay_levels() == [0, 1, 0])
    # The relay moves first; the journal and the published status follow it.
    rig.wait_until(lambda: len(rig.journal.kinds()) == 3
                 and not rig.controller.status().relay_energised)
    status = rig.controller.status()
    assert (status.running, status.door, status.relay_energised, status.last_reason) == (
        True, "locked", False, "granted")
    assert rig.journal.kinds() == ["access_granted", "unlocked", "relocked"]


def test_a_fault_on_the_thread_makes_the_relay_safe_alarms_and_keeps_running(running):
    rig = running()
    rig.gpio.failing_pins.add(LED)
    rig.controller.post(ModuleClaim(hit("f-alice")))
    assert rig.alarms.wait_for("controller_fault", timeout_s=3.0) is not None
    rig.wait_until(lambda: rig.relay_levels() == [0, 1, 0])
    rig.gpio.failing_pins.clear()
    rig.controller.post(ModuleClaim(hit("f-alice")))
    rig.wait_until(lambda: rig.relay_levels() == [0, 1, 0, 1, 0])
    rig.wait_until(lambda: rig.controller.status().last_reason == "granted")
    assert rig.controller.status().faults == 1


def test_input_edges_arrive_from_the_gpio_callback_and_are_debounced(running):
    rig = running()
    rig.gpio.drive(CONTACT, 1)  # from this thread, as the backend's thread would
    assert rig.alarms.wait_for("forced_open", timeout_s=3.0) is not None
    rig.wait_until(lambda: rig.controller.status().contact_open)


def test_status_counts_the_queue_and_post_refuses_unknown_events(running):
    rig = running()
    with pytest.raises(TypeError):
        rig.controller.post("open sesame")  # type: ignore[arg-type]
    rig.controller.post(ModuleClaim(Claim.unknown()))
    rig.controller.post(FingerLifted())
    rig.wait_until(lambda: rig.controller.status().last_reason == "unknown_finger")
    status = rig.controller.status()
    assert status.queue_depth == 0 and status.alive_at_mono is not None
    assert status.snapshot_version == 7


def test_a_failure_during_start_leaves_the_relay_safe_and_is_raised(monkeypatch):
    gpio = MemoryGpio(time.monotonic)
    hardware = DoorHardware(gpio, wired_door().door_pins())
    controller = Controller(hardware, journal=MemoryJournal(), alarms=MemoryAlarms(),
                            clock=FakeClock(WALL), default_policy=Policy())

    def unreadable(name):
        raise OSError(f"{name.value} cannot be read")

    monkeypatch.setattr(hardware, "is_active", unreadable)
    with pytest.raises(OSError):
        controller.start()
    assert [level for _, level in gpio.history[RELAY]] == [0]

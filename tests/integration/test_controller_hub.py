"""The controller on real threads against the simulated Pi (``sim/pi/hub.py`` as a subprocess).

Every timed assertion is on the hub's own timeline timestamps (CLOCK_MONOTONIC, system-wide
on Linux, so the monotonic stamps of ``MemoryAlarms`` in this process compare with them).
Timelines are compared as whole lists of levels, then their times with a tolerance. The
SIGKILL strict/persist cases live in ``tests/integration/test_hub_process.py``.
"""

from __future__ import annotations

import time

import pytest

from doorward.daemon.controller.thread import Controller
from doorward.daemon.controller.events import ModuleClaim
from doorward.daemon.codec.policy import Policy
from doorward.daemon.controller.clock import FakeClock
from doorward.daemon.controller.sinks import MemoryAlarms, MemoryJournal
from doorward.drivers.gpio import DoorHardware, open_gpio
from doorward.sim.rig.access import hit
from tests.support.hub import hub_factory, process_jar  # noqa: F401  (fixtures, by name)
from tests.unit.test_controller import (
    BUZZER, CONTACT, EXIT, POLICY, QUIET_INPUTS, RELAY, WALL, access_snapshot, wired_door,
)

pytestmark = pytest.mark.serial_timing

SAFE_BOOT = ("gpio=17=op,dl",)
DEBOUNCE_S = 0.05
TOLERANCE_S = 0.02  # promise 4: the pulse is unlock_s ± 20 ms
LATENCY_S = 0.03  # a debounce re-read and a hub round trip, on a busy CI machine


class DoorUnderTest:
    """A controller on the ``sim`` backend, with in-memory sinks and a settable wall clock."""

    def __init__(self, hub) -> None:
        self.hub, self.closed = hub, False
        for pin, level in QUIET_INPUTS.items():
            hub.control.drive(pin, level)
        config = wired_door(int(DEBOUNCE_S * 1000), hub.socket_path)
        self.hardware = DoorHardware(open_gpio(config.backend(), client="controller-test"),
                                     config.door_pins())
        self.journal, self.alarms = MemoryJournal(), MemoryAlarms()
        self.clock = FakeClock(WALL)
        self.controller = Controller(
            self.hardware, journal=self.journal, alarms=self.alarms, clock=self.clock,
            default_policy=Policy.from_mapping(POLICY), snapshot=access_snapshot(POLICY))

    def relay(self) -> list[tuple[float, int]]:
        return self.hub.control.timeline(RELAY)

    def wait_for_levels(self, pin: int, levels: list[int], timeout_s: float = 5.0) -> None:
        self.hub.control.wait_until(lambda: self.hub.control.levels(pin) == levels, timeout_s)

    def last_change(self, pin: int) -> float:
        return self.hub.control.timeline(pin)[-1][0]

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.controller.stop()
            self.hardware.close()


@pytest.fixture
def door(hub_factory):
    doors: list[DoorUnderTest] = []

    def make() -> DoorUnderTest:
        doors.append(DoorUnderTest(hub_factory("strict", SAFE_BOOT)))
        return doors[-1]

    yield make
    for each in doors:
        each.close()


def pulse_lengths(timeline: list[tuple[float, int]]) -> list[float]:
    """Energised spans of a relay timeline that starts de-energised."""
    changes = [t for t, _ in timeline[1:]]
    return [off - on for on, off in zip(changes[::2], changes[1::2])]


def test_relay_de_energised_from_power_on_through_setup_and_stop(door):
    dut = door()
    assert dut.hub.control.levels(RELAY) == [0]  # power-on pull-down, then gpio=17=op,dl
    dut.controller.start()
    assert dut.hub.control.pin_state(RELAY)["mode"] == "out"
    dut.close()  # stop, then the line released by the strict rule: input, pulled down
    assert dut.hub.control.levels(RELAY) == [0]


def test_a_grant_energises_the_relay_for_unlock_s(door):
    dut = door()
    dut.controller.start()
    dut.controller.post(ModuleClaim(hit("f-alice")))
    dut.wait_for_levels(RELAY, [0, 1, 0])
    assert pulse_lengths(dut.relay()) == [pytest.approx(0.3, abs=TOLERANCE_S)]
    # The relay moves before the journal hears of it: wait for the entry, never the reverse.
    dut.hub.control.wait_until(lambda: len(dut.journal.kinds()) == 3)
    assert dut.journal.kinds() == ["access_granted", "unlocked", "relocked"]


@pytest.mark.parametrize("jump_s", [3600.0, -3600.0])
def test_a_wall_clock_jump_during_an_unlock_leaves_the_pulse_at_unlock_s(door, jump_s):
    dut = door()
    dut.controller.start()
    dut.controller.post(ModuleClaim(hit("f-alice")))
    dut.wait_for_levels(RELAY, [0, 1])
    dut.clock.advance(jump_s)  # mid-unlock: the controller's wall clock moves by an hour
    dut.wait_for_levels(RELAY, [0, 1, 0])
    assert pulse_lengths(dut.relay()) == [pytest.approx(0.3, abs=TOLERANCE_S)]


def test_forced_open_is_raised_within_one_second_of_the_contact_opening(door):
    dut = door()
    dut.controller.start()
    dut.hub.control.drive(CONTACT, 1)
    raised_at = dut.alarms.wait_for("forced_open", timeout_s=2.0)
    opened_at = dut.last_change(CONTACT)
    assert raised_at is not None
    assert DEBOUNCE_S - 0.005 <= raised_at - opened_at < 1.0
    assert dut.hub.control.levels(RELAY) == [0]


def test_held_open_prealarm_and_alarm_at_the_configured_times(door):
    dut = door()
    dut.controller.start()
    dut.hub.control.drive(EXIT, 0)  # pressed: an authorised exit
    dut.wait_for_levels(RELAY, [0, 1])
    dut.hub.control.drive(EXIT, 1)
    dut.hub.control.drive(CONTACT, 1)  # ... and the door is left open
    opened_at = dut.last_change(CONTACT) + DEBOUNCE_S  # held-open counts from the debounced open
    raised_at = dut.alarms.wait_for("held_open", timeout_s=3.0)
    dut.wait_for_levels(BUZZER, [0, 1, 0, 1])
    buzzer = dut.hub.control.timeline(BUZZER)
    beeps = [round(t - opened_at, 3) for t, _ in buzzer[1:]]
    assert beeps == [pytest.approx(at, abs=LATENCY_S) for at in (0.3, 0.4, 0.6)]
    assert raised_at - opened_at == pytest.approx(0.6, abs=LATENCY_S)
    assert dut.hub.control.levels(RELAY) == [0, 1, 0]
    dut.hub.control.drive(CONTACT, 0)
    dut.wait_for_levels(BUZZER, [0, 1, 0, 1, 0])


def test_contact_glitches_shorter_than_the_debounce_are_ignored(door):
    dut = door()
    dut.controller.start()
    dut.hub.control.drive(CONTACT, 1)
    time.sleep(0.01)
    dut.hub.control.drive(CONTACT, 0)
    (_, _), (up_at, _), (down_at, _) = dut.hub.control.timeline(CONTACT)
    assert down_at - up_at < DEBOUNCE_S  # the glitch really was shorter than the debounce
    assert dut.alarms.wait_for("forced_open", timeout_s=4 * DEBOUNCE_S) is None
    assert not dut.controller.status().contact_open
    dut.hub.control.drive(CONTACT, 1)  # a real opening, for contrast, is seen
    assert dut.alarms.wait_for("forced_open", timeout_s=2.0) is not None
    assert dut.hub.control.levels(RELAY) == [0]

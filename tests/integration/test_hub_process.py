"""The simulated Pi's hub as a real subprocess, driven through the daemon's ``sim`` backend.

Times are compared only against the hub's own timestamps (CLOCK_MONOTONIC is system-wide, so
a kill instant taken here is comparable with them).
"""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from doorward.daemon.config.loader import load_config
from doorward.drivers.gpio import DoorHardware, DoorInput, GpioTimeout, HubUnavailable, open_gpio
from doorward.drivers.gpio.sim import SimGpio
from tests.support.hub import (  # noqa: F401  (the fixtures are used by name)
    hub_factory,
    process_jar,
    run_doorward,
    spawn_relay_holder,
    write_config,
)

RELAY = 17
SAFE_BOOT = ("gpio=17=op,dl",)


def open_door(hub, tmp_path, timeout_s: float = 2.0) -> DoorHardware:
    hardware = load_config(write_config(tmp_path / "doorward.toml", hub.socket_path,
                                        timeout_s=timeout_s)).hardware
    door = DoorHardware(open_gpio(hardware.backend(), client="test-daemon"), hardware.door_pins())
    door.setup()
    return door


def test_relay_stays_de_energised_from_power_on_through_configuration(hub_factory, tmp_path):
    hub = hub_factory("strict", SAFE_BOOT)
    door = open_door(hub, tmp_path)
    assert hub.control.levels(RELAY) == [0]  # power-on, firmware line, setup: no glitch
    assert hub.control.pin_state(RELAY)["mode"] == "out"
    door.set_relay(True)
    door.close()
    assert hub.control.levels(RELAY) == [0, 1, 0]


def test_a_declared_active_low_relay_is_held_high_through_boot_and_release(hub_factory,
                                                                          tmp_path):
    hub = hub_factory("strict", ("gpio=4=op,dh",))
    config = write_config(tmp_path / "c.toml", hub.socket_path, relay_pin=4,
                          active_low_relay=True)
    hardware = load_config(config).hardware
    door = DoorHardware(open_gpio(hardware.backend()), hardware.door_pins())
    door.setup()
    door.set_relay(True)
    door.gpio.close()  # released without de-energising: the boot pull-up does it
    hub.control.wait_until(lambda: hub.control.level(4) == 1)
    assert hub.control.levels(4) == [1, 0, 1]


def test_firmware_lines_apply_at_start(hub_factory):
    hub = hub_factory("persist", ("gpio=4=op,dh", "gpio=20=ip,pu", "gpio=17=op,dl"))
    states = hub.control.state()["pins"]
    assert (states["4"]["mode"], states["4"]["level"]) == ("out", 1)
    assert (states["20"]["mode"], states["20"]["level"], states["20"]["pull"]) == ("in", 1, "up")
    assert (states["17"]["mode"], states["17"]["level"]) == ("out", 0)
    assert (states["9"]["mode"], states["9"]["level"]) == ("in", 0)


def test_reboot_reapplies_power_on_defaults_and_firmware_lines(hub_factory, tmp_path):
    hub = hub_factory("persist", SAFE_BOOT)
    door = open_door(hub, tmp_path)
    door.set_relay(True)
    hub.control.reboot()
    assert hub.control.pin_state(RELAY) == {"mode": "out", "level": 0, "pull": "down",
                                            "owner": None}
    assert hub.control.pin_state(27)["pull"] == "down"  # the daemon's pull-up is gone
    assert hub.control.levels(RELAY) == [0, 1, 0]
    with pytest.raises(HubUnavailable):  # the daemon died with the Pi
        door.set_relay(True)
    door.gpio.close()


def test_sigkill_in_strict_mode_returns_the_relay_to_safe_at_the_kill(hub_factory, process_jar,
                                                                      tmp_path):
    hub = hub_factory("strict", SAFE_BOOT)
    holder = spawn_relay_holder(process_jar, write_config(tmp_path / "c.toml", hub.socket_path))
    assert hub.control.level(RELAY) == 1
    killed_at = time.monotonic()
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    hub.control.wait_until(lambda: hub.control.level(RELAY) == 0)
    (energised_at, _), (released_at, level) = hub.control.timeline(RELAY)[-2:]
    assert level == 0 and energised_at < killed_at <= released_at < killed_at + 2.0
    assert hub.control.pin_state(RELAY)["mode"] == "in"


def test_sigkill_in_persist_mode_keeps_the_relay_until_relay_safe(hub_factory, process_jar,
                                                                  tmp_path):
    hub = hub_factory("persist", SAFE_BOOT)
    config = write_config(tmp_path / "c.toml", hub.socket_path)
    holder = spawn_relay_holder(process_jar, config)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    hub.control.wait_until(lambda: hub.control.pin_state(RELAY)["owner"] is None)
    assert hub.control.level(RELAY) == 1  # the kernel's default: the line keeps its level
    before_hook = time.monotonic()
    result = run_doorward("relay-safe", "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert hub.control.levels(RELAY) == [0, 1, 0]
    assert hub.control.timeline(RELAY)[-1][0] > before_hook
    assert hub.control.pin_state(RELAY) == {"mode": "out", "level": 0, "pull": "down",
                                            "owner": None}


def test_relay_safe_in_strict_mode_leaves_the_line_safe(hub_factory, tmp_path):
    hub = hub_factory("strict", SAFE_BOOT)
    config = write_config(tmp_path / "c.toml", hub.socket_path)
    result = run_doorward("relay-safe", env={"DOORWARD_CONFIG": str(config)})
    assert result.returncode == 0, result.stderr
    assert hub.control.levels(RELAY) == [0]


def test_a_stalled_hub_times_out_gpio_calls_while_control_still_works(hub_factory):
    hub = hub_factory("strict", SAFE_BOOT)
    gpio = SimGpio(hub.socket_path, timeout_s=0.3, client="stalled-daemon")
    gpio.setup_input(22, "up")
    hub.control.fault("stall")
    with pytest.raises(GpioTimeout, match="did not answer 'input' of pin 22 within 0.3 s"):
        gpio.read(22)
    hub.control.drive(22, 0)
    assert hub.control.state()["fault"] == "stall"
    hub.control.fault(None)
    assert gpio.read(22) == 0  # the late reply to the timed-out call is skipped, not returned
    gpio.close()


def test_a_client_gone_during_a_stalled_call_still_releases_its_lines(hub_factory):
    hub = hub_factory("strict", SAFE_BOOT)
    gpio = SimGpio(hub.socket_path, timeout_s=0.2, client="hung-daemon")
    gpio.setup_output(RELAY, 1)
    hub.control.fault("stall")
    with pytest.raises(GpioTimeout):
        gpio.write(RELAY, 0)  # hangs in the hub, still pending there
    closed_at = time.monotonic()
    gpio.close()
    hub.control.wait_until(lambda: hub.control.level(RELAY) == 0)
    assert hub.control.state()["fault"] == "stall"
    hub.control.fault(None)  # the dropped request never runs: no write after the release
    assert hub.control.timeline(RELAY)[-1][0] >= closed_at
    assert hub.control.pin_state(RELAY)["mode"] == "in"


def test_relay_safe_against_a_stalled_hub_fails_clearly(hub_factory, tmp_path):
    hub = hub_factory("strict", SAFE_BOOT)
    config = write_config(tmp_path / "c.toml", hub.socket_path, timeout_s=0.3)
    hub.control.fault("stall")
    result = run_doorward("relay-safe", "--config", str(config))
    assert result.returncode == 1
    assert "relay pin 17 NOT made safe" in result.stderr and "did not answer" in result.stderr


def test_inputs_driven_through_the_hub_read_in_door_terms(hub_factory, tmp_path):
    hub = hub_factory("strict", SAFE_BOOT)
    door = open_door(hub, tmp_path)
    assert door.contact_open()  # nothing wired yet: the pull-up reads as an open door
    hub.control.drive(27, 0)  # NC reed switch closed: door shut
    hub.control.drive(22, 1)  # exit button released
    hub.control.drive(23, 0)  # fire loop closed
    hub.control.drive(5, 1)  # R503 touch line idle
    assert (door.contact_open(), door.exit_pressed(), door.fire_alarm(),
            door.finger_touching()) == (False, False, False, False)
    hub.control.undrive(27)  # door opens: the switch opens and the pull-up wins
    hub.control.drive(22, 0)
    hub.control.undrive(23)  # a cut fire loop is an alarm
    hub.control.drive(5, 0)
    assert (door.contact_open(), door.exit_pressed(), door.fire_alarm(),
            door.finger_touching()) == (True, True, True, True)
    assert not door.tamper() and not door.lockdown_key()  # not fitted
    door.close()


def test_edge_callbacks_arrive_from_the_watch_connection(hub_factory, tmp_path):
    hub = hub_factory("strict", SAFE_BOOT)
    door = open_door(hub, tmp_path)
    heard: list[DoorInput] = []
    both_heard = threading.Event()

    def on_change(door_input: DoorInput) -> None:
        heard.append(door_input)
        if len(heard) == 2:
            both_heard.set()

    door.on_input_change(on_change)
    hub.control.drive(27, 0)
    hub.control.drive(23, 0)
    assert both_heard.wait(5.0)
    assert heard == [DoorInput.DOOR_CONTACT, DoorInput.FIRE_ALARM]
    door.close()

"""``doorward doctor``'s checks that talk to hardware: the module, the pins, the relay click.

``Plugins`` holds every edge these checks use (opening the module, GPIO, the door's secrets,
the binding check, the clock, and the server and journal checks), so tests pass fakes and the
parts built elsewhere plug in by name. Live pin levels come from ``pinctrl get``, which reads
a line without claiming it, so the checks work while the daemon holds the pins.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any, Callable

from doorward.daemon.commands.doctor.system import DoctorContext
from doorward.daemon.commands.module_power import module_supply
from doorward.daemon.commands.doctor.probe import CheckResult, fail, not_a_pi, ok, skipped, warn
from doorward.daemon.errors import DoorwardError

CLICK_S = 0.5
FAST_BAUD_MULTIPLIER, LARGE_PACKET_CODE = 12, 3  # SetSysPara 4: 12 x 9600; 6: 3 = 256 bytes
PINCTRL = re.compile(r"^\s*(\d+):\s*(\w+)\b.*\|\s*(hi|lo)\b")


@dataclass(frozen=True)
class DoorSecrets:
    password: int
    binding_token: bytes


@dataclass
class Plugins:
    """The edges of the hardware checks; each default lives in ``doctor_plugins.py``."""

    open_sensor: Callable[[str, int, int], Any]  # (url, baud, password) -> opened sensor
    door_secrets: Callable[[DoctorContext], DoorSecrets | None]
    check_binding: Callable[[Any, int, bytes], Any] | None  # -> BindingStatus
    clock_synchronised: Callable[[DoctorContext], bool | None]
    open_gpio: Callable[[Any], Any]  # HardwareConfig -> Gpio
    server_check: Callable[[DoctorContext], CheckResult] | None = None
    journal_check: Callable[[DoctorContext], CheckResult] | None = None
    sleep: Callable[[float], None] = time.sleep


def service_active(context: DoctorContext) -> bool:
    result = context.probe.run("systemctl", "is-active", context.unit)
    return result is not None and result.stdout.strip() == "active"


POWER_CHECK = "module power (module_power pin)"


def check_module(context: DoctorContext) -> list[CheckResult]:
    """The module's supply (doctor switches it on: a stopped daemon left it off), then the
    module's answer and its binding, all while the supply is held on."""
    name = "fingerprint module answers"
    if context.notes.get("uart_node") is None:
        return [skipped(POWER_CHECK, "needs the serial port"), skipped(name, "needs the serial port")]
    if service_active(context):
        held = f"{context.unit} owns the UART and the pins; stop it to test the module"
        return [skipped(POWER_CHECK, held), skipped(name, held)]
    try:
        with module_supply(context.hardware, context.plugins.open_gpio,
                           context.plugins.sleep) as supply:
            power = (skipped if supply.pin is None else ok)(POWER_CHECK, supply.describe())
            return [power, *_module_answers(context, name, supply.pin)]
    except DoorwardError as error:  # the supply could not be switched on
        return [fail(POWER_CHECK, str(error), "check the GPIO backend in [hardware] and that "
                     "the service user is in group gpio (docs/wiring.md)"),
                fail(name, "not tried: the module is unpowered", "fix its power first (above)")]


def _module_answers(context: DoctorContext, name: str, power_pin: int | None) -> list[CheckResult]:
    secrets = context.plugins.door_secrets(context)
    password = secrets.password if secrets else 0
    try:
        sensor = context.plugins.open_sensor(context.serial_device, context.baud, password)
    except (DoorwardError, OSError) as error:
        return [fail(name, f"no answer at {context.baud} baud: {error}",
                     _wiring_fix(context, power_pin))]
    with sensor:
        identity, capacity = sensor.module_identity(), sensor.params.capacity
        results = [ok(name, f"{identity}, {capacity} slots, {sensor.params.packet_size}-byte "
                            f"packets")]
        results.append(_binding_result(context, sensor, secrets))
    return results


def _wiring_fix(context: DoctorContext, power_pin: int | None = None) -> str:
    supply = (f"its supply switch (module_power, BCM {power_pin}, is on now)" if power_pin is not None
              else "its 3.3 V supply")
    return (f"the module is silent: check {supply}, the wiring (Pi TXD pin 8 -> module RX, "
            f"RXD pin 10 <- module TX, GND), the module's baud ({context.baud} in [module]) "
            "and docs/wiring.md")


def _binding_result(context: DoctorContext, sensor: Any, secrets: DoorSecrets | None) -> CheckResult:
    name = "module bound to this door (password and notepad)"
    if secrets is None:
        return fail(name, "the door is not paired, so the module is not bound",
                    "pair the door: `sudo doorward pair --systemd-creds ...`")
    if context.plugins.check_binding is None:
        return skipped(name, "the binding check is not available in this build")
    status = context.plugins.check_binding(sensor, secrets.password, secrets.binding_token)
    if getattr(status, "name", str(status)) == "BOUND":
        return ok(name, "the module takes our password and holds our notepad token")
    return fail(name, f"module is {getattr(status, 'value', status)}: a swapped, new or "
                      "tampered module", "check the reader; for a replaced module re-pair "
                      "or let the daemon bind it (docs/install.md#4-pair)")


def pin_level(context: DoctorContext, pin: int) -> tuple[str, int] | None:
    """(function, level) of ``pin`` from ``pinctrl get``, or None when it cannot be read."""
    result = context.probe.run("pinctrl", "get", str(pin))
    match = PINCTRL.match(result.stdout) if result and result.returncode == 0 else None
    if match is None or int(match.group(1)) != pin:
        return None
    return match.group(2), 1 if match.group(3) == "hi" else 0


def check_relay_level(context: DoctorContext) -> CheckResult:
    name = "relay pin level now"
    if not context.is_pi:
        return not_a_pi(name)
    if context.hardware is None:
        return skipped(name, "needs a valid configuration")
    relay = context.hardware.relay
    reading = pin_level(context, relay.pin)
    if reading is None:
        return warn(name, f"cannot read pin {relay.pin}", "`sudo apt install raspi-utils` (pinctrl)")
    function, level = reading
    detail = f"pin {relay.pin}: {function}, {'high' if level else 'low'}"
    if level == relay.safe_level:
        return ok(name, f"{detail} (de-energised)")
    if service_active(context):
        return warn(name, f"{detail}: energised (an unlock in progress?)", "run doctor again")
    return fail(name, f"{detail}: ENERGISED with no daemon running",
                "`sudo doorward relay-safe` now; then check the driver's pull-down and config.txt")


def check_inputs(context: DoctorContext) -> list[CheckResult]:
    """The door contact and exit button as they read now: open/close and press to see them move."""
    words = {"door_contact": ("door contact", "OPEN", "closed"),
             "exit_button": ("exit button", "PRESSED", "released")}
    return [_read_input(context, key, *text) for key, text in words.items()]


def _read_input(context: DoctorContext, key: str, label: str, active: str, idle: str) -> CheckResult:
    name = f"{label} (live)"
    if not context.is_pi:
        return not_a_pi(name)
    item = context.hardware.inputs().get(key) if context.hardware else None
    if item is None:
        return skipped(name, "not fitted in [hardware]")
    reading = pin_level(context, item.pin)
    if reading is None:
        return warn(name, f"cannot read pin {item.pin}", "`sudo apt install raspi-utils` (pinctrl)")
    state = active if item.is_active(reading[1]) else idle
    return ok(name, f"reads {state} (pin {item.pin} {'high' if reading[1] else 'low'}); "
                    "operate it and run doctor again to see it change")


def click_relay(context: DoctorContext) -> CheckResult:
    """Energise the relay for half a second (the door unlocks briefly), then make it safe."""
    name = "relay click test"
    if context.hardware is None:
        return skipped(name, "needs a valid configuration")
    if context.hardware.gpio_backend == "rpi" and not context.is_pi:
        return not_a_pi(name)
    if service_active(context):
        return fail(name, f"{context.unit} holds the relay", f"`sudo systemctl stop {context.unit}` first")
    relay = context.hardware.relay
    try:
        gpio = context.plugins.open_gpio(context.hardware)
        try:
            gpio.setup_output(relay.pin, relay.safe_level)
            gpio.write(relay.pin, relay.active_level)
            context.plugins.sleep(CLICK_S)
        finally:
            gpio.write(relay.pin, relay.safe_level)  # safe again whatever happened
            gpio.close()
    except (DoorwardError, OSError) as error:
        return fail(name, f"GPIO failed: {error}", "run `sudo doorward relay-safe`; check the backend")
    return ok(name, f"pin {relay.pin} energised for {CLICK_S} s and released: did the lock click?")


def configure_module(context: DoctorContext) -> CheckResult:
    """Set 115,200 baud and 256-byte packets once (halving every template transfer)."""
    name = "configure module (115,200 baud, 256-byte packets)"
    secrets = context.plugins.door_secrets(context)
    try:
        with context.plugins.open_sensor(context.serial_device, context.baud,
                                         secrets.password if secrets else 0) as sensor:
            if sensor.params.baud == 115200 and sensor.params.packet_size == 256:
                return ok(name, "already set: nothing to do")
            # Packet size first: the module answers this one at the old speed either way.
            sensor.set_system_parameter(6, LARGE_PACKET_CODE)
            sensor.set_system_parameter(4, FAST_BAUD_MULTIPLIER)
    except (DoorwardError, OSError) as error:
        return fail(name, f"the module did not take it: {error}", _wiring_fix(context))
    return warn(name, "set; the module applies it after a power cycle",
                "power-cycle the module (or the Pi), set `baud = 115200` in [module], "
                "then run `doorward doctor` again")

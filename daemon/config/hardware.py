"""The ``[hardware]`` section: pins, polarities, pulls, debounce, lock type, GPIO backend.

Frozen dataclasses and their reader, with the wiring rules that keep a door locked from
power-on to daemon-ready and after a crash (``docs/wiring.md``): the relay sits on a pin the
Pi pulls towards its de-energised level at power-on (active-high driver on 9-27, a declared
active-low board on 0-8), and the fire input reads a cut wire as an alarm. Every key is
documented in ``docs/configuration.md``. Imports no GPIO library: the pin types are the GPIO
layer's own (``doorward.drivers.gpio.pins``), which this section fills and hands down.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from doorward.drivers.gpio.pins import DoorPins, GpioBackend, InputPin, OutputPin, RelayPin

if TYPE_CHECKING:
    from doorward.daemon.config.loader import TableReader

BACKENDS = ("rpi", "sim")
LOCK_TYPES = ("fail_secure", "fail_safe")
PULLS = ("up", "down", "off")
ACTIVE_LEVELS = ("high", "low")
PULLED_UP_AT_BOOT = range(0, 9)  # BCM 0-8 pulled up at power-on, 9-27 pulled down
UART_PINS = {14: "TXD", 15: "RXD"}  # the module's UART (/dev/serial0)
INPUT_NAMES = ("door_contact", "exit_button", "fire_alarm", "lockdown_key", "tamper",
               "module_touch")
OUTPUT_NAMES = ("status_led", "buzzer", "module_power")


@dataclass(frozen=True)
class HardwareConfig:
    gpio_backend: str
    hub_socket: str | None
    hub_timeout_s: float
    debounce_ms: int
    lock_type: str
    exit_without_rex_is_forced: bool
    relay: RelayPin
    door_contact: InputPin | None = None
    exit_button: InputPin | None = None
    fire_alarm: InputPin | None = None
    lockdown_key: InputPin | None = None
    tamper: InputPin | None = None
    module_touch: InputPin | None = None
    status_led: OutputPin | None = None
    buzzer: OutputPin | None = None
    module_power: OutputPin | None = None

    def inputs(self) -> dict[str, InputPin]:
        """The fitted inputs by name (absent tables are not fitted)."""
        return {n: getattr(self, n) for n in INPUT_NAMES if getattr(self, n) is not None}

    def outputs(self) -> dict[str, OutputPin]:
        """The fitted outputs by name, the relay first."""
        fitted = {n: getattr(self, n) for n in OUTPUT_NAMES if getattr(self, n) is not None}
        return {"relay": self.relay, **fitted}

    def door_pins(self) -> DoorPins:
        """The pins as the GPIO layer takes them."""
        outputs = {n: p for n, p in self.outputs().items() if n != "relay"}
        return DoorPins(self.relay, outputs, self.inputs(), self.debounce_ms)

    def backend(self) -> GpioBackend:
        return GpioBackend(self.gpio_backend, self.hub_socket, self.hub_timeout_s)


def read_hardware(table: TableReader) -> HardwareConfig:
    backend = table.value("gpio_backend", str, "rpi", choices=BACKENDS)
    values = dict(
        gpio_backend=backend,
        hub_socket=_read_hub_socket(table, backend),
        hub_timeout_s=table.value("hub_timeout_s", float, 2.0, check=_check_timeout_s),
        debounce_ms=table.value("debounce_ms", int, 50, check=_check_debounce_ms),
        lock_type=table.value("lock_type", str, choices=LOCK_TYPES),
        exit_without_rex_is_forced=table.value("exit_without_rex_is_forced", bool, True),
        relay=_read_relay(table),
    )
    values |= {name: _read_input(table, name) for name in INPUT_NAMES}
    values |= {name: _read_output(table, name) for name in OUTPUT_NAMES}
    _check_duplicate_pins(table, values)
    return HardwareConfig(**values)


def _read_hub_socket(table: TableReader, backend: str | None) -> str | None:
    socket = table.value("hub_socket", str, None, check=_check_non_empty)
    if backend == "sim" and not table.has("hub_socket"):
        table.problem("hub_socket", "missing: required when gpio_backend = 'sim' "
                                    "(the Unix socket of the simulated Pi's hub)")
    if socket is None:
        return None
    return str((table.base_dir / socket).resolve())  # relative to the config file


def _read_relay(table: TableReader) -> RelayPin | None:
    relay = table.table("relay", required=True)
    if relay is None:
        return None
    pin = relay.value("pin", int, check=_check_pin)
    active = relay.value("active", str, "high", choices=ACTIVE_LEVELS)
    declared = relay.value("active_low_declared", bool, False)
    relay.finish()
    if active == "low" and declared is False:
        relay.problem("active", ACTIVE_LOW_UNDECLARED)
    if active == "high" and declared:
        relay.problem("active_low_declared", "is true but active = 'high'; remove one of them")
    if pin is not None and active is not None:
        _check_relay_pin_group(relay, pin, active)
    return RelayPin(pin, _level(active), bool(declared))


ACTIVE_LOW_UNDECLARED = (
    "'low' needs active_low_declared = true: an active-low relay board energises the lock "
    "whenever its pin is low or floating (during boot, after a crash), so it is refused unless "
    "declared and wired on a pulled-up pin (BCM 0-8) held by gpio=N=op,dh (docs/wiring.md)"
)


def _check_relay_pin_group(relay: TableReader, pin: int, active: str) -> None:
    pulled_up = pin in PULLED_UP_AT_BOOT
    if active == "high" and pulled_up:
        relay.problem("pin", f"{pin} is pulled up at power-on (BCM 0-8), so an active-high "
                             "relay would energise during boot: use a pin from 9-27")
    if active == "low" and not pulled_up:
        relay.problem("pin", f"{pin} is pulled down at power-on (BCM 9-27), so an active-low "
                             "relay would energise during boot: use a pin from 0-8")


def _read_input(table: TableReader, name: str) -> InputPin | None:
    sub = table.table(name)
    if sub is None:
        return None
    pin = sub.value("pin", int, check=_check_pin)
    pull = sub.value("pull", str, "up", choices=PULLS)
    active = sub.value("active", str, choices=ACTIVE_LEVELS)
    sub.finish()
    if name == "fire_alarm" and pull is not None and active is not None:
        _check_fire_fails_safe(sub, pull, active)
    return InputPin(pin, pull, _level(active))


def _check_fire_fails_safe(sub: TableReader, pull: str, active: str) -> None:
    # A normally-closed loop: a cut wire lets the pull win, and that must read as alarm.
    if pull == "off":
        sub.problem("pull", "must be 'up' or 'down' so that a cut wire reads as an alarm")
    elif _level(active) != (1 if pull == "up" else 0):
        wanted = "high" if pull == "up" else "low"
        sub.problem("active", f"must be '{wanted}' with pull = '{pull}': the fire input is a "
                              "normally-closed loop, so a cut wire must read as an alarm")


def _read_output(table: TableReader, name: str) -> OutputPin | None:
    sub = table.table(name)
    if sub is None:
        return None
    pin = sub.value("pin", int, check=_check_pin)
    active = sub.value("active", str, "high", choices=ACTIVE_LEVELS)
    sub.finish()
    return OutputPin(pin, _level(active))


def _check_duplicate_pins(table: TableReader, values: dict) -> None:
    users: dict[int, str] = {}
    for name, item in values.items():
        if not isinstance(item, (InputPin, OutputPin)) or item.pin is None:
            continue
        if item.pin in users:
            table.problem(f"{name}.pin", f"pin {item.pin} is already used by {users[item.pin]}")
        users.setdefault(item.pin, table.key(f"{name}.pin"))


def _level(active: str | None) -> int | None:
    return None if active is None else (1 if active == "high" else 0)


def _check_pin(pin: int) -> str | None:
    if not 0 <= pin <= 27:
        return f"{pin} is not a BCM GPIO number (0-27)"
    if pin in UART_PINS:
        return f"{pin} is the UART {UART_PINS[pin]} pin the fingerprint module uses"
    return None


def _check_timeout_s(timeout_s: float) -> str | None:
    return None if 0 < timeout_s <= 30 else f"{timeout_s} is not between 0 and 30 seconds"


def _check_debounce_ms(debounce_ms: int) -> str | None:
    return None if 0 <= debounce_ms <= 1000 else f"{debounce_ms} is not between 0 and 1000 ms"


def _check_non_empty(text: str) -> str | None:
    return None if text.strip() else "must not be empty"

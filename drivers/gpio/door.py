"""``DoorHardware``: the door's pins in door terms, over either GPIO backend.

Takes the door's pins in the GPIO layer's own types (``DoorPins``, filled from the door's
``[hardware]`` section by its caller) and applies each pin's polarity, so callers say "energise the relay" or "is
the door open", never "pin 17 high". ``setup()`` configures the relay first, as an output at
its de-energised level in one step, then the other outputs off (module power on), then the
inputs with their pulls. Inputs that are not fitted read as inactive and outputs that are not
fitted ignore writes. Debouncing belongs to the controller: on an edge callback it re-reads
the input after ``debounce_ms``.
"""

from __future__ import annotations

from enum import Enum
from typing import Callable, Protocol

from doorward.drivers.gpio.pins import DoorPins, OutputPin


class Gpio(Protocol):
    """The surface both backends (``RpiGpio``, ``SimGpio``) provide."""

    def setup_output(self, pin: int, initial_level: int) -> None: ...
    def setup_input(self, pin: int, pull: str) -> None: ...
    def write(self, pin: int, level: int) -> None: ...
    def read(self, pin: int) -> int: ...
    def add_edge_callback(self, pin: int, callback: Callable[[int], None]) -> None: ...
    def cleanup(self) -> None: ...
    def close(self) -> None: ...


class DoorInput(str, Enum):
    DOOR_CONTACT = "door_contact"
    EXIT_BUTTON = "exit_button"
    FIRE_ALARM = "fire_alarm"
    LOCKDOWN_KEY = "lockdown_key"
    TAMPER = "tamper"
    MODULE_TOUCH = "module_touch"


class DoorHardware:
    def __init__(self, gpio: Gpio, pins: DoorPins) -> None:
        self.gpio, self.pins = gpio, pins
        self.debounce_s = pins.debounce_ms / 1000
        self._listeners: list[Callable[[DoorInput], None]] = []

    def setup(self) -> None:
        relay = self.pins.relay
        self.gpio.setup_output(relay.pin, relay.safe_level)  # first, and glitch-free
        for name, output in self.pins.outputs.items():
            self.gpio.setup_output(output.pin, output.level(name == "module_power"))
        for item in self.pins.inputs.values():
            self.gpio.setup_input(item.pin, item.pull)

    def has_output(self, name: str) -> bool:
        return name in self.pins.outputs

    # -- outputs ------------------------------------------------------------------------

    def set_relay(self, energised: bool) -> None:
        self.gpio.write(self.pins.relay.pin, self.pins.relay.level(energised))

    def relay_energised(self) -> bool:
        return self.gpio.read(self.pins.relay.pin) == self.pins.relay.active_level

    def set_led(self, on: bool) -> None:
        self._set_output("status_led", on)

    def set_buzzer(self, on: bool) -> None:
        self._set_output("buzzer", on)

    def set_module_power(self, on: bool) -> None:
        """Switch the fingerprint module's supply (to power-cycle a hung module)."""
        self._set_output("module_power", on)

    def _set_output(self, name: str, on: bool) -> None:
        output: OutputPin | None = self.pins.outputs.get(name)
        if output is not None:
            self.gpio.write(output.pin, output.level(on))

    # -- inputs -------------------------------------------------------------------------

    def is_active(self, name: DoorInput) -> bool:
        item = self.pins.inputs.get(name.value)
        return item is not None and item.is_active(self.gpio.read(item.pin))

    def contact_open(self) -> bool:
        return self.is_active(DoorInput.DOOR_CONTACT)

    def exit_pressed(self) -> bool:
        return self.is_active(DoorInput.EXIT_BUTTON)

    def fire_alarm(self) -> bool:
        return self.is_active(DoorInput.FIRE_ALARM)

    def lockdown_key(self) -> bool:
        return self.is_active(DoorInput.LOCKDOWN_KEY)

    def tamper(self) -> bool:
        return self.is_active(DoorInput.TAMPER)

    def finger_touching(self) -> bool:
        """The module's touch line (R503 active-low, AS608 active-high, per the config)."""
        return self.is_active(DoorInput.MODULE_TOUCH)

    def on_touch(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` on every edge of the module's touch line (the reader's)."""
        self.on_input_change(lambda i: callback() if i is DoorInput.MODULE_TOUCH else None)

    def fitted_inputs(self) -> tuple[DoorInput, ...]:
        return tuple(DoorInput(name) for name in self.pins.inputs)

    def on_input_change(self, callback: Callable[[DoorInput], None]) -> None:
        """Call ``callback(input)`` on every edge of every fitted input (undebounced).

        Several listeners may subscribe (the controller; the reader for the touch line);
        the pins are watched once, because RPi.GPIO allows one edge detection per pin."""
        if not self._listeners:
            for name, item in self.pins.inputs.items():
                door_input = DoorInput(name)
                self.gpio.add_edge_callback(item.pin, lambda _pin, i=door_input: self._notify(i))
        self._listeners.append(callback)

    def _notify(self, door_input: DoorInput) -> None:
        for listener in list(self._listeners):
            listener(door_input)

    def close(self) -> None:
        """De-energise the relay, then let go of the lines without re-driving them."""
        try:
            self.set_relay(False)
        finally:
            self.gpio.close()

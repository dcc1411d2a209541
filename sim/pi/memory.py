"""The Pi's GPIO in memory, for tests and benchmarks that run the controller in one process:
``MemoryGpio`` (pins driven from outside, every level change recorded with its time) and
``wired_door`` (the door of docs/wiring.md as a ``HardwareConfig``, every input and output
fitted).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from doorward.daemon.config.hardware import HardwareConfig, InputPin, OutputPin, RelayPin

RELAY, CONTACT, EXIT, FIRE, KEY, TAMPER, TOUCH, LED, BUZZER = 17, 27, 22, 23, 24, 25, 5, 12, 13
# Levels of a quiet door: contact closed, exit idle, fire loop intact, key off, housing shut.
QUIET_INPUTS = {CONTACT: 0, EXIT: 1, FIRE: 0, KEY: 1, TAMPER: 0, TOUCH: 1}


def wired_door(debounce_ms: int = 50, hub_socket: str | None = None) -> HardwareConfig:
    """The door of docs/wiring.md, every input and output fitted."""
    return HardwareConfig(
        gpio_backend="sim" if hub_socket else "rpi", hub_socket=hub_socket, hub_timeout_s=2.0,
        debounce_ms=debounce_ms, lock_type="fail_secure", exit_without_rex_is_forced=True,
        relay=RelayPin(RELAY, active_level=1),
        door_contact=InputPin(CONTACT, "up", 1), exit_button=InputPin(EXIT, "up", 0),
        fire_alarm=InputPin(FIRE, "up", 1), lockdown_key=InputPin(KEY, "up", 0),
        tamper=InputPin(TAMPER, "up", 1), module_touch=InputPin(TOUCH, "up", 0),
        status_led=OutputPin(LED, 1), buzzer=OutputPin(BUZZER, 1))


class MemoryGpio:
    """The GPIO surface in memory: pins driven from outside, every level change recorded."""

    def __init__(self, now: Callable[[], float], levels: Mapping[int, int] = QUIET_INPUTS) -> None:
        self._now = now
        self.levels: dict[int, int] = dict(levels)
        self.history: dict[int, list[tuple[float, int]]] = {}
        self.callbacks: dict[int, list] = {}
        self.failing_pins: set[int] = set()

    def setup_output(self, pin: int, initial_level: int) -> None:
        self._record(pin, initial_level)

    def setup_input(self, pin: int, pull: str) -> None:
        self.levels.setdefault(pin, 1 if pull == "up" else 0)

    def write(self, pin: int, level: int) -> None:
        if pin in self.failing_pins:
            raise OSError(f"pin {pin} write failed")
        self._record(pin, level)

    def read(self, pin: int) -> int:
        return self.levels[pin]

    def add_edge_callback(self, pin: int, callback) -> None:
        self.callbacks.setdefault(pin, []).append(callback)

    def drive(self, pin: int, level: int) -> None:
        self.levels[pin] = level
        for callback in self.callbacks.get(pin, ()):
            callback(pin)

    def cleanup(self) -> None:
        pass

    def close(self) -> None:
        pass

    def _record(self, pin: int, level: int) -> None:
        timeline = self.history.setdefault(pin, [])
        if not timeline or timeline[-1][1] != level:
            timeline.append((self._now(), level))
        self.levels[pin] = level

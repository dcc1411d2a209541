"""The door's pins in the GPIO layer's own terms: which pin, which level means "on", which
pull, and which backend drives them.

Owns ``OutputPin``, ``RelayPin``, ``InputPin``, ``DoorPins`` and ``GpioBackend``: frozen
values that ``DoorHardware`` and ``open_gpio`` take. The door's ``[hardware]`` section
(``doorward.daemon.config.hardware``) reads and checks them from the TOML and hands them
down; nothing here knows the TOML. Imports nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class OutputPin:
    """An output; ``active_level`` is the level that switches the thing on."""

    pin: int
    active_level: int

    def level(self, on: bool) -> int:
        return self.active_level if on else 1 - self.active_level


@dataclass(frozen=True)
class RelayPin(OutputPin):
    """The lock relay. Its safe state is de-energised; ``active_level`` energises it."""

    active_low_declared: bool = False

    @property
    def safe_level(self) -> int:
        return self.level(False)


@dataclass(frozen=True)
class InputPin:
    """An input; ``active_level`` is the level while the thing happens (door open, button
    pressed, alarm, key turned, housing opened, finger on the reader)."""

    pin: int
    pull: str
    active_level: int

    def is_active(self, level: int) -> bool:
        return level == self.active_level


@dataclass(frozen=True)
class DoorPins:
    """Every fitted pin of one door: the relay, the other outputs and the inputs by name."""

    relay: RelayPin
    outputs: Mapping[str, OutputPin] = field(default_factory=dict)  # not the relay
    inputs: Mapping[str, InputPin] = field(default_factory=dict)
    debounce_ms: int = 20


@dataclass(frozen=True)
class GpioBackend:
    """``rpi`` (RPi.GPIO, on the Pi) or ``sim`` (the simulated Pi's hub on a Unix socket)."""

    kind: str = "rpi"
    hub_socket: str | None = None
    hub_timeout_s: float = 2.0

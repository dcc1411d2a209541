"""The simulated Pi's pins: levels, ownership, boot defaults and the kernel's release rule.

Pure model with no sockets and no threads; ``sim/pi/hub.py`` serves it on a Unix socket. The
clock is passed in so tests of the model need no sleeping. Every change of a pin's level is
appended to that pin's timeline, which survives client restarts and simulated reboots.

What a Raspberry Pi does, and so what this models:

- power-on: every BCM GPIO 0-27 is an input; 0-8 pulled up, 9-27 pulled down;
- then the firmware applies the ``gpio=`` lines of config.txt (``gpio=17=op,dl``). There is
  a real gap between the two (about a second), so both steps are recorded separately: an
  active-high relay on a pulled-up pin shows its boot glitch in the timeline;
- a process that configured a line and then closes it or dies *releases* it. With the kernel's
  default (``persist``) an output keeps its last level; with ``dtparam=strict_gpiod``
  (``strict``) the line becomes an input again, here with its boot pull.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

PIN_NUMBERS = range(0, 28)
PULLED_UP_AT_BOOT = range(0, 9)
PULLS = ("up", "down", "off")
MODES = ("strict", "persist")

ChangeListener = Callable[[int, int, float], None]


class PinError(ValueError):
    """A request the simulated Pi refuses (bad pin, wrong direction); sent back as an error."""


@dataclass(frozen=True)
class FirmwareLine:
    """One parsed ``gpio=`` line: pins, direction ``in``/``out``, level or pull."""

    pins: tuple[int, ...]
    direction: str
    level: int | None = None
    pull: str | None = None


@dataclass
class Pin:
    boot_pull: str
    direction: str = "in"
    pull: str = "off"
    output_level: int = 0
    driven_level: int | None = None  # an external device driving an input (switch, touch line)
    owner: str | None = None  # the gpio connection that configured it

    @property
    def level(self) -> int:
        if self.direction == "out":
            return self.output_level
        if self.driven_level is not None:
            return self.driven_level
        return 1 if self.pull == "up" else 0  # no pull: a floating line reads as 0 here


def boot_pull(pin: int) -> str:
    return "up" if pin in PULLED_UP_AT_BOOT else "down"


def parse_firmware_line(text: str) -> FirmwareLine:
    """Parse ``gpio=17=op,dl`` (also ``gpio=2-4,7=ip,pu``), as config.txt accepts them."""
    body = text.strip().removeprefix("gpio=")
    pins_text, sep, settings_text = body.partition("=")
    if not sep or not settings_text:
        raise PinError(f"firmware line {text!r}: expected gpio=PINS=SETTINGS")
    pins = tuple(_parse_pin_list(pins_text, text))
    settings = set(settings_text.split(","))
    direction = _take_one(settings, {"ip": "in", "op": "out"}, text)
    level = _take_one(settings, {"dl": 0, "dh": 1}, text)
    pull = _take_one(settings, {"pu": "up", "pd": "down", "pn": "off", "np": "off"}, text)
    if settings:
        raise PinError(f"firmware line {text!r}: unsupported settings {sorted(settings)}")
    if direction is None:
        direction = "out" if level is not None else "in"
    return FirmwareLine(pins, direction, level if direction == "out" else None, pull)


def _parse_pin_list(pins_text: str, text: str) -> list[int]:
    pins: list[int] = []
    for part in pins_text.split(","):
        first, _, last = part.partition("-")
        try:
            start, end = int(first), int(last or first)
        except ValueError:
            raise PinError(f"firmware line {text!r}: bad pin list {pins_text!r}") from None
        pins += range(start, end + 1)
    for pin in pins:
        check_pin(pin)
    return pins


def _take_one(settings: set[str], meanings: dict, text: str):
    found = settings & meanings.keys()
    if len(found) > 1:
        raise PinError(f"firmware line {text!r}: conflicting settings {sorted(found)}")
    settings -= found
    return meanings[found.pop()] if found else None


def check_pin(pin: object) -> int:
    if not isinstance(pin, int) or isinstance(pin, bool) or pin not in PIN_NUMBERS:
        raise PinError(f"pin {pin!r} is not a BCM GPIO number 0-27")
    return pin


def check_level(level: object) -> int:
    if level not in (0, 1) or isinstance(level, bool):
        raise PinError(f"level {level!r} is not 0 or 1")
    return int(level)


@dataclass
class PinBank:
    """All 28 pins of one simulated Pi, in ``strict`` or ``persist`` release mode."""

    mode: str
    firmware_lines: tuple[FirmwareLine, ...] = ()
    clock: Callable[[], float] = field(default=lambda: 0.0)
    pins: dict[int, Pin] = field(default_factory=dict)
    timelines: dict[int, list[tuple[float, int]]] = field(default_factory=dict)
    listeners: list[ChangeListener] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise PinError(f"mode {self.mode!r} is not one of {MODES}")
        self.power_on()

    # -- boot -------------------------------------------------------------------------

    def power_on(self) -> None:
        """Power-on defaults, recorded, then the firmware lines, recorded as a second step."""
        self._apply(lambda: self._reset_to_boot_defaults())
        self._apply(lambda: self._apply_firmware_lines())

    def _reset_to_boot_defaults(self) -> None:
        for pin in PIN_NUMBERS:
            self.pins[pin] = Pin(boot_pull=boot_pull(pin), pull=boot_pull(pin))

    def _apply_firmware_lines(self) -> None:
        for line in self.firmware_lines:
            for pin in line.pins:
                state = self.pins[pin]
                if line.pull is not None:
                    state.pull = state.boot_pull = line.pull
                state.direction = line.direction
                if line.level is not None:
                    state.output_level = line.level

    # -- gpio clients -----------------------------------------------------------------

    def setup_output(self, owner: str, pin: int, initial_level: int) -> None:
        """Output at ``initial_level`` in one step: no moment at any other level."""
        state, level = self.pins[check_pin(pin)], check_level(initial_level)
        self._apply(lambda: self._configure(state, owner, "out", state.pull, level))

    def setup_input(self, owner: str, pin: int, pull: str) -> None:
        if pull not in PULLS:
            raise PinError(f"pull {pull!r} is not one of {PULLS}")
        state = self.pins[check_pin(pin)]
        self._apply(lambda: self._configure(state, owner, "in", pull, state.output_level))

    @staticmethod
    def _configure(state: Pin, owner: str, direction: str, pull: str, level: int) -> None:
        # A new claimant takes the line over: the kernel frees a dead process's lines at
        # once, so a stop hook must never be refused because the hub saw the EOF late.
        state.owner, state.direction, state.pull, state.output_level = owner, direction, pull, level

    def write(self, owner: str, pin: int, level: int) -> None:
        state = self.pins[check_pin(pin)]
        if state.direction != "out" or state.owner != owner:
            raise PinError(f"pin {pin} is not an output set up by this connection")
        value = check_level(level)
        self._apply(lambda: setattr(state, "output_level", value))

    def read(self, pin: int) -> int:
        return self.pins[check_pin(pin)].level

    def release(self, owner: str, pins: list[int] | None = None) -> None:
        """What the kernel does when ``owner`` closes its lines or dies."""
        chosen = PIN_NUMBERS if pins is None else [check_pin(p) for p in pins]
        owned = [self.pins[p] for p in chosen if self.pins[p].owner == owner]
        self._apply(lambda: [self._release_one(state) for state in owned])

    def _release_one(self, state: Pin) -> None:
        state.owner = None
        if self.mode == "strict":
            state.direction, state.pull = "in", state.boot_pull

    # -- external devices -------------------------------------------------------------

    def drive(self, pin: int, level: int) -> None:
        state, value = self.pins[check_pin(pin)], check_level(level)
        self._apply(lambda: setattr(state, "driven_level", value))

    def undrive(self, pin: int) -> None:
        state = self.pins[check_pin(pin)]
        self._apply(lambda: setattr(state, "driven_level", None))

    # -- observation ------------------------------------------------------------------

    def describe(self) -> dict[str, dict]:
        return {
            str(pin): {"mode": s.direction, "level": s.level, "pull": s.pull, "owner": s.owner}
            for pin, s in self.pins.items()
        }

    def _apply(self, change: Callable[[], object]) -> None:
        """Run ``change`` and record every pin whose level it moved, at one instant."""
        before = {pin: state.level for pin, state in self.pins.items()}
        change()
        now = self.clock()
        for pin, state in self.pins.items():
            timeline = self.timelines.setdefault(pin, [])
            if not timeline or before.get(pin) != state.level:
                timeline.append((now, state.level))
                for listener in list(self.listeners):
                    listener(pin, state.level, now)

"""The ``rpi`` GPIO backend: the only importer of ``RPi.GPIO``, and only when constructed.

On the Pi, ``RPi.GPIO`` is provided by the ``rpi-lgpio`` package (the gpiochip interface:
every model and current kernels, Pi 5 included). BCM numbering. Edge detection uses
``GPIO.BOTH`` and no ``bouncetime``: its meaning differs between RPi.GPIO and rpi-lgpio, so
the controller debounces by re-reading the level after ``debounce_ms``.

``close()`` does not call ``GPIO.cleanup()``: the lines are left to the kernel when the process
exits, which keeps the relay driven at its safe level (persist) or returns it to an input
with its pull-down (``dtparam=strict_gpiod``); both are de-energised.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any, Callable

from doorward.drivers.gpio.errors import GpioError


def import_rpi_gpio() -> ModuleType:
    try:
        return importlib.import_module("RPi.GPIO")
    except ImportError as error:
        raise GpioError(
            "gpio_backend = 'rpi' needs RPi.GPIO: on a Pi install doorward with the 'pi' "
            "extra (rpi-lgpio); elsewhere use gpio_backend = 'sim'") from error


class RpiGpio:
    """The RPi.GPIO API behind doorward's GPIO surface. ``gpio_module`` lets a test pass a
    fake instead of the real module (tests never import RPi.GPIO)."""

    def __init__(self, gpio_module: ModuleType | Any | None = None) -> None:
        self._gpio = gpio_module if gpio_module is not None else import_rpi_gpio()
        self._pulls = {"up": self._gpio.PUD_UP, "down": self._gpio.PUD_DOWN,
                       "off": self._gpio.PUD_OFF}
        self._configured: set[int] = set()
        self._watched: set[int] = set()
        self._call(self._gpio.setwarnings, False)
        self._call(self._gpio.setmode, self._gpio.BCM)

    def setup_output(self, pin: int, initial_level: int) -> None:
        """Output at ``initial_level`` in the same call: the line never shows another level."""
        initial = self._gpio.HIGH if initial_level else self._gpio.LOW
        self._call(self._gpio.setup, pin, self._gpio.OUT, initial=initial)
        self._configured.add(pin)

    def setup_input(self, pin: int, pull: str) -> None:
        self._call(self._gpio.setup, pin, self._gpio.IN, pull_up_down=self._pulls[pull])
        self._configured.add(pin)

    def write(self, pin: int, level: int) -> None:
        self._call(self._gpio.output, pin, self._gpio.HIGH if level else self._gpio.LOW)

    def read(self, pin: int) -> int:
        return 1 if self._call(self._gpio.input, pin) else 0

    def add_edge_callback(self, pin: int, callback: Callable[[int], None]) -> None:
        # No bouncetime: see the module docstring.
        self._call(self._gpio.add_event_detect, pin, self._gpio.BOTH,
                   callback=lambda channel: callback(channel))
        self._watched.add(pin)

    def cleanup(self) -> None:
        """Release every line this process configured back to an input."""
        self._stop_edge_detection()
        if self._configured:
            self._call(self._gpio.cleanup, sorted(self._configured))
        self._configured.clear()

    def close(self) -> None:
        self._stop_edge_detection()

    def _stop_edge_detection(self) -> None:
        for pin in sorted(self._watched):
            self._call(self._gpio.remove_event_detect, pin)
        self._watched.clear()

    def __enter__(self) -> RpiGpio:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @staticmethod
    def _call(function: Callable, *args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except (RuntimeError, ValueError, OSError) as error:  # "GPIO busy", bad channel
            raise GpioError(f"RPi.GPIO {function.__name__}{args}: {error}") from error

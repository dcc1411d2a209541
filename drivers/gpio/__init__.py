"""GPIO edge: the door's pins through the RPi.GPIO API, or through the simulated Pi's hub.

``open_gpio(hardware_config)`` picks the backend named by ``gpio_backend``: ``rpi``
(``drivers/gpio/rpi.py``, the only importer of ``RPi.GPIO``, which it imports lazily, so
importing this package never needs it) or ``sim`` (``drivers/gpio/sim.py``, a client of
``sim/hub.py``). ``DoorHardware`` speaks door terms above either. The service (composition
root) and ``doorward relay-safe`` are the callers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from drivers.gpio.door import DoorHardware, DoorInput, Gpio
from drivers.gpio.errors import GpioError, GpioTimeout, HubUnavailable

if TYPE_CHECKING:
    from daemon.hardware_config import HardwareConfig

__all__ = ["DoorHardware", "DoorInput", "Gpio", "GpioError", "GpioTimeout", "HubUnavailable",
           "open_gpio"]


def open_gpio(hardware_config: HardwareConfig, client: str = "doorward") -> Gpio:
    """The GPIO backend the configuration names; ``client`` names the process to the hub."""
    if hardware_config.gpio_backend == "sim":
        from drivers.gpio.sim import SimGpio

        if not hardware_config.hub_socket:
            raise GpioError("gpio_backend = 'sim' needs hardware.hub_socket")
        return SimGpio(hardware_config.hub_socket, hardware_config.hub_timeout_s, client)
    from drivers.gpio.rpi import RpiGpio

    return RpiGpio()

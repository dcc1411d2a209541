"""GPIO edge: the door's pins through the RPi.GPIO API, or through the simulated Pi's hub.

``open_gpio(backend)`` picks the backend a ``GpioBackend`` names: ``rpi``
(``drivers/gpio/rpi.py``, the only importer of ``RPi.GPIO``, which it imports lazily, so
importing this package never needs it) or ``sim`` (``drivers/gpio/sim.py``, a client of
``sim/pi/hub.py``). ``DoorHardware`` speaks door terms above either. The service (composition
root) and ``doorward relay-safe`` are the callers.
"""

from __future__ import annotations

from doorward.drivers.gpio.door import DoorHardware, DoorInput, Gpio
from doorward.drivers.gpio.errors import GpioError, GpioTimeout, HubUnavailable
from doorward.drivers.gpio.pins import DoorPins, GpioBackend, InputPin, OutputPin, RelayPin

__all__ = ["DoorHardware", "DoorInput", "DoorPins", "Gpio", "GpioBackend", "GpioError",
           "GpioTimeout", "HubUnavailable", "InputPin", "OutputPin", "RelayPin", "open_gpio"]


def open_gpio(backend: GpioBackend, client: str = "doorward") -> Gpio:
    """The GPIO backend ``backend`` names; ``client`` names the process to the hub."""
    if backend.kind == "sim":
        from doorward.drivers.gpio.sim import SimGpio

        if not backend.hub_socket:
            raise GpioError("gpio_backend = 'sim' needs hardware.hub_socket")
        return SimGpio(backend.hub_socket, backend.hub_timeout_s, client)
    from doorward.drivers.gpio.rpi import RpiGpio

    return RpiGpio()

"""Wires the simulated module to the simulated Pi's GPIO hub (docs/simulator.md, "The simulated Pi").

Owns two hub connections: a "control" one that drives the touch line when a finger is placed
or lifted, and a "watch" one on the power pin (low = module unpowered, rising = power-up).
Touch polarity is per model: the R503 touch line idles high and goes low while touched; the
AS608 WAK pin reads high while touched; the R307 has no documented touch line and is treated
like the R503. Unix socket only.
"""

from __future__ import annotations

import threading
from pathlib import Path

from doorward.drivers.gpio.errors import GpioError
from doorward.drivers.gpio.hubwire import HubConnection
from doorward.sim.module.r30x import SimulatedR30x

CONNECT_TIMEOUT_S = 5.0


class HubWiring:
    """Touch line out, power pin in. ``close()`` stops the watcher thread at once."""

    def __init__(self, module: SimulatedR30x, hub_path: str | Path, touch_pin: int,
                 power_pin: int) -> None:
        self.module = module
        self.touch_pin, self.power_pin = touch_pin, power_pin
        self._control_lock = threading.Lock()
        path = str(Path(hub_path))
        self._control = HubConnection(path, "control", "sim-r30x", CONNECT_TIMEOUT_S)
        self._watch = HubConnection(path, "watch", "sim-r30x", CONNECT_TIMEOUT_S)
        self._stop = threading.Event()
        self._on_touch(module.finger is not None)  # idle (or touched) level from the start
        module.touch_listeners.append(self._on_touch)
        self._watch.request({"watch": {"pins": [power_pin]}})
        level = self._control.request({"level": {"pin": power_pin}})["value"]
        module.set_power(bool(level))  # a low power pin means the module has no supply
        self._thread = threading.Thread(target=self._watch_power, name="sim-hub-watch",
                                        daemon=True)
        self._thread.start()

    def touch_level(self, touched: bool) -> int:
        active = 0 if self.module.profile.touch_active_low else 1
        return active if touched else 1 - active

    def _on_touch(self, touched: bool) -> None:
        request = {"drive": {"pin": self.touch_pin, "value": self.touch_level(touched)}}
        with self._control_lock:
            self._control.request(request)

    def _watch_power(self) -> None:
        while not self._stop.is_set():
            try:
                message = self._watch.read_message(None)
            except GpioError:
                return  # hub gone or connection shut down by close()
            event = message.get("event")
            if isinstance(event, dict) and event.get("pin") == self.power_pin:
                self.module.set_power(bool(event.get("value")))

    def close(self) -> None:
        self._stop.set()
        if self._on_touch in self.module.touch_listeners:
            self.module.touch_listeners.remove(self._on_touch)
        self._watch.shutdown()  # unblocks the watcher's read
        self._thread.join(timeout=2.0)
        self._watch.close()
        self._control.close()

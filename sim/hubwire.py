"""Wires the simulated module to the simulated Pi's GPIO hub (docs/hub-protocol-draft.md).

Owns two hub connections: a "control" one that drives the touch line when a finger is placed
or lifted, and a "watch" one on the power pin (low = module unpowered, rising = power-up).
Touch polarity is per model: the R503 touch line idles high and goes low while touched; the
AS608 WAK pin reads high while touched; the R307 has no documented touch line and is treated
like the R503. Unix socket only.
"""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path
from typing import Any

from sim.r30x import SimulatedR30x

CONNECT_TIMEOUT_S = 5.0


class HubError(ConnectionError):
    """The hub refused a request or went away."""


class _HubConnection:
    def __init__(self, path: Path, role: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(CONNECT_TIMEOUT_S)
        self.sock.connect(str(path))
        self.sock.settimeout(None)
        self.reader = self.sock.makefile("rb")
        self.request({"hello": 1, "role": role, "client": "sim-r30x"})

    def send(self, request: dict[str, Any]) -> None:
        self.sock.sendall(json.dumps(request).encode() + b"\n")

    def receive(self) -> dict[str, Any]:
        line = self.reader.readline()
        if not line:
            raise HubError("hub closed the connection")
        return json.loads(line)

    def request(self, request: dict[str, Any]) -> dict[str, Any]:
        self.send(request)
        reply = self.receive()
        if not reply.get("ok"):
            raise HubError(f"hub refused {request}: {reply.get('error')}")
        return reply

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # already gone
        self.reader.close()
        self.sock.close()


class HubWiring:
    """Touch line out, power pin in. ``close()`` stops the watcher thread at once."""

    def __init__(self, module: SimulatedR30x, hub_path: str | Path, touch_pin: int,
                 power_pin: int) -> None:
        self.module = module
        self.touch_pin, self.power_pin = touch_pin, power_pin
        self._control_lock = threading.Lock()
        self._control = _HubConnection(Path(hub_path), "control")
        self._watch = _HubConnection(Path(hub_path), "watch")
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
                message = self._watch.receive()
            except (OSError, ValueError, HubError):
                return  # hub gone or connection closed by close()
            event = message.get("event")
            if isinstance(event, dict) and event.get("pin") == self.power_pin:
                self.module.set_power(bool(event.get("value")))

    def close(self) -> None:
        self._stop.set()
        if self._on_touch in self.module.touch_listeners:
            self.module.touch_listeners.remove(self._on_touch)
        self._watch.close()  # unblocks the watcher's readline
        self._thread.join(timeout=2.0)
        self._control.close()

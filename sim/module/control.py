"""The module simulator's control protocol: JSON lines over a Unix stream socket.

Owns request validation and dispatch (``apply_request``, used by ``SimulatedR30x.control``)
and ``ControlServer``, which serves one request and one reply per line to any number of
local clients. Bad JSON, unknown keys and bad values get ``{"ok": false, "error": ...}`` and
never stop the server. Unix sockets only: the simulator opens no network listener.
"""

from __future__ import annotations

import json
import socketserver
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from doorward.sim.unix_socket import listening_unix_socket
from doorward.drivers.r30x.protocol import Command
from doorward.sim.module.faults import parse_fault

if TYPE_CHECKING:
    from doorward.sim.module.r30x import SimulatedR30x

PROTOCOL_VERSION = 1


def _hello(module: SimulatedR30x, value: Any) -> dict[str, Any]:
    return {"protocol": PROTOCOL_VERSION, "model": module.profile.name, "firmware": module.firmware}


def _introduction(module: SimulatedR30x, value: Any) -> dict[str, Any]:
    """``role`` and ``client`` beside ``hello``, as the hub's clients send them: accepted so
    one JSON-lines client (drivers/gpio/hubwire.py) serves both sockets."""
    return {}


def _place(module: SimulatedR30x, value: Any) -> dict[str, Any]:
    if not isinstance(value, str) or not value:
        raise ValueError("place needs a finger name such as \"alice/right-index\"")
    module.place(value)
    return {}


def _lift(module: SimulatedR30x, value: Any) -> dict[str, Any]:
    module.lift()
    return {}


def _fault(module: SimulatedR30x, value: Any) -> dict[str, Any]:
    module.faults.set(parse_fault(value, module.clock()))
    return {}


def _lie(module: SimulatedR30x, value: Any) -> dict[str, Any]:
    if value is None:
        module.lie = None
        return {}
    if not isinstance(value, dict) or set(value) != {"page", "score"}:
        raise ValueError("lie must be {\"page\": N, \"score\": S} or null")
    page, points = int(value["page"]), int(value["score"])
    if not (0 <= page <= 0xFFFF and 0 <= points <= 0xFFFF):
        raise ValueError("lie page and score must fit in 16 bits")
    module.lie = (page, points)
    return {}


def _seed(module: SimulatedR30x, value: Any) -> dict[str, Any]:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError("seed must be an integer")
    module.reseed(value)
    return {}


def _messy_rate(module: SimulatedR30x, value: Any) -> dict[str, Any]:
    rate = float(value)
    if not 0.0 <= rate <= 1.0:
        raise ValueError("messy_rate must be between 0 and 1")
    module.messy_rate = rate
    return {}


def _merge_any(module: SimulatedR30x, value: Any) -> dict[str, Any]:
    if not isinstance(value, bool):
        raise ValueError("merge_any must be true (RegModel merges any captures) or false")
    module.merge_any = value
    return {}


def _hang(module: SimulatedR30x, value: Any) -> dict[str, Any]:
    if value is not True:
        raise ValueError("hang must be true: a hung module recovers only when its power is "
                         "cut (power_cycle, or the hub's power pin)")
    module.hang()
    return {}


def _factory_new(module: SimulatedR30x, value: Any) -> dict[str, Any]:
    if value is not True:
        raise ValueError("factory_new must be true: the module is replaced by a new one")
    module.replace_with_new()
    return {}


def _power_cycle(module: SimulatedR30x, value: Any) -> dict[str, Any]:
    module.power_cycle()
    return {}


def _state(module: SimulatedR30x, value: Any) -> dict[str, Any]:
    return describe_state(module)


HANDLERS: dict[str, Callable[[Any, Any], dict[str, Any]]] = {
    "hello": _hello, "role": _introduction, "client": _introduction,
    "place": _place, "lift": _lift, "fault": _fault, "lie": _lie, "seed": _seed,
    "messy_rate": _messy_rate, "merge_any": _merge_any, "hang": _hang,
    "factory_new": _factory_new,
    "power_cycle": _power_cycle, "state": _state,
}


def apply_request(module: SimulatedR30x, request: object) -> dict[str, Any]:
    """Apply every key of one request, in order; unknown keys reject the whole request."""
    if not isinstance(request, dict) or not request:
        return {"ok": False, "error": "a request is a JSON object such as {\"hello\": 1}"}
    unknown = sorted(set(request) - set(HANDLERS))
    if unknown:
        return {"ok": False, "error": f"unknown key(s) {unknown}; known: {sorted(HANDLERS)}"}
    reply: dict[str, Any] = {"ok": True}
    try:
        for key, value in request.items():
            reply.update(HANDLERS[key](module, value))
    except (ValueError, TypeError) as error:
        return {"ok": False, "error": str(error)}
    return reply


def describe_state(module: SimulatedR30x) -> dict[str, Any]:
    with module.lock:
        stored, active = module.flash.stored, module.settings
        fault = module.faults.active(module.clock())
        return {
            "model": module.profile.name,
            "firmware": module.firmware,
            "powered": module.powered,
            "hung": module.hung,
            "finger": module.finger,
            "library": {"capacity": module.profile.capacity,
                        "occupied": sorted(module.flash.library)},
            "password_set": module.flash.password != 0,
            "password_verified": module.volatile.verified,
            "address": module.flash.address,
            "parameters": {"active": active.as_dict(), "after_power_cycle": stored.as_dict()},
            "fault": None if fault is None else fault.as_dict(module.clock()),
            "lie": None if module.lie is None else dict(zip(("page", "score"), module.lie)),
            "messy_rate": module.messy_rate,
            "merge_any": module.merge_any,
            "seed": module.seed,
            "led": dict(module.led),
            "commands_received": {_command_name(code): count
                                  for code, count in sorted(module.received.items())},
        }


def _command_name(code: int) -> str:
    try:
        return Command(code).name
    except ValueError:
        return f"0x{code:02X}"


def handle_line(module: SimulatedR30x, line: bytes) -> bytes:
    try:
        request = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        reply: dict[str, Any] = {"ok": False, "error": f"bad JSON: {error}"}
    else:
        reply = apply_request(module, request)
    return json.dumps(reply).encode() + b"\n"


class _Handler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        module = self.server.module  # type: ignore[attr-defined]
        for line in self.rfile:
            if line.strip():
                self.wfile.write(handle_line(module, line))
                self.wfile.flush()


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, path: Path, handler: type[socketserver.BaseRequestHandler]) -> None:
        super().__init__(str(path), handler, bind_and_activate=False)
        self.socket.close()
        self.socket = listening_unix_socket(path, mode=0o600)  # there only once it listens


class ControlServer:
    """Serves ``module.control`` on a Unix socket at ``path`` until ``close()``."""

    def __init__(self, module: SimulatedR30x, path: str | Path) -> None:
        self.path = Path(path)
        self._server = _Server(self.path, _Handler)
        self._server.module = module  # type: ignore[attr-defined]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
            name=f"sim-control {self.path.name}", daemon=True,
        )
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=2.0)
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> ControlServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


"""The simulated Pi's GPIO hub: one process that owns the pin levels, on a Unix socket.

``doorward sim hub --socket PATH [--mode strict|persist] [--firmware-line gpio=N=op,dl ...]``
(also ``python -m doorward.sim.pi.hub``). The pin model, boot defaults and release rule live in
``sim/pi/pinbank.py``; this module serves it: JSON lines, one reply per request, in order
(``docs/simulator.md``, "The simulated Pi"). Connections say who they are with ``hello``:

- ``gpio``: a process driving pins (the daemon's ``sim`` backend, ``doorward relay-safe``).
  When it disconnects - a close, or its death, which the hub sees as EOF - the hub releases
  the lines it configured by the mode's rule, as the Pi kernel does;
- ``watch``: pushed one event line per level change of the pins it watches;
- ``control``: tests, the demo and the module simulator drive inputs, read timelines,
  reboot the Pi and inject the ``stall`` fault (gpio requests go unanswered until cleared).

Unix socket only: the hub never listens on a network address.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import signal
import sys
import time

from doorward.sim.unix_socket import listening_unix_socket
from doorward.sim.pi.pinbank import MODES, PinBank, PinError, check_pin, parse_firmware_line

PROTOCOL_VERSION = 1
ROLES = ("gpio", "watch", "control")


class Connection:
    """One client of the hub, with its role and (for watchers) the pins it watches."""

    _ids = itertools.count(1)

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.role: str | None = None
        self.name = f"conn#{next(self._ids)}"
        self.watched: set[int] = set()
        self.requests: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.gone = asyncio.Event()  # EOF seen: the client closed or died

    def send(self, message: dict) -> None:
        if not self.writer.is_closing():
            self.writer.write((json.dumps(message) + "\n").encode())


class Hub:
    """Serves one ``PinBank`` to many connections on the asyncio loop that owns it."""

    def __init__(self, bank: PinBank) -> None:
        self.bank = bank
        self.connections: set[Connection] = set()
        self.handlers: set[asyncio.Task] = set()
        self.answering_gpio = asyncio.Event()
        self.answering_gpio.set()
        bank.listeners.append(self._push_event)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = Connection(writer)
        self.connections.add(conn)
        self.handlers.add(asyncio.current_task())
        worker = asyncio.create_task(self._answer_in_order(conn))
        try:
            await self._read_requests(reader, conn)
        finally:
            conn.gone.set()
            conn.requests.put_nowait(None)
            await worker
            self.connections.discard(conn)
            if conn.role == "gpio":
                self.bank.release(conn.name)  # the kernel's rule for a closed or dead client
            writer.close()
            self.handlers.discard(asyncio.current_task())

    @staticmethod
    async def _read_requests(reader: asyncio.StreamReader, conn: Connection) -> None:
        # Reading runs apart from answering, so a client that dies while its request is
        # stalled is still seen to die at once, and its lines released at once.
        try:
            while line := await reader.readline():
                conn.requests.put_nowait(line)
        except (ConnectionError, asyncio.LimitOverrunError, ValueError):
            pass  # died mid-line or sent an over-long line: a disconnect

    async def _answer_in_order(self, conn: Connection) -> None:
        while (line := await conn.requests.get()) is not None:
            if not await self._answer(conn, line):
                return

    async def _answer(self, conn: Connection, line: bytes) -> bool:
        """Answer one request line; False once the client is gone."""
        try:
            request = json.loads(line)
            if not isinstance(request, dict):
                raise PinError("a request is a JSON object")
            if conn.role == "gpio" or request.get("role") == "gpio":
                if not await self._wait_out_stall(conn):
                    return False  # the request died with its process
            reply = {"ok": True, **(self._dispatch(conn, request) or {})}
        except (PinError, KeyError, TypeError, json.JSONDecodeError) as error:
            reply = {"ok": False, "error": _describe(error)}
        conn.send(reply)
        try:
            await conn.writer.drain()
        except ConnectionError:
            return False
        return True

    async def _wait_out_stall(self, conn: Connection) -> bool:
        """Hold a gpio request while the stall fault is on; False if its client went away
        (closed, died, or cut by a reboot) meanwhile."""
        if self.answering_gpio.is_set():
            return not conn.writer.is_closing()  # only a reboot or shutdown cuts it here
        waits = {asyncio.create_task(self.answering_gpio.wait()),
                 asyncio.create_task(conn.gone.wait())}
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for wait in waits:
            wait.cancel()
        return not conn.gone.is_set() and not conn.writer.is_closing()

    def _dispatch(self, conn: Connection, request: dict) -> dict | None:
        if "hello" in request:
            return self._hello(conn, request)
        if conn.role is None:
            raise PinError('say {"hello": 1, "role": ...} first')
        handlers = {"gpio": GPIO_REQUESTS, "watch": WATCH_REQUESTS, "control": CONTROL_REQUESTS}
        for name, handler in handlers[conn.role].items():
            if name in request:
                return handler(self, conn, request[name])
        raise PinError(f"unknown {conn.role} request {sorted(request)}")

    def _hello(self, conn: Connection, request: dict) -> dict:
        role = request.get("role")
        if role not in ROLES or conn.role is not None:
            raise PinError(f"hello: role must be one of {ROLES}, said once")
        conn.role = role
        conn.name = f"{request.get('client', 'unnamed')}#{conn.name}"
        return {"protocol": PROTOCOL_VERSION}

    async def disconnect_all(self) -> None:
        """Cut every client and let its handler finish (at shutdown)."""
        for conn in list(self.connections):
            conn.writer.transport.abort()
        self.answering_gpio.set()
        if self.handlers:
            await asyncio.wait(self.handlers, timeout=1.0)

    def _push_event(self, pin: int, level: int, t: float) -> None:
        for conn in list(self.connections):
            if pin in conn.watched:
                conn.send({"event": {"pin": pin, "value": level, "t": t}})

    # -- gpio role ----------------------------------------------------------------------

    def setup(self, conn: Connection, args: dict) -> None:
        if args["direction"] == "out":
            self.bank.setup_output(conn.name, args["pin"], args["initial"])
        elif args["direction"] == "in":
            self.bank.setup_input(conn.name, args["pin"], args.get("pull", "off"))
        else:
            raise PinError(f"setup: direction {args['direction']!r} is not 'in' or 'out'")

    def output(self, conn: Connection, args: dict) -> None:
        self.bank.write(conn.name, args["pin"], args["value"])

    def input(self, conn: Connection, args: dict) -> dict:
        return {"value": self.bank.read(args["pin"])}

    def cleanup(self, conn: Connection, args: dict) -> None:
        self.bank.release(conn.name, args.get("pins"))

    # -- watch role ---------------------------------------------------------------------

    def watch(self, conn: Connection, args: dict) -> None:
        conn.watched |= {check_pin(pin) for pin in args["pins"]}

    # -- control role -------------------------------------------------------------------

    def drive(self, conn: Connection, args: dict) -> None:
        self.bank.drive(args["pin"], args["value"])

    def undrive(self, conn: Connection, args: dict) -> None:
        self.bank.undrive(args["pin"])

    def level(self, conn: Connection, args: dict) -> dict:
        state = self.bank.pins[check_pin(args["pin"])]
        return {"value": state.level, "mode": state.direction}

    def timeline(self, conn: Connection, args: dict) -> dict:
        timeline = self.bank.timelines[check_pin(args["pin"])]
        return {"timeline": [list(entry) for entry in timeline]}

    def reboot(self, conn: Connection, args: object) -> None:
        """Power-cycle: every process on the Pi dies, so gpio connections are cut first."""
        for other in list(self.connections):
            if other.role == "gpio":
                other.writer.transport.abort()  # as a dead process's descriptors close
        self.answering_gpio.set()  # a power cycle clears a hung GPIO call
        self.bank.power_on()

    def fault(self, conn: Connection, args: object) -> None:
        if args == "stall":
            self.answering_gpio.clear()
        elif args is None:
            self.answering_gpio.set()
        else:
            raise PinError(f"fault {args!r} is not 'stall' or null")

    def state(self, conn: Connection, args: object) -> dict:
        return {"mode": self.bank.mode, "fault": self._fault_name(), "pins": self.bank.describe()}

    def _fault_name(self) -> str | None:
        return None if self.answering_gpio.is_set() else "stall"


GPIO_REQUESTS = {"setup": Hub.setup, "output": Hub.output, "input": Hub.input,
                 "cleanup": Hub.cleanup}
WATCH_REQUESTS = {"watch": Hub.watch}
CONTROL_REQUESTS = {
    "drive": Hub.drive, "undrive": Hub.undrive, "level": Hub.level, "timeline": Hub.timeline,
    "reboot": Hub.reboot, "fault": Hub.fault, "state": Hub.state,
}


def _describe(error: Exception) -> str:
    if isinstance(error, KeyError):
        return f"missing or unknown field {error}"
    return str(error)


async def serve(socket_path: str, bank: PinBank) -> None:
    """Serve until SIGTERM or SIGINT, then remove the socket."""
    hub = Hub(bank)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    server = await asyncio.start_unix_server(hub.handle, sock=listening_unix_socket(socket_path))
    print(f"hub ready on {socket_path} ({bank.mode})", flush=True)
    try:
        await stopping.wait()
    finally:
        server.close()
        await hub.disconnect_all()  # newer Pythons' wait_closed() waits for every connection
        await server.wait_closed()
        if os.path.exists(socket_path):
            os.unlink(socket_path)


def build_parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description="Run the simulated Pi's GPIO hub.")
    parser.add_argument("--socket", required=True, help="Unix socket path to listen on")
    parser.add_argument("--mode", choices=MODES, default="persist",
                        help="line release rule: persist (kernel default) or strict "
                             "(dtparam=strict_gpiod, which the installer sets)")
    parser.add_argument("--firmware-line", action="append", default=[], metavar="gpio=N=op,dl",
                        help="a config.txt gpio= line applied at every (simulated) power-on")
    return parser


def main(argv: list[str] | None = None, prog: str = "doorward sim hub") -> int:
    args = build_parser(prog).parse_args(argv)
    try:
        lines = tuple(parse_firmware_line(text) for text in args.firmware_line)
    except PinError as error:
        print(f"{prog}: {error}", file=sys.stderr)
        return 2
    bank = PinBank(args.mode, lines, clock=time.monotonic)
    asyncio.run(serve(args.socket, bank))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], prog="python -m doorward.sim.pi.hub"))

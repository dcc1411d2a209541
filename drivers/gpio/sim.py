"""The ``sim`` GPIO backend: the RPi.GPIO-like API, served by the simulated Pi's hub.

Same surface as ``drivers/gpio/rpi.py``. Every call is one request on a ``gpio`` connection
with a deadline, so a stalled hub (a hung GPIO call) raises ``GpioTimeout`` instead of
hanging the daemon. Edge callbacks come from a second, ``watch`` connection read by one
thread, which stops when the backend is closed. Closing without ``cleanup()`` leaves the lines
to the hub's release rule, as a process exit leaves them to the Pi kernel's.
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Callable

from doorward.drivers.gpio.errors import GpioError, GpioTimeout, HubUnavailable
from doorward.drivers.gpio.hubwire import DEFAULT_TIMEOUT_S, HubConnection

log = logging.getLogger(__name__)

EdgeCallback = Callable[[int], None]


class SimGpio:
    def __init__(self, socket_path: str, timeout_s: float = DEFAULT_TIMEOUT_S,
                 client: str = "doorward") -> None:
        self._socket_path, self._timeout_s, self._client = socket_path, timeout_s, client
        self._gpio = HubConnection(socket_path, "gpio", client, timeout_s)
        self._watcher: HubWatcher | None = None

    def setup_output(self, pin: int, initial_level: int) -> None:
        """Make ``pin`` an output already at ``initial_level``: one request, no glitch."""
        self._gpio.request({"setup": {"pin": pin, "direction": "out", "initial": initial_level}})

    def setup_input(self, pin: int, pull: str) -> None:
        self._gpio.request({"setup": {"pin": pin, "direction": "in", "pull": pull}})

    def write(self, pin: int, level: int) -> None:
        self._gpio.request({"output": {"pin": pin, "value": level}})

    def read(self, pin: int) -> int:
        return int(self._gpio.request({"input": {"pin": pin}})["value"])

    def add_edge_callback(self, pin: int, callback: EdgeCallback) -> None:
        """Call ``callback(pin)`` from the watch thread on every level change of ``pin``."""
        if self._watcher is None:
            connection = HubConnection(self._socket_path, "watch", self._client, self._timeout_s)
            self._watcher = HubWatcher(connection)
        self._watcher.watch(pin, callback)

    def cleanup(self) -> None:
        """Release every line this process configured (the hub applies its mode's rule)."""
        self._gpio.request({"cleanup": {"pins": None}})

    def close(self) -> None:
        if self._watcher is not None:
            self._watcher.close()
        self._gpio.close()

    def __enter__(self) -> SimGpio:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class HubWatcher:
    """Owns a ``watch`` connection and the thread that reads its event lines."""

    def __init__(self, connection: HubConnection) -> None:
        self._connection = connection
        self._callbacks: dict[int, list[EdgeCallback]] = {}
        self._replies: queue.Queue[dict] = queue.Queue()
        self._stopping = threading.Event()
        self._watch_lock = threading.Lock()  # pairs each watch request with its reply
        self._thread = threading.Thread(target=self._run, name="gpio-hub-watch", daemon=True)
        self._thread.start()

    def watch(self, pin: int, callback: EdgeCallback) -> None:
        self._callbacks.setdefault(pin, []).append(callback)
        with self._watch_lock:
            self._connection.send({"watch": {"pins": [pin]}})
            try:
                reply = self._replies.get(timeout=self._connection.timeout_s)
            except queue.Empty:
                raise GpioTimeout(f"GPIO hub did not confirm the watch on pin {pin}") from None
        if not reply.get("ok"):
            raise GpioError(f"GPIO hub refused to watch pin {pin}: {reply.get('error')}")

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                message = self._connection.read_message(deadline=None)
            except (HubUnavailable, GpioError) as error:
                if not self._stopping.is_set():
                    log.error("GPIO hub watch connection lost: %s", error)
                return
            self._dispatch(message)

    def _dispatch(self, message: dict) -> None:
        event = message.get("event")
        if event is None:
            self._replies.put(message)
            return
        for callback in list(self._callbacks.get(event["pin"], ())):
            try:
                callback(event["pin"])
            except Exception:  # one bad callback must not stop edge delivery
                log.exception("edge callback for pin %s failed", event["pin"])

    def close(self) -> None:
        self._stopping.set()
        self._connection.shutdown()
        self._thread.join(timeout=2.0)
        self._connection.close()

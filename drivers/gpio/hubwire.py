"""One JSON-lines connection to the simulated Pi's hub, with a deadline on every reply.

The wire protocol is in ``docs/simulator.md``, "The simulated Pi". Requests are answered one line each, in order, so
after a request times out its late reply is still owed: the connection counts unanswered
requests and discards that many replies before reading the next, instead of handing a stale
answer to the wrong caller. Unix sockets only.
"""

from __future__ import annotations

import json
import socket
import threading
import time

from doorward.drivers.gpio.errors import GpioError, GpioTimeout, HubUnavailable

DEFAULT_TIMEOUT_S = 2.0


class HubConnection:
    """A connection in one role (``gpio``, ``watch`` or ``control``), said hello on."""

    def __init__(self, socket_path: str, role: str, client: str = "doorward",
                 timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.socket_path, self.timeout_s = socket_path, timeout_s
        self._buffer = b""
        self._unanswered = 0
        self._lock = threading.Lock()  # one request/reply at a time, whichever thread asks
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self._sock.settimeout(timeout_s)
            self._sock.connect(socket_path)
        except OSError as error:
            self._sock.close()
            raise HubUnavailable(f"cannot reach the GPIO hub at {socket_path}: {error}") from error
        try:
            self.request({"hello": 1, "role": role, "client": client})
        except GpioError:
            self._sock.close()
            raise

    def request(self, message: dict, timeout_s: float | None = None) -> dict:
        """Send ``message`` and return its reply; raises GpioTimeout at the deadline and
        GpioError when the hub answers ``ok: false``."""
        deadline = time.monotonic() + (self.timeout_s if timeout_s is None else timeout_s)
        with self._lock:
            self.send(message)
            self._unanswered += 1
            while self._unanswered > 1:  # late replies to requests that timed out earlier
                self.read_message(deadline, what=message)
                self._unanswered -= 1
            reply = self.read_message(deadline, what=message)
            self._unanswered -= 1
        if not reply.get("ok"):
            raise GpioError(f"GPIO hub refused {_name(message)}: {reply.get('error')}")
        return reply

    def send(self, message: dict) -> None:
        try:
            self._sock.sendall((json.dumps(message) + "\n").encode())
        except OSError as error:
            raise HubUnavailable(f"GPIO hub at {self.socket_path} hung up: {error}") from error

    def read_message(self, deadline: float | None, what: dict | None = None) -> dict:
        """The next line as JSON; ``deadline`` None waits for ever (the watch thread)."""
        while b"\n" not in self._buffer:
            self._buffer += self._receive(deadline, what)
        line, _, self._buffer = self._buffer.partition(b"\n")
        try:
            return json.loads(line)
        except ValueError as error:
            raise GpioError(f"GPIO hub sent a line that is not JSON: {line[:80]!r}") from error

    def _receive(self, deadline: float | None, what: dict | None) -> bytes:
        remaining_s = None if deadline is None else deadline - time.monotonic()
        try:
            if remaining_s is not None and remaining_s <= 0:
                raise TimeoutError
            self._sock.settimeout(remaining_s)
            chunk = self._sock.recv(65536)
        except TimeoutError:
            raise GpioTimeout(
                f"GPIO hub at {self.socket_path} did not answer {_name(what)} within "
                f"{self.timeout_s:g} s (a hung GPIO call)") from None
        except OSError as error:
            raise HubUnavailable(f"GPIO hub at {self.socket_path} hung up: {error}") from error
        if not chunk:
            raise HubUnavailable(f"GPIO hub at {self.socket_path} closed the connection")
        return chunk

    def shutdown(self) -> None:
        """Wake a thread blocked in ``read_message`` (it then sees the connection closed)."""
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # already disconnected

    def close(self) -> None:
        self._sock.close()


def _name(message: dict | None) -> str:
    if not message:
        return "a request"
    request, args = next(iter(message.items()))
    pin = args.get("pin") if isinstance(args, dict) else None
    return repr(request) if pin is None else f"{request!r} of pin {pin}"

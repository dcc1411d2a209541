"""systemd's notify protocol (``sd_notify``), spoken with one AF_UNIX datagram per message.

Owns ``Notifier``: ``READY=1`` once the door is up, ``STATUS=...`` for ``systemctl status``,
``STOPPING=1`` at shutdown and ``WATCHDOG=1`` pings. Without ``NOTIFY_SOCKET`` (not under
systemd, or ``Type=simple``) every call does nothing, so the daemon runs the same by hand.
``watchdog_interval_s`` is half of ``WATCHDOG_USEC`` (systemd's own advice), or None when no
watchdog is set or it is meant for another process (``WATCHDOG_PID``).

A plain datagram send, no libsystemd binding: a socket path starting with ``@`` is in the
abstract namespace (a leading NUL byte). Sends never block and a failure is logged once and
otherwise ignored: a notify problem must never stop the door.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

log = logging.getLogger(__name__)


class Notifier:
    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        environ = os.environ if environ is None else environ
        self._address = _socket_address(environ.get("NOTIFY_SOCKET", ""))
        self.watchdog_interval_s = _watchdog_interval_s(environ)
        self._socket: socket.socket | None = None
        self._warned = False

    @property
    def enabled(self) -> bool:
        return self._address is not None

    def ready(self, status: str) -> None:
        self._send(f"READY=1\nSTATUS={status}")

    def status(self, status: str) -> None:
        self._send(f"STATUS={status}")

    def stopping(self) -> None:
        self._send("STOPPING=1")

    def watchdog(self) -> None:
        self._send("WATCHDOG=1")

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def _send(self, message: str) -> None:
        if self._address is None:
            return
        try:
            if self._socket is None:
                self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                self._socket.setblocking(False)
            self._socket.sendto(message.encode(), self._address)
        except OSError as error:
            if not self._warned:  # once: a vanished socket would otherwise flood the log
                log.warning("systemd notify failed: %s", error)
                self._warned = True


def _socket_address(path: str) -> str | bytes | None:
    if not path:
        return None
    if path.startswith("@"):
        return b"\0" + path[1:].encode()
    return path


def _watchdog_interval_s(environ: Mapping[str, str]) -> float | None:
    usec = environ.get("WATCHDOG_USEC", "")
    pid = environ.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    if pid and pid != str(os.getpid()):
        return None  # the watchdog belongs to another process (our parent, a wrapper)
    return int(usec) / 1_000_000 / 2

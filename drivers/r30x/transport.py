"""The byte transport under the module client: the only importer of ``serial`` (pyserial).

A transport moves bytes and nothing else. ``SerialTransport`` opens any pyserial URL with
``exclusive=True`` (a UART such as ``/dev/serial0``, a pty path, ``socket://host:port``), so a
second program (the kiosk while the daemon runs) fails fast instead of stealing replies.
The simulator's in-memory link (``sim/module/link.py``) satisfies the same ``Transport`` protocol.

Reads wait with ``select`` on the port's descriptor and then take everything buffered in one
call: pyserial's own blocking read costs a reconfiguration syscall whenever the timeout
changes, and reading byte by byte (as pyfingerprint does) is what makes a Pi Zero busy.
"""

from __future__ import annotations

import select
from typing import Protocol

import serial

from doorward.drivers.r30x.errors import PortLost

DEFAULT_BAUD = 57_600


class Transport(Protocol):
    name: str

    def write(self, data: bytes) -> None:
        """Send all of ``data``; raises PortLost."""

    def read(self, max_bytes: int, timeout_s: float) -> bytes:
        """Wait up to ``timeout_s`` for at least one byte, return up to ``max_bytes``.

        Returns b"" on timeout; raises PortLost when the port is gone.
        """

    def close(self) -> None: ...

    def reopen(self) -> None:
        """Close and open again (after an unplug); raises PortLost while still absent."""


class SerialTransport:
    """A pyserial port opened from a URL."""

    def __init__(self, url: str, baud: int = DEFAULT_BAUD) -> None:
        self.name = url
        self.baud = baud
        self._port: serial.SerialBase | None = None
        self._open()

    def _open(self) -> None:
        try:
            port = serial.serial_for_url(
                self.name, baudrate=self.baud, timeout=0, write_timeout=2.0, exclusive=True
            )
        except (serial.SerialException, OSError, ValueError) as error:
            raise PortLost(f"cannot open {self.name}: {error}") from error
        self._port = port
        try:
            self._fd: int | None = port.fileno()
        except (AttributeError, NotImplementedError, serial.SerialException):
            self._fd = None  # socket:// and loop:// have no descriptor: poll via pyserial

    def _require(self) -> serial.SerialBase:
        if self._port is None:
            raise PortLost(f"{self.name} is closed")
        return self._port

    def write(self, data: bytes) -> None:
        port = self._require()
        try:
            port.write(data)  # blocks until the kernel has it all (write_timeout bounds it)
        except (serial.SerialException, OSError) as error:
            raise PortLost(f"write to {self.name} failed: {error}") from error

    def read(self, max_bytes: int, timeout_s: float) -> bytes:
        port = self._require()
        try:
            if self._fd is not None:
                if not port.in_waiting:
                    ready, _, _ = select.select([self._fd], [], [], max(timeout_s, 0.0))
                    if not ready:
                        return b""
                # A readable descriptor with nothing to read is a vanished device.
                waiting = port.in_waiting
                if not waiting:
                    raise PortLost(f"{self.name}: readable but no data (device disconnected)")
                return port.read(min(waiting, max_bytes))
            port.timeout = max(timeout_s, 0.0)
            return port.read(max(1, min(port.in_waiting, max_bytes)))
        except (serial.SerialException, OSError) as error:
            raise PortLost(f"read from {self.name} failed: {error}") from error

    def close(self) -> None:
        if self._port is not None:
            try:
                self._port.close()
            finally:
                self._port = None

    def reopen(self) -> None:
        self.close()
        self._open()

    def __enter__(self) -> SerialTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

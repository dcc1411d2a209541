"""Errors of the module client. Transport failures are exceptions; module replies are
``Confirmation`` values; the two never share a code space (no pseudo-codes like 0xFF)."""

from __future__ import annotations

from doorward.drivers.errors import DoorwardError
from doorward.drivers.r30x.protocol import describe_confirmation


class SensorError(DoorwardError):
    """Anything that went wrong talking to the fingerprint module."""


class Timeout(SensorError, TimeoutError):
    """No complete reply before the exchange's deadline (a silent or hung module)."""


class BadFrame(SensorError, ValueError):
    """Bytes arrived but no valid reply frame could be read from them."""


class UnexpectedReply(SensorError):
    """A valid frame that is not the reply this exchange expects (wrong kind or length)."""


class PortLost(SensorError, OSError):
    """The serial port vanished (unplugged adapter, closed pty). Only the owner reopens it."""


class ModuleReset(SensorError):
    """The module reset since the last exchange (0x55 byte or 0x21 reply): its buffers are
    gone, so the command was not replayed. The password has been verified again."""


class ModuleRejected(SensorError):
    """The module answered with a confirmation code the command does not expect."""

    def __init__(self, code: int, command: str = "") -> None:
        where = f"{command}: " if command else ""
        super().__init__(f"{where}module answered {describe_confirmation(code)}")
        self.code = code
        self.command = command

"""Errors of the GPIO edge, under ``DoorwardError`` and the builtin each resembles."""

from __future__ import annotations

from doorward.drivers.errors import DoorwardError


class GpioError(DoorwardError, OSError):
    """A GPIO call failed (the line is busy, the hub refused the request, no such pin)."""


class GpioTimeout(GpioError, TimeoutError):
    """A GPIO call did not complete before its deadline (a hung GPIO call or hub)."""


class HubUnavailable(GpioError, ConnectionError):
    """The simulated Pi's hub cannot be reached, or hung up."""

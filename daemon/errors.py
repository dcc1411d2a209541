"""The root of every doorward exception.

Each error also inherits the builtin it resembles (gpiozero's habit), so callers that know
nothing of doorward can still catch ``ValueError`` or ``OSError``. Imports nothing.
"""


class DoorwardError(Exception):
    """Base class of every error raised by doorward code."""


class ConfigError(DoorwardError, ValueError):
    """A configuration file or value is wrong; the message names the key and the file."""

"""The root of every doorward exception, at the bottom of the house so every layer can
inherit it (the drivers import nothing above themselves).

Each error also inherits the builtin it resembles (gpiozero's habit), so callers that know
nothing of doorward can still catch ``ValueError`` or ``OSError``. Imports nothing.
"""


class DoorwardError(Exception):
    """Base class of every error raised by doorward code."""

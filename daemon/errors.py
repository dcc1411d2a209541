"""The door's own error kinds, under the root every doorward exception shares.

``DoorwardError`` itself lives in ``doorward.drivers.errors`` (the lowest layer, so the
drivers can inherit it without importing the door); it is re-exported here for the door's
modules. Imports nothing else.
"""

from doorward.drivers.errors import DoorwardError

__all__ = ["ConfigError", "DoorwardError"]


class ConfigError(DoorwardError, ValueError):
    """A configuration file or value is wrong; the message names the key and the file."""

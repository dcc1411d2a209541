"""Tests only: ``DOORWARD_TEST_ROOT=DIR`` moves every absolute path a configuration names
(and the default configuration path) under ``DIR``.

The role tests install into ``DIR`` with ``install.sh --root DIR`` and run the installed
``doorward`` against the installed configuration unchanged: ``/var/lib/doorward`` there is
``DIR/var/lib/doorward``. Production never sets the variable, and a relative path (relative
to the configuration file) is left as it is. The door's configuration and the server's both use
it, so it is a room of its own that imports nothing of doorward.
"""

from __future__ import annotations

import os
from pathlib import Path

RELOCATION_ENV = "DOORWARD_TEST_ROOT"


def relocated(path: str) -> str:
    """``path`` under ``$DOORWARD_TEST_ROOT`` when it is set and ``path`` is absolute."""
    root = os.environ.get(RELOCATION_ENV)
    if not root or not path.startswith("/"):
        return path
    return os.path.join(root, path.lstrip("/"))


def relocated_path(path: Path) -> Path:
    return Path(relocated(str(path)))

"""The bundle version high-water mark, kept beside the keys rather than in the database.

Owns ``VersionFloor``. Versions are ``max(last + 1, floor + 1, server time in µs)``: the
time term keeps them rising after a restore from backup, and the floor file covers a restore
while the clock is wrong (it lives with the keys, which backups of the database leave out).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path


class VersionFloor:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._value = self._read()

    def _read(self) -> int:
        try:
            return int(self.path.read_text().strip() or 0)
        except FileNotFoundError:
            return 0

    @property
    def value(self) -> int:
        with self._lock:
            return self._value

    def raise_to(self, version: int) -> None:
        with self._lock:
            if version <= self._value:
                return
            temporary = self.path.with_suffix(".tmp")
            with open(temporary, "w") as handle:
                handle.write(f"{version}\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, self.path)
            self._value = version


def next_version(last: int, floor: int, now: float) -> int:
    return max(last + 1, floor + 1, int(now * 1_000_000))

"""The server's clock: wall time and whether the kernel says it is synchronised.

Owns the ``Clock`` protocol, ``SystemClock`` (``adjtimex(2)`` through ctypes, read-only) and
``ManualClock``, the fake that tests drive. While the clock is not synchronised the server
issues no bundle that extends ``expires_at`` (see ``doorward.server.bundles.issue``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
import time
from typing import Protocol

TIME_ERROR = 5  # adjtimex(2): "the system clock is not synchronized to a reliable server"


class Clock(Protocol):
    def now(self) -> float:
        """Epoch seconds (UTC)."""

    def synchronised(self) -> bool:
        """Whether the wall clock is trustworthy enough to extend bundle expiry."""


class SystemClock:
    """The real clock; ``assume_synchronised`` (labs and CI only) skips the kernel check."""

    def __init__(self, assume_synchronised: bool = False) -> None:
        self.assume_synchronised = assume_synchronised

    def now(self) -> float:
        return time.time()

    def synchronised(self) -> bool:
        return self.assume_synchronised or kernel_reports_synchronised()


def kernel_reports_synchronised() -> bool:
    """adjtimex with modes=0 only reads; its return value is the clock state."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return False
    # struct timex is ~208 bytes on 64-bit Linux; a zeroed, larger buffer means modes = 0.
    buffer = ctypes.create_string_buffer(512)
    state = libc.adjtimex(buffer)
    return 0 <= state < TIME_ERROR


class ManualClock:
    """A clock tests set and step; thread-safe because the server reads it from threads."""

    def __init__(self, start: float = 1_800_000_000.0, synchronised: bool = True) -> None:
        self._now = start
        self._synchronised = synchronised
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def synchronised(self) -> bool:
        with self._lock:
            return self._synchronised

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds

    def set_synchronised(self, value: bool) -> None:
        with self._lock:
            self._synchronised = value


class FollowingClock(ManualClock):
    """Real time plus an offset the test can step; for tests of timed background work."""

    def __init__(self, synchronised: bool = True) -> None:
        super().__init__(0.0, synchronised)

    def now(self) -> float:
        with self._lock:
            return time.time() + self._now

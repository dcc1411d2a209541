"""The wall-clock edge and whether its time may be trusted (promise 5).

Owns ``ClockEdge`` (the replaceable edge: wall time and the kernel's sync status),
``SystemClock`` (``time.time()`` and ``adjtimex(2)`` through ctypes), ``FakeClock`` (for
tests: step the clock, sync it, break ``adjtimex``) and ``TimeTrust``, which combines the
edge, the TOML's ``[clock]`` declarations and the newest bundle through the pure rule
``decision_state.clock_is_trusted``.

Why ``adjtimex``: with modes 0 it changes nothing and returns the kernel's clock state, and
the kernel reports ``TIME_ERROR`` whenever the clock is unsynchronised, which includes
every manual step (``settimeofday``/``clock_settime`` set ``STA_UNSYNC``) until the next
NTP sync. So a step of an hour, a jump to 1970 or 60 days ahead is untrusted without any
last-known-good file, and a sync makes the clock trusted again at once. If ``adjtimex``
itself fails (a sandbox that blocks it), the clock is untrusted and ``sync_problem`` says why.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import time
from dataclasses import dataclass
from typing import Callable, Protocol

from doorward.daemon.access.state import clock_is_trusted
from doorward.daemon.codec.snapshot import Snapshot

TIME_ERROR = 5  # adjtimex(2): the clock is not synchronised
TIMEX_BUFFER_BYTES = 512  # larger than struct timex on every ABI; modes (offset 0) stay 0


class ClockEdge(Protocol):
    def wall_now(self) -> float:
        """Epoch seconds (UTC)."""

    def kernel_synchronised(self) -> bool:
        """Whether the kernel says the clock is synchronised; False when it cannot tell."""

    def sync_problem(self) -> str | None:
        """Why the sync status could not be read at the last ask; None when it could."""


@functools.cache
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


def _libc_adjtimex() -> int:
    """The kernel's clock state (modes 0 reads only); raises OSError when the call fails."""
    try:
        libc = _libc()
    except OSError as error:
        raise OSError(f"the C library cannot be loaded: {error}") from None
    try:
        adjtimex = libc.adjtimex
    except AttributeError:
        raise OSError("adjtimex is not available in this C library") from None
    timex = ctypes.create_string_buffer(TIMEX_BUFFER_BYTES)  # zeroed: modes = 0
    state = adjtimex(timex)
    if state == -1:
        errno = ctypes.get_errno()
        raise OSError(errno, os.strerror(errno))
    return state


class SystemClock:
    """The real clock: ``time.time()`` and the kernel's sync status from ``adjtimex``."""

    def __init__(self, adjtimex: Callable[[], int] = _libc_adjtimex) -> None:
        self._adjtimex = adjtimex
        self._problem: str | None = None

    def wall_now(self) -> float:
        return time.time()

    def kernel_synchronised(self) -> bool:
        try:
            state = self._adjtimex()
        except OSError as error:
            self._problem = f"adjtimex failed, so the clock's sync status is unknown: {error}"
            return False
        self._problem = None
        return state != TIME_ERROR

    def sync_problem(self) -> str | None:
        return self._problem


class FakeClock:
    """A clock for tests that behaves like the kernel's: a step unsynchronises it."""

    def __init__(self, wall_s: float, synchronised: bool = True) -> None:
        self.wall_s, self.synchronised = wall_s, synchronised
        self.adjtimex_error: str | None = None  # set to make the sync status unreadable

    def wall_now(self) -> float:
        return self.wall_s

    def kernel_synchronised(self) -> bool:
        return self.adjtimex_error is None and self.synchronised

    def sync_problem(self) -> str | None:
        return self.adjtimex_error

    def advance(self, seconds: float) -> None:
        """Time passing: no effect on the sync status."""
        self.wall_s += seconds

    def step(self, to_wall_s: float) -> None:
        """Someone sets the clock (date -s, a bad RTC): unsynchronised until the next sync."""
        self.wall_s, self.synchronised = to_wall_s, False

    def sync(self, true_wall_s: float) -> None:
        """An NTP sync: the true time, and synchronised again."""
        self.wall_s, self.synchronised = true_wall_s, True


class Untrusted:
    """Why a reading is untrusted: stable codes for the heartbeat and alarms."""

    KERNEL_UNSYNCHRONISED = "kernel_unsynchronised"
    SYNC_STATUS_UNKNOWN = "sync_status_unknown"  # adjtimex failed: also an alarm
    BEFORE_BUNDLE = "before_bundle_issued"  # earlier than issued_at minus the allowed skew


@dataclass(frozen=True)
class ClockReading:
    wall_now: float
    trusted: bool
    untrusted_reason: str | None = None  # an ``Untrusted`` code
    alarm: str | None = None  # a message when the sync status could not be read


class TimeTrust:
    """Reads the edge and says whether its time is trusted now."""

    def __init__(self, edge: ClockEdge, *, rtc: bool = False,
                 assume_synchronised: bool = False) -> None:
        self.edge = edge
        # A declared RTC keeps time across power loss; assume_synchronised is for labs and CI.
        self._declared_synchronised = rtc or assume_synchronised
        self._newest: Snapshot | None = None

    def note_snapshot(self, snapshot: Snapshot | None) -> None:
        """The newest applied (or cached) snapshot: its ``issued_at`` bounds the clock."""
        if snapshot is not None and (self._newest is None
                                     or snapshot.issued_at >= self._newest.issued_at):
            self._newest = snapshot

    def read(self) -> ClockReading:
        wall_now = self.edge.wall_now()
        if self._declared_synchronised:
            synced, problem = True, None
        else:
            synced = self.edge.kernel_synchronised()
            problem = self.edge.sync_problem()
        trusted = clock_is_trusted(synced, wall_now, self._newest)
        return ClockReading(wall_now, trusted, None if trusted else
                            self._reason(synced, problem), problem)

    @staticmethod
    def _reason(synced: bool, problem: str | None) -> str:
        if problem is not None:
            return Untrusted.SYNC_STATUS_UNKNOWN
        return Untrusted.KERNEL_UNSYNCHRONISED if not synced else Untrusted.BEFORE_BUNDLE

"""A brake on guessing: failed logins and pairing attempts, counted so that a guesser cannot
lock out an admin who is elsewhere.

Owns ``Throttle`` (failures per key in a sliding window: pairing codes, per client address)
and ``LoginThrottle``, which combines three counts (docs/server.md, "Logins and guessing"):

- per name and address: 5 failures in 5 minutes refuse that pair (429) until the oldest
  leaves the window. An attacker locks out only themselves, and whoever shares their address.
- per address: 20 failures across names (spraying) refuse the address, except for names that
  logged in from it within the last 30 days.
- per name, from everywhere: past 50 failures the name is under a distributed attack; it is
  not locked but braked: one attempt a second, shared by every address that has not logged
  in as that name recently. Recent addresses of the name are not braked.

Checks come before the argon2 verification, so a guesser cannot make the server burn CPU
either. Per app, in memory: a restart forgets, which is acceptable for a brake (the audit log
keeps every wrong password as ``session.refused``). Time is passed in, never read here.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict, deque

from doorward.server.errors import ServiceError

MAX_KEYS = 10_000  # bound the memory a scan of many names or addresses could take
DAY_S = 86400.0


class TooManyAttempts(ServiceError):
    status = 429


def _refuse(wait_s: float, why: str) -> TooManyAttempts:
    wait_s = max(wait_s, 0.0)
    return TooManyAttempts(f"too many failed attempts{' ' + why if why else ''}; try again in"
                           f" {math.ceil(wait_s)} s", retry_after_s=round(wait_s, 1))


class Throttle:
    """At most ``limit`` failures per key within ``window_s``; then that key is refused."""

    def __init__(self, limit: int = 5, window_s: float = 300.0) -> None:
        self.limit, self.window_s = limit, window_s
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, keys: list[str], now: float, why: str = "") -> None:
        """Raise TooManyAttempts if any key has used up its failures."""
        wait_s = self.wait_s(keys, now)
        if wait_s is not None:
            raise _refuse(wait_s, why)

    def wait_s(self, keys: list[str], now: float) -> float | None:
        """How long until the first exhausted key may try again; None if none is exhausted."""
        with self._lock:
            for key in keys:
                recent = self._recent(key, now)
                if len(recent) >= self.limit:
                    return recent[0] + self.window_s - now
        return None

    def failed(self, keys: list[str], now: float) -> None:
        with self._lock:
            for key in keys:
                self._recent(key, now).append(now)

    def forget(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)

    def _recent(self, key: str, now: float) -> deque[float]:
        recent = self._failures.setdefault(key, deque())
        while recent and recent[0] <= now - self.window_s:
            recent.popleft()
        if not recent and len(self._failures) > MAX_KEYS:
            self._failures.pop(key)
            recent = self._failures.setdefault(key, deque())
        return recent


class LoginThrottle:
    def __init__(self, pair_limit: int = 5, address_limit: int = 20, name_limit: int = 50,
                 window_s: float = 300.0, brake_interval_s: float = 1.0,
                 remember_s: float = 30 * DAY_S) -> None:
        self.pairs = Throttle(pair_limit, window_s)
        self.addresses = Throttle(address_limit, window_s)
        self.names = Throttle(name_limit, window_s)
        self.brake_interval_s, self.remember_s = brake_interval_s, remember_s
        self._known: OrderedDict[tuple[str, str], float] = OrderedDict()  # (name, address) -> last login
        self._braked_at: dict[str, float] = {}  # name -> last attempt admitted under the brake
        self._lock = threading.Lock()

    def check(self, name: str, address: str, now: float) -> None:
        """Raise TooManyAttempts unless an attempt for ``name`` from ``address`` may go ahead."""
        self.pairs.check([f"{name}\x00{address}"], now, "for this name from this address")
        if self._knows(name, address, now):
            return
        self.addresses.check([address], now, "from this address")
        if self.names.wait_s([name], now) is not None:
            self._brake(name, now)

    def failed(self, name: str, address: str, now: float) -> None:
        self.pairs.failed([f"{name}\x00{address}"], now)
        self.addresses.failed([address], now)
        self.names.failed([name], now)

    def succeeded(self, name: str, address: str, now: float) -> None:
        self.pairs.forget(f"{name}\x00{address}")
        with self._lock:
            self._known[(name, address)] = now
            self._known.move_to_end((name, address))
            while len(self._known) > MAX_KEYS:
                self._known.popitem(last=False)

    def _knows(self, name: str, address: str, now: float) -> bool:
        with self._lock:
            last = self._known.get((name, address))
        return last is not None and now - last < self.remember_s

    def _brake(self, name: str, now: float) -> None:
        """One attempt per ``brake_interval_s`` for the name, whoever asks first."""
        with self._lock:
            wait_s = self._braked_at.get(name, float("-inf")) + self.brake_interval_s - now
            if wait_s > 0:
                raise _refuse(wait_s, "for this name; it is braked while under attack")
            self._braked_at[name] = now
            if len(self._braked_at) > MAX_KEYS:
                self._braked_at.pop(next(iter(self._braked_at)))

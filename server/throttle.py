"""A brake on guessing: failed logins and pairing attempts per name and per client address.

Owns ``Throttle``. After ``limit`` failures for one key within ``window_s``, that key is
refused (429) until the oldest failure leaves the window; the check comes before the argon2
verification, so a guesser cannot make the server burn CPU either. Per app, in memory: a
restart forgets, which is acceptable for a brake (the audit log keeps every refusal).
"""

from __future__ import annotations

import threading
from collections import deque

from server.errors import ServiceError


class TooManyAttempts(ServiceError):
    status = 429


class Throttle:
    def __init__(self, limit: int = 5, window_s: float = 300.0) -> None:
        self.limit, self.window_s = limit, window_s
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, keys: list[str], now: float) -> None:
        """Raise TooManyAttempts if any key has used up its failures."""
        with self._lock:
            for key in keys:
                recent = self._recent(key, now)
                if len(recent) >= self.limit:
                    wait_s = recent[0] + self.window_s - now
                    raise TooManyAttempts(f"too many failed attempts; try again in {wait_s:.0f} s",
                                          retry_after_s=round(wait_s, 1))

    def failed(self, keys: list[str], now: float) -> None:
        with self._lock:
            for key in keys:
                self._recent(key, now).append(now)

    def _recent(self, key: str, now: float) -> deque[float]:
        recent = self._failures.setdefault(key, deque())
        while recent and recent[0] <= now - self.window_s:
            recent.popleft()
        if not recent and len(self._failures) > 10_000:
            self._failures.pop(key)  # bound the memory a scan of many names could take
            recent = self._failures.setdefault(key, deque())
        return recent

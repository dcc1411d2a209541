"""Named one-shot timers on the monotonic clock, for the controller thread.

Owns ``TimerHeap``: ``start(key, at_mono)`` replaces any pending timer of the same key,
``cancel(key)`` drops it, ``seconds_until_next(mono_now)`` is the queue wait of the controller
loop, and ``pop_due(mono_now)`` hands back the keys that are due, earliest first. Keys are any
hashable values (the door's ``TimerName``, a debounce re-read of one input, an indicator step).

Cancelled and replaced entries stay in the heap until they reach the top (lazy deletion): the
dict of live deadlines is the truth, the heap only orders them. Not thread-safe: only the
controller thread uses it. All times are ``time.monotonic()`` seconds, passed in; this module
reads no clock, so a wall-clock jump cannot stretch a timer.
"""

from __future__ import annotations

import heapq
import itertools
from typing import Hashable


class TimerHeap:
    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Hashable]] = []
        self._live: dict[Hashable, tuple[float, int]] = {}
        self._order = itertools.count()  # ties fire in the order they were started

    def start(self, key: Hashable, at_mono: float) -> None:
        entry = (at_mono, next(self._order))
        self._live[key] = entry
        heapq.heappush(self._heap, (*entry, key))

    def cancel(self, key: Hashable) -> None:
        self._live.pop(key, None)

    def pending(self) -> dict[Hashable, float]:
        """Every live timer and its deadline (for status and tests)."""
        return {key: at_mono for key, (at_mono, _) in self._live.items()}

    def next_due_mono(self) -> float | None:
        self._drop_dead_tops()
        return self._heap[0][0] if self._heap else None

    def seconds_until_next(self, mono_now: float) -> float | None:
        """How long the loop may wait for an event; None when no timer is pending."""
        due = self.next_due_mono()
        return None if due is None else max(0.0, due - mono_now)

    def pop_due(self, mono_now: float) -> list[Hashable]:
        """Remove and return the keys due at ``mono_now``, earliest deadline first."""
        due: list[Hashable] = []
        while (next_due := self.next_due_mono()) is not None and next_due <= mono_now:
            _, _, key = heapq.heappop(self._heap)
            del self._live[key]
            due.append(key)
        return due

    def _drop_dead_tops(self) -> None:
        while self._heap:
            at_mono, order, key = self._heap[0]
            if self._live.get(key) == (at_mono, order):
                return
            heapq.heappop(self._heap)

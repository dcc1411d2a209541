"""The reader's job queue: work for the module, ordered by priority, run by one thread.

Owns ``Priority``, ``Job`` and ``JobQueue``. Any thread may queue a job; only the reader
thread takes them out and runs them against the module client, so commands to the module are
never interleaved. Scans are not queued: the reader polls for a finger before it takes any
job, which is what puts a person at the door ahead of everything here. Among queued jobs the
lower priority value runs first, in order of arrival within a priority.
"""

from __future__ import annotations

import enum
import heapq
import itertools
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from doorward.drivers.r30x.sensor import R30xSensor

JobFunction = Callable[[R30xSensor], Any]


class Priority(enum.IntEnum):
    SCAN = 0  # the scan tick itself; listed for order, never queued
    LED = 1
    HEALTH = 2
    RECONCILE = 3
    BINDING = 4


@dataclass(order=True)
class Job:
    priority: int
    sequence: int
    name: str = field(compare=False)
    run: JobFunction = field(compare=False)
    future: Future | None = field(compare=False, default=None)


class JobQueue:
    """Thread-safe priority queue; ``wake`` is set on every put so the reader looks again."""

    def __init__(self, wake: threading.Event) -> None:
        self._wake = wake
        self._heap: list[Job] = []
        self._lock = threading.Lock()
        self._sequence = itertools.count()

    def put(self, priority: Priority, name: str, run: JobFunction, *, once: bool = False,
            with_future: bool = False) -> Future | None:  # fmt: skip
        """Queue a job. ``once``: not when a job of that name is already waiting."""
        future: Future | None = Future() if with_future else None
        with self._lock:
            if once and any(job.name == name for job in self._heap):
                return None
            heapq.heappush(self._heap, Job(priority, next(self._sequence), name, run, future))
        self._wake.set()
        return future

    def pop(self) -> Job | None:
        with self._lock:
            return heapq.heappop(self._heap) if self._heap else None

    def waiting(self, name: str) -> bool:
        with self._lock:
            return any(job.name == name for job in self._heap)

    def cancel_all(self) -> None:
        """At stop: every waiting caller gets a cancelled future instead of hanging."""
        with self._lock:
            jobs, self._heap = self._heap, []
        for job in jobs:
            if job.future is not None:
                job.future.cancel()

    def __len__(self) -> int:
        with self._lock:
            return len(self._heap)

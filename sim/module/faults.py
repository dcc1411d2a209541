"""Line faults applied by the links to the bytes crossing between host and module.

Owns the fault spec (validated from the control protocol), its expiry, and the seeded RNG
that decides which bits and bytes are hit, so a test with a fixed seed sees the same damage
every run. One fault is active at a time; ``{"fault": null}`` clears it. Directions:
"to_module" (host -> module), "to_host" (module -> host) or "both" (default). See
docs/simulator.md for what each kind does.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass

RATE_KINDS = frozenset({"bitflip", "drop", "dup", "garbage"})
KINDS = RATE_KINDS | {"truncate", "silence", "unplug"}
DIRECTIONS = frozenset({"both", "to_module", "to_host"})


@dataclass(frozen=True, slots=True)
class FaultSpec:
    kind: str
    rate: float
    direction: str
    until: float | None  # monotonic deadline; None = until cleared

    def as_dict(self, now: float) -> dict[str, object]:
        remaining = None if self.until is None else max(0.0, self.until - now) * 1000
        return {"kind": self.kind, "rate": self.rate, "direction": self.direction,
                "remaining_ms": remaining}


def parse_fault(request: object, now: float) -> FaultSpec | None:
    """Validate a control-protocol fault object; raises ValueError with a readable message."""
    if request is None:
        return None
    if not isinstance(request, dict):
        raise ValueError('fault must be an object like {"kind": "drop", "rate": 0.01} or null')
    unknown = set(request) - {"kind", "rate", "ms", "direction"}
    if unknown:
        raise ValueError(f"unknown fault field(s): {sorted(unknown)}")
    kind = request.get("kind")
    if kind not in KINDS:
        raise ValueError(f"fault kind must be one of {sorted(KINDS)}, not {kind!r}")
    rate = float(request.get("rate", 1.0 if kind == "truncate" else 0.0))
    if not 0.0 <= rate <= 1.0 or (kind in RATE_KINDS and rate == 0.0):
        raise ValueError(f"fault rate must be in 0..1 (and > 0 for {kind}), not {rate}")
    direction = request.get("direction", "both")
    if direction not in DIRECTIONS:
        raise ValueError(f"fault direction must be one of {sorted(DIRECTIONS)}")
    ms = request.get("ms")
    until = None if ms is None else now + float(ms) / 1000.0
    return FaultSpec(kind, rate, direction, until)


class FaultInjector:
    """The active fault and the RNG that applies it. Thread-safe (links call from threads)."""

    def __init__(self, seed: int = 0) -> None:
        self._rng = random.Random(seed)
        self._spec: FaultSpec | None = None
        self._lock = threading.Lock()
        self._listeners: list = []

    def reseed(self, seed: int) -> None:
        with self._lock:
            self._rng.seed(seed)

    def set(self, spec: FaultSpec | None) -> None:
        with self._lock:
            self._spec = spec
        for listener in list(self._listeners):
            listener()  # wakes a pty bridge so an unplug happens at once

    def add_listener(self, callback) -> None:
        self._listeners.append(callback)

    def remove_listener(self, callback) -> None:
        if callback in self._listeners:
            self._listeners.remove(callback)

    def active(self, now: float) -> FaultSpec | None:
        with self._lock:
            spec = self._spec
            if spec is not None and spec.until is not None and now >= spec.until:
                self._spec = spec = None
            return spec

    def unplugged(self, now: float) -> bool:
        spec = self.active(now)
        return spec is not None and spec.kind == "unplug"

    def unplug_remaining_s(self, now: float) -> float | None:
        """Seconds until an unplug ends; None while it lasts until cleared (or none active)."""
        spec = self.active(now)
        if spec is None or spec.kind != "unplug" or spec.until is None:
            return None
        return max(0.0, spec.until - now)

    def to_module(self, data: bytes, now: float) -> bytes:
        return self._apply(data, now, "to_module")

    def to_host(self, data: bytes, now: float) -> bytes:
        """One packet (or the bare 0x55) on its way to the host."""
        return self._apply(data, now, "to_host")

    def _apply(self, data: bytes, now: float, direction: str) -> bytes:
        spec = self.active(now)
        if spec is None or not data or spec.direction not in ("both", direction):
            return data
        with self._lock:
            if spec.kind in RATE_KINDS:
                return _MANGLERS[spec.kind](data, spec.rate, self._rng)
            if spec.kind == "silence" and direction == "to_host":
                return b""
            if spec.kind == "truncate" and direction == "to_host":
                return _truncate(data, spec.rate, self._rng)
        return data


def _bitflip(data: bytes, rate: float, rng: random.Random) -> bytes:
    out = bytearray(data)
    for bit in range(len(out) * 8):
        if rng.random() < rate:
            out[bit >> 3] ^= 1 << (bit & 7)
    return bytes(out)


def _drop(data: bytes, rate: float, rng: random.Random) -> bytes:
    return bytes(b for b in data if rng.random() >= rate)


def _dup(data: bytes, rate: float, rng: random.Random) -> bytes:
    out = bytearray()
    for b in data:
        out.append(b)
        if rng.random() < rate:
            out.append(b)
    return bytes(out)


def _garbage(data: bytes, rate: float, rng: random.Random) -> bytes:
    out = bytearray()
    for b in data:
        if rng.random() < rate:
            out.append(rng.randrange(256))
        out.append(b)
    return bytes(out)


def _truncate(data: bytes, rate: float, rng: random.Random) -> bytes:
    if len(data) < 2 or rng.random() >= rate:
        return data
    return data[: rng.randrange(1, len(data))]


_MANGLERS = {"bitflip": _bitflip, "drop": _drop, "dup": _dup, "garbage": _garbage}

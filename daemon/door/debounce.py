"""Debounce by re-reading: which input levels count, and when to look again.

Owns ``Debouncer``. An edge callback only says "this input moved"; the controller then asks
``reread_at(input, mono_now)`` when to read the level again, and later hands the level it read
to ``settle(input, active)``, which says whether it is a change to act on. A level that is
back where it was by the re-read (a glitch shorter than ``debounce_s``) changes nothing.

Each further edge of a burst pushes the re-read out to ``debounce_s`` after that edge, so a
bouncing contact is read once it has been quiet, but never later than ``MAX_BURST_FACTOR``
debounce times after the burst's first edge: a line that chatters for ever (a failing reed
switch, someone working a magnet) is still read, so a forced door is still reported.

The library's own ``bouncetime`` is not used: its meaning differs between RPi.GPIO
implementations (``docs/configuration.md``, ``hardware.debounce_ms``). Pure: no clock, no GPIO.
"""

from __future__ import annotations

from typing import Hashable, Mapping

MAX_BURST_FACTOR = 2.0


class Debouncer:
    def __init__(self, debounce_s: float, accepted: Mapping[Hashable, bool]) -> None:
        """``accepted``: each input's level as read at start (True = active)."""
        self.debounce_s = debounce_s
        self._accepted = dict(accepted)
        self._burst_start_mono: dict[Hashable, float] = {}

    def accepted(self, name: Hashable) -> bool:
        return self._accepted.get(name, False)

    def reread_at(self, name: Hashable, mono_now: float) -> float:
        """An edge at ``mono_now``: when to re-read ``name``."""
        first = self._burst_start_mono.setdefault(name, mono_now)
        return min(mono_now + self.debounce_s, first + MAX_BURST_FACTOR * self.debounce_s)

    def settle(self, name: Hashable, active: bool) -> bool:
        """The level read at the re-read; True if it differs from the accepted one (and is
        now accepted)."""
        self._burst_start_mono.pop(name, None)
        if self._accepted.get(name) == active:
            return False
        self._accepted[name] = active
        return True

    def forget(self, name: Hashable, assumed: bool) -> None:
        """Pretend ``name`` was last seen at ``assumed``, so the next read acts on the truth
        (after a fault the controller re-derives the door from the inputs)."""
        self._accepted[name] = assumed

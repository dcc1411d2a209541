"""The status LED and the buzzer: the door machine's patterns as timed on/off steps.

Owns the pattern tables and ``Indicator``, which plays one pattern on one output. The door
machine says *what* to show (``Led(LedPattern.DENIED)``, ``Buzzer(BuzzerPattern.PREALARM)``);
this module says how that looks on a single LED and a single buzzer. A new pattern replaces
the one playing. A step's deadline counts from the previous step's deadline, not from when
the controller got round to it, so a late wake-up never stretches a pattern.

``Indicator.play``/``advance`` return the monotonic time of the next step (or None), which the
controller turns into a timer; they write through the function given, only on a change.
Pure apart from that function: no clock, no GPIO import.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from doorward.daemon.door.types import BuzzerPattern, LedPattern


@dataclass(frozen=True)
class Pattern:
    """``steps`` of (on, seconds); the last step holds until the next pattern unless
    ``repeat``, which starts over after it."""

    steps: tuple[tuple[bool, float], ...]
    repeat: bool = False


STEADY_OFF = Pattern(((False, 0.0),))
STEADY_ON = Pattern(((True, 0.0),))


def _blinks(count: int, on_s: float, off_s: float) -> Pattern:
    return Pattern(((True, on_s), (False, off_s)) * count + ((False, 0.0),))


LED_PATTERNS: dict[LedPattern, Pattern] = {
    LedPattern.IDLE: STEADY_OFF,
    LedPattern.GRANTED: STEADY_ON,  # lit while the door is unlocked; IDLE follows the relock
    LedPattern.DENIED: _blinks(3, 0.15, 0.15),
    LedPattern.WAITING: _blinks(5, 0.5, 0.5),  # slow: "waiting for a second person"
    # A quarter-second flash every second until the reader answers again.
    LedPattern.READER_OFFLINE: Pattern(((True, 0.25), (False, 0.75)), repeat=True),
}

BUZZER_PATTERNS: dict[BuzzerPattern, Pattern] = {
    BuzzerPattern.GRANTED: _blinks(1, 0.2, 0.0),
    BuzzerPattern.DENIED: _blinks(3, 0.1, 0.1),
    BuzzerPattern.WAITING: _blinks(2, 0.1, 0.1),
    BuzzerPattern.PREALARM: Pattern(((True, 0.1), (False, 0.4)), repeat=True),
    BuzzerPattern.ALARM: STEADY_ON,
    BuzzerPattern.OFF: STEADY_OFF,
}


class Indicator:
    """One output playing one pattern at a time."""

    def __init__(self, write: Callable[[bool], None]) -> None:
        self._write = write
        self._level: bool | None = None  # unknown until the first write
        self._pattern = STEADY_OFF
        self._step = 0
        self._step_due_mono = 0.0

    @property
    def level(self) -> bool:
        return bool(self._level)

    def play(self, pattern: Pattern, mono_now: float) -> float | None:
        """Start ``pattern`` now; returns when its next step is due."""
        self._pattern, self._step, self._step_due_mono = pattern, 0, mono_now
        return self._enter_step()

    def advance(self) -> float | None:
        """The step deadline came: move to the next step; returns when the one after is due."""
        self._step += 1
        if self._step >= len(self._pattern.steps):
            if not self._pattern.repeat:
                return None
            self._step = 0
        return self._enter_step()

    def _enter_step(self) -> float | None:
        on, hold_s = self._pattern.steps[self._step]
        self._set(on)
        last = self._step == len(self._pattern.steps) - 1
        if last and not self._pattern.repeat:
            return None  # the final level holds until the next pattern
        self._step_due_mono += hold_s
        return self._step_due_mono

    def _set(self, on: bool) -> None:
        if self._level != on:
            self._write(on)
            self._level = on

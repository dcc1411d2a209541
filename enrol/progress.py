"""What an enrolment step reports, and how one ends when it does not succeed.

Owns ``Progress`` (one event on the way: a message key, its fields, step counters, and the
instant it was stamped), ``EnrolledFinger`` (the result of one finger) and the failures
(``EnrolmentFailed`` and its kinds). The kiosk pushes ``Progress`` to the page as server-sent
events; the terminal prints it. Pure: no IO.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from doorward.enrol.strings import say


@dataclass(frozen=True)
class Progress:
    key: str  # a key of enrol.strings.TEXT
    fields: dict = field(default_factory=dict)
    step: int = 0  # placements done so far
    steps: int = 0  # placements this finger takes
    finger: str = ""
    tone: str = "info"  # "info", "ok", "warn", "error": colour and icon on the page
    stamped_at: float = field(default_factory=time.time)  # wall clock: the page compares

    def text(self) -> str:
        return say(self.key, finger=self.finger, step=self.step, steps=self.steps, **self.fields)

    def as_json(self) -> dict:
        return {"key": self.key, "text": self.text(), "step": self.step, "steps": self.steps,
                "finger": self.finger, "tone": self.tone, "stamped_at": self.stamped_at}


Reporter = Callable[[Progress], None]


@dataclass(frozen=True)
class Coverage:
    """How much of the site the duplicate Search looked at."""

    checked: int  # active pages of the station's library
    total: int  # fingers of this module model at the site (the server's count)
    capacity: int  # what the module holds

    @property
    def partial(self) -> bool:
        return self.checked < self.total


@dataclass(frozen=True)
class EnrolledFinger:
    finger: str  # finger key, e.g. "right-index"
    template: bytes
    module_identity: str
    confirm_score: int
    replaces: str | None = None  # a re-enrolment: the finger id deleted once this is stored
    duress: bool = False  # opens the door like any finger, and silently raises a duress alarm

    def __repr__(self) -> str:  # never a template in a log line
        return f"EnrolledFinger({self.finger!r}, {len(self.template)} bytes)"


class EnrolmentFailed(Exception):
    """One finger could not be enrolled; ``key`` says why (a key of strings.TEXT)."""

    def __init__(self, key: str, operator_note: str = "", **fields: object) -> None:
        super().__init__(key)
        self.key, self.fields, self.operator_note = key, fields, operator_note


class DuplicateFinger(EnrolmentFailed):
    def __init__(self, page: int, operator_note: str) -> None:
        super().__init__("duplicate", operator_note)
        self.page = page


class Cancelled(EnrolmentFailed):
    def __init__(self) -> None:
        super().__init__("cancelled")

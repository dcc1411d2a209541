"""The vocabulary of the door state machine: its configuration, events and actions.

Owns ``DoorConfig`` and the frozen event and action types that ``doorward.daemon.door.machine.transition``
consumes and returns. The controller turns inputs (debounced contact, exit button, fire,
keyswitch, tamper, fired timers, decisions) into events and carries out the actions
(relay, LED, buzzer, alarm sinks, journal, timers on ``time.monotonic()``).

Pure: standard library, ``doorward.daemon.access.decision`` and ``doorward.daemon.codec.policy`` only. No IO.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Union

from doorward.daemon.access.decision import Decision
from doorward.daemon.codec.alarms import AlarmKind
from doorward.daemon.codec.policy import Policy


@dataclass(frozen=True)
class DoorConfig:
    """Timings from the policy, plus the one wiring fact the machine needs."""

    unlock_s: float = 5.0
    held_open_s: float = 30.0
    prealarm_s: float = 10.0  # beeps start this long before the held-open alarm
    relock_on_close: bool = True
    # False for a free-egress lever without an exit sensor: an opening while locked may be
    # someone leaving, so it cannot be called forced.
    exit_without_rex_is_forced: bool = True
    two_person_window_s: float = 30.0  # the ring shows "waiting" this long for a second person

    @classmethod
    def from_policy(cls, policy: Policy, exit_without_rex_is_forced: bool) -> DoorConfig:
        return cls(policy.unlock_s, policy.held_open_s, policy.prealarm_s,
                   policy.relock_on_close, exit_without_rex_is_forced,
                   policy.two_person_window_s)


class TimerName(str, enum.Enum):
    RELOCK = "relock"
    PREALARM = "prealarm"
    HELD_OPEN = "held_open"


class LedPattern(str, enum.Enum):
    IDLE = "idle"
    GRANTED = "green"
    DENIED = "red"
    WAITING = "amber"
    READER_OFFLINE = "reader_offline"  # shown by the controller while the module is silent


class BuzzerPattern(str, enum.Enum):
    GRANTED = "grant"
    DENIED = "deny"
    WAITING = "waiting"
    PREALARM = "prealarm"
    ALARM = "alarm"
    OFF = "off"


# ---- events ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Grant:
    """A decision from decide(); denied ones give feedback only."""

    decision: Decision


@dataclass(frozen=True)
class ExitPressed:
    pass


@dataclass(frozen=True)
class ContactOpened:
    pass


@dataclass(frozen=True)
class ContactClosed:
    pass


@dataclass(frozen=True)
class FireOn:
    pass


@dataclass(frozen=True)
class FireOff:
    pass


@dataclass(frozen=True)
class LockdownOn:
    """The keyswitch turned, or a bundle with the lockdown flag was applied."""


@dataclass(frozen=True)
class LockdownOff:
    pass


@dataclass(frozen=True)
class TamperOn:
    pass


@dataclass(frozen=True)
class TamperOff:
    pass


@dataclass(frozen=True)
class Timer:
    name: TimerName


Event = Union[Grant, ExitPressed, ContactOpened, ContactClosed, FireOn, FireOff,
              LockdownOn, LockdownOff, TamperOn, TamperOff, Timer]


# ---- actions -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SetRelay:
    energised: bool  # energised = unlocked; de-energised is the safe, locked state


@dataclass(frozen=True)
class Led:
    pattern: LedPattern


@dataclass(frozen=True)
class Ring:
    """The module's own ring LED (the R503's), where one is fitted: the same moments as the
    status LED, shown on the reader the person is looking at. ``hold_s``: back to idle after
    this long (None: until the next ``Ring``, e.g. ``IDLE`` at the relock)."""

    pattern: LedPattern
    hold_s: float | None = None


@dataclass(frozen=True)
class Buzzer:
    pattern: BuzzerPattern


@dataclass(frozen=True)
class RaiseAlarm:
    kind: AlarmKind
    detail: str


@dataclass(frozen=True)
class Journal:
    kind: str
    detail: str


@dataclass(frozen=True)
class StartTimer:
    """Fire ``Timer(name)`` at ``at_mono``, replacing a pending timer of the same name."""

    name: TimerName
    at_mono: float


@dataclass(frozen=True)
class CancelTimer:
    name: TimerName


Action = Union[SetRelay, Led, Ring, Buzzer, RaiseAlarm, Journal, StartTimer, CancelTimer]

"""Weekly schedules and holidays: is an instant inside a schedule, in the site's time zone?

Owns ``Period``, ``Schedule`` and ``schedule_verdict``. Rules (DESIGN.md, "Configuration and
policy"):

- a period is a pair of local wall-clock times; it belongs to the day it starts, and when its
  end is not after its start it ends on the next day (``22:00-06:00``); ``24:00`` is midnight
  at the end of the day;
- on a site-wide holiday (a local date) a schedule's own holiday periods, possibly none,
  replace that day's weekly periods;
- a period opens at the first instant the local clock reads its start time or later, and
  closes at the first instant it reads its end time or later. So across daylight saving time:
  an edge inside the skipped hour (spring forward) takes effect when the clock jumps, and an
  edge inside the repeated hour (fall back) takes effect on the first pass only; nothing
  re-opens or re-closes when the hour repeats.

Instants are epoch seconds (UTC). Pure: standard library only (``zoneinfo`` reads the system
tz database, which is data, not IO at decision time once loaded). Must not import IO modules.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo

MINUTES_PER_DAY = 24 * 60
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # datetime.weekday() order


@dataclass(frozen=True)
class Period:
    """Local wall-clock span, in minutes after local midnight of the day it starts."""

    start_min: int  # 0 .. 1439
    end_min: int  # 1 .. 1440; <= start_min means "on the next day"

    def __post_init__(self) -> None:
        if not 0 <= self.start_min < MINUTES_PER_DAY:
            raise ValueError(f"period start {self.start_min} is not a minute of the day")
        if not 0 < self.end_min <= MINUTES_PER_DAY:
            raise ValueError(f"period end {self.end_min} is not a minute of the day")
        if self.start_min == self.end_min:
            raise ValueError("period starts and ends at the same time; split a 24 h period")

    @property
    def crosses_midnight(self) -> bool:
        return self.end_min <= self.start_min or self.end_min == MINUTES_PER_DAY

    @classmethod
    def parse(cls, pair: object) -> Period:
        """``["08:00", "18:00"]`` -> Period; raises ValueError saying what is wrong."""
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise ValueError(f"expected [start, end] as two \"HH:MM\" strings, got {pair!r}")
        return cls(_minutes(pair[0], allow_24=False), _minutes(pair[1], allow_24=True))

    def to_pair(self) -> list[str]:
        return [_hhmm(self.start_min), _hhmm(self.end_min)]


@dataclass(frozen=True)
class Schedule:
    """A weekly schedule: ``weekly[0]`` is Monday's periods; ``holiday`` replaces a
    holiday's periods."""

    schedule_id: str
    weekly: tuple[tuple[Period, ...], ...]
    holiday: tuple[Period, ...] = ()

    def __post_init__(self) -> None:
        if len(self.weekly) != 7:
            raise ValueError(f"schedule {self.schedule_id!r} needs 7 days, got {len(self.weekly)}")


class Verdict(str, enum.Enum):
    INSIDE = "inside"
    OUTSIDE = "outside"
    HOLIDAY = "holiday"  # outside only because a holiday replaced the weekly periods


def schedule_verdict(
    schedule: Schedule, wall_now: float, tz: ZoneInfo, holidays: frozenset[dt.date]
) -> Verdict:
    """Whether ``wall_now`` lies in one of the schedule's periods (holidays honoured)."""
    today = dt.datetime.fromtimestamp(wall_now, tz).date()
    if _covered(schedule, wall_now, today, tz, holidays):
        return Verdict.INSIDE
    if _covered(schedule, wall_now, today, tz, frozenset()):
        return Verdict.HOLIDAY
    return Verdict.OUTSIDE


def _covered(
    schedule: Schedule, wall_now: float, today: dt.date, tz: ZoneInfo,
    holidays: frozenset[dt.date],
) -> bool:
    # Only yesterday's and today's periods can cover now: no period is longer than a day.
    for day in (today - dt.timedelta(days=1), today):
        periods = schedule.holiday if day in holidays else schedule.weekly[day.weekday()]
        for period in periods:
            if _period_start_s(day, period, tz) <= wall_now < _period_end_s(day, period, tz):
                return True
    return False


def _period_start_s(day: dt.date, period: Period, tz: ZoneInfo) -> float:
    return first_instant_reading(day, period.start_min, tz)


def _period_end_s(day: dt.date, period: Period, tz: ZoneInfo) -> float:
    end_day = day + dt.timedelta(days=1) if period.crosses_midnight else day
    return first_instant_reading(end_day, period.end_min % MINUTES_PER_DAY, tz)


@lru_cache(maxsize=8192)
def first_instant_reading(day: dt.date, minute: int, tz: ZoneInfo) -> float:
    """The first instant (epoch s) at which the local clock reads ``day minute`` or later.

    Cached: a door asks about the same few edges all day, and zone maths is the slow part.
    """
    wanted = dt.datetime.combine(day, dt.time(minute // 60, minute % 60))
    # fold=0 is the first of two readings in a repeated hour, which is what we want there.
    first_guess = wanted.replace(tzinfo=tz, fold=0).timestamp()
    if _reading(first_guess, tz) == wanted:
        return first_guess
    # The reading does not exist (skipped hour): fold=0 lands after the jump and fold=1
    # before it; the jump itself is the first instant reading `wanted` or later.
    before = int(wanted.replace(tzinfo=tz, fold=1).timestamp())
    after = int(first_guess)
    while after - before > 1:
        middle = (before + after) // 2
        if _reading(middle, tz) >= wanted:
            after = middle
        else:
            before = middle
    return float(after)


def _reading(instant_s: float, tz: ZoneInfo) -> dt.datetime:
    return dt.datetime.fromtimestamp(instant_s, tz).replace(tzinfo=None, fold=0)


def _minutes(text: object, allow_24: bool) -> int:
    if not isinstance(text, str) or len(text) != 5 or text[2] != ":":
        raise ValueError(f"expected a time as \"HH:MM\", got {text!r}")
    hours, minutes = text[:2], text[3:]
    if not (hours.isdigit() and minutes.isdigit()):
        raise ValueError(f"expected a time as \"HH:MM\", got {text!r}")
    value = int(hours) * 60 + int(minutes)
    if int(minutes) > 59 or value > MINUTES_PER_DAY:
        raise ValueError(f"{text!r} is not a time of day")
    if value == MINUTES_PER_DAY and not allow_24:
        raise ValueError(f"{text!r} is not a time of day (24:00 only as an end)")
    return value


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"

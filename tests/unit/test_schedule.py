"""Weekly schedules in the site's time zone: periods, midnight, 24:00, holidays and DST.

DST facts used (Europe/Berlin, 2026): spring forward on Sunday 29 March at 01:00 UTC
(02:00 CET -> 03:00 CEST); fall back on Sunday 25 October at 01:00 UTC (03:00 CEST ->
02:00 CET, so 02:00-02:59 is read twice).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from doorward.daemon.codec.schedule import Period, Schedule, Verdict, first_instant_reading, schedule_verdict
from doorward.sim.rig.access import local, utc

BERLIN = ZoneInfo("Europe/Berlin")
NO_HOLIDAYS: frozenset[dt.date] = frozenset()


def weekly(**days: list[tuple[str, str]]) -> Schedule:
    names = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    holiday = [Period.parse(pair) for pair in days.pop("holiday", [])]
    return Schedule(
        "s", tuple(tuple(Period.parse(p) for p in days.get(name, [])) for name in names),
        tuple(holiday),
    )


def verdict(schedule: Schedule, instant_s: float, holidays=NO_HOLIDAYS) -> Verdict:
    return schedule_verdict(schedule, instant_s, BERLIN, holidays)


IN, OUT, HOL = Verdict.INSIDE, Verdict.OUTSIDE, Verdict.HOLIDAY

# (schedule, instant, expected, why)
CASES = [
    # plain day period, edges inclusive at the start and exclusive at the end
    (weekly(mon=[("07:00", "19:00")]), local("2026-11-02 06:59:59"), OUT, "before start"),
    (weekly(mon=[("07:00", "19:00")]), local("2026-11-02 07:00"), IN, "at start"),
    (weekly(mon=[("07:00", "19:00")]), local("2026-11-02 18:59:59"), IN, "before end"),
    (weekly(mon=[("07:00", "19:00")]), local("2026-11-02 19:00"), OUT, "at end"),
    (weekly(mon=[("07:00", "19:00")]), local("2026-11-03 08:00"), OUT, "wrong weekday"),
    # several periods a day
    (weekly(mon=[("07:00", "09:00"), ("17:00", "19:00")]), local("2026-11-02 12:00"), OUT, "gap"),
    (weekly(mon=[("07:00", "09:00"), ("17:00", "19:00")]), local("2026-11-02 17:30"), IN, "second"),
    # crossing midnight: belongs to Friday, ends Saturday morning
    (weekly(fri=[("22:00", "06:00")]), local("2026-11-06 21:59"), OUT, "before night shift"),
    (weekly(fri=[("22:00", "06:00")]), local("2026-11-06 23:30"), IN, "night shift, Friday"),
    (weekly(fri=[("22:00", "06:00")]), local("2026-11-07 05:59"), IN, "night shift, Saturday"),
    (weekly(fri=[("22:00", "06:00")]), local("2026-11-07 06:00"), OUT, "night shift over"),
    (weekly(fri=[("22:00", "06:00")]), local("2026-11-07 23:00"), OUT, "Saturday has none"),
    (weekly(sat=[("22:00", "06:00")]), local("2026-11-06 01:00"), OUT, "Friday 01:00 is not Sat"),
    # 24:00 is midnight at the end of the day
    (weekly(mon=[("20:00", "24:00")]), local("2026-11-02 23:59:59"), IN, "before 24:00"),
    (weekly(mon=[("20:00", "24:00")]), local("2026-11-03 00:00"), OUT, "at 24:00"),
    # spring forward: an edge inside the skipped hour takes effect at the jump (01:00 UTC)
    (weekly(sun=[("02:30", "05:00")]), utc("2026-03-29 00:59:59"), OUT, "spring, before jump"),
    (weekly(sun=[("02:30", "05:00")]), utc("2026-03-29 01:00"), IN, "spring, start at jump"),
    (weekly(sun=[("00:00", "02:30")]), utc("2026-03-29 00:59:59"), IN, "spring, end pending"),
    (weekly(sun=[("00:00", "02:30")]), utc("2026-03-29 01:00"), OUT, "spring, end at jump"),
    (weekly(sat=[("22:00", "06:00")]), local("2026-03-29 05:59"), IN, "spring, short night"),
    (weekly(sat=[("22:00", "06:00")]), local("2026-03-29 06:00"), OUT, "spring, night ends 06:00"),
    # fall back: an edge inside the repeated hour takes effect on the first pass only
    (weekly(sun=[("02:30", "06:00")]), utc("2026-10-25 00:29:59"), OUT, "fall, before 02:30 CEST"),
    (weekly(sun=[("02:30", "06:00")]), utc("2026-10-25 00:30"), IN, "fall, 02:30 CEST opens"),
    (weekly(sun=[("02:30", "06:00")]), utc("2026-10-25 01:15"), IN, "fall, 02:15 CET stays open"),
    (weekly(sun=[("02:30", "06:00")]), local("2026-10-25 05:59"), IN, "fall, before end"),
    (weekly(sun=[("02:30", "06:00")]), local("2026-10-25 06:00"), OUT, "fall, end"),
    (weekly(sun=[("00:00", "02:30")]), utc("2026-10-25 00:29:59"), IN, "fall, end pending"),
    (weekly(sun=[("00:00", "02:30")]), utc("2026-10-25 00:30"), OUT, "fall, 02:30 CEST closes"),
    (weekly(sun=[("00:00", "02:30")]), utc("2026-10-25 01:15"), OUT, "fall, 02:15 CET stays shut"),
]


@pytest.mark.parametrize(("schedule", "instant", "expected", "why"), CASES,
                         ids=[case[3] for case in CASES])
def test_schedule_verdict(schedule: Schedule, instant: float, expected: Verdict, why: str) -> None:
    assert verdict(schedule, instant) is expected


CHRISTMAS = frozenset({dt.date(2026, 12, 25)})  # a Friday
HOLIDAY_SCHEDULE = weekly(thu=[("22:00", "06:00")], fri=[("07:00", "19:00"), ("22:00", "06:00")],
                          holiday=[("09:00", "12:00")])
HOLIDAY_CASES = [
    (local("2026-12-25 08:00"), HOL, "weekly hours replaced by the holiday"),
    (local("2026-12-25 09:00"), IN, "holiday period"),
    (local("2026-12-25 12:00"), HOL, "holiday period over, weekly would admit"),
    (local("2026-12-25 20:00"), OUT, "neither admits"),
    (local("2026-12-25 05:00"), IN, "Thursday's night shift runs into the holiday"),
    (local("2026-12-25 23:00"), HOL, "no night shift starts on the holiday"),
    (local("2026-12-26 01:00"), HOL, "and none runs on into Saturday"),
    (local("2026-12-18 10:00"), IN, "an ordinary Friday"),
]


@pytest.mark.parametrize(("instant", "expected", "why"), HOLIDAY_CASES,
                         ids=[case[2] for case in HOLIDAY_CASES])
def test_holiday_periods_replace_the_weekly_ones(instant: float, expected: Verdict, why: str) -> None:
    assert verdict(HOLIDAY_SCHEDULE, instant, CHRISTMAS) is expected


def test_a_holiday_without_periods_closes_all_day() -> None:
    schedule = weekly(fri=[("00:00", "24:00")])
    hours = [verdict(schedule, local(f"2026-12-25 {h:02d}:30"), CHRISTMAS) for h in range(24)]
    assert hours == [HOL] * 24


@pytest.mark.parametrize(
    ("day", "minute", "expected_utc"),
    [
        (dt.date(2026, 3, 29), 2 * 60 + 30, "2026-03-29 01:00"),  # skipped: the jump
        (dt.date(2026, 3, 29), 2 * 60, "2026-03-29 01:00"),  # skipped: the jump
        (dt.date(2026, 3, 29), 3 * 60, "2026-03-29 01:00"),  # first real reading after it
        (dt.date(2026, 3, 29), 60 + 59, "2026-03-29 00:59"),
        (dt.date(2026, 10, 25), 2 * 60 + 30, "2026-10-25 00:30"),  # repeated: first pass
        (dt.date(2026, 10, 25), 3 * 60, "2026-10-25 02:00"),
        (dt.date(2026, 7, 1), 0, "2026-06-30 22:00"),
    ],
)
def test_first_instant_reading(day: dt.date, minute: int, expected_utc: str) -> None:
    assert first_instant_reading(day, minute, BERLIN) == utc(expected_utc)


@pytest.mark.parametrize(
    ("pair", "message"),
    [
        (["08:00", "08:00"], "same time"),
        (["24:00", "08:00"], "24:00 only as an end"),
        (["8:00", "09:00"], "HH:MM"),
        (["08:60", "09:00"], "not a time of day"),
        (["08:00", "24:01"], "not a time of day"),
        (["08:00"], "two"),
        ("08:00-09:00", "two"),
    ],
)
def test_bad_periods_are_refused(pair: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Period.parse(pair)


def test_period_round_trips_and_knows_midnight() -> None:
    periods = [Period.parse(p) for p in (["07:00", "19:00"], ["22:00", "06:00"], ["20:00", "24:00"])]
    assert [p.to_pair() for p in periods] == [["07:00", "19:00"], ["22:00", "06:00"], ["20:00", "24:00"]]
    assert [p.crosses_midnight for p in periods] == [False, True, True]

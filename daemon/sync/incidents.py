"""Which bundle refusals and apply failures reach the journal: each incident once, repeats
counted, and never more than a fixed number of records an hour.

A network attacker can answer every poll with a refused bundle (and drop the uploads, so
nothing ever leaves the door), and a full disk fails every apply the same way: journalling
each occurrence would grow the journal without bound. ``IncidentLedger`` journals an
incident (its kind, reason and the envelope's digest) the first time it is seen; the same
incident again is only counted, and the count is journalled once an hour while it goes on
and when a bundle is accepted again. Every record it lets through, alarms included, takes
one of ``max_records_per_hour``; what finds none is counted too, and the next record that
goes out says how many were not journalled (``not_journalled_since_last``). An alarm goes
out once per reason until a bundle is accepted.

Pure: standard library only; times are ``time.monotonic()`` seconds passed in.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field
from typing import Any

MAX_RECORDS_PER_HOUR = 12
REMIND_EVERY_S = 3600.0
HOUR_S = 3600.0
REPEATS_KIND = "bundle_incident_repeats"
Record = tuple[str, dict[str, Any]]


@dataclass(frozen=True)
class Incident:
    kind: str  # "bundle_refused" or "bundle_apply_failed"
    reason: str  # the refusal code, or the failure's exception type
    digest: str  # of the envelope: a different envelope is a different incident
    detail: dict[str, Any] = field(default_factory=dict)
    alarm: Record | None = None  # ("alarm", {...}) when it may mean an attack

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.kind, self.reason, self.digest)


class IncidentLedger:
    """Not thread-safe: its owner (the bundle applier) calls it under its own lock."""

    def __init__(self, max_records_per_hour: int = MAX_RECORDS_PER_HOUR,
                 remind_every_s: float = REMIND_EVERY_S) -> None:
        self._max, self._remind_every_s = max_records_per_hour, remind_every_s
        self._sent: collections.deque[float] = collections.deque()
        self._last: Incident | None = None
        self._last_journalled_mono = float("-inf")
        self._repeats = 0  # of the last incident, since its last record
        self._not_journalled = 0  # occurrences since the last record that went out
        self._alarmed: set[str] = set()

    def note(self, incident: Incident, mono_now: float) -> list[Record]:
        """One occurrence; the records to journal for it now (often none)."""
        if self._last is not None and incident.key == self._last.key:
            self._repeats += 1
            if mono_now - self._last_journalled_mono < self._remind_every_s:
                return []
            return self._repeats_record(mono_now)
        self._last, self._repeats = incident, 0
        records = self._admit((incident.kind, dict(incident.detail)), mono_now)
        if records and incident.alarm is not None and incident.reason not in self._alarmed:
            alarm = self._admit((incident.alarm[0], dict(incident.alarm[1])), mono_now)
            if alarm:
                self._alarmed.add(incident.reason)
            records += alarm
        return records

    def accepted(self, mono_now: float) -> list[Record]:
        """A bundle was applied or was already stored: the incident is over."""
        records = self._repeats_record(mono_now) if self._repeats else []
        self._last, self._repeats = None, 0
        self._alarmed.clear()
        return records

    def _repeats_record(self, mono_now: float) -> list[Record]:
        last = self._last
        assert last is not None
        records = self._admit((REPEATS_KIND, {"kind": last.kind, "reason": last.reason,
                                              "repeats": self._repeats}), mono_now, counted=False)
        if records:
            self._repeats = 0  # else they stay counted for a later record
        return records

    def _admit(self, record: Record, mono_now: float, counted: bool = True) -> list[Record]:
        """The record, if the hour's allowance has room; else (``counted``) only counted."""
        while self._sent and self._sent[0] <= mono_now - HOUR_S:
            self._sent.popleft()
        if len(self._sent) >= self._max:
            self._not_journalled += counted
            return []
        self._sent.append(mono_now)
        self._last_journalled_mono = mono_now
        kind, detail = record
        if self._not_journalled:
            detail["not_journalled_since_last"] = self._not_journalled
            self._not_journalled = 0
        return [(kind, detail)]

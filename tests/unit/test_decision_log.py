"""The door's log: one line per access decision and per alarm, naming the door."""

from __future__ import annotations

import logging

from doorward.daemon.codec.alarms import Alarm, AlarmKind
from doorward.daemon.runtime.sinks import DecisionLog, ServiceAlarms


class Journal:
    def __init__(self) -> None:
        self.records: list[tuple] = []

    def append(self, kind: str, detail: dict) -> None:
        self.records.append((kind, detail))


def test_one_line_per_decision_with_door_user_outcome_and_reason(caplog) -> None:
    decisions = DecisionLog("Lab east (d-1f3a)")
    with caplog.at_level(logging.INFO, logger="doorward.daemon.runtime.sinks"):
        decisions("access_granted", {"reason": "granted", "user": "u_7", "finger": "f_1"})
        decisions("access_denied", {"reason": "unknown_finger", "user": None})
        decisions("scan_ignored", {"reason": "cooldown"})
        decisions("door_opened", {})
    assert [r.getMessage() for r in caplog.records] == [
        "door Lab east (d-1f3a): granted user=u_7 reason=granted",
        "door Lab east (d-1f3a): denied user=- reason=unknown_finger",
    ]


def test_an_alarm_line_names_its_kind_and_door(caplog) -> None:
    alarms = ServiceAlarms(Journal(), "Lab east (d-1f3a)")
    with caplog.at_level(logging.WARNING, logger="doorward.daemon.runtime.sinks"):
        alarms.raise_alarm(Alarm(AlarmKind.RELAY_UNSAFE, "de-energising failed"))
    assert [r.getMessage() for r in caplog.records] == [
        "alarm relay_unsafe at door Lab east (d-1f3a): de-energising failed"]

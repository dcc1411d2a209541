"""The door's storage incident (item 5 of issue 12): a low disk or a failing journal is one
``storage`` record, one heartbeat at once, and its end; the heartbeat carries the state.

With a real journal: ``disk_low`` comes from the journal's free-space check (a limit above
any real free space makes it low; lowering the limit is space returning), and the watch
refreshes that check itself, so a disk that frees up while nothing is appended clears too."""

from __future__ import annotations

from pathlib import Path

from doorward.daemon.controller.clock import FakeClock, TimeTrust
from doorward.daemon.journal.door_journal import DoorJournal
from doorward.daemon.journal.store import EventJournal
from doorward.daemon.runtime.sinks import stamper
from doorward.daemon.runtime.storage_watch import StorageWatch
from doorward.daemon.runtime.applier import heartbeat_report

WALL = 1_800_000_000.0


class Rig:
    def __init__(self, tmp_path: Path) -> None:
        self.events = EventJournal(tmp_path / "journal.db", "door-1")
        self.journal = DoorJournal(self.events, stamper(TimeTrust(FakeClock(WALL)), "boot-a"),
                                   max_pending=100)
        self.reports = self.polls = 0
        self.watch = StorageWatch(self.journal, self.report, self.poll)

    def report(self) -> None:
        self.reports += 1

    def poll(self) -> None:
        self.polls += 1

    def storage_records(self) -> list[dict]:
        return [e.detail for e in self.events.events() if e.kind == "storage"]


def test_a_low_disk_is_one_record_and_one_report_then_its_end(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig.watch.tick()
    assert rig.storage_records() == [] and rig.reports == 0  # well from the start: nothing
    rig.events.min_free_bytes = 2**62  # more than any disk: low
    for _ in range(10):
        rig.watch.tick()
    assert [d["state"] for d in rig.storage_records()] == ["trouble"]
    assert rig.storage_records()[0]["disk_low"] is True and rig.reports == 1 and rig.polls == 0
    report = heartbeat_report(None, None, True, "ok", rig.journal.status(), tmp_path)
    assert report["storage"]["disk_low"] is True
    rig.events.min_free_bytes = 1  # space returned, and nothing appended meanwhile
    for _ in range(10):
        rig.watch.tick()
    assert [d["state"] for d in rig.storage_records()] == ["trouble", "well"]
    assert rig.reports == 2 and rig.polls == 1  # the poller is woken to fetch what failed
    report = heartbeat_report(None, None, True, "ok", rig.journal.status(), tmp_path)
    assert report["storage"] == {"journal_failing": False, "disk_low": False, "pending": 0,
                                 "dropped": 0, "error": None}


def test_a_failing_journal_is_reported_and_its_record_waits_for_the_disk(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig.events.close()  # every append now fails, as on a dead disk
    rig.journal.append("access_denied", {"reason": "unknown_finger"})
    rig.watch.tick()
    status = rig.journal.status()
    assert status.failing and status.pending == 2  # the decision and the storage record
    assert rig.reports == 1
    report = heartbeat_report(None, None, True, "ok", status, tmp_path, "OperationalError: full")
    assert report["storage"]["journal_failing"] is True and report["storage"]["error"]
    assert report["apply_error"] == "OperationalError: full"

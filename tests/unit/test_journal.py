"""The event journal: a gap-free hash chain the codec verifies, durable across reopening,
pruning that never touches unacknowledged events, the disk-limit alarm, and a failing disk
that queues records in memory and loses none of them."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from doorward.daemon.codec.bundle import GENESIS_HASH, verify_chain
from doorward.daemon.journal.store import EventJournal, JournalError, utc_text
from doorward.daemon.journal.resilient import ResilientJournal

T0 = 1_793_584_800.0  # 2026-11-02 02:00 UTC
HOUR = 3600.0


def append(journal, kind: str = "granted", wall: float = T0, **detail):
    return journal.append(kind, detail or {"user": "u-1", "finger": "f-1", "score": 120},
                          wall_now=wall, wall_trusted=True, mono_now=12.5, boot_id="boot-a")


@pytest.fixture
def journal(tmp_path: Path) -> EventJournal:
    return EventJournal(tmp_path / "journal.db", "door-1")


def test_records_form_a_gap_free_chain_the_codec_verifies(journal: EventJournal) -> None:
    events = [append(journal, kind) for kind in ("granted", "door_opened", "door_closed")]
    assert [e.seq for e in events] == [1, 2, 3]
    assert events[0].prev_hash == GENESIS_HASH
    assert verify_chain(journal.events()) is None
    assert journal.events() == events
    detail = events[0].detail
    journal_fields = {"event_id", "wall_trusted", "mono_s", "boot_id"}
    assert {"user", "finger", "score"} | journal_fields <= set(detail)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", events[0].at)
    assert utc_text(0.0) == "1970-01-01T00:00:00.000000Z"


def test_the_chain_and_the_journal_id_survive_a_reopen(tmp_path: Path) -> None:
    first = EventJournal(tmp_path / "journal.db", "door-1")
    append(first)
    journal_id = first.journal_id
    first.close()
    again = EventJournal(tmp_path / "journal.db", "door-1")
    assert again.journal_id == journal_id and re.fullmatch(r"j-[0-9a-f]{16}", journal_id)
    append(again)
    assert [e.seq for e in again.events()] == [1, 2] and verify_chain(again.events()) is None
    assert EventJournal(tmp_path / "other.db", "door-1").journal_id != journal_id


def test_a_journal_of_another_door_is_refused(tmp_path: Path) -> None:
    EventJournal(tmp_path / "journal.db", "door-1").close()
    with pytest.raises(JournalError, match="journal of door 'door-1', not 'door-2'"):
        EventJournal(tmp_path / "journal.db", "door-2")


def test_unacknowledged_oldest_first_and_acknowledge(journal: EventJournal) -> None:
    for _ in range(5):
        append(journal)
    assert [e.seq for e in journal.unacknowledged(limit=3)] == [1, 2, 3]
    journal.acknowledge(3)
    journal.acknowledge(2)  # acknowledgements never go backwards
    assert [e.seq for e in journal.unacknowledged(limit=10)] == [4, 5]
    assert journal.backlog() == 2
    with pytest.raises(ValueError, match="ends at 5"):
        journal.acknowledge(6)


def test_retention_prunes_acknowledged_events_only(tmp_path: Path) -> None:
    journal = EventJournal(tmp_path / "journal.db", "door-1", retention_s=120 * HOUR)
    for hour in range(6):
        append(journal, wall=T0 + hour * HOUR)
    journal.acknowledge(3)
    assert journal.prune(wall_now=T0 + 10_000 * HOUR) == 3  # every record is past retention
    assert [e.seq for e in journal.events()] == [4, 5, 6]
    assert journal.backlog() == 3
    append(journal)
    assert verify_chain(journal.events(), journal.events()[0].prev_hash) is None


def test_recent_acknowledged_events_are_kept_for_the_retention_period(tmp_path: Path) -> None:
    journal = EventJournal(tmp_path / "journal.db", "door-1", retention_s=120 * HOUR)
    for hour in range(4):
        append(journal, wall=T0 + hour * HOUR)
    journal.acknowledge(4)
    assert journal.prune(wall_now=T0 + 121.5 * HOUR) == 2  # hours 0 and 1 are past 120 h
    assert [e.seq for e in journal.events()] == [3, 4]


def test_the_row_cap_applies_to_acknowledged_events_only(tmp_path: Path) -> None:
    journal = EventJournal(tmp_path / "journal.db", "door-1", max_acknowledged_rows=2)
    for _ in range(8):
        append(journal)
    assert journal.prune(wall_now=T0) == 0  # nothing acknowledged: nothing goes
    journal.acknowledge(5)
    assert journal.prune(wall_now=T0) == 3
    assert [e.seq for e in journal.events()] == [4, 5, 6, 7, 8]


def test_the_disk_limit_raises_an_alarm_and_appends_go_on(tmp_path: Path) -> None:
    journal = EventJournal(tmp_path / "journal.db", "door-1", min_free_bytes=2**62)
    assert append(journal).seq == 1
    assert journal.disk_low
    assert ResilientJournal(journal).status().disk_low


def test_reserved_and_unserialisable_detail_is_refused_at_once(journal: EventJournal) -> None:
    resilient = ResilientJournal(journal)
    with pytest.raises(ValueError, match="reserved"):
        append(resilient, event_id="mine")
    with pytest.raises(TypeError):
        append(resilient, template=b"\x01\x02")
    assert resilient.status().pending == 0


class FailingConnection:
    """A connection whose writes fail like a full or dying disk; reads still work."""

    def __init__(self, real: sqlite3.Connection) -> None:
        self.real = real

    def execute(self, sql: str, parameters=()):
        if sql.startswith(("INSERT", "UPDATE", "DELETE")):
            raise sqlite3.OperationalError("disk I/O error")
        return self.real.execute(sql, parameters)

    def __getattr__(self, name: str):
        return getattr(self.real, name)


def test_a_failing_disk_queues_records_and_loses_none(journal: EventJournal) -> None:
    resilient = ResilientJournal(journal)
    assert append(resilient, "granted").seq == 1
    real, journal._conn = journal._conn, FailingConnection(journal._conn)
    assert append(resilient, "granted") is None  # the decision stands; no exception
    assert append(resilient, "denied") is None
    status = resilient.status()
    assert status.failing and "disk I/O error" in status.last_error and status.pending == 2
    assert resilient.tick() == 0
    journal._conn = real
    assert append(resilient, "door_opened").seq == 4  # the queue goes first, in order
    assert [e.kind for e in journal.events()] == ["granted", "granted", "denied", "door_opened"]
    assert verify_chain(journal.events()) is None
    assert not resilient.status().failing and resilient.status().pending == 0


def test_tick_retries_without_a_new_record(journal: EventJournal) -> None:
    resilient = ResilientJournal(journal)
    real, journal._conn = journal._conn, FailingConnection(journal._conn)
    append(resilient)
    journal._conn = real
    assert resilient.tick() == 1 and journal.last_seq() == 1


def test_a_full_memory_queue_records_how_many_were_dropped(journal: EventJournal) -> None:
    resilient = ResilientJournal(journal, max_pending=2)
    real, journal._conn = journal._conn, FailingConnection(journal._conn)
    for _ in range(5):
        append(resilient)
    assert resilient.status().dropped == 3 and resilient.status().pending == 2
    journal._conn = real
    resilient.tick()
    kinds = [e.kind for e in journal.events()]
    assert kinds == ["granted", "granted", "journal_records_dropped"]
    assert journal.events()[-1].detail["count"] == 3
    assert resilient.status().dropped == 0


def test_pruning_keeps_the_head_so_the_chain_goes_on(tmp_path: Path) -> None:
    journal = EventJournal(tmp_path / "journal.db", "door-1", retention_s=HOUR)
    for _ in range(4):
        append(journal)
    journal.acknowledge(4)
    assert journal.prune(wall_now=T0 + 10 * HOUR) == 3
    head = journal.events()
    journal.close()
    reopened = EventJournal(tmp_path / "journal.db", "door-1", retention_s=HOUR)
    append(reopened)
    assert [e.seq for e in reopened.events()] == [4, 5]
    assert verify_chain(reopened.events(), head[0].prev_hash) is None


def test_events_a_restored_server_lost_are_sent_again_unless_pruned(journal: EventJournal) -> None:
    for _ in range(5):
        append(journal)
    journal.acknowledge(5)
    assert journal.resend_from(3) is True
    assert [e.seq for e in journal.unacknowledged(10)] == [3, 4, 5]
    assert journal.resend_from(6) is True and journal.backlog() == 3  # nothing to rewind
    journal.acknowledge(5)
    journal.prune(T0 + 10 * 365 * 86400)  # past retention: only the head stays
    assert journal.resend_from(2) is False  # gone: the caller raises an alarm

"""Lost journal records at the door: holes found and declared once, the lineage that notices
a wiped, replaced, rolled-back or unreadable journal file, and the feed the uploader reads
(promise 2: a lost record stops nothing and is on the record)."""

from __future__ import annotations

import ast
import json
import sqlite3
from pathlib import Path

import pytest

from doorward.daemon.codec.bundle import GENESIS_HASH, verify_chain
from doorward.daemon.journal.store import EventJournal
from doorward.daemon.journal.lineage import Lineage, lineage_path, read_lineage, replacement
from doorward.daemon.journal.loss import (
    LOSS_ALARM, MISSING, PRUNED, REPLACED, ROLLED_BACK, UNREADABLE, UNREADABLE_FILE, WIPED,
    LostRange, read_rows,
)
from doorward.daemon.journal.upload import Stamp, UploadFeed
from tests.unit.test_journal import T0, append

ROOT = Path(__file__).resolve().parents[2]


def stamp() -> Stamp:
    return Stamp(T0 + 99, True, 50.0, "boot-b")


def raw(journal: EventJournal, sql: str, *parameters) -> None:
    """Change the file behind the journal's back, as an intruder or a bad disk would."""
    with sqlite3.connect(journal.path) as conn:
        conn.execute(sql, parameters)


def loss_records(journal: EventJournal) -> list[dict]:
    with sqlite3.connect(journal.path) as conn:
        rows = conn.execute("SELECT seq, record FROM events ORDER BY seq").fetchall()
    events = read_rows(rows, 0, journal.journal_id, journal.door_id).events
    return [e.detail for e in events if e.kind == "alarm" and e.detail.get("alarm") == LOSS_ALARM]


@pytest.fixture
def journal(tmp_path: Path) -> EventJournal:
    return EventJournal(tmp_path / "journal.db", "door-1")


# ---- finding holes (pure) ----

def rows_of(journal: EventJournal) -> list[tuple[int, str]]:
    return journal.unacknowledged_rows(100)[1]


def test_read_rows_finds_missing_and_unreadable_rows_and_keeps_the_rest(journal) -> None:
    for _ in range(8):
        append(journal)
    rows = [row for row in rows_of(journal) if row[0] not in (3, 4)]  # two rows deleted
    rows = [(seq, "{not json" if seq == 6 else text) for seq, text in rows]
    read = read_rows(rows, 0, journal.journal_id, "door-1")
    assert [e.seq for e in read.events] == [1, 2, 5, 7, 8]
    assert read.holes == [LostRange(journal.journal_id, 3, 4, MISSING),
                          LostRange(journal.journal_id, 6, 6, UNREADABLE)]


@pytest.mark.parametrize("change", [
    lambda r: "[1, 2]", lambda r: r | {"seq": "x"}, lambda r: r | {"seq": 99},
    lambda r: r | {"journal_id": "j-other"}, lambda r: r | {"door_id": "door-2"},
    lambda r: r | {"hash": "zz"}, lambda r: r | {"kind": ""}, lambda r: r | {"extra": 1},
    lambda r: r | {"detail": ["not", "an", "object"]},
    lambda r: r | {"detail": {"score": float("nan")}},
])
def test_a_record_the_server_would_refuse_is_unreadable_not_sent(journal, change) -> None:
    append(journal)
    (seq, text), = rows_of(journal)
    changed = change(json.loads(text))
    read = read_rows([(seq, changed if isinstance(changed, str) else json.dumps(changed))],
                     0, journal.journal_id, "door-1")
    assert read.events == [] and [h.reason for h in read.holes] == [UNREADABLE]


def test_a_record_that_does_not_hash_is_sent_and_named(journal) -> None:
    append(journal)
    (seq, text), = rows_of(journal)
    altered = json.loads(text)
    altered["detail"]["user"] = "u-mallory"
    read = read_rows([(seq, json.dumps(altered))], 0, journal.journal_id, "door-1")
    assert [e.seq for e in read.events] == [1] and read.self_hash_broken == [1]


# ---- declaring ----

def test_a_declared_loss_is_an_alarm_record_in_the_chain_and_pending_until_acked(journal) -> None:
    told = []
    journal.on_loss = told.append
    append(journal)
    loss = LostRange(journal.journal_id, 1, 1, UNREADABLE)
    record = journal.declare_loss(loss, wall_now=T0, wall_trusted=True, mono_now=1.0,
                                  boot_id="b")
    assert (record.seq, record.kind) == (2, "alarm")
    assert {k: record.detail[k] for k in ("alarm", "journal_id", "from_seq", "to_seq", "reason")} \
        == loss.record_detail()
    assert verify_chain(journal.events()) is None and told == [loss]
    assert journal.pending_losses() == [loss] and journal.declared(journal.journal_id, 1)
    journal.acknowledge(2)
    assert journal.pending_losses() == []  # the server holds the declaration itself


def test_the_feed_declares_each_hole_once_and_returns_what_can_be_sent(journal) -> None:
    for _ in range(6):
        append(journal)
    journal.acknowledge(1)
    raw(journal, "DELETE FROM events WHERE seq = 2")
    raw(journal, "UPDATE events SET record = '{broken' WHERE seq = 4")
    feed = UploadFeed(journal, stamp)
    assert [e.seq for e in feed.unacknowledged(100)] == [3, 5, 6]  # read before declaring
    assert [e.seq for e in feed.unacknowledged(100)] == [3, 5, 6, 7, 8]  # 7, 8: declarations
    assert [e.seq for e in feed.unacknowledged(100)] == [3, 5, 6, 7, 8]  # not declared again
    assert [(d["from_seq"], d["to_seq"], d["reason"]) for d in loss_records(journal)] == \
        [(2, 2, MISSING), (4, 4, UNREADABLE)]
    assert [(lost.from_seq, lost.reason) for lost in feed.pending_losses()] == \
        [(2, MISSING), (4, UNREADABLE)]


def test_a_gap_the_server_reports_is_declared_when_the_journal_lacks_it(journal) -> None:
    for _ in range(4):
        append(journal)
    journal.acknowledge(2)
    feed = UploadFeed(journal, stamp)
    assert feed.resolve_gap(3) is False  # held: the door sent it, only the server can explain
    raw(journal, "DELETE FROM events WHERE seq = 3")
    assert feed.resolve_gap(3) is True
    assert feed.pending_losses() == [LostRange(journal.journal_id, 3, 3, MISSING)]
    assert feed.resolve_gap(3) is False  # declared and still refused: nothing more to do
    assert feed.resolve_gap(9) is False  # a record this journal never wrote


def test_records_a_restored_server_lost_are_resent_or_declared_pruned(journal) -> None:
    for _ in range(6):
        append(journal)
    journal.acknowledge(6)
    feed = UploadFeed(journal, stamp)
    assert feed.resolve_gap(4) is True and journal.acknowledged_seq() == 3  # sent again
    journal.acknowledge(6)
    journal.prune(T0 + 10 * 365 * 86400)  # only the head, seq 6, stays
    assert feed.resolve_gap(2) is True
    assert feed.pending_losses() == [LostRange(journal.journal_id, 2, 5, PRUNED)]
    assert journal.acknowledged_seq() == 5  # the head and the declaration go up next


# ---- the lineage ----

def reopen(tmp_path: Path) -> EventJournal:
    return EventJournal(tmp_path / "journal.db", "door-1")


def used_journal(tmp_path: Path, records: int = 5, acked: int = 3) -> tuple[str, Path]:
    journal = reopen(tmp_path)
    for _ in range(records):
        append(journal)
    journal.acknowledge(acked)
    journal.close()
    return journal.journal_id, tmp_path / "journal.db"


def test_the_lineage_follows_the_acknowledged_sequence(tmp_path: Path) -> None:
    journal_id, path = used_journal(tmp_path)
    assert read_lineage(lineage_path(path)) == Lineage("door-1", journal_id, 3)
    again = reopen(tmp_path)
    assert again.replaced is None and again.journal_id == journal_id


def test_a_wiped_journal_declares_the_old_chain_lost_in_its_first_record(tmp_path) -> None:
    old_id, path = used_journal(tmp_path)
    path.write_bytes(b"")  # zero-length, as a wipe leaves it
    for side in ("-wal", "-shm"):
        path.with_name(path.name + side).unlink(missing_ok=True)
    journal = reopen(tmp_path)
    lost = LostRange(old_id, 4, None, WIPED)
    assert journal.journal_id != old_id and journal.replaced == lost
    told = []
    journal.on_loss = told.append
    append(journal, "daemon_started")
    first, second = journal.events()
    assert (first.seq, first.kind, first.prev_hash) == (1, "alarm", GENESIS_HASH)
    assert first.detail["alarm"] == LOSS_ALARM and first.detail["journal_id"] == old_id
    assert (first.detail["from_seq"], first.detail["to_seq"]) == (4, None)
    assert second.kind == "daemon_started" and told == [lost]
    assert read_lineage(lineage_path(path)).journal_id == journal.journal_id
    journal.close()
    assert reopen(tmp_path).replaced is None  # declared once, not at every start


def test_a_crash_before_the_lineage_was_updated_declares_nothing_twice(tmp_path, monkeypatch):
    old_id, path = used_journal(tmp_path)
    path.unlink()
    journal = reopen(tmp_path)
    monkeypatch.setattr("doorward.daemon.journal.store.save_lineage", lambda *args: None)  # "crashed"
    append(journal)
    journal.close()
    monkeypatch.undo()
    assert read_lineage(lineage_path(path)).journal_id == old_id
    again = reopen(tmp_path)
    assert again.replaced is None and len(loss_records(again)) == 1
    assert read_lineage(lineage_path(path)).journal_id == again.journal_id


@pytest.mark.parametrize("case", ["another chain", "an older copy", "garbage"])
def test_a_file_that_cannot_continue_the_chain_is_set_aside_and_declared(tmp_path, case):
    old_id, path = used_journal(tmp_path, records=5, acked=5)
    if case == "another chain":
        stranger = EventJournal(tmp_path / "other" / "journal.db", "door-1")
        append(stranger)
        stranger.close()
        (tmp_path / "other" / "journal.db").replace(path)
        reason = REPLACED
    elif case == "an older copy":
        raw_conn = sqlite3.connect(path)
        raw_conn.execute("DELETE FROM events WHERE seq > 2")  # as a copy taken at seq 2
        raw_conn.commit()
        raw_conn.close()
        reason = ROLLED_BACK
    else:
        path.write_bytes(b"this is not a database" * 100)
        reason = UNREADABLE_FILE
    journal = reopen(tmp_path)
    assert journal.replaced == LostRange(old_id, 6, None, reason)
    assert journal.journal_id != old_id and journal.last_seq() == 0
    assert [p.name.split("-")[0] for p in tmp_path.glob("journal.db.set-aside-*")
            if not p.name.endswith(("-wal", "-shm"))] == ["journal.db.set"]  # kept, not deleted


@pytest.mark.parametrize("remembered,journal_id,last_seq,reason", [
    (None, "j-a", 0, None), (Lineage("door-2", "j-a", 5), "j-b", 0, None),
    (Lineage("door-1", "j-a", 5), "j-a", 5, None), (Lineage("door-1", "j-a", 5), "j-a", 9, None),
    (Lineage("door-1", "j-a", 5), "j-a", 4, ROLLED_BACK),
    (Lineage("door-1", "j-a", 5), "j-b", 0, WIPED), (Lineage("door-1", "j-a", 5), "j-b", 2, REPLACED),
])
def test_the_lineage_rule(remembered, journal_id, last_seq, reason) -> None:
    lost = replacement(remembered, "door-1", journal_id, last_seq)
    assert (lost.reason if lost else None) == reason
    if lost:
        assert (lost.journal_id, lost.from_seq, lost.to_seq) == ("j-a", 6, None)


def test_a_journal_of_schema_1_is_migrated_without_a_declaration(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    conn = sqlite3.connect(path)
    conn.executescript(
        "CREATE TABLE meta (id INTEGER PRIMARY KEY CHECK (id = 1), journal_id TEXT NOT NULL, "
        "door_id TEXT NOT NULL, acked_seq INTEGER NOT NULL);"
        "CREATE TABLE events (seq INTEGER PRIMARY KEY, wall_s REAL NOT NULL, hash TEXT NOT NULL,"
        " record TEXT NOT NULL);"
        "INSERT INTO meta VALUES (1, 'j-0123456789abcdef', 'door-1', 0); PRAGMA user_version = 1;")
    conn.close()
    journal = EventJournal(path, "door-1")
    assert journal.replaced is None and journal.journal_id == "j-0123456789abcdef"
    assert append(journal).seq == 1 and journal.pending_losses() == []

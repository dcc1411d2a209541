"""``doorward events`` (its own process) on a damaged journal: the broken record is named
with its sequence number and the exit status is 1, never a traceback; a record the journal
declared lost says which record declared it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from doorward.daemon.journal.store import EventJournal
from doorward.daemon.journal.upload import Stamp, UploadFeed
from tests.support.hub import run_doorward
from tests.unit.test_journal import append


@pytest.fixture
def state(tmp_path: Path) -> tuple[Path, EventJournal]:
    directory = tmp_path / "state"
    journal = EventJournal(directory / "journal.db", "door-1")
    for _ in range(4):
        append(journal)
    (tmp_path / "doorward.toml").write_text(f'[storage]\nstate_dir = "{directory}"\n')
    return tmp_path / "doorward.toml", journal


def damage(journal: EventJournal, sql: str) -> None:
    with sqlite3.connect(journal.path) as conn:
        conn.execute(sql)


@pytest.mark.parametrize("record", ["{not json", "[1, 2]", '{"seq": 3}'])
def test_an_unreadable_record_is_reported_by_seq_without_a_traceback(state, record) -> None:
    config, journal = state
    damage(journal, f"UPDATE events SET record = '{record}' WHERE seq = 3")
    result = run_doorward("events", "--config", str(config))
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "CHAIN BROKEN: record 3 is unreadable" in result.stderr
    assert "(2 good, seq 1..2)" in result.stderr
    assert len(result.stdout.splitlines()) == 2  # the records before it are printed


def test_a_record_the_journal_declared_lost_names_its_declaration(state) -> None:
    config, journal = state
    damage(journal, "DELETE FROM events WHERE seq = 2")
    UploadFeed(journal, lambda: Stamp(0.0, True, 0.0, "b")).unacknowledged(100)  # declares it
    result = run_doorward("events", "--quiet", "--config", str(config))
    assert result.returncode == 1
    assert "CHAIN BROKEN: gap: record 3 follows 1; declared lost (missing) by record 5" \
        in result.stdout

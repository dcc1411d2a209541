"""The journal's lineage, kept outside the journal file: which chain this door writes and how
far the server has acknowledged it, so that a wiped or replaced journal file is noticed.

Owns ``Lineage`` and its small JSON file beside the journal (``journal.db.lineage``),
replaced atomically (temporary file, fsync, rename, directory fsync) when a journal is
opened or started and whenever the server acknowledges more; ``open_following``, which
opens the journal file the way the lineage says it must be continued; and
``replacement``, the rule, pure, that compares what the lineage remembers with the journal
file found at start:

- no lineage (first start, or an upgrade from before lineages): nothing to say;
- the same journal id, ending at or after the acknowledged sequence: the chain goes on;
- a new, empty journal (the file was missing or zero-length): ``journal_wiped``;
- another journal id in the file: ``journal_replaced``;
- the same id but ending before the acknowledged sequence (an older copy of the file):
  ``journal_rolled_back``. Its new records would reuse sequence numbers the server
  already holds, so the door starts a new chain instead;
- a file that is not a journal database at all (garbage, a failed ``quick_check``):
  ``journal_unreadable``, and a new chain, since a door without a journal cannot decide.

A file that cannot be continued is set aside (renamed, never deleted) unless it holds no
record, and the new chain's first record declares the loss (``EventJournal``).

Each answer is the ``LostRange`` of the remembered chain: every record after the last one
the server acknowledged. The lineage only learns of acknowledgements, so records that were
never acknowledged and are gone together with the lineage file cannot be named here; the
server still sees the new journal id and raises its own alarm (``docs/sync-protocol.md``).
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from doorward.daemon.storage.cache_crypto import fsync_directory
from doorward.daemon.journal.file import JournalUnreadable, open_file, read_head, set_aside
from doorward.daemon.journal.loss import REPLACED, ROLLED_BACK, UNREADABLE_FILE, WIPED, LostRange

log = logging.getLogger(__name__)

LINEAGE_FORMAT = 1


@dataclass(frozen=True)
class Lineage:
    door_id: str
    journal_id: str
    acknowledged_seq: int


def lineage_path(journal_path: Path) -> Path:
    return journal_path.with_name(journal_path.name + ".lineage")


def read_lineage(path: Path) -> Lineage | None:
    """The stored lineage; None when there is none or it cannot be read (then the server's
    own check of new journal ids is what is left)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        lineage = Lineage(str(data["door_id"]), str(data["journal_id"]),
                          int(data["acknowledged_seq"]))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return lineage


def write_lineage(path: Path, lineage: Lineage) -> None:
    temporary = path.with_name(path.name + ".tmp")
    data = json.dumps({"format": LINEAGE_FORMAT, "door_id": lineage.door_id,
                       "journal_id": lineage.journal_id,
                       "acknowledged_seq": lineage.acknowledged_seq}, sort_keys=True)
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as output:
        output.write(data + "\n")
        output.flush()
        os.fsync(output.fileno())
    os.replace(temporary, path)
    fsync_directory(path.parent)


def save_lineage(journal_path: Path, door_id: str, journal_id: str, acknowledged_seq: int) -> None:
    try:
        write_lineage(lineage_path(journal_path), Lineage(door_id, journal_id, acknowledged_seq))
    except OSError as error:  # the chain itself is fine; only the wipe check is weaker
        log.warning("%s: cannot write the journal lineage: %s", journal_path, error)


def replacement(lineage: Lineage | None, door_id: str, journal_id: str,
                last_seq: int) -> LostRange | None:
    """What was lost when the journal file found at start does not continue ``lineage``."""
    if lineage is None or lineage.door_id != door_id:
        return None
    if lineage.journal_id == journal_id:
        if last_seq >= lineage.acknowledged_seq:
            return None
        reason = ROLLED_BACK
    else:
        reason = WIPED if last_seq == 0 else REPLACED
    return LostRange(lineage.journal_id, lineage.acknowledged_seq + 1, None, reason)


def open_following(path: Path, door_id: str) -> tuple[sqlite3.Connection, LostRange | None]:
    """The journal's connection, and what the remembered chain lost if this file does not
    continue it (then the file is a new chain whose first append declares that)."""
    conn, unreadable = _open_or_set_aside(path, door_id)
    journal_id, last_seq, _ = read_head(conn, path, door_id)
    lost = replacement(read_lineage(lineage_path(path)), door_id, journal_id, last_seq)
    if lost is not None and unreadable:
        lost = LostRange(lost.journal_id, lost.from_seq, None, UNREADABLE_FILE)
    if lost is not None and _declares_replacement_of(conn, lost.journal_id):
        lost = None  # declared before a crash kept the lineage file from being updated
    if lost is not None and lost.reason not in (WIPED, UNREADABLE_FILE):
        conn.close()
        set_aside(path, journal_id)
        conn = open_file(path, door_id)
        journal_id, _, _ = read_head(conn, path, door_id)
    if lost is None:
        save_lineage(path, door_id, journal_id, _acked(conn))
    else:
        log.error("%s: %s; the new journal %s declares it in its first record",
                  path, lost.text(), journal_id)
    return conn, lost


def _open_or_set_aside(path: Path, door_id: str) -> tuple[sqlite3.Connection, bool]:
    try:
        return open_file(path, door_id), False
    except JournalUnreadable as error:
        log.error("%s; setting it aside and starting a new journal", error)
    set_aside(path, "unreadable")
    return open_file(path, door_id), True


def _declares_replacement_of(conn: sqlite3.Connection, journal_id: str) -> bool:
    return conn.execute("SELECT 1 FROM losses WHERE journal_id = ? AND to_seq IS NULL",
                        (journal_id,)).fetchone() is not None


def _acked(conn: sqlite3.Connection) -> int:
    return conn.execute("SELECT acked_seq FROM meta WHERE id = 1").fetchone()[0]

"""Records the journal can no longer send, and how the uploader finds them: pure.

Owns ``LostRange`` (a run of sequence numbers of one journal that will never reach the
server: which journal, the first and last seq, ``to_seq`` None meaning "everything after
``from_seq``", and why), the journal record that declares it (kind ``alarm`` with
``alarm: journal_loss``, so the server raises exactly one alarm from it), and
``read_rows``: the stored rows after the acknowledged sequence turned into the records to
send and the holes among them. A hole is a row that is missing (deleted) or one that does
not parse into the well-formed record of this journal it claims to be; a record the
server's schema would refuse counts as unreadable too, since sending it would stall every
record behind it.

Imports the codec only; no IO, no clock.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from doorward.daemon.codec.alarms import AlarmKind
from doorward.daemon.codec.bundle import BundleFormatError, Event, chain_hash

LOSS_ALARM = AlarmKind.JOURNAL_LOSS.value
MISSING = "missing"  # the row is not in the journal file (deleted)
UNREADABLE = "unreadable"  # the row does not parse into a well-formed record of this journal
PRUNED = "pruned"  # the server asks again for records pruned after it acknowledged them
WIPED = "journal_wiped"  # the journal file was missing or empty at start
REPLACED = "journal_replaced"  # the file holds another chain than the one the server has
ROLLED_BACK = "journal_rolled_back"  # the file ends before what the server acknowledged
UNREADABLE_FILE = "journal_unreadable"  # the file was not a journal database at all

_HASH = re.compile(r"[0-9a-f]{64}")
MAX_SEQ = 2**62


@dataclass(frozen=True)
class LostRange:
    journal_id: str
    from_seq: int
    to_seq: int | None  # None: every record of the journal from ``from_seq`` on
    reason: str

    def covers(self, seq: int) -> bool:
        return self.from_seq <= seq and (self.to_seq is None or seq <= self.to_seq)

    def wire(self) -> dict[str, Any]:
        """As the upload's ``losses`` member carries it."""
        return {"journal_id": self.journal_id, "from_seq": self.from_seq,
                "to_seq": self.to_seq, "reason": self.reason}

    def record_detail(self) -> dict[str, Any]:
        """The detail of the declaring journal record (kind ``alarm``)."""
        return {"alarm": LOSS_ALARM, **self.wire()}

    def text(self) -> str:
        last = "the end" if self.to_seq is None else str(self.to_seq)
        return f"journal {self.journal_id} seq {self.from_seq}..{last} lost ({self.reason})"


@dataclass(frozen=True)
class ReadRows:
    events: list[Event] = field(default_factory=list)  # well-formed, oldest first
    holes: list[LostRange] = field(default_factory=list)
    self_hash_broken: list[int] = field(default_factory=list)  # sent, but they do not hash


def read_rows(rows: list[tuple[int, str]], after_seq: int, journal_id: str,
              door_id: str) -> ReadRows:
    """Split stored ``(seq, record)`` rows (ascending, all above ``after_seq``)."""
    result, expected = ReadRows(), after_seq + 1
    for seq, text in rows:
        if seq > expected:
            _add_hole(result.holes, LostRange(journal_id, expected, seq - 1, MISSING))
        event = parse_record(text, seq, journal_id, door_id)
        if event is None:
            _add_hole(result.holes, LostRange(journal_id, seq, seq, UNREADABLE))
        else:
            result.events.append(event)
            if chain_hash(event.prev_hash, event) != event.hash:
                result.self_hash_broken.append(seq)
        expected = seq + 1
    return result


def _add_hole(holes: list[LostRange], hole: LostRange) -> None:
    """Adjacent holes of one reason become one range: one declaration, one alarm."""
    if holes and holes[-1].reason == hole.reason and holes[-1].to_seq == hole.from_seq - 1:
        holes[-1] = LostRange(hole.journal_id, holes[-1].from_seq, hole.to_seq, hole.reason)
    else:
        holes.append(hole)


def parse_record(text: str, seq: int, journal_id: str, door_id: str) -> Event | None:
    """The record stored in row ``seq``, or None when it is not a well-formed one."""
    try:
        data = json.loads(text)
        if not isinstance(data, dict):
            return None
        event = Event.from_dict(data)
    except (ValueError, TypeError, BundleFormatError):  # JSONDecodeError is a ValueError
        return None
    return event if _well_formed(event, seq, journal_id, door_id) else None


def _well_formed(event: Event, seq: int, journal_id: str, door_id: str) -> bool:
    """The server's field limits (``server/api/models.py`` ``EventBody``), and this row's place."""
    texts = (event.door_id, event.journal_id, event.at, event.kind, event.prev_hash, event.hash)
    if not all(isinstance(value, str) for value in texts):
        return False
    if type(event.seq) is not int or (event.seq, event.journal_id, event.door_id) != (
            seq, journal_id, door_id):
        return False
    if not (1 <= event.seq <= MAX_SEQ and 1 <= len(event.kind) <= 64 and len(event.at) <= 40):
        return False
    if not (_HASH.fullmatch(event.prev_hash) and _HASH.fullmatch(event.hash)):
        return False
    return isinstance(event.detail, dict) and _strict_json(event.detail)


def _strict_json(value: Any) -> bool:
    try:
        json.dumps(value, allow_nan=False).encode("utf-8")
    except (ValueError, TypeError, UnicodeEncodeError):  # NaN, or a lone surrogate
        return False
    return True

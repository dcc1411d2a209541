"""Lost journal records at the server: one ``journal_loss`` alarm per loss, and the rule that
lets the records after a declared loss in.

Owns ``Loss`` (what an upload's ``losses`` member declares: a journal, a range of sequence
numbers, ``to_seq`` null for "everything after", and the door's reason), ``covering`` (the
declaration that explains a gap, so ``doorward.server.domain.events.ingest`` accepts the record after it
instead of answering 409 for ever), and the three ways a loss becomes an alarm, each once:

- ``raise_skipped``: the server skipped a declared gap at its seam (the first record after
  it is stored with ``chain_ok`` false, since its predecessor never arrived);
- ``raise_declared``: the door's own declaring record (kind ``alarm``, ``alarm:
  journal_loss``) arrived; no second alarm when the seam already raised one for the same
  journal and first sequence; the server adds what it holds of the declared range;
- ``check_new_journal``: the first record of a journal id the server has not seen, from a
  device that had another chain. Unless that record declares the old chain's loss (then
  its own alarm names it), the server raises one naming the previous chain and the last
  sequence it holds of it.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from doorward.daemon.codec import bundle
from doorward.server.domain import alarms
from doorward.server.errors import Invalid

KIND = "journal_loss"
UNDECLARED_NEW_JOURNAL = "new_journal_undeclared"
MAX_SEQ = 2**62


@dataclass(frozen=True)
class Loss:
    journal_id: str
    from_seq: int
    to_seq: int | None
    reason: str

    def covers(self, journal_id: str, first: int, last: int) -> bool:
        return (journal_id == self.journal_id and self.from_seq <= first
                and (self.to_seq is None or last <= self.to_seq))

    def detail(self) -> dict[str, Any]:
        return {"journal_id": self.journal_id, "from_seq": self.from_seq,
                "to_seq": self.to_seq, "reason": self.reason}


def parse_losses(raw: list[dict[str, Any]]) -> list[Loss]:
    losses = []
    for position, item in enumerate(raw):
        loss = Loss(item["journal_id"], item["from_seq"], item.get("to_seq"), item["reason"])
        if loss.to_seq is not None and loss.to_seq < loss.from_seq:
            raise Invalid(f"losses[{position}].to_seq", "is before from_seq")
        losses.append(loss)
    return losses


def covering(losses: list[Loss], journal_id: str, first: int, last: int) -> Loss | None:
    return next((loss for loss in losses if loss.covers(journal_id, first, last)), None)


def raise_skipped(conn: sqlite3.Connection, now: float, sinks: list[str], device_id: str,
                  loss: Loss, skipped: tuple[int, int], reference: dict[str, Any]) -> None:
    if _raised(conn, device_id, loss.journal_id, loss.from_seq):
        return
    alarms.raise_alarm(conn, now, sinks, KIND, device_id, {
        **loss.detail(), "skipped_from_seq": skipped[0], "skipped_to_seq": skipped[1],
        "seam": reference})


def raise_declared(conn: sqlite3.Connection, now: float, sinks: list[str], device_id: str,
                   event: bundle.Event, reference: dict[str, Any]) -> None:
    detail = event.detail
    journal_id, from_seq = detail.get("journal_id"), detail.get("from_seq")
    if _raised(conn, device_id, journal_id, from_seq):
        return
    known = {key: detail.get(key) for key in ("journal_id", "from_seq", "to_seq", "reason")}
    alarms.raise_alarm(conn, now, sinks, KIND, device_id, {
        **known, **_server_view(conn, device_id, journal_id, from_seq, detail.get("to_seq")),
        "declared_by": reference})


def check_new_journal(conn: sqlite3.Connection, now: float, sinks: list[str],
                      device_id: str, event: bundle.Event, reference: dict[str, Any]) -> None:
    """``event`` is the first the server accepts of a journal id it did not know."""
    previous = _previous_journals(conn, device_id, event.journal_id)
    if not previous:
        return  # the device's first journal
    detail = event.detail
    if alarms.alarm_kind_of(event.kind, detail) == KIND and \
            detail.get("journal_id") in {journal_id for journal_id, _ in previous}:
        return  # the new chain opens by declaring what the old one lost
    journal_id, last_seq = previous[0]
    alarms.raise_alarm(conn, now, sinks, KIND, device_id, {
        "journal_id": journal_id, "from_seq": last_seq + 1, "to_seq": None,
        "reason": UNDECLARED_NEW_JOURNAL, "server_last_seq": last_seq,
        "new_journal_id": event.journal_id, "first": reference})


def _raised(conn: sqlite3.Connection, device_id: str, journal_id: Any, from_seq: Any) -> bool:
    """Whether this door already has the alarm of the loss of ``journal_id`` from
    ``from_seq`` (compared in Python: the schema stays free of SQLite's JSON functions)."""
    rows = conn.execute("SELECT detail FROM alarms WHERE device_id = ? AND kind = ?",
                        (device_id, KIND)).fetchall()
    return any((detail.get("journal_id"), detail.get("from_seq")) == (journal_id, from_seq)
               for detail in (json.loads(row[0]) for row in rows))


def _server_view(conn: sqlite3.Connection, device_id: str, journal_id: Any, from_seq: Any,
                 to_seq: Any) -> dict[str, Any]:
    """What the server holds of the declared journal and range."""
    row = conn.execute("SELECT last_seq FROM journals WHERE device_id = ? AND journal_id = ?",
                       (device_id, str(journal_id))).fetchone()
    if not isinstance(from_seq, int):
        return {"server_last_seq": row[0] if row else None}
    last = to_seq if isinstance(to_seq, int) else MAX_SEQ
    held = conn.execute("SELECT COUNT(*) FROM events WHERE device_id = ? AND journal_id = ? AND"
                        " seq BETWEEN ? AND ?", (device_id, str(journal_id), from_seq, last))
    return {"server_last_seq": row[0] if row else None, "server_holds": held.fetchone()[0]}


def _previous_journals(conn: sqlite3.Connection, device_id: str,
                       journal_id: str) -> list[tuple[str, int]]:
    """The device's other journals, the one that received a record last first."""
    rows = conn.execute(
        "SELECT j.journal_id, j.last_seq, (SELECT received_at FROM events e WHERE"
        " e.device_id = j.device_id AND e.journal_id = j.journal_id AND e.seq = j.last_seq)"
        " AS last_at FROM journals j WHERE j.device_id = ? AND j.journal_id != ?",
        (device_id, journal_id)).fetchall()
    rows = sorted(rows, key=lambda row: row[2] or 0.0, reverse=True)
    return [(row[0], row[1]) for row in rows]

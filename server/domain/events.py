"""Event intake and heartbeats from doors and stations.

Owns ``ingest``: events arrive oldest first, keyed by (device, journal id, sequence);
duplicates are ignored, the highest contiguous sequence is acknowledged, and a gap stops the
batch and is answered with the expected sequence (409), unless the upload declares exactly
that gap lost (``losses``, ``server/domain/losses.py``): then the next record is accepted at the
seam, stored with ``chain_ok`` false, and one ``journal_loss`` alarm names the loss. The
hash chain is checked: a break is stored, flagged and raised as a chain-break alarm (the
events are kept: losing them would hide what happened). Records of kind ``alarm`` become
alarms, and the records that end an incident end its alarm, in the same transaction; the
first record of a journal id new to a device that had another chain is checked for a
declaration of what the old chain lost.

Also owns ``heartbeat``: the device's state, the removals its versions confirm, and the
door's storage alarm. A heartbeat is never journalled, so it reaches the server even when the
door's disk is full: its ``storage`` report raises one ``door_storage`` alarm when the
journal fails or the disk runs low, and clears it when both are well again.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from doorward.daemon.codec import bundle
from doorward.server.domain import alarms
from doorward.server.domain import losses
from doorward.server.errors import Invalid

# The door journals "access_granted" with detail {"finger": id, ...} (daemon.controller_core).
GRANT_KINDS = ("access_granted", "granted", "granted_duress")


@dataclass
class IngestResult:
    acknowledged: dict[str, int] = field(default_factory=dict)  # journal id -> highest seq
    accepted: int = 0
    duplicates: int = 0
    chain_breaks: int = 0
    declared_gaps: int = 0  # gaps accepted because the upload declared them lost
    gap: dict[str, Any] | None = None  # {"journal_id", "expected_seq", "got_seq"}
    stored: list[bundle.Event] = field(default_factory=list)  # the records accepted, in order


def _parse(raw: dict[str, Any], position: int, device_id: str) -> bundle.Event:
    try:
        event = bundle.Event.from_dict(raw)
    except bundle.BundleFormatError as error:
        raise Invalid(f"events[{position}]", str(error)) from None
    if event.door_id != device_id:
        raise Invalid(f"events[{position}].door_id", "not the authenticated device")
    return event


class _Journals:
    """Cursor per journal for one batch: (last seq, last hash), read once, written at the end."""

    def __init__(self, conn: sqlite3.Connection, device_id: str) -> None:
        self.conn, self.device_id, self.cursors = conn, device_id, {}
        self.unseen: set[str] = set()  # journal ids this server holds no record of yet

    def cursor(self, journal_id: str) -> tuple[int, str]:
        if journal_id not in self.cursors:
            row = self.conn.execute("SELECT last_seq, last_hash FROM journals WHERE device_id = ? AND"
                                    " journal_id = ?", (self.device_id, journal_id)).fetchone()
            self.cursors[journal_id] = (row[0], row[1]) if row else (0, bundle.GENESIS_HASH)
            if row is None:
                self.unseen.add(journal_id)
        return self.cursors[journal_id]

    def save(self) -> None:
        self.conn.executemany(
            "INSERT INTO journals (device_id, journal_id, last_seq, last_hash) VALUES (?,?,?,?)"
            " ON CONFLICT (device_id, journal_id) DO UPDATE SET last_seq = excluded.last_seq,"
            " last_hash = excluded.last_hash",
            [(self.device_id, j, seq, digest) for j, (seq, digest) in self.cursors.items()])


def ingest(conn: sqlite3.Connection, now: float, device_id: str, raw_events: list[dict[str, Any]],
           sinks: list[str], raw_losses: list[dict[str, Any]] | None = None) -> IngestResult:
    events = [_parse(raw, position, device_id) for position, raw in enumerate(raw_events)]
    declared = losses.parse_losses(raw_losses or [])
    journals, result = _Journals(conn, device_id), IngestResult()
    for event in events:
        last_seq, last_hash = journals.cursor(event.journal_id)
        if event.seq <= last_seq:
            result.duplicates += 1
            continue
        seam = None
        if event.seq != last_seq + 1:
            seam = losses.covering(declared, event.journal_id, last_seq + 1, event.seq - 1)
            if seam is None:
                result.gap = {"journal_id": event.journal_id, "expected_seq": last_seq + 1,
                              "got_seq": event.seq}
                break
        chain_ok = event.prev_hash == last_hash and bundle.chain_hash(last_hash, event) == event.hash
        broken = _store(conn, now, event, chain_ok, sinks,
                        _Seam(seam, last_seq + 1) if seam else None,
                        event.journal_id in journals.unseen)
        journals.unseen.discard(event.journal_id)
        journals.cursors[event.journal_id] = (event.seq, event.hash)
        result.accepted += 1
        result.stored.append(event)
        result.declared_gaps += seam is not None
        result.chain_breaks += broken
    journals.save()
    result.acknowledged = {j: seq for j, (seq, _) in journals.cursors.items()}
    return result


@dataclass(frozen=True)
class _Seam:
    loss: losses.Loss
    skipped_from: int


def _store(conn: sqlite3.Connection, now: float, event: bundle.Event, chain_ok: bool,
           sinks: list[str], seam: _Seam | None, first_of_journal: bool) -> bool:
    """Store one accepted record and raise or end what it says; True for a chain break."""
    detail = json.dumps(event.detail, sort_keys=True)
    conn.execute("INSERT INTO events (device_id, journal_id, seq, at, kind, detail, prev_hash, hash,"
                 " chain_ok, received_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
                 (event.door_id, event.journal_id, event.seq, event.at, event.kind, detail,
                  event.prev_hash, event.hash, int(chain_ok), now))
    reference = {"journal_id": event.journal_id, "seq": event.seq, "at": event.at}
    if first_of_journal:
        losses.check_new_journal(conn, now, sinks, event.door_id, event, reference)
    if seam is not None:
        losses.raise_skipped(conn, now, sinks, event.door_id, seam.loss,
                             (seam.skipped_from, event.seq - 1), reference)
    # At a declared seam only the record's own hash can be checked: its predecessor is lost.
    broken = not (chain_ok or (seam is not None and
                               bundle.chain_hash(event.prev_hash, event) == event.hash))
    if broken:
        alarms.raise_alarm(conn, now, sinks, "chain_break", event.door_id,
                           {**reference, "reason": "prev_hash or hash does not check"})
    _raise_or_end(conn, now, event, sinks, reference)
    finger_id = event.detail.get("finger", event.detail.get("finger_id"))
    if event.kind in GRANT_KINDS and isinstance(finger_id, str):
        conn.execute("UPDATE fingers SET last_used_at = ? WHERE id = ?", (now, finger_id))
    return broken


def _raise_or_end(conn: sqlite3.Connection, now: float, event: bundle.Event, sinks: list[str],
                  reference: dict[str, Any]) -> None:
    kind = alarms.alarm_kind_of(event.kind, event.detail)
    if kind == losses.KIND:
        losses.raise_declared(conn, now, sinks, event.door_id, event, reference)
    elif kind is not None:
        alarms.raise_alarm(conn, now, sinks, kind, event.door_id,
                           {**reference, "event_kind": event.kind, "event": event.detail})
    else:
        alarms.end_incident(conn, now, event.door_id, event.kind, event.detail, reference)


STORAGE_ALARM = "door_storage"


def heartbeat(conn: sqlite3.Connection, now: float, device_id: str, report: dict[str, Any],
              sinks: list[str] | None = None) -> None:
    """Store the device's report; versions confirm removals from cache and module."""
    previous = conn.execute("SELECT heartbeat FROM devices WHERE id = ?", (device_id,)).fetchone()
    _storage_alarm(conn, now, device_id, report, previous[0] if previous else None, sinks or [])
    conn.execute(
        "UPDATE devices SET last_heartbeat_at = ?, heartbeat = ?, applied_version = ?,"
        " reconciled_version = ?, reported_module_identity = ?, offline_alarmed = 0 WHERE id = ?",
        (now, json.dumps(report, sort_keys=True), report.get("applied_version"),
         report.get("reconciled_version"), report.get("module_identity"), device_id))
    for column, version in (("cache_confirmed_at", report.get("applied_version")),
                            ("module_confirmed_at", report.get("reconciled_version"))):
        if version is not None:
            conn.execute(f"UPDATE removals SET {column} = ? WHERE device_id = ? AND version <= ?"
                         f" AND {column} IS NULL", (now, device_id, version))


def _storage_trouble(report: dict[str, Any]) -> bool:
    storage = report.get("storage") or {}
    return bool(storage.get("journal_failing") or storage.get("disk_low"))


def _storage_alarm(conn: sqlite3.Connection, now: float, device_id: str, report: dict[str, Any],
                   previous_json: str | None, sinks: list[str]) -> None:
    """One alarm per incident: raised when the report turns bad, cleared when it turns good.
    A door that reports no ``storage`` (older than the field) changes nothing."""
    if "storage" not in report or report["storage"] is None:
        return
    was_bad = _storage_trouble(json.loads(previous_json)) if previous_json else False
    is_bad = _storage_trouble(report)
    if is_bad and not was_bad:
        alarms.raise_alarm(conn, now, sinks, STORAGE_ALARM, device_id,
                           {"storage": report["storage"]}, once=True)
    elif was_bad and not is_bad:
        conn.execute("UPDATE alarms SET state = 'cleared', cleared_by = 'door', cleared_at = ?"
                     " WHERE device_id = ? AND kind = ? AND state != 'cleared'",
                     (now, device_id, STORAGE_ALARM))


def list_events(conn: sqlite3.Connection, device_id: str | None, limit: int) -> list[dict[str, Any]]:
    sql = "SELECT * FROM events" + (" WHERE device_id = ?" if device_id else "") + \
          " ORDER BY received_at DESC, seq DESC LIMIT ?"
    rows = conn.execute(sql, ((device_id,) if device_id else ()) + (limit,))
    return [{**dict(row), "detail": json.loads(row["detail"]), "chain_ok": bool(row["chain_ok"])}
            for row in rows]

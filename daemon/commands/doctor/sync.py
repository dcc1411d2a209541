"""Doctor checks of the door's link to its server and of its journal.

- **server reachable, key pinned**: asks the paired server for its key and compares the
  fingerprint with the one pinned at pairing. Unreachable is a warning (the door keeps
  deciding from its cache); a different key is a failure (re-pair on purpose, or someone is
  impersonating the server).
- **journal health**: reads a *copy* of the journal (with its WAL), because opening the live
  file as root would create WAL files the service user could not write; checks SQLite's
  integrity, then reads the records as the uploader does (``doorward.daemon.journal.loss``):
  a missing or unreadable record is named by its seq (a loss the journal has already declared
  is only mentioned), a record that does not match its own hash or its predecessor's is a
  broken chain, and the upload backlog is reported. Its advice never moves the file: the
  daemon sets an unreadable journal aside itself and declares what was lost, and the file
  is evidence.
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from doorward.daemon.codec.bundle import Event
from doorward.daemon.commands.doctor.system import DoctorContext
from doorward.daemon.commands.doctor.probe import CheckResult, fail, ok, warn
from doorward.daemon.journal.loss import LostRange, read_rows
from doorward.daemon.sync.http import ServerConnection, SyncError
from doorward.daemon.sync.pairing import normalise_fingerprint

SERVER_CHECK = "server reachable, key pinned"
JOURNAL_CHECK = "journal health"
# the paired door's journal, and the one an unpaired door writes until it is paired
JOURNAL_NAMES = ("journal.db", "journal-unpaired.db")
BACKLOG_WARN = 10_000


def server_check(find_credentials: Callable[[DoctorContext], Any]) -> Callable[[DoctorContext], CheckResult]:
    def check(context: DoctorContext) -> CheckResult:
        credentials = find_credentials(context)
        if credentials is None:
            return warn(SERVER_CHECK, "the door is not paired (no credential)",
                        "doorward pair --server URL --code CODE --fingerprint FP")  # fmt: skip
        return _compare_keys(credentials, context.ca_file)

    return check


def _compare_keys(credentials: Any, ca_file: str | None) -> CheckResult:
    try:  # the CA the daemon uses: a door on a private CA is reachable, not "unreachable"
        connection = ServerConnection(credentials.server_url, ca_file=ca_file, deadline_s=5.0)
        try:
            health = connection.call_json("GET", "/api/v1/health")
        finally:
            connection.close()
    except SyncError as error:
        return warn(SERVER_CHECK, f"{credentials.server_url}: {error}",
                    "check the network, DNS and the server's TLS certificate (server.ca_file);"
                    " the door keeps deciding from its cache meanwhile")  # fmt: skip
    served = str(health.get("server_key_fingerprint"))
    if normalise_fingerprint(served) != normalise_fingerprint(credentials.server_key_fingerprint):
        return fail(SERVER_CHECK, f"the server now shows key {served}, the door pinned "
                    f"{credentials.server_key_fingerprint}",
                    "if the server's key was replaced on purpose, pair the door again; "
                    "otherwise treat it as an attack on the link: bundles will be refused")  # fmt: skip
    return ok(SERVER_CHECK, f"{credentials.server_url} answers with the pinned key")


def journal_check(context: DoctorContext) -> CheckResult:
    """The journal the daemon writes: ``journal.db``, or ``journal-unpaired.db`` while the door
    is not paired (daemon/runtime/build.py)."""
    paired, unpaired = (Path(context.state_dir) / name for name in JOURNAL_NAMES)
    path = paired if paired.exists() or not unpaired.exists() else unpaired
    if not path.exists():
        return warn(JOURNAL_CHECK, f"no journal in {context.state_dir} yet (neither "
                                   f"{paired.name} nor {unpaired.name})",
                    "start the daemon once (sudo systemctl start doorward)")
    with tempfile.TemporaryDirectory(prefix="doorward-doctor-") as scratch:
        copy = Path(scratch) / "journal.db"
        for suffix in ("", "-wal"):
            if Path(f"{path}{suffix}").exists():
                shutil.copy2(f"{path}{suffix}", f"{copy}{suffix}")
        try:
            return _inspect(copy, path)
        except sqlite3.Error as error:
            return fail(JOURNAL_CHECK, f"{path}: {error}", KEEP_THE_FILE)


# Never "move it aside": that loses every record not yet uploaded.
KEEP_THE_FILE = ("keep the file (a copy for security) and restart the daemon: it sets an unreadable "
                 "journal aside itself, never deletes it, and declares the loss to the server")
REPORT = ("report it to security (the journal was edited or damaged); leave the daemon running: "
          "it declares the loss in its own chain and the server raises a journal_loss alarm")


def _inspect(copy: Path, original: Path) -> CheckResult:
    conn = sqlite3.connect(copy)
    try:
        integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
        journal_id, door_id, acked = conn.execute(
            "SELECT journal_id, door_id, acked_seq FROM meta WHERE id = 1").fetchone()
        rows = conn.execute("SELECT seq, record FROM events ORDER BY seq").fetchall()
        declared = _declared(conn, journal_id)
    finally:
        conn.close()
    if integrity != "ok":
        return fail(JOURNAL_CHECK, f"{original}: integrity check says {integrity}", KEEP_THE_FILE)
    if not rows:
        return ok(JOURNAL_CHECK, f"{original}: empty")
    read = read_rows(rows, rows[0][0] - 1, journal_id, door_id)
    undeclared = [hole for hole in read.holes
                  if not any(d.covers(hole.from_seq) and d.covers(hole.to_seq) for d in declared)]
    if undeclared:
        return fail(JOURNAL_CHECK, f"{original}: " + "; ".join(
            f"{_seqs(h.from_seq, h.to_seq)} {h.reason}" for h in undeclared), REPORT)
    return _chain_result(original, read.events, read.self_hash_broken, acked, len(read.holes))


def _declared(conn: sqlite3.Connection, journal_id: str) -> list[LostRange]:
    """The losses this journal has already declared in its own chain."""
    if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'losses'").fetchone() is None:
        return []
    return [LostRange(journal_id, start, end, reason) for start, end, reason in conn.execute(
        "SELECT from_seq, to_seq, reason FROM losses WHERE journal_id = ?", (journal_id,))]


def _seqs(start: int, end: int | None) -> str:
    return f"record {start}" if end == start else f"records {start}..{'the end' if end is None else end}"


def _chain_result(original: Path, events: list[Event], self_broken: list[int], acked: int,
                  declared_holes: int) -> CheckResult:
    if not events:
        return ok(JOURNAL_CHECK, f"{original}: empty")
    # each record must hash to itself and follow its predecessor; across a declared hole the
    # link is missing by definition
    broken = list(self_broken) + [b.seq for a, b in zip(events, events[1:])
                                  if b.seq == a.seq + 1 and b.prev_hash != a.hash]
    if broken:
        return fail(JOURNAL_CHECK, f"{original}: the hash chain breaks at seq {min(broken)}", REPORT)
    backlog = events[-1].seq - acked
    detail = f"{original.name}: {len(events)} records, chain intact, {backlog} not yet uploaded"
    if declared_holes:
        detail += f" ({declared_holes} lost range(s) already declared to the server)"
    if backlog > BACKLOG_WARN:
        return warn(JOURNAL_CHECK, detail, "check `doorward status`: the server has not "
                    "acknowledged events for a while (network or server down)")  # fmt: skip
    return ok(JOURNAL_CHECK, detail)

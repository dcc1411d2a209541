"""Doctor checks of the door's link to its server and of its journal.

- **server reachable, key pinned**: asks the paired server for its key and compares the
  fingerprint with the one pinned at pairing. Unreachable is a warning (the door keeps
  deciding from its cache); a different key is a failure (re-pair on purpose, or someone is
  impersonating the server).
- **journal health**: reads a *copy* of the journal (with its WAL), because opening the live
  file as root would create WAL files the service user could not write; checks SQLite's
  integrity, that the stored records form one gap-free hash chain, and the upload backlog.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from doorward.daemon.codec.bundle import Event, verify_chain
from doorward.daemon.commands.doctor.system import DoctorContext
from doorward.daemon.commands.doctor.probe import CheckResult, fail, ok, warn
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
        return _compare_keys(credentials)

    return check


def _compare_keys(credentials: Any) -> CheckResult:
    try:
        connection = ServerConnection(credentials.server_url, deadline_s=5.0)
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
            return fail(JOURNAL_CHECK, f"{path}: {error}",
                        "stop the daemon, keep a copy of the file for security, then move it "
                        "aside: the daemon starts a new journal")  # fmt: skip


def _inspect(copy: Path, original: Path) -> CheckResult:
    conn = sqlite3.connect(copy)
    try:
        integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
        records = [json.loads(row[0]) for row in conn.execute("SELECT record FROM events ORDER BY seq")]
        acked = conn.execute("SELECT acked_seq FROM meta WHERE id = 1").fetchone()[0]
    finally:
        conn.close()
    if integrity != "ok":
        return fail(JOURNAL_CHECK, f"{original}: integrity check says {integrity}",
                    "stop the daemon, keep a copy for security, move the file aside")
    return _chain_result(original, [Event.from_dict(r) for r in records], acked)


def _chain_result(original: Path, events: list[Event], acked: int) -> CheckResult:
    if not events:
        return ok(JOURNAL_CHECK, f"{original}: empty")
    broken = verify_chain(events, events[0].prev_hash)
    gaps = [b.seq for a, b in zip(events, events[1:]) if b.seq != a.seq + 1]
    if broken is not None or gaps:
        at = events[broken].seq if broken is not None else gaps[0]
        return fail(JOURNAL_CHECK, f"{original}: the hash chain breaks at seq {at}",
                    "report it to security: the journal was edited or damaged")  # fmt: skip
    backlog = events[-1].seq - acked
    detail = f"{original.name}: {len(events)} records, chain intact, {backlog} not yet uploaded"
    if backlog > BACKLOG_WARN:
        return warn(JOURNAL_CHECK, detail, "check `doorward status`: the server has not "
                    "acknowledged events for a while (network or server down)")  # fmt: skip
    return ok(JOURNAL_CHECK, detail)

"""The removal ledger: what took access or credentials away, kept outside the database, so
that a restore from backup cannot bring it back.

Owns ``RemovalLedger``, an append-only file of JSON lines beside the version floor in
``keys_dir``, which database backups leave out. Every erasure, deactivation or change of a
person's validity, finger deletion (also by retention), grant revocation, decommissioning,
pairing (which revokes the previous token and keys) and lockdown change is one line. A
restore re-applies the ledger to the restored database (``server.restore``).

Order: a service writes its entry, fsynced, inside its transaction after every check and
just before the commit; if the entry cannot be written the change is refused and nothing is
stored. A crash between entry and commit leaves an entry for a change that never committed,
which the next restore applies: the ledger errs towards removal. The other order could lose
a committed revocation. A line torn by a crash (no newline) was never committed: it is cut
off before the next append and ignored when read.
"""

from __future__ import annotations

import base64
import datetime as dt
import fcntl
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from doorward.server.errors import Unavailable


@dataclass(frozen=True)
class Kind:
    table: str
    columns: tuple[str, ...]  # the columns an entry sets; () means the row is deleted
    says: str  # how the restore report names a re-applied entry


KINDS: dict[str, Kind] = {
    "person.erased": Kind("users", (), "person {id} erased"),
    "person.access": Kind("users", ("active", "valid_from", "valid_until"),
                          "person {id}: active={active}, valid_from={valid_from}, valid_until={valid_until}"),
    "finger.deleted": Kind("fingers", (), "finger {id} deleted"),
    "grant.revoked": Kind("grants", (), "grant {id} revoked"),
    "device.decommissioned": Kind("devices", (), "device {id} decommissioned: its token is dead"),
    "device.paired": Kind("devices", ("token_sha256", "x25519_public", "signing_public",
                                      "module_password_sealed", "reported_module_identity", "paired_at"),
                          "device {id} paired again: the token and keys of the backup are revoked"),
    "device.lockdown": Kind("devices", ("lockdown",), "device {id}: lockdown={lockdown}"),
    "zone.lockdown": Kind("zones", ("lockdown",), "zone {id}: lockdown={lockdown}"),
}


class LedgerError(Unavailable):
    """The ledger cannot be written or read; the message names the file and the line."""


@dataclass(frozen=True)
class Entry:
    kind: str
    ident: str
    at: float
    actor: str
    values: dict[str, Any]

    def describe(self) -> str:
        when = dt.datetime.fromtimestamp(self.at, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        shown = {k: "<set>" if isinstance(v, bytes) else v for k, v in self.values.items()}
        return f"{KINDS[self.kind].says.format(id=self.ident, **shown)} ({when}, {self.actor})"


def _encode(value: Any) -> Any:
    return {"base64": base64.b64encode(value).decode()} if isinstance(value, (bytes, memoryview)) else value


def _decode(value: Any) -> Any:
    return base64.b64decode(value["base64"]) if isinstance(value, dict) else value


class RemovalLedger:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def create(self) -> None:
        """Make the empty file now, as the server's user: a CLI command run as root must not
        be the first to create it, or the server could not append."""
        if not self.path.exists():
            self._append(b"", "the server cannot start without it")

    def record(self, kind: str, ident: str, at: float, actor: str, **values: Any) -> None:
        """Append one entry durably; raise LedgerError (503) if it cannot be written."""
        columns = KINDS[kind].columns
        if sorted(values) != sorted(columns):
            raise ValueError(f"{kind}: expected values {columns}, got {sorted(values)}")
        line = json.dumps({"kind": kind, "id": ident, "at": at, "actor": actor,
                           "values": {k: _encode(v) for k, v in values.items()}}, sort_keys=True)
        self._append(line.encode() + b"\n", "nothing was changed")

    def _append(self, line: bytes, consequence: str) -> None:
        try:
            self._write(line)
        except OSError as error:
            raise LedgerError(f"removal ledger {self.path}: {error}; {consequence}") from None

    def _write(self, line: bytes) -> None:
        created = not self.path.exists()
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # the server and CLI commands append alike
            _cut_torn_tail(fd)
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
        if created:
            _fsync_directory(self.path.parent)

    def entries(self) -> list[Entry]:
        """Every complete entry, oldest first; raise LedgerError naming a bad line."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return []
        except OSError as error:
            raise LedgerError(f"removal ledger {self.path}: {error}") from None
        lines = raw.split(b"\n")[:-1]  # the last piece has no newline: empty, or torn by a crash
        return [self._parse(line, number) for number, line in enumerate(lines, 1)]

    def _parse(self, line: bytes, number: int) -> Entry:
        try:
            item = json.loads(line)
            kind = KINDS[item["kind"]]
            values = {column: _decode(item["values"][column]) for column in kind.columns}
            return Entry(item["kind"], str(item["id"]), float(item["at"]), str(item["actor"]), values)
        except (ValueError, KeyError, TypeError) as error:
            raise LedgerError(f"removal ledger {self.path}, line {number}: not a ledger entry"
                              f" ({type(error).__name__}: {error}); fix or remove the line") from None


def _cut_torn_tail(fd: int) -> None:
    """Cut off a last line without a newline: a crash tore it before its change committed."""
    size = os.lseek(fd, 0, os.SEEK_END)
    if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
        return
    start = max(0, size - 65536)
    tail = os.pread(fd, size - start, start)
    if b"\n" in tail or start == 0:
        os.ftruncate(fd, start + tail.rfind(b"\n") + 1)
    else:  # no entry is this long: not a torn entry; keep it, so that reading names it
        os.write(fd, b"\n")


def _fsync_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

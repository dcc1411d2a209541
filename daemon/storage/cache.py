"""The encrypted permission cache: the applied snapshot, its version, and the slot map.

Owns ``PermissionCache``. A bundle is applied in ONE SQLite transaction (every encrypted
snapshot row, the version and the slot map together), then its version goes to the backstop
file; at open the stored version is the larger of the two, and a database older than its
backstop (restored from an old copy) serves no snapshot, so a rollback on the SD card cannot
bring a revoked person back. Every row is AES-256-GCM under the cache key and bound to its
table, key and bundle version (``daemon/storage/cache_crypto.py``); the whole cache is decrypted and
validated at open, so damage is found at start, not at a scan. Templates stay sealed to the
door's key inside the snapshot. The reconciled version (the module matched the slot map) is
kept beside the applied one.

Two threads write the slot map: the sync thread's ``apply`` (the new snapshot's plan) and
the reader's reconcile (``update_slot_map``, a change applied under the same lock to the map
as it is then, so reconcile progress read from an older map never overwrites a revocation).

Row layout: ``state`` holds the applied version, the encrypted head (the payload without
its users, plus ``user_count``) and the reconciled version; ``users`` one encrypted user
payload per position; ``slots`` one encrypted slot per module page. Thread-safe (one lock).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from doorward.daemon.storage.cache_crypto import CacheDamaged, CacheError, CacheKeyError, RowCipher, load_cache_key
from doorward.daemon.storage.cache_schema import (
    backstop_path, open_cache_database, read_backstop, remove_cache_files, write_backstop,
)  # fmt: skip
from doorward.daemon.access.claim import SlotState
from doorward.daemon.library.slotmap import Slot, SlotMap
from doorward.daemon.codec.snapshot import Snapshot, SnapshotError

__all__ = ["PermissionCache", "CacheDamaged", "CacheError", "CacheKeyError", "load_cache_key"]


def _encode(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def _decode(body: bytes, where: str) -> Any:
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CacheDamaged(f"{where}: authenticated row is not JSON: {error}") from None


class PermissionCache:
    """The door's encrypted cache of the applied snapshot and its slot map."""

    def __init__(self, path: Path | str, cache_key: bytes) -> None:
        self.path = Path(path)
        self._cipher = RowCipher(cache_key)
        self._lock = threading.Lock()
        self._backstop = backstop_path(self.path)
        self._db = open_cache_database(self.path)
        try:
            self._load()
        except sqlite3.DatabaseError as error:
            self._db.close()
            raise CacheDamaged(f"{self.path}: unreadable: {error}") from None
        except CacheError:
            self._db.close()
            raise

    @staticmethod
    def wipe(path: Path | str) -> None:
        """Delete a damaged cache so the next open starts empty (the backstop is kept)."""
        remove_cache_files(Path(path))

    # ---- reading ----

    def snapshot(self) -> Snapshot | None:
        return self._snapshot

    def slot_map(self) -> SlotMap:
        return self._slot_map

    def applied_version(self) -> int | None:
        """The version in the database (None: nothing applied)."""
        return self._applied_version

    def stored_version(self) -> int | None:
        """The version the rollback check uses: the larger of the database's and the backstop's."""
        known = [v for v in (self._applied_version, self._backstop_version) if v is not None]
        return max(known) if known else None

    def is_empty(self) -> bool:
        """True when no snapshot may be used: none applied, or the database is older than its
        backstop (restored from an old copy), so a bundle of the stored version is welcome."""
        return self._snapshot is None

    @property
    def behind_backstop(self) -> bool:
        """The database holds an older version than the backstop: an alarm for the caller."""
        return self._backstop_version is not None and (
            self._applied_version is None or self._applied_version < self._backstop_version
        )

    def reconciled_version(self) -> int | None:
        return self._reconciled_version

    def durability(self) -> dict[str, Any]:
        """The pragmas promise 3 rests on, read back from the open connection."""
        with self._lock:
            return {name: self._db.execute(f"PRAGMA {name}").fetchone()[0]
                    for name in ("journal_mode", "synchronous")}

    # ---- writing ----

    def apply(self, snapshot: Snapshot, slot_map: SlotMap) -> None:
        """Store a snapshot, its version and its slot map in one transaction; then the backstop."""
        version = snapshot.version
        stored = self.stored_version()
        if stored is not None and version < stored:
            raise CacheError(f"{self.path}: refusing to store version {version} over the "
                             f"stored version {stored}: versions never go backwards")
        head, user_rows = self._seal_snapshot(snapshot)
        slot_rows = [self._seal_slot(slot, version) for slot in slot_map.slots]
        with self._lock:
            with self._db.atomic():
                self._db.execute("DELETE FROM users")
                self._db.conn.executemany("INSERT INTO users VALUES (?, ?)", user_rows)
                self._db.execute("DELETE FROM slots")
                self._db.conn.executemany("INSERT INTO slots VALUES (?, ?)", slot_rows)
                self._db.execute("UPDATE state SET applied_version = ?, head = ? WHERE id = 1",
                                 [version, head])
            self._snapshot, self._slot_map, self._applied_version = snapshot, slot_map, version
            self._write_backstop(version)

    def update_slot_map(self, change: Callable[[SlotMap], SlotMap]) -> SlotMap:
        """Record reconcile progress: ``change`` (pure, quick) is applied to the map as it is
        now, under the lock that ``apply`` writes under, so a map read before a newer
        snapshot's apply can never be written back over it. Only the pages that changed are
        rewritten, sealed to the version applied at the write. Returns the stored map."""
        with self._lock:
            version = self._require_applied("save a slot map")
            current = self._slot_map
            wanted = change(current)
            if wanted != current:
                self._write_slots(current, wanted, version)
            return wanted

    def save_slot_map(self, slot_map: SlotMap) -> None:
        """Replace the slot map whole (tools and tests; reconcile uses ``update_slot_map``)."""
        self.update_slot_map(lambda current: slot_map)

    def set_reconciled_version(self, version: int) -> None:
        applied = self._require_applied("record a reconciled version")
        if version > applied:
            raise ValueError(f"reconciled version {version} is newer than the applied {applied}")
        with self._lock:
            with self._db.atomic():
                self._db.execute("UPDATE state SET reconciled_version = ? WHERE id = 1", [version])
            self._reconciled_version = version

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # ---- internals ----

    def _write_slots(self, old_map: SlotMap, new_map: SlotMap, version: int) -> None:
        old = {slot.page: slot for slot in old_map.slots}
        new = {slot.page: slot for slot in new_map.slots}
        gone = [(page,) for page in old.keys() - new.keys()]
        changed = [self._seal_slot(s, version) for p, s in new.items() if old.get(p) != s]
        with self._db.atomic():
            self._db.conn.executemany("DELETE FROM slots WHERE page = ?", gone)
            self._db.conn.executemany("INSERT OR REPLACE INTO slots VALUES (?, ?)", changed)
        self._slot_map = new_map

    def _require_applied(self, what: str) -> int:
        if self._applied_version is None or self._snapshot is None:
            raise CacheError(f"{self.path}: cannot {what}: no snapshot is applied")
        return self._applied_version

    def _write_backstop(self, version: int) -> None:
        if self._backstop_version is not None and self._backstop_version >= version:
            return
        try:
            write_backstop(self._backstop, version)
        except OSError as error:
            # The database already holds the version, and it alone still wins the max().
            raise CacheError(f"{self._backstop}: version {version} applied, but the "
                             f"backstop was not written: {error}") from error
        self._backstop_version = version

    def _seal_snapshot(self, snapshot: Snapshot) -> tuple[bytes, list[tuple[int, bytes]]]:
        payload = snapshot.to_payload()
        users = payload.pop("users")
        payload["user_count"] = len(users)
        head = self._cipher.seal(_encode(payload), table="state", row_key="head",
                                 version=snapshot.version)
        rows = [(position, self._cipher.seal(_encode(user), table="users",
                                              row_key=str(position), version=snapshot.version))
                for position, user in enumerate(users)]
        return head, rows

    def _seal_slot(self, slot: Slot, version: int) -> tuple[int, bytes]:
        body = _encode({"finger_id": slot.finger_id, "template_sha256": slot.template_sha256,
                        "state": slot.state.value})
        return slot.page, self._cipher.seal(body, table="slots", row_key=str(slot.page),
                                            version=version)

    def _load(self) -> None:
        row = self._db.execute(
            "SELECT applied_version, head, reconciled_version FROM state WHERE id = 1").fetchone()
        self._applied_version, head, self._reconciled_version = row
        self._backstop_version = read_backstop(self._backstop)
        self._snapshot, self._slot_map = None, SlotMap()
        if self._applied_version is None:
            return
        snapshot = self._open_snapshot(self._applied_version, head)
        self._slot_map = self._open_slot_map(self._applied_version)
        if not self.behind_backstop:
            self._snapshot = snapshot
            snapshot.index  # built now, so the first scan never pays for it

    def _open_snapshot(self, version: int, head: bytes) -> Snapshot:
        where = f"{self.path}: snapshot of version {version}"
        payload = _decode(self._cipher.open(head, table="state", row_key="head",
                                            version=version), where)
        rows = self._db.execute("SELECT position, body FROM users ORDER BY position").fetchall()
        if [position for position, _ in rows] != list(range(payload.pop("user_count", -1))):
            raise CacheDamaged(f"{where}: user rows missing or added")
        payload["users"] = [_decode(self._cipher.open(body, table="users", row_key=str(position),
                                                      version=version), where)
                            for position, body in rows]
        try:
            snapshot = Snapshot.from_payload(payload)
        except SnapshotError as error:
            raise CacheDamaged(f"{where}: {error}") from None
        if snapshot.version != version:
            raise CacheDamaged(f"{where}: holds version {snapshot.version}")
        return snapshot

    def _open_slot_map(self, version: int) -> SlotMap:
        slots = []
        for page, body in self._db.execute("SELECT page, body FROM slots ORDER BY page"):
            where = f"{self.path}: slot {page}"
            fields = _decode(self._cipher.open(body, table="slots", row_key=str(page),
                                               version=version), where)
            try:
                slots.append(Slot(page, fields["finger_id"], fields["template_sha256"],
                                  SlotState(fields["state"])))
            except (KeyError, TypeError, ValueError) as error:
                raise CacheDamaged(f"{where}: malformed slot: {error!r}") from None
        return SlotMap.of(slots)

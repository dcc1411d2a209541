"""Per-device signed bundles: when to issue, which version, and what removal they imply.

Owns ``BundleService``. A device gets a new bundle when something affecting it changed (its
``dirty`` counter), when none exists, or when half its validity has passed. Versions never
go backwards, also after a restore (``doorward.server.store.versions``). While the server
clock is not synchronised no bundle extends ``expires_at``: changes (revocations, lockdowns)
still go out with the old expiry, and a server-clock alarm is raised.

The build reads in one read transaction, seals and signs outside any write lock, then stores
in a short write transaction that only clears ``dirty`` if nothing changed meanwhile.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from typing import Callable

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from doorward.daemon.codec import bundle
from doorward.server.domain import alarms
from doorward.server.bundles.payload import Issue, build_payload
from doorward.server.context import ServerContext
from doorward.server.errors import NotFound, Unavailable
from doorward.server.store.keys import template_context
from doorward.server.store.versions import VersionFloor, next_version


# Re-issue once 40 % of the validity has passed: before half, as promised, even for a door
# whose poll arrives a sync interval late.
REISSUE_FRACTION = 0.4


@dataclass(frozen=True)
class StoredBundle:
    version: int
    etag: str
    issued_at: float
    expires_at: float


def etag_of(version: int) -> str:
    return f'"{version}"'


class BundleService:
    def __init__(self, ctx: ServerContext, on_build: Callable[[float], None] | None = None) -> None:
        self.ctx = ctx
        self.on_build = on_build  # told each build's duration in seconds (the server's metrics)
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self.floor = VersionFloor(ctx.config.keys_dir / "bundle-version.floor")

    def _lock(self, device_id: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(device_id, threading.Lock())

    def stored(self, device_id: str) -> StoredBundle | None:
        row = self.ctx.read().execute(
            "SELECT version, issued_at, expires_at FROM bundles WHERE device_id = ?", (device_id,)).fetchone()
        return StoredBundle(row[0], etag_of(row[0]), row[1], row[2]) if row else None

    def envelope(self, device_id: str) -> bytes:
        row = self.ctx.read().execute("SELECT envelope FROM bundles WHERE device_id = ?",
                                      (device_id,)).fetchone()
        if row is None:
            raise NotFound("bundle", device_id)
        return bytes(row[0])

    def dirty_devices(self) -> list[str]:
        rows = self.ctx.read().execute(
            "SELECT id FROM devices WHERE dirty > 0 AND x25519_public IS NOT NULL ORDER BY id")
        return [row[0] for row in rows]

    def ensure_current(self, device_id: str) -> StoredBundle:
        """The device's current bundle, building a new one first if it is due."""
        with self._lock(device_id):
            device = self.ctx.read().execute("SELECT * FROM devices WHERE id = ?", (device_id,)).fetchone()
            if device is None:
                raise NotFound("device", device_id)
            previous = self.stored(device_id)
            if self._is_current(device, previous):
                return previous
            return self._build(device, previous) or previous

    def _is_current(self, device: sqlite3.Row, previous: StoredBundle | None) -> bool:
        if previous is None or device["dirty"] > 0:
            return False
        if not self.ctx.clock.synchronised():
            return True  # a re-issue could not extend the expiry anyway
        reissue_after = (previous.expires_at - previous.issued_at) * REISSUE_FRACTION
        return self.ctx.clock.now() < previous.issued_at + reissue_after

    def _issue(self, device: sqlite3.Row, previous: StoredBundle | None, now: float) -> Issue | None:
        version = next_version(device["last_version"], self.floor.value, now)
        if self.ctx.clock.synchronised():
            return Issue(version, now, now + self.ctx.config.bundle_validity_s)
        self._raise_clock_alarm(device["id"], now)
        if previous is None:
            return None
        return Issue(version, min(now, previous.expires_at - 1), previous.expires_at)

    def _raise_clock_alarm(self, device_id: str, now: float) -> None:
        with self.ctx.db.transaction() as conn:  # not ctx.write(): that would wake the rebuilder again
            alarms.raise_alarm(conn, now, alarms.sinks_of(self.ctx.config.alarms), "server_clock",
                               None, {"reason": "server clock not synchronised; bundle expiry not extended",
                                      "device_id": device_id}, once=True)
        self.ctx.signals.alarm()

    def _build(self, device: sqlite3.Row, previous: StoredBundle | None) -> StoredBundle | None:
        started = time.perf_counter()
        built = self._build_now(device, previous)
        if built is not None and self.on_build is not None:
            self.on_build(time.perf_counter() - started)
        return built

    def _build_now(self, device: sqlite3.Row, previous: StoredBundle | None) -> StoredBundle | None:
        if device["x25519_public"] is None:
            raise Unavailable(f"device {device['id']!r} is not paired")
        now = self.ctx.clock.now()
        issue = self._issue(device, previous, now)
        if issue is None:
            raise Unavailable("server clock not synchronised and no earlier bundle to re-issue")
        conn = self.ctx.read()
        conn.execute("BEGIN")
        try:
            payload = build_payload(conn, device, issue, now, self._sealer(device))
        finally:
            conn.execute("COMMIT")
        envelope = bundle.sign_bundle(bundle.Snapshot.from_payload(payload), self.ctx.keys.signing)
        fingers = {f["id"]: u["id"] for u in payload["users"] for f in u["fingers"]}
        return self._store(device, issue, envelope, fingers, now)

    def _sealer(self, device: sqlite3.Row):
        door_key = X25519PublicKey.from_public_bytes(bytes(device["x25519_public"]))
        data_key, door_id = self.ctx.keys.data, device["id"]

        def seal(sealed_at_rest: bytes, finger_id: str) -> str:
            template = data_key.open(bytes(sealed_at_rest), template_context(finger_id))
            return bundle.seal_template(template, door_key, door_id=door_id, finger_id=finger_id)

        return seal

    def _store(self, device: sqlite3.Row, issue: Issue, envelope: bytes, fingers: dict[str, str],
               now: float) -> StoredBundle | None:
        self.floor.raise_to(issue.version)  # before the bundle exists, so no restore can undercut it
        with self.ctx.db.transaction() as conn:
            claimed = conn.execute(
                "UPDATE devices SET last_version = ?, dirty = dirty - ? WHERE id = ? AND last_version = ?",
                (issue.version, device["dirty"], device["id"], device["last_version"])).rowcount
            if not claimed:
                return None  # another process issued meanwhile; its bundle stands
            self._record_removals(conn, device["id"], fingers, issue.version, now)
            conn.execute(
                "INSERT OR REPLACE INTO bundles (device_id, version, issued_at, expires_at, envelope,"
                " fingers) VALUES (?,?,?,?,?,?)",
                (device["id"], issue.version, issue.issued_at, issue.expires_at, envelope,
                 json.dumps(fingers, sort_keys=True)))
        return StoredBundle(issue.version, etag_of(issue.version), issue.issued_at, issue.expires_at)

    @staticmethod
    def _record_removals(conn: sqlite3.Connection, device_id: str, fingers: dict[str, str],
                         version: int, now: float) -> None:
        """Fingers in the last bundle but not in this one (finger id -> user id): the door
        confirms each removal from its cache (applied version) and its module (reconciled)."""
        row = conn.execute("SELECT fingers FROM bundles WHERE device_id = ?", (device_id,)).fetchone()
        before: dict[str, str] = json.loads(row[0]) if row else {}
        for finger_id in sorted(before.keys() - fingers.keys()):
            conn.execute(
                "INSERT OR IGNORE INTO removals (device_id, finger_id, user_id, version, requested_at)"
                " VALUES (?,?,?,?,?)", (device_id, finger_id, before[finger_id], version, now))

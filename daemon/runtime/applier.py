"""What the service gives the sync client: the bundle apply callback and the heartbeat.

Owns ``BundleApplier``: sync hands it every new envelope; it runs ``apply_bundle`` against
the cache with the connected module's identity and capacity, journals what happened
(``bundle_applied``; refusals and local failures through an ``IncidentLedger``, so a
refusal repeated on every poll is journalled once with a count), and on an apply tells the
rest of the door through ``on_applied`` (the controller's ``SnapshotApplied``, the reader's
``request_reconcile``, the clock's newest ``issued_at``). It answers sync with an
``ApplyOutcome``: a local failure (disk full, I/O error) or a module whose identity is not
yet known is ``RETRY``, so the poller fetches the envelope again instead of adopting its
ETag. An envelope that arrives before the module has answered also waits here (the newest
one only) and ``retry()`` applies it once the module is known, then wakes the poller
(``on_waiting_applied``). If the cache holds a newer snapshot than the door was told of
(an apply that committed and then failed, e.g. on its backstop file), the door is told
now. It never raises: the sync thread must go on polling whatever a bundle holds.

``heartbeat_report`` builds the heartbeat body the server's ``HeartbeatBody`` accepts,
with the journal's storage state (the server raises the full-disk alarm from it) and why
the last apply failed while the door is behind.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from doorward.daemon.codec import bundle
from doorward.daemon.sync.apply import ApplyResult, BundleRefused, apply_bundle
from doorward.daemon.sync.incidents import Incident, IncidentLedger
from doorward.daemon.storage.cache import PermissionCache
from doorward.daemon.controller.clock import TimeTrust
from doorward.daemon.storage.credentials import Credentials
from doorward.daemon.journal.resilient import JournalStatus
from doorward.daemon.codec.policy import Policy
from doorward.daemon.controller.sinks import JournalSink
from doorward.daemon.sync.client import ApplyOutcome

log = logging.getLogger(__name__)

ModuleFacts = Callable[[], "tuple[str, int] | None"]  # (module_identity, capacity) once known


class BundleApplier:
    def __init__(self, cache: PermissionCache, credentials: Credentials, trust: TimeTrust,
                 journal: JournalSink, module_facts: ModuleFacts,
                 on_applied: Callable[[ApplyResult], None],
                 default_policy: Policy = Policy(),
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._cache, self._credentials, self._trust = cache, credentials, trust
        self._default_policy = default_policy  # the TOML's [policy], until a bundle arrives
        self._journal, self._module_facts, self._on_applied = journal, module_facts, on_applied
        self._monotonic = monotonic
        self.on_waiting_applied: Callable[[], None] = lambda: None  # the poller's poll_now
        self._pending: bytes | None = None
        self._incidents = IncidentLedger()
        self._announced = cache.applied_version() if cache.snapshot() is not None else None
        self.apply_error: str | None = None  # why the newest envelope is not applied yet
        self._lock = threading.Lock()  # one apply at a time: sync thread or supervision tick

    @property
    def waiting(self) -> bool:
        return self._pending is not None

    def __call__(self, envelope: bytes) -> ApplyOutcome:
        with self._lock:
            self._pending = envelope  # a newer envelope replaces one still waiting
            return self._apply_pending()

    def retry(self) -> None:
        """Apply the waiting envelope if the module's identity is known by now."""
        with self._lock:
            if self._pending is None:
                return
            outcome = self._apply_pending()
        if outcome is not ApplyOutcome.RETRY:
            self.on_waiting_applied()  # the poller adopts the ETag and long-polls again

    def _apply_pending(self) -> ApplyOutcome:
        facts = self._module_facts()
        if facts is None:
            log.info("bundle received; waiting for the module's identity to apply it")
            self.apply_error = "waiting for the module's identity"
            return ApplyOutcome.RETRY
        envelope, self._pending = self._pending, None
        assert envelope is not None
        try:
            return self._apply(envelope, *facts)
        finally:
            self._announce_cached()

    def _apply(self, envelope: bytes, identity: str, capacity: int) -> ApplyOutcome:
        reading = self._trust.read()
        try:
            result = apply_bundle(
                envelope, cache=self._cache, trusted_keys=self._credentials.trusted_keys(),
                door_id=self._credentials.device_id, module_identity=identity,
                capacity=capacity, wall_now=reading.wall_now, clock_trusted=reading.trusted,
                max_clock_skew_s=self._policy().max_clock_skew_s)
        except BundleRefused as refused:
            log.warning("bundle refused (%s): %s", refused.reason, refused)
            self._incident(refused_incident(refused, envelope))
            self.apply_error = None  # nothing more will come of this envelope
            return ApplyOutcome.REFUSED
        except Exception as error:  # a cache write failure: fetched and tried again later
            log.exception("applying a bundle failed; it will be fetched and tried again")
            self.apply_error = f"{type(error).__name__}: {error}"[:500]
            self._incident(failure_incident(error, envelope))
            return ApplyOutcome.RETRY
        self.apply_error = None
        self._journal_all(self._incidents.accepted(self._monotonic()) + result.journal_records())
        if not result.applied:
            return ApplyOutcome.UNCHANGED
        log.info("bundle version %s applied", result.version)
        self._tell(result)
        return ApplyOutcome.APPLIED

    def _announce_cached(self) -> None:
        """The cache holds a snapshot the door was never told of: tell it now."""
        snapshot = self._cache.snapshot()
        if snapshot is not None and snapshot.version != self._announced:
            log.warning("bundle version %s is in the cache although its apply reported a "
                        "failure; putting it in force", snapshot.version)
            self._tell(ApplyResult("applied", snapshot.version, self._announced, snapshot))

    def _tell(self, result: ApplyResult) -> None:
        self._announced = result.version
        self._on_applied(result)

    def _incident(self, incident: Incident) -> None:
        self._journal_all(self._incidents.note(incident, self._monotonic()))

    def _journal_all(self, records: list[tuple[str, dict[str, Any]]]) -> None:
        for kind, detail in records:
            self._journal.append(kind, detail)

    def _policy(self) -> Policy:
        snapshot = self._cache.snapshot()
        return snapshot.policy if snapshot is not None else self._default_policy


def _digest(envelope: bytes) -> str:
    return hashlib.sha256(envelope).hexdigest()[:16]


def refused_incident(refused: BundleRefused, envelope: bytes) -> Incident:
    records = refused.journal_records()
    alarm = next((record for record in records if record[0] == "alarm"), None)
    detail = {**records[0][1], "envelope_sha256": _digest(envelope)}
    return Incident("bundle_refused", refused.reason, _digest(envelope), detail, alarm)


def failure_incident(error: Exception, envelope: bytes) -> Incident:
    reason = type(error).__name__
    detail = {"error": reason, "message": str(error)[:500], "envelope_sha256": _digest(envelope)}
    return Incident("bundle_apply_failed", reason, _digest(envelope), detail)


class FreshnessConfirmer:
    """Sync's ``on_fresh``: a statement that verifies (pinned key, this door, the nonce just
    sent) and names the version in the cache confirms that snapshot as of ``sent_mono``."""

    def __init__(self, cache: PermissionCache, credentials: Credentials,
                 on_confirmed: Callable[[int, float], None]) -> None:
        self._cache, self._credentials, self._on_confirmed = cache, credentials, on_confirmed
        self._last_problem: str | None = None

    def __call__(self, header: str, nonce: str, sent_mono: float) -> None:
        try:
            statement = bundle.verify_freshness(header, self._credentials.trusted_keys(),
                                                door_id=self._credentials.device_id, nonce=nonce)
        except bundle.BundleError as error:
            if str(error) != self._last_problem:  # once per kind of problem, not per poll
                log.warning("freshness statement ignored: %s", error)
            self._last_problem = str(error)
            return
        self._last_problem = None
        snapshot = self._cache.snapshot()
        if snapshot is not None and statement.version == snapshot.version:
            self._on_confirmed(statement.version, sent_mono)


def sync_interval_s(cache: PermissionCache | None, default_policy: Policy) -> float:
    snapshot = cache.snapshot() if cache is not None else None
    return (snapshot.policy if snapshot is not None else default_policy).sync_interval_s


def disk_free_bytes(directory: Path) -> int | None:
    try:
        status = os.statvfs(directory)
    except OSError:
        return None
    return status.f_bavail * status.f_frsize


def storage_report(journal: JournalStatus) -> dict[str, Any]:
    """The journal's state for the heartbeat: the server's ``door_storage`` alarm."""
    return {"journal_failing": journal.failing, "disk_low": journal.disk_low,
            "pending": journal.pending, "dropped": journal.dropped,
            "error": None if journal.last_error is None else journal.last_error[:500]}


def heartbeat_report(cache: PermissionCache | None, module_identity: str | None,
                     clock_trusted: bool, reader_state: str, journal: JournalStatus,
                     state_dir: Path, apply_error: str | None = None) -> dict[str, Any]:
    """The body of ``POST /api/v1/device/heartbeat`` (unknown fields left out)."""
    report: dict[str, Any] = {
        "applied_version": cache.applied_version() if cache is not None else None,
        "reconciled_version": cache.reconciled_version() if cache is not None else None,
        "module_identity": module_identity,
        "clock_trusted": clock_trusted,
        "reader_state": reader_state[:200] or "unknown",
        "backlog": max(0, journal.backlog),
        "disk_free_bytes": disk_free_bytes(state_dir),
        "storage": storage_report(journal),
        "apply_error": apply_error,
    }
    return {key: value for key, value in report.items() if value is not None}

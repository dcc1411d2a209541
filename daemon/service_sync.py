"""What the service gives the sync client: the bundle apply callback and the heartbeat.

Owns ``BundleApplier``: sync hands it every new envelope; it runs ``apply_bundle`` against
the cache with the connected module's identity and capacity, journals what happened
(``bundle_applied``, ``bundle_refused`` and their alarms), and on an apply tells the rest of
the door through ``on_applied`` (the controller's ``SnapshotApplied``, the reader's
``request_reconcile``, the clock's newest ``issued_at``). The slot plan needs the module's
identity, so an envelope that arrives before the module has answered waits here (the
newest one only) and ``retry()`` applies it once the module is known. It never raises:
the sync thread must go on polling whatever a bundle holds.

``heartbeat_report`` builds the heartbeat body the server's ``HeartbeatBody`` accepts.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from daemon.apply import ApplyResult, BundleRefused, apply_bundle
from daemon.cache import PermissionCache
from daemon.clock import TimeTrust
from daemon.credentials import Credentials
from daemon.policy import Policy
from daemon.service_sinks import ServiceJournal

log = logging.getLogger(__name__)

ModuleFacts = Callable[[], "tuple[str, int] | None"]  # (module_identity, capacity) once known


class BundleApplier:
    def __init__(self, cache: PermissionCache, credentials: Credentials, trust: TimeTrust,
                 journal: ServiceJournal, module_facts: ModuleFacts,
                 on_applied: Callable[[ApplyResult], None],
                 default_policy: Policy = Policy()) -> None:
        self._cache, self._credentials, self._trust = cache, credentials, trust
        self._default_policy = default_policy  # the TOML's [policy], until a bundle arrives
        self._journal, self._module_facts, self._on_applied = journal, module_facts, on_applied
        self._pending: bytes | None = None
        self._lock = threading.Lock()  # one apply at a time: sync thread or supervision tick

    @property
    def waiting(self) -> bool:
        return self._pending is not None

    def __call__(self, envelope: bytes) -> None:
        with self._lock:
            self._pending = envelope  # a newer envelope replaces one still waiting
        self.retry()

    def retry(self) -> None:
        """Apply the waiting envelope if the module's identity is known by now."""
        with self._lock:
            if self._pending is None:
                return
            facts = self._module_facts()
            if facts is None:
                log.info("bundle received; waiting for the module's identity to apply it")
                return
            envelope, self._pending = self._pending, None
            self._apply(envelope, *facts)

    def _apply(self, envelope: bytes, identity: str, capacity: int) -> None:
        reading = self._trust.read()
        try:
            result = apply_bundle(
                envelope, cache=self._cache, trusted_keys=self._credentials.trusted_keys(),
                door_id=self._credentials.device_id, module_identity=identity,
                capacity=capacity, wall_now=reading.wall_now, clock_trusted=reading.trusted,
                max_clock_skew_s=self._policy().max_clock_skew_s)
        except BundleRefused as refused:
            log.warning("bundle refused (%s): %s", refused.reason, refused)
            self._journal_all(refused.journal_records())
            return
        except Exception as error:  # a cache write failure: the next bundle tries again
            log.exception("applying a bundle failed")
            self._journal.append("bundle_apply_failed", {"error": f"{type(error).__name__}"})
            return
        self._journal_all(result.journal_records())
        if result.applied:
            log.info("bundle version %s applied", result.version)
            self._on_applied(result)

    def _journal_all(self, records: list[tuple[str, dict[str, Any]]]) -> None:
        for kind, detail in records:
            self._journal.append(kind, detail)

    def _policy(self) -> Policy:
        snapshot = self._cache.snapshot()
        return snapshot.policy if snapshot is not None else self._default_policy


def sync_interval_s(cache: PermissionCache | None, default_policy: Policy) -> float:
    snapshot = cache.snapshot() if cache is not None else None
    return (snapshot.policy if snapshot is not None else default_policy).sync_interval_s


def disk_free_bytes(directory: Path) -> int | None:
    try:
        status = os.statvfs(directory)
    except OSError:
        return None
    return status.f_bavail * status.f_frsize


def heartbeat_report(cache: PermissionCache | None, module_identity: str | None,
                     clock_trusted: bool, reader_state: str, backlog: int,
                     state_dir: Path) -> dict[str, Any]:
    """The body of ``POST /api/v1/device/heartbeat`` (unknown fields left out)."""
    report: dict[str, Any] = {
        "applied_version": cache.applied_version() if cache is not None else None,
        "reconciled_version": cache.reconciled_version() if cache is not None else None,
        "module_identity": module_identity,
        "clock_trusted": clock_trusted,
        "reader_state": reader_state[:200] or "unknown",
        "backlog": max(0, backlog),
        "disk_free_bytes": disk_free_bytes(state_dir),
    }
    return {key: value for key, value in report.items() if value is not None}

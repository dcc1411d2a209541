"""The sync client: bundle long-poll, event upload and heartbeat, each on its own connection.

Three threads, each with its own server connection so a held long-poll never delays an
alarm: the bundle poller (ETag long-poll; every new envelope goes to ``apply_bundle``, which
verifies and applies it and says what became of it, an ``ApplyOutcome``: the poller adopts
the new ETag only once the envelope was applied, was already stored or was definitively
refused, so an apply that failed for a local reason (a full disk, an I/O error, a module
not yet identified) is fetched again after a back-off until it applies, and a refusal is
not fetched in a tight loop; every poll sends a fresh nonce and hands the server's signed
freshness statement to ``on_fresh``), the event uploader (posts the journal's unacknowledged events,
oldest first, within 250 ms of being journalled, and acknowledges what the server
acknowledges), and the heartbeat (every ``sync_interval_s`` of the applied bundle). Failures
back off exponentially with full jitter up to 5 minutes; every wait is on a stop event, so
``stop()`` takes milliseconds. Nothing here blocks the access path: decisions never wait
for the network.
"""

from __future__ import annotations

import enum
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

from daemon.bundle import Event, new_nonce
from daemon.credentials import Credentials
from daemon.http import ServerConnection, ServerRefused, SyncError, refusal
from daemon.module_config import ServerConfig

log = logging.getLogger(__name__)

BATCH_WINDOW_S = 0.25
MAX_BATCH = 500
BACKOFF_CAP_S = 300.0
RETRY_CAP_S = 30.0  # a local apply failure is tried again at least this often
REFUSAL_CAP_S = 60.0  # a server (or attacker) answering every poll with a refused bundle
NONCE_HEADER = "Doorward-Nonce"
FRESHNESS_HEADER = "doorward-freshness"  # reply headers arrive lower-cased


class ApplyOutcome(str, enum.Enum):
    """What became of an envelope, and so whether the poller adopts its ETag."""

    APPLIED = "applied"  # in the cache now
    UNCHANGED = "unchanged"  # the version already stored
    REFUSED = "refused"  # definitively refused (journalled): adopted, then a back-off
    RETRY = "retry"  # a local failure or a missing module identity: fetched again later


class JournalFeed(Protocol):
    def unacknowledged(self, limit: int) -> list[Event]: ...
    def acknowledge(self, up_to_seq: int) -> None: ...
    def resend_from(self, seq: int) -> bool: ...

    @property
    def journal_id(self) -> str: ...


@dataclass(frozen=True)
class SyncStatus:
    online: bool = False
    last_success_mono: float | None = None
    last_error: str | None = None
    etag: str | None = None
    events_acknowledged: int = 0


class Backoff:
    """Exponential back-off with full jitter: a fleet of doors does not reconnect in step."""

    def __init__(self, initial_s: float, cap_s: float = BACKOFF_CAP_S, rng: random.Random | None = None) -> None:
        self.initial_s, self.cap_s = initial_s, cap_s
        self._failures = 0
        self._rng = rng or random.Random()

    def reset(self) -> None:
        self._failures = 0

    def next_s(self) -> float:
        ceiling = min(self.cap_s, self.initial_s * 2 ** min(self._failures, 30))
        self._failures += 1
        return self._rng.uniform(ceiling / 2, ceiling)


class SyncClient:
    def __init__(
        self,
        credentials: Credentials,
        config: ServerConfig,
        *,
        apply_bundle: Callable[[bytes], Any],
        journal: JournalFeed,
        heartbeat: Callable[[], dict[str, Any]],
        sync_interval_s: Callable[[], float],
        backoff_initial_s: float = 1.0,
        on_fresh: Callable[[str, str, float], None] | None = None,
    ) -> None:
        self._credentials, self._config = credentials, config
        self._apply, self._journal, self._heartbeat = apply_bundle, journal, heartbeat
        self._interval_s = sync_interval_s
        self._backoff_initial_s = backoff_initial_s
        self._on_fresh = on_fresh  # (statement header, the nonce sent, monotonic send time)
        self._retry_backoff = Backoff(backoff_initial_s, RETRY_CAP_S)
        self._refusal_backoff = Backoff(backoff_initial_s, REFUSAL_CAP_S)
        self._stop = threading.Event()
        self._wake_poll, self._wake_events, self._wake_beat = (threading.Event() for _ in range(3))
        self._lock = threading.Lock()
        self._status = SyncStatus()
        self._threads: list[threading.Thread] = []
        self._connections: list[ServerConnection] = []

    # ---- lifecycle ----

    def start(self) -> None:
        for name, loop in (("bundle", self._poll_loop), ("events", self._event_loop),
                           ("heartbeat", self._heartbeat_loop)):  # fmt: skip
            thread = threading.Thread(target=loop, name=f"sync-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for wake in (self._wake_poll, self._wake_events, self._wake_beat):
            wake.set()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            connection.abort()  # a held long-poll ends now, not at its deadline
        for thread in self._threads:
            thread.join(timeout=self._config.request_deadline_s + self._config.long_poll_s + 1)

    def sync_now(self) -> None:
        """SIGUSR1: poll, upload and beat at once."""
        for wake in (self._wake_poll, self._wake_events, self._wake_beat):
            wake.set()

    def poll_now(self) -> None:
        """Poll at once, cutting a back-off short (a waiting envelope applied, space back)."""
        self._wake_poll.set()

    def report_now(self) -> None:
        """Send a heartbeat now (a bundle applied, the module reconciled)."""
        self._wake_beat.set()

    def events_journalled(self) -> None:
        self._wake_events.set()

    def status(self) -> SyncStatus:
        with self._lock:
            return self._status

    def _connection(self) -> ServerConnection:
        connection = ServerConnection(
            self._credentials.server_url, token=self._credentials.token,
            ca_file=self._config.ca_file, deadline_s=self._config.request_deadline_s,
            max_response_bytes=self._config.max_response_bytes,
        )  # fmt: skip
        with self._lock:
            self._connections.append(connection)
        return connection

    def _succeeded(self, **changes: Any) -> None:
        with self._lock:
            self._status = replace(self._status, online=True, last_success_mono=time.monotonic(),
                                   last_error=None, **changes)  # fmt: skip

    def _failed(self, error: Exception) -> None:
        log.warning("sync: %s", error)
        with self._lock:
            self._status = replace(self._status, online=False, last_error=str(error))

    def _run(self, step: Callable[[ServerConnection], float], wake: threading.Event) -> None:
        """Run ``step`` until stopped; it returns how long to wait before the next step."""
        backoff = Backoff(self._backoff_initial_s)
        connection = self._connection()
        try:
            while not self._stop.is_set():
                try:
                    wait_s = step(connection)
                    backoff.reset()
                except SyncError as error:
                    if self._stop.is_set():
                        break  # aborted by stop(): not a failure of the server
                    self._failed(error)
                    wait_s = backoff.next_s()
                if wait_s > 0 and wake.wait(wait_s):
                    wake.clear()
        finally:
            connection.close()

    # ---- the three loops ----

    def _poll_loop(self) -> None:
        self._run(self._poll_once, self._wake_poll)

    def _poll_once(self, connection: ServerConnection) -> float:
        etag = self.status().etag
        wait_s = self._config.long_poll_s if etag else 0.0
        nonce, sent_mono = new_nonce(), time.monotonic()
        headers = {NONCE_HEADER: nonce, **({"If-None-Match": etag} if etag else {})}
        reply = connection.request("GET", "/api/v1/device/bundle", params={"wait": wait_s},
                                   headers=headers, extra_s=wait_s)  # fmt: skip
        if reply.status == 200:
            outcome = self._apply(reply.body) or ApplyOutcome.APPLIED
            self.report_now()  # the applied version confirms removals; a door behind shows
        elif reply.status == 304:
            outcome = ApplyOutcome.UNCHANGED
        else:
            raise refusal(reply)
        statement = reply.headers.get(FRESHNESS_HEADER)
        if statement and self._on_fresh is not None:
            self._on_fresh(statement, nonce, sent_mono)  # after the apply: versions compare
        # A held poll that comes back at once with nothing new is not held by a server:
        # treated as a refusal, so a replayed answer cannot make the poller spin.
        early = wait_s > 0 and time.monotonic() - sent_mono < min(1.0, wait_s / 2)
        if outcome is ApplyOutcome.UNCHANGED and early:
            outcome = ApplyOutcome.REFUSED
        return self._settle(outcome, reply.headers.get("etag", etag), etag)

    def _settle(self, outcome: ApplyOutcome, offered: str | None, held: str | None) -> float:
        """Adopt the offered ETag unless the envelope must be fetched again; the wait."""
        if outcome is ApplyOutcome.RETRY:
            self._succeeded(etag=held)
            return self._retry_backoff.next_s()
        self._retry_backoff.reset()
        self._succeeded(etag=offered)
        if outcome is ApplyOutcome.REFUSED:
            return self._refusal_backoff.next_s()
        self._refusal_backoff.reset()
        return 0.0

    def _event_loop(self) -> None:
        self._run(self._upload_once, self._wake_events)

    def _upload_once(self, connection: ServerConnection) -> float:
        events = self._journal.unacknowledged(MAX_BATCH)
        if not events:
            return self._interval_s()
        try:
            answer = connection.call_json("POST", "/api/v1/device/events",
                                          json={"events": [e.to_dict() for e in events]})
        except ServerRefused as refused:
            if refused.status != 409:
                raise
            answer = refused.body  # a gap: acknowledge what the server holds, resend the rest
            self._resend_after_gap(answer, events[0].seq)
        acknowledged = int(answer.get("acknowledged", {}).get(self._journal.journal_id, 0))
        if acknowledged:
            self._journal.acknowledge(acknowledged)
        self._succeeded(events_acknowledged=acknowledged)
        return 0.0 if len(events) == MAX_BATCH else BATCH_WINDOW_S

    def _resend_after_gap(self, answer: dict[str, Any], first_sent: int) -> None:
        """A server restored from a backup expects records it had already acknowledged."""
        expected = int(answer.get("expected_seq") or first_sent)
        if answer.get("journal_id") == self._journal.journal_id and expected < first_sent:
            if not self._journal.resend_from(expected):
                raise SyncError(f"server lost events from seq {expected} that this door "
                                "already pruned: they cannot be sent again")

    def _heartbeat_loop(self) -> None:
        self._run(self._beat_once, self._wake_beat)

    def _beat_once(self, connection: ServerConnection) -> float:
        connection.call_json("POST", "/api/v1/device/heartbeat", json=self._heartbeat())
        self._succeeded()
        return self._interval_s()


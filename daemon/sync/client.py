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

No loop dies and none spins: any exception in a step is logged, shown in the status and
backed off, and ``problems()`` tells the watchdog about a thread that died or is stuck in
one step far past its deadlines. The status is per loop: ``online`` only while every loop's
last attempt reached the server, ``last_error`` naming each loop that is failing.

The upload never takes a refusal for success. A 409 (gap) acknowledges what the server
kept and asks the journal feed to resolve the gap: records the server lost are sent again,
records this door can no longer send are declared lost (``daemon/journal/upload.py``) and
named in the body's ``losses`` until the server acknowledges the declaration; then it tries
again at once. A gap that the feed cannot resolve, or that comes back unchanged, is a
failure (status, back-off), never a retry every 250 ms.
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

from doorward.daemon.codec.bundle import Event, new_nonce
from doorward.daemon.storage.credentials import Credentials
from doorward.daemon.journal.loss import LostRange
from doorward.daemon.sync.http import ServerConnection, ServerRefused, SyncError, refusal
from doorward.daemon.config.module import ServerConfig

log = logging.getLogger(__name__)

BATCH_WINDOW_S = 0.25
MAX_BATCH = 500
BACKOFF_CAP_S = 300.0
STEP_GRACE_S = 60.0  # beyond every request deadline: a step this late is wedged
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
    """What the uploader reads (``daemon/journal/upload.py``). ``pending_losses`` and
    ``resolve_gap`` are only asked for once ``unacknowledged`` returned records."""

    def unacknowledged(self, limit: int) -> list[Event]: ...
    def acknowledge(self, up_to_seq: int) -> None: ...
    def pending_losses(self) -> list[LostRange]: ...
    def resolve_gap(self, expected_seq: int) -> bool: ...

    @property
    def journal_id(self) -> str: ...


@dataclass(frozen=True)
class SyncStatus:
    last_success_mono: float | None = None
    etag: str | None = None
    events_acknowledged: int = 0
    failing: tuple[tuple[str, str], ...] = ()  # (loop, error) of each loop whose last try failed

    @property
    def online(self) -> bool:
        """The server answered, and every loop's last attempt got through."""
        return self.last_success_mono is not None and not self.failing

    @property
    def last_error(self) -> str | None:
        return "; ".join(f"{loop}: {error}" for loop, error in self.failing) or None


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
        self._busy_since: dict[str, float | None] = {}  # loop -> when its current step began
        self._last_gap: tuple[Any, ...] | None = None

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

    def problems(self, mono_now: float) -> list[str]:
        """For the watchdog: loops that died, or are stuck in one step past every deadline."""
        if self._stop.is_set():
            return []
        limit_s = self._config.request_deadline_s + self._config.long_poll_s + STEP_GRACE_S
        found = [f"{thread.name} loop died" for thread in self._threads if not thread.is_alive()]
        for name, since in list(self._busy_since.items()):
            if since is not None and mono_now - since > limit_s:
                found.append(f"{name} loop stuck in one step for {mono_now - since:.0f} s")
        return found

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
        """The calling loop's request got through."""
        self._settled(None, last_success_mono=time.monotonic(), **changes)

    def _failed(self, error: Exception) -> None:
        log.warning("sync %s: %s", _loop_name(), error)
        self._settled(str(error) or type(error).__name__)

    def _settled(self, error: str | None, **changes: Any) -> None:
        """Record the calling loop's outcome: failing with ``error``, or fine (None)."""
        loop = _loop_name()
        with self._lock:
            failing = tuple((name, text) for name, text in self._status.failing if name != loop)
            failing += ((loop, error),) if error is not None else ()
            self._status = replace(self._status, failing=failing, **changes)

    def _run(self, step: Callable[[ServerConnection], float], wake: threading.Event) -> None:
        """Run ``step`` until stopped; it returns how long to wait before the next step."""
        backoff = Backoff(self._backoff_initial_s)
        connection = self._connect(backoff)
        if connection is None:
            return  # stopped before a connection could be made
        try:
            while not self._stop.is_set():
                wait_s = self._attempt(step, connection, backoff)
                if wait_s is None:
                    break
                if wait_s > 0 and wake.wait(wait_s):
                    wake.clear()
        finally:
            connection.close()

    def _connect(self, backoff: Backoff) -> ServerConnection | None:
        """The loop's connection; a configuration that cannot make one (an unusable CA file)
        is reported like any failure and tried again, never the end of the loop."""
        while not self._stop.is_set():
            try:
                return self._connection()
            except SyncError as error:
                self._failed(error)
                self._stop.wait(backoff.next_s())
        return None

    def _attempt(self, step: Callable[[ServerConnection], float], connection: ServerConnection,
                 backoff: Backoff) -> float | None:
        """One step; any failure is backed off (None: stopped). Nothing kills the loop."""
        loop = _loop_name()
        self._busy_since[loop] = time.monotonic()
        try:
            wait_s = step(connection)
            backoff.reset()
            return wait_s
        except Exception as error:
            if self._stop.is_set():
                return None  # aborted by stop(): not a failure of the server
            if not isinstance(error, SyncError):
                log.exception("sync %s: unexpected failure", loop)
            self._failed(error)
            return backoff.next_s()
        finally:
            self._busy_since[loop] = None

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
            self._settled(None)  # nothing waits: whatever failed before is over
            return self._interval_s()
        body: dict[str, Any] = {"events": [event.to_dict() for event in events]}
        losses = self._journal.pending_losses()
        if losses:
            body["losses"] = [loss.wire() for loss in losses]
        try:
            answer = connection.call_json("POST", "/api/v1/device/events", json=body)
        except ServerRefused as refused:
            if refused.status != 409 or not isinstance(refused.body, dict):
                raise
            self._acknowledge(refused.body)  # what came before the gap is kept
            self._resolve_gap(refused.body)
            return 0.0  # resolved: send again at once
        self._last_gap = None
        self._succeeded(events_acknowledged=self._acknowledge(answer))
        return 0.0 if len(events) == MAX_BATCH else BATCH_WINDOW_S

    def _acknowledge(self, answer: dict[str, Any]) -> int:
        acknowledged = answer.get("acknowledged") if isinstance(answer, dict) else None
        seq = acknowledged.get(self._journal.journal_id, 0) if isinstance(acknowledged, dict) else 0
        if not isinstance(seq, int) or seq <= 0:
            return self.status().events_acknowledged
        try:
            self._journal.acknowledge(seq)
        except ValueError as error:  # the server claims records this journal never wrote
            raise SyncError(f"server acknowledgement refused: {error}") from None
        return seq

    def _resolve_gap(self, answer: dict[str, Any]) -> None:
        """Raises SyncError unless the gap is new and the feed resolved it."""
        journal_id, expected = answer.get("journal_id"), answer.get("expected_seq")
        gap = (journal_id, expected, answer.get("got_seq"))
        repeated, self._last_gap = gap == self._last_gap, gap
        ours = journal_id == self._journal.journal_id and isinstance(expected, int)
        if ours and self._journal.resolve_gap(expected) and not repeated:
            return
        raise SyncError(f"the server refuses journal {journal_id} at seq {gap[2]}: it expects "
                        f"seq {expected}, and this door cannot send or declare it")

    def _heartbeat_loop(self) -> None:
        self._run(self._beat_once, self._wake_beat)

    def _beat_once(self, connection: ServerConnection) -> float:
        connection.call_json("POST", "/api/v1/device/heartbeat", json=self._heartbeat())
        self._succeeded()
        return self._interval_s()


def _loop_name() -> str:
    """The loop a step runs on: its thread's name (``sync-bundle``, ``sync-events`` ...)."""
    return threading.current_thread().name

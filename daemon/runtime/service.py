"""The composition root of ``doorward run``: builds the door from its configuration and runs it.

Owns ``DoorService``. ``start()`` opens the edges (``daemon/runtime/build.py``), starts the
controller (relay de-energised first), the reader (through ``ModuleLink``, retried while the
module is absent), the sync client and the supervision thread, raises an alarm for every
part that is missing, and tells systemd it is ready. The wiring:

- reader claims and lifts -> ``Controller.post`` (``ModuleClaim``, ``FingerLifted``);
- sync's envelopes -> ``BundleApplier`` -> ``apply_bundle`` -> the controller's
  ``SnapshotApplied`` and the reader's ``request_reconcile``; sync's freshness statements
  -> ``FreshnessConfirmer`` -> the controller's ``SnapshotConfirmed``; both, and trusted
  clock readings, -> the anchor file (``daemon/storage/boot_anchor.py``), whose knowledge the
  controller starts from;
- every journal append -> the sync client's ``events_journalled`` (events leave at once),
  the status file's last decisions, and the R503 ring LED;
- alarms (controller, reader, supervision) -> the journal, hence the server's alarm sinks.

``run()`` is the main thread's loop: it writes the status file every ``status_interval_s``
(and at once when the reader's state changes) and pings the systemd watchdog only while
every loop is alive (``daemon/runtime/status.py``). ``stop()`` de-energises the relay first
and returns in well under a second. Signals are the CLI's business (``run_command.py``).
"""

from __future__ import annotations

import logging
import threading
import time

from doorward.daemon.sync.apply import ApplyResult
from doorward.daemon.storage.boot_anchor import ANCHOR_FILE, AnchorStore
from doorward.daemon.runtime.clock import SystemClock, TimeTrust
from doorward.daemon.config.loader import Config
from doorward.daemon.controller.thread import Controller
from doorward.daemon.controller.events import (
    ClockTrustChanged, FingerLifted, ModuleClaim, ReaderAvailability, SnapshotApplied,
    SnapshotConfirmed,
)
from doorward.daemon.journal.upload import UploadFeed
from doorward.daemon.runtime.notify import Notifier
from doorward.daemon.runtime.build import (
    ReaderCallbacks, StartProblems, open_cache, open_credentials, open_hardware, open_journal,
    reader_builder,
)
from doorward.daemon.runtime.link import ModuleLink
from doorward.daemon.reader.ring import RingLed
from doorward.daemon.runtime.sinks import (
    DeclaredClock, RecentDecisions, ServiceAlarms, ServiceJournal, read_boot_id,
)
from doorward.daemon.runtime.status import (
    Liveness, door_section, reader_section, status_document, sync_section,
)
from doorward.daemon.runtime.storage_watch import StorageWatch
from doorward.daemon.runtime.applier import (
    BundleApplier, FreshnessConfirmer, heartbeat_report, sync_interval_s,
)
from doorward.daemon.runtime.ticks import SupervisionLoop
from doorward.daemon.storage.status_file import write_status
from doorward.daemon.runtime.supervision import ModuleSupervisor, ReaderPulse
from doorward.daemon.sync.client import SyncClient
from doorward.drivers.gpio.door import DoorInput

log = logging.getLogger(__name__)

MAIN_TICK_S = 0.1
STOP_JOIN_S = 0.3


class DoorService:
    def __init__(self, config: Config, notifier: Notifier | None = None) -> None:
        self.config = config
        self._notifier = notifier or Notifier()
        self._stopping, self._wake = threading.Event(), threading.Event()
        self.problems = StartProblems()
        self.liveness = Liveness()
        self.pulse = ReaderPulse()
        self.status_path = config.daemon.status_path(config.storage.state_dir)
        self.sync: SyncClient | None = None
        self.applier: BundleApplier | None = None
        self.ring: RingLed | None = None
        self.loop: SupervisionLoop | None = None
        self._stopped = False
        self._last_summary = ""

    # ---- start ----

    def start(self) -> None:
        self.hardware = open_hardware(self.config)
        self.credentials = open_credentials(self.config, self.problems)
        self.cache = (open_cache(self.config, self.credentials, self.problems)
                      if self.credentials else None)
        self._open_journal()
        self.anchors = AnchorStore(self.config.storage.state_dir / ANCHOR_FILE, self.boot_id,
                                   time.monotonic())
        self._start_controller()
        self.link = self._make_link()
        self.hardware.on_input_change(self._input_changed)
        self._make_ring()
        self._make_sync()
        self.storage = StorageWatch(self.journal, self._report_now,
                                    lambda: self.sync.poll_now() if self.sync else None)
        self.supervisor = ModuleSupervisor(self.link, self.hardware, self.config.daemon,
                                           self.alarms.raise_alarm, self.journal.append,
                                           on_online=self._reader_online,
                                           show_availability=self._show_reader_availability)
        self.loop = SupervisionLoop(self)
        for kind, detail in self.problems.items:
            self.alarms.raise_alarm(kind, detail)
        self.journal.append("daemon_started", {"biometric": self.link.enabled})
        self.loop.start()
        if self.sync is not None:
            self.sync.start()
        self._notifier.ready(self._summary())

    def _report_now(self) -> None:
        """A heartbeat now: the server confirms removals from the reported versions."""
        if self.sync is not None:
            self.sync.report_now()

    def _show_reader_availability(self, online: bool) -> None:
        self.controller.post(ReaderAvailability(online))

    def _input_changed(self, door_input: DoorInput) -> None:
        if door_input is DoorInput.MODULE_TOUCH:
            self.link.touch_changed()

    def _open_journal(self) -> None:
        clock_config = self.config.clock
        self.trust = TimeTrust(SystemClock(), rtc=clock_config.rtc,
                               assume_synchronised=clock_config.assume_synchronised)
        self.trust.note_snapshot(self.cache.snapshot() if self.cache else None)
        self.boot_id = read_boot_id()
        self.journal = ServiceJournal(open_journal(self.config, self.credentials), self.trust,
                                      self.boot_id)
        self.alarms = ServiceAlarms(self.journal)
        self.journal.journal.journal.on_loss = self.alarms.journal_loss  # before any append
        self.decisions = RecentDecisions()
        self.journal.listen(self.decisions)

    def _start_controller(self) -> None:
        declared = self.config.clock.rtc or self.config.clock.assume_synchronised
        self.clock = DeclaredClock(SystemClock(), declared)
        self.controller = Controller(
            self.hardware, journal=self.journal, alarms=self.alarms, clock=self.clock,
            default_policy=self.config.policy, snapshot=self.cache.snapshot() if self.cache else None,
            boot=self.anchors.knowledge,
            exit_without_rex_is_forced=self.config.hardware.exit_without_rex_is_forced)
        self.controller.start()  # the relay is driven de-energised before anything else
        self.controller.post(ClockTrustChanged())

    def _make_link(self) -> ModuleLink:
        if self.credentials is None or self.cache is None:
            return ModuleLink(None, "biometric path disabled: " +
                              "; ".join(detail for _, detail in self.problems.items))
        callbacks = ReaderCallbacks(
            on_claim=lambda claim: self.controller.post(ModuleClaim(claim)),
            on_lift=lambda: self.controller.post(FingerLifted()),
            on_status=lambda status: self.wake(),
            on_alarm=self.alarms.raise_alarm,
            on_reconciled=lambda version: self._report_now(),
            on_event=self.journal.append)
        return ModuleLink(reader_builder(self.config, self.hardware, self.credentials,
                                         self.cache, self.pulse, callbacks))

    def _make_ring(self) -> None:
        if self.config.module.model != "r503" or not self.config.daemon.ring_led:
            return
        self.ring = RingLed(self.link.set_led, self._ring_hold_s, time.monotonic)
        self.journal.listen(self.ring.on_journal)

    def _sync_interval_s(self) -> float:
        return sync_interval_s(self.cache, self.config.policy)

    def _ring_hold_s(self, name: str) -> float:
        snapshot = self.cache.snapshot() if self.cache else None
        policy = snapshot.policy if snapshot is not None else self.config.policy
        return policy.unlock_s if name == "granted" else policy.two_person_window_s

    def _make_sync(self) -> None:
        if self.credentials is None or self.cache is None:
            return
        self.applier = BundleApplier(self.cache, self.credentials, self.trust, self.journal,
                                     self.link.module_facts, self._snapshot_applied,
                                     self.config.policy)
        feed = UploadFeed(self.journal.journal.journal, self.journal.stamp,
                          self.alarms.chain_break)
        confirmer = FreshnessConfirmer(self.cache, self.credentials, self._snapshot_confirmed)
        self.sync = SyncClient(self.credentials, self.config.server, apply_bundle=self.applier,
                               journal=feed, heartbeat=self._heartbeat,
                               sync_interval_s=self._sync_interval_s, on_fresh=confirmer)
        sync = self.sync
        self.applier.on_waiting_applied = sync.poll_now
        self.journal.listen(lambda kind, detail: sync.events_journalled())

    # ---- wiring callbacks ----

    def _snapshot_applied(self, result: ApplyResult) -> None:
        self.anchors.fresh(result.version, time.monotonic())
        self.trust.note_snapshot(result.snapshot)
        self.controller.post(SnapshotApplied(result.snapshot))
        self.controller.post(ClockTrustChanged())  # issued_at bounds the clock
        self.link.request_reconcile(result.version)
        self.wake()

    def _snapshot_confirmed(self, version: int, at_mono: float) -> None:
        self.controller.post(SnapshotConfirmed(version, at_mono))  # queued before any later scan
        self.anchors.fresh(version, at_mono)

    def _reader_online(self) -> None:
        if self.ring is not None:
            self.ring.idle()
        self.wake()

    def _heartbeat(self) -> dict:
        status = self.link.status()
        return heartbeat_report(self.cache, status.module_identity if status else None,
                                self.trust.read().trusted, self.link.state_name(),
                                self.journal.journal.status(), self.config.storage.state_dir,
                                self.applier.apply_error if self.applier else None)

    # ---- the main thread ----

    def wake(self) -> None:
        """Something changed: write the status now (any thread)."""
        self._wake.set()
        if self.loop is not None:
            self.loop.wake()

    def request_stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    def request_sync(self) -> None:
        if self.sync is not None:
            log.info("sync requested")
            self.sync.sync_now()

    def run(self) -> None:
        """Until ``request_stop``: status file and watchdog pings."""
        next_status_mono = next_ping_mono = 0.0
        while not self._stopping.is_set():
            now = time.monotonic()
            problems = self.watchdog_problems(now)
            if now >= next_status_mono or self._wake.is_set():
                self._wake.clear()
                self.write_status("running", problems, now)
                next_status_mono = now + self.config.daemon.status_interval_s
            interval_s = self._notifier.watchdog_interval_s
            if interval_s is not None and now >= next_ping_mono and not problems:
                self._notifier.watchdog()
                next_ping_mono = now + interval_s
            self._wake.wait(MAIN_TICK_S)

    def watchdog_problems(self, mono_now: float) -> list[str]:
        return self.liveness.problems(mono_now, self.config.daemon.watchdog_stale_s,
                                      self.controller, self.link, self.pulse.last_mono,
                                      self.sync)

    def write_status(self, state: str, problems: list[str], mono_now: float) -> None:
        sections = self.status_sections(mono_now)
        try:
            write_status(self.status_path, status_document(
                state=state, sections=sections, problems=problems, mono_now=mono_now))
        except OSError as error:
            log.warning("cannot write the status file %s: %s", self.status_path, error)
        summary = self._summary()
        if summary != self._last_summary:
            self._last_summary = summary
            self._notifier.status(summary)

    def status_sections(self, mono_now: float) -> dict:
        reading, journal = self.trust.read(), self.journal.journal.status()
        disabled = "; ".join(d for _, d in self.problems.items) or "not paired"
        return {
            "door": door_section(self.controller, self.liveness),
            "reader": reader_section(self.link, self.supervisor.state.offline_since_mono,
                                     mono_now),
            "sync": sync_section(self.sync, mono_now, disabled),
            "versions": {"applied": self.cache.applied_version() if self.cache else None,
                         "reconciled": self.cache.reconciled_version() if self.cache else None,
                         "in_force": self.controller.status().snapshot_version},
            "clock": {"trusted": reading.trusted, "reason": reading.untrusted_reason,
                      **self.anchors.status()},
            "journal": {"backlog": journal.backlog, "pending": journal.pending,
                        "failing": journal.failing, "disk_low": journal.disk_low},
            "last_decisions": self.decisions.items(),
            "recent_alarms": self.alarms.recent(),
            "problems": [detail for _, detail in self.problems.items],
        }

    def _summary(self) -> str:
        door = self.controller.status().door
        return f"door {door}; reader {self.link.state_name()}"

    # ---- stop ----

    def stop(self) -> None:
        """Relay de-energised first, then every thread, then the files. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        self.request_stop()
        self._notifier.stopping()
        self.controller.stop()
        if self.loop is not None:
            self.loop.stop(STOP_JOIN_S)
        self.link.stop(STOP_JOIN_S)
        if self.sync is not None:
            self.sync.stop()
        self.anchors.flush(time.monotonic())
        self._close_files()

    def abort(self) -> None:
        """After a failed ``start``: make the relay safe and let go of what was opened."""
        opened = vars(self)
        try:
            if "controller" in opened:
                self.controller.stop()
            elif "hardware" in opened:
                self.hardware.setup()  # the relay's safe level, in one glitch-free step
        finally:
            if "hardware" in opened:
                self.hardware.close()

    def _close_files(self) -> None:
        self.journal.append("daemon_stopped", {})
        self.write_status("stopped", [], time.monotonic())
        self.hardware.close()
        self.journal.journal.journal.close()
        if self.cache is not None:
            self.cache.close()
        self._notifier.close()

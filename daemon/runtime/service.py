"""The composition root of ``doorward run``: builds the door from its configuration and runs it.

Owns ``DoorService``. ``start()`` opens the edges (``daemon/runtime/build.py``), starts the
controller (relay de-energised first), the reader (through ``ModuleLink``, retried while the
module is absent), the sync client and the supervision thread, raises an alarm for every
part that is missing, and tells systemd it is ready. The wiring, each arrow one call:

- the touch line -> the reader, which listens to it itself (``DoorHardware.on_touch``);
- reader claims and lifts -> ``Controller.post`` (``ModuleClaim``, ``FingerLifted``);
- the controller's decisions -> the journal, then the state machine's actions: relay,
  status LED, buzzer and, on an R503, the module's ring LED (``RingLed``);
- sync's envelopes -> ``BundleApplier`` -> ``apply_bundle`` -> the controller's
  ``SnapshotApplied`` and the reader's ``request_reconcile``; sync's freshness statements
  -> ``FreshnessConfirmer`` -> the controller's ``SnapshotConfirmed``; both, and trusted
  clock readings, -> the anchor file (``daemon/storage/boot_anchor.py``), whose knowledge the
  controller starts from;
- every journal append -> the sync client's ``events_journalled`` (events leave at once)
  and the status file's last decisions;
- alarms (controller, reader, supervision) -> the journal, hence the server's alarm sinks.

``run()`` is the main thread's loop: it writes the status file every ``status_interval_s``
(and at once when the reader's state changes) and pings the systemd watchdog only while
every loop is alive (``daemon/runtime/status.py``). ``stop()`` de-energises the relay first
and returns in well under a second. Signals are the CLI's business (``commands/run.py``).
"""

from __future__ import annotations

import logging
import threading
import time

from doorward.daemon.config.loader import Config
from doorward.daemon.controller.clock import SystemClock, TimeTrust
from doorward.daemon.controller.events import (
    ClockTrustChanged, FingerLifted, ModuleClaim, ReaderAvailability, SnapshotApplied,
    SnapshotConfirmed,
)
from doorward.daemon.controller.ring import RingLed
from doorward.daemon.controller.thread import Controller
from doorward.daemon.runtime.applier import (
    BundleApplier, FreshnessConfirmer, heartbeat_report, sync_interval_s,
)
from doorward.daemon.runtime.build import (
    ReaderCallbacks, StartProblems, open_cache, open_credentials, open_hardware, open_journal,
    reader_builder,
)
from doorward.daemon.runtime.link import ModuleLink
from doorward.daemon.runtime.notify import Notifier
from doorward.daemon.runtime.sinks import (
    DecisionLog, DeclaredClock, RecentDecisions, ServiceAlarms, read_boot_id, stamper,
)
from doorward.daemon.runtime.status import Liveness, status_document, status_sections
from doorward.daemon.runtime.storage_watch import StorageWatch
from doorward.daemon.runtime.supervision import ModuleSupervisor, ReaderPulse
from doorward.daemon.runtime.ticks import ClockWatch, Step, SupervisionLoop
from doorward.daemon.storage.boot_anchor import ANCHOR_FILE, AnchorStore
from doorward.daemon.storage.status_file import write_status
from doorward.daemon.sync.apply import ApplyResult
from doorward.daemon.sync.client import SyncClient

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
        self.link = self._make_link()
        self._start_controller()
        self._make_sync()
        self.supervisor = ModuleSupervisor(
            self.link, self.hardware, self.config.daemon, self.alarms.raise_alarm,
            self.journal.append, on_online=self.wake,
            show_availability=lambda online: self.controller.post(ReaderAvailability(online)))
        self.loop = self._supervision_loop()
        for alarm in self.problems.items:
            self.alarms.raise_alarm(alarm)
        self.journal.append("daemon_started", {"biometric": self.link.enabled})
        self.loop.start()
        if self.sync is not None:
            self.sync.start()
        self._notifier.ready(self._summary())

    def _open_journal(self) -> None:
        clock_config = self.config.clock
        self.trust = TimeTrust(SystemClock(), rtc=clock_config.rtc,
                               assume_synchronised=clock_config.assume_synchronised)
        self.trust.note_snapshot(self.cache.snapshot() if self.cache else None)
        self.boot_id = read_boot_id()
        self.journal = open_journal(  # the alarms are made next: the journal tells them later
            self.config, self.credentials, stamper(self.trust, self.boot_id),
            on_loss=lambda loss: self.alarms.journal_loss(loss),
            on_chain_break=lambda seq, why: self.alarms.chain_break(seq, why))
        door = self.credentials.label if self.credentials else "(unpaired)"
        self.alarms = ServiceAlarms(self.journal, door)
        self.decisions = RecentDecisions()
        self.journal.listen(self.decisions)
        self.journal.listen(DecisionLog(door))

    def _start_controller(self) -> None:
        declared = self.config.clock.rtc or self.config.clock.assume_synchronised
        self.clock = DeclaredClock(SystemClock(), declared)
        ring = (RingLed(self.link.set_led)
                if self.config.module.model == "r503" and self.config.daemon.ring_led else None)
        self.controller = Controller(
            self.hardware, journal=self.journal, alarms=self.alarms, clock=self.clock,
            default_policy=self.config.policy, snapshot=self.cache.snapshot() if self.cache else None,
            boot=self.anchors.knowledge, ring=ring,
            exit_without_rex_is_forced=self.config.hardware.exit_without_rex_is_forced)
        self.controller.start()  # the relay is driven de-energised before anything else
        self.controller.post(ClockTrustChanged())

    def _make_link(self) -> ModuleLink:
        if self.credentials is None or self.cache is None:
            return ModuleLink(None, "biometric path disabled: " +
                              "; ".join(alarm.detail for alarm in self.problems.items))
        callbacks = ReaderCallbacks(
            on_claim=lambda claim: self.controller.post(ModuleClaim(claim)),
            on_lift=lambda: self.controller.post(FingerLifted()),
            on_status=lambda status: self.wake(),
            on_alarm=self.alarms.raise_alarm,
            on_reconciled=lambda version: self._report_now(),
            on_event=self.journal.append)
        return ModuleLink(reader_builder(self.config, self.hardware, self.credentials,
                                         self.cache, self.pulse, callbacks))

    def _make_sync(self) -> None:
        if self.credentials is None or self.cache is None:
            return
        self.applier = BundleApplier(self.cache, self.credentials, self.trust, self.journal,
                                     self.link.module_facts, self._snapshot_applied,
                                     self.config.policy)
        confirmer = FreshnessConfirmer(self.cache, self.credentials, self._snapshot_confirmed)
        self.sync = SyncClient(
            self.credentials, self.config.server, apply_bundle=self.applier,
            journal=self.journal.feed, heartbeat=self._heartbeat,
            sync_interval_s=lambda: sync_interval_s(self.cache, self.config.policy),
            on_fresh=confirmer)
        sync = self.sync
        self.applier.on_waiting_applied = sync.poll_now
        self.journal.listen(lambda kind, detail: sync.events_journalled())

    def _supervision_loop(self) -> SupervisionLoop:
        storage = StorageWatch(self.journal, self._report_now,
                               lambda: self.sync.poll_now() if self.sync else None)
        clock = ClockWatch(self.trust, self.clock, self.controller.post, self.alarms.raise_alarm,
                           self.anchors.observe, self.wake)
        fast = [Step("module supervision", self.supervisor.tick)]
        if self.applier is not None:
            fast.append(Step("waiting bundle", lambda now: self.applier.retry()))
        slow = [Step("GPIO read-back", lambda now: self.liveness.probe_gpio(self.hardware)),
                Step("journal retry", lambda now: self.journal.retry()),
                Step("storage check", storage.tick), Step("clock check", clock)]
        hourly = [Step("journal prune", lambda now: self._prune())]
        return SupervisionLoop(fast, slow, hourly, on_pass=self.liveness.supervised)

    # ---- wiring callbacks ----

    def _report_now(self) -> None:
        """A heartbeat now: the server confirms removals from the reported versions."""
        if self.sync is not None:
            self.sync.report_now()

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

    def _heartbeat(self) -> dict:
        status = self.link.status()
        return heartbeat_report(self.cache, status.module_identity if status else None,
                                self.trust.read().trusted, self.link.state_name(),
                                self.journal.status(), self.config.storage.state_dir,
                                self.applier.apply_error if self.applier else None)

    def _prune(self) -> None:
        pruned = self.journal.prune(time.time())
        if pruned:
            log.info("journal: %d acknowledged records pruned", pruned)

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
        sections = status_sections(
            mono_now, controller=self.controller, liveness=self.liveness, link=self.link,
            supervisor=self.supervisor, sync=self.sync, cache=self.cache, trust=self.trust,
            anchors=self.anchors, journal=self.journal.status(), decisions=self.decisions,
            alarms=self.alarms, problems=self.problems.items)
        try:
            write_status(self.status_path, status_document(
                state=state, sections=sections, problems=problems, mono_now=mono_now))
        except OSError as error:
            log.warning("cannot write the status file %s: %s", self.status_path, error)
        summary = self._summary()
        if summary != self._last_summary:
            self._last_summary = summary
            self._notifier.status(summary)

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
        self.journal.close()
        if self.cache is not None:
            self.cache.close()
        self._notifier.close()

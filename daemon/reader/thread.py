"""The reader: the one thread that owns the fingerprint module client.

Owns ``Reader``. Scanning, health checks, LED commands, reconcile steps and binding checks all
run on this thread, one after the other, never interleaved on the UART. Each turn of the loop
first polls for a finger (a person at the door never waits behind reconcile), then runs the
most urgent queued job (``daemon/reader/jobs.py``: LED, health, reconcile, binding), then waits
on an event until something is due. After a claim it waits for the finger to lift and reports
the lift (the controller counts lockout strikes there).

Faults: silence (``Timeout``) is reported as "reader offline" at once (within the command's
deadline, at most 2 s) and retried; a lost port is reopened with back-off, without a restart;
a module reset, or a password the module no longer takes, re-runs the binding and identity
check and starts a reconcile pass. A module that is not bound to this door, or whose identity
is not the one the door expects, is a tamper alarm (``daemon/reader/guard.py``): scans stop and
no template goes into it until it is this door's module again (or bound on an explicit bind
request) and a reconcile pass has made it match the slot map. While held, the check repeats
every ``held_check_interval_s``.

Everything arrives through the constructor (callbacks, stores, settings); no globals. ``stop()``
sets an event; the loop never sleeps, it waits on events, so it ends as soon as the exchange in
flight (if any) returns.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Protocol

from doorward.daemon.codec.alarms import Alarm
from doorward.daemon.reader.binding import BindingStatus
from doorward.daemon.access.claim import Claim
from doorward.daemon.library.reconcile import Reconciler, SlotStore, TemplateSource
from doorward.daemon.storage.module_record import BindingStore
from doorward.daemon.reader.jobs import JobFunction, JobQueue, Priority
from doorward.daemon.reader.scan import finger_present, scan_once
from doorward.daemon.reader.guard import ModuleGuard
from doorward.daemon.reader.types import ModuleCredential, ReaderSettings, ReaderStatus
from doorward.drivers.r30x.errors import ModuleRejected, ModuleReset, PortLost, SensorError, Timeout
from doorward.drivers.r30x.protocol import Confirmation
from doorward.drivers.r30x.sensor import R30xSensor

log = logging.getLogger(__name__)

PASSWORD_CODES = frozenset({Confirmation.WRONG_PASSWORD, Confirmation.PASSWORD_REQUIRED})


class _Phase(enum.Enum):
    CONNECTING = "connecting"  # (re)open, binding and identity check before anything else
    READY = "ready"


class TouchLine(Protocol):
    """The module's touch line as the GPIO edge offers it (``DoorHardware``): its polarity
    (the R503's idles high, the AS608's low) is the edge's business, not the reader's."""

    def finger_touching(self) -> bool: ...
    def on_touch(self, callback: Callable[[], None]) -> None: ...


class Reader:
    def __init__(
        self,
        sensor: R30xSensor,
        credential: ModuleCredential,
        slot_store: SlotStore,
        templates: TemplateSource,
        *,
        on_claim: Callable[[Claim], None],
        on_lift: Callable[[], None],
        on_status: Callable[[ReaderStatus], None],
        on_alarm: Callable[[Alarm], None],
        settings: ReaderSettings = ReaderSettings(),
        touch: TouchLine | None = None,
        expected_identity: str | None = None,
        binding_store: BindingStore | None = None,
        on_event: Callable[[str, dict], None] = lambda kind, detail: None,
        version: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sensor, self._store = sensor, slot_store
        self._on_claim, self._on_lift, self._on_status = on_claim, on_lift, on_status
        self._on_alarm, self._settings, self._clock = on_alarm, settings, clock
        self._touch = touch  # the module's touch line, where one is wired (R503, AS608)
        self._reconciler = Reconciler(sensor, slot_store, templates, on_alarm)
        self._stop, self._wake = threading.Event(), threading.Event()
        self._jobs = JobQueue(self._wake)
        self._thread: threading.Thread | None = None
        self._phase, self._port_lost, self._offline_why = _Phase.CONNECTING, False, "starting"
        self._guard = ModuleGuard(credential, on_alarm, binding_store, expected_identity, on_event)
        self._version = version
        self._awaiting_lift = False
        self._backoff_s = settings.reopen_backoff_s
        self._next_poll = self._next_lift_poll = self._last_ok = 0.0
        self._touch_edge = threading.Event()  # set by a touch-line edge, taken by the scan
        self._next_module_check = self._next_verify = 0.0
        # The identity the door expects is known before the module answers (bundles apply).
        self._status = ReaderStatus(False, "starting", False,
                                    module_identity=self._guard.identity)

    # ---- control, from any thread ----

    def start(self) -> None:
        if self._touch is not None:
            self._touch.on_touch(self.touch_changed)  # the reader listens to its own line
        self._thread = threading.Thread(target=self._run, name="doorward-reader", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 3.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def __enter__(self) -> Reader:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def status(self) -> ReaderStatus:
        return self._status

    def submit(
        self, run: JobFunction, priority: Priority = Priority.LED, name: str = "job"
    ) -> Future:
        """Run ``run(sensor)`` on the reader thread; the future holds its result or error."""
        future = self._jobs.put(priority, name, run, with_future=True)
        assert future is not None
        return future

    def set_led(self, control: int, speed: int, colour: int, count: int = 0) -> Future:
        """AuraLedConfig (R503 ring). Older optical modules refuse it (protocol sheet 9.4):
        the future then holds ``ModuleRejected`` and the reader carries on."""
        return self.submit(lambda sensor: sensor.aura_led(control, speed, colour, count),
                           Priority.LED, "led")  # fmt: skip

    def request_reconcile(self, version: int | None, *, verify_all: bool = False) -> None:
        """Start a reconcile pass towards the slot map of ``version`` (after each apply)."""
        self._jobs.put(Priority.RECONCILE, "reconcile_start",
                       lambda sensor: self._start_pass(version, verify_all))  # fmt: skip

    def request_module_check(self) -> None:
        self._jobs.put(Priority.BINDING, "module_check", self._module_check, once=True)

    # ---- the loop ----

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._turn()
            except Timeout as error:
                retry_s = self._settings.offline_retry_s
                self._went_offline(f"no reply from the module ({error})", retry_s)
            except PortLost as error:
                self._lost_port(error)
            except ModuleReset as error:
                log.warning("module reset (%s): checking binding and reconciling again", error)
                self._phase = _Phase.CONNECTING
            except ModuleRejected as error:
                self._rejected(error)
            except SensorError as error:  # BadFrame, UnexpectedReply: the next turn retries
                log.warning("line error, the work is retried: %s", error)
            except Exception:  # a failing callback must not take the door's reader down
                log.exception("reader turn failed")
                self._stop.wait(self._settings.offline_retry_s)
        self._jobs.cancel_all()

    def _turn(self) -> None:
        if self._phase is not _Phase.READY:
            self._establish()
            return
        now = self._clock()
        self._queue_periodic(now)
        if self._scan_due(now):
            self._scan_tick(now)
            return
        job = self._jobs.pop()
        if job is None:
            self._idle(now)
            return
        try:
            result = job.run(self._sensor)
        except BaseException as error:
            if job.future is None:
                raise
            job.future.set_exception(error)
            if isinstance(error, SensorError) or not isinstance(error, Exception):
                raise  # the module or the line: the reader's own handling below
            return  # the submitter's own outcome (a duplicate, a cancel): theirs to handle
        self._last_ok = self._clock()
        if job.future is not None:
            job.future.set_result(result)

    def _idle(self, now: float) -> None:
        s = self._settings
        due = [self._last_ok + s.health_interval_s, self._next_module_check, self._next_verify]
        if not self._guard.held:
            due.append(self._next_lift_poll if self._awaiting_lift else self._next_poll)
            if self._touch_edge.is_set():
                due.append(now)
        self._wake.wait(max(0.0, min(due) - now))
        self._wake.clear()

    def _queue_periodic(self, now: float) -> None:
        s = self._settings
        if now - self._last_ok >= s.health_interval_s:
            self._jobs.put(Priority.HEALTH, "health", self._health, once=True)
        if now >= self._next_module_check:
            self._next_module_check = now + self._module_check_interval_s()
            self.request_module_check()
        if now >= self._next_verify:
            self._next_verify = now + s.verify_interval_s
            self.request_reconcile(self._version, verify_all=True)

    # ---- scanning ----

    def _scan_due(self, now: float) -> bool:
        if self._guard.held:
            return False
        if self._touch_edge.is_set():
            return True
        return now >= (self._next_lift_poll if self._awaiting_lift else self._next_poll)

    def _scan_tick(self, now: float) -> None:
        s = self._settings
        self._touch_edge.clear()  # before reading the line: a later edge sets it again
        if self._awaiting_lift:
            self._next_lift_poll = now + s.lift_poll_s
            if not self._finger_on_glass():
                self._awaiting_lift = False
                self._on_lift()
            return
        if self._touch is not None and not self._touched():
            self._next_poll = now + s.touch_poll_s
            return
        self._next_poll = now + s.poll_interval_s
        claim = scan_once(self._sensor, self._store.slot_map(), self._guard.identity or "")
        self._last_ok = self._clock()
        if claim is not None:
            self._awaiting_lift = True
            self._next_lift_poll = self._last_ok + s.lift_poll_s
            self._on_claim(claim)

    def touch_changed(self) -> None:
        """The touch line moved (a GPIO edge): look now instead of at the next poll, so
        touch-to-unlock does not wait for the polling interval."""
        self._touch_edge.set()  # a flag, not a time: no assignment in the loop can lose it
        self._wake.set()

    def _touched(self) -> bool:
        return self._touch is not None and self._touch.finger_touching()

    def _finger_on_glass(self) -> bool:
        if self._touch is not None:
            return self._touched()
        present = finger_present(self._sensor)
        self._last_ok = self._clock()
        return present

    # ---- health, connection, binding ----

    def _health(self, sensor: R30xSensor) -> None:
        if self._guard.binding is BindingStatus.WRONG_PASSWORD:
            self._module_check(sensor)  # VfyPwd is all such a module answers
        else:
            sensor.read_system_parameters()

    def _establish(self) -> None:
        if self._port_lost:
            try:
                self._sensor.reopen()
            except ModuleRejected:
                pass  # the password no longer verifies: the binding check says why
            self._port_lost = False
        self._module_check(self._sensor, start_pass=True)
        self._phase, self._backoff_s = _Phase.READY, self._settings.reopen_backoff_s
        self._last_ok = now = self._clock()
        self._next_module_check = now + self._module_check_interval_s()
        self._next_verify = self._next_verify or now + self._settings.verify_interval_s
        self._publish()

    def _module_check_interval_s(self) -> float:
        s = self._settings
        if self._guard.held:
            return min(s.held_check_interval_s, s.module_check_interval_s)
        return s.module_check_interval_s

    def _module_check(self, sensor: R30xSensor, start_pass: bool = False) -> None:
        held_before = self._guard.held
        self._guard.check(sensor)
        if self._guard.held and not held_before:
            self._reconciler.cancel()  # only a pass begun after the alarm may release the hold
            self._next_module_check = self._clock() + self._module_check_interval_s()
        releasing = self._guard.held and not self._reconciler.busy
        if self._guard.ours and (start_pass or releasing):
            self._start_pass(self._version, verify_all=False)  # on this thread: no queueing
        self._publish()

    # ---- reconcile ----

    def _start_pass(self, version: int | None, verify_all: bool) -> None:
        if not self._guard.ours:
            return  # never load templates into a module that is not this door's
        self._version = version if version is not None else self._version
        self._reconciler.start(self._version, verify_all=verify_all)
        self._jobs.put(Priority.RECONCILE, "reconcile_step", self._reconcile_step, once=True)
        self._publish()

    def _reconcile_step(self, sensor: R30xSensor) -> None:
        if not self._guard.ours:
            return
        if self._reconciler.step():
            self._jobs.put(Priority.RECONCILE, "reconcile_step", self._reconcile_step, once=True)
            return
        self._guard.release(self._reconciler.matched)
        self._publish()

    # ---- faults ----

    def _went_offline(self, why: str, wait_s: float) -> None:
        if self._phase is _Phase.READY or self._offline_why != why:
            log.warning("reader offline: %s", why)
        self._phase, self._offline_why = _Phase.CONNECTING, why
        self._publish()
        self._stop.wait(wait_s)

    def _lost_port(self, error: PortLost) -> None:
        self._port_lost = True
        wait_s = self._backoff_s
        self._backoff_s = min(2 * self._backoff_s, self._settings.reopen_backoff_max_s)
        self._went_offline(f"serial port lost ({error})", wait_s)

    def _rejected(self, error: ModuleRejected) -> None:
        if error.code in PASSWORD_CODES:
            log.warning("the module refused our password (%s): checking the binding", error)
            self._phase = _Phase.CONNECTING
        else:
            log.warning("module refused a command: %s", error)

    def _publish(self) -> None:
        online = self._phase is _Phase.READY
        status = ReaderStatus(
            online=online,
            detail=self._detail(online),
            biometric_ready=online and not self._guard.held,
            binding=self._guard.binding,
            module_identity=self._guard.identity,
            reconciling=self._reconciler.busy,
        )
        if status != self._status:
            self._status = status
            self._on_status(status)

    def _detail(self, online: bool) -> str:
        if not online:
            return f"reader offline: {self._offline_why}"
        if self._guard.held:
            return self._guard.tamper or "waiting for the module to be reconciled"
        return "reconciling" if self._reconciler.busy else "ready"

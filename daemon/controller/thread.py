"""The controller thread: one event queue, one thread that calls the pure functions.

Owns ``Controller``, which the service (composition root) builds once and reuses unchanged:

    controller = Controller(hardware, journal=..., alarms=..., clock=...,
                            default_policy=config_policy, snapshot=cached_snapshot)
    controller.start()                 # relay safe first, inputs read, thread running
    controller.post(ModuleClaim(claim))  # from the reader thread; also FingerLifted,
    controller.post(SnapshotApplied(s))  # SnapshotApplied, ClockTrustChanged (sync)
    controller.status()                # for ``doorward status`` and the watchdog
    controller.stop()                  # milliseconds; relay de-energised; thread joined

IO threads only put events on the queue; GPIO edges arrive the same way, from
``DoorHardware.on_input_change``. The thread waits on the queue with a timeout equal to the
next due timer (``time.monotonic()``, capped at ``IDLE_WAKE_S`` so ``status().alive_at_mono``
stays fresh for the watchdog): no sleep loop, no pass counting, and a wall-clock jump
stretches nothing. The work itself is ``doorward.daemon.controller.core.ControllerCore``.
The caller owns the ``DoorHardware`` and closes it after ``stop()``.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import replace
from typing import Callable

from doorward.daemon.controller.core import DOOR_INPUTS, ControllerCore
from doorward.daemon.door.machine import DoorState
from doorward.daemon.controller.events import (
    ClockTrustChanged, ControllerEvent, ControllerStatus, FingerLifted, InputEdge, ModuleClaim,
    ReaderAvailability, SnapshotApplied, SnapshotConfirmed,
)
from doorward.daemon.access.state import BootKnowledge
from doorward.daemon.codec.policy import Policy
from doorward.daemon.controller.actions import RingOutput
from doorward.daemon.controller.clock import ClockEdge
from doorward.daemon.controller.sinks import AlarmSink, JournalSink
from doorward.daemon.codec.snapshot import Snapshot
from doorward.drivers.gpio.door import DoorHardware, DoorInput

log = logging.getLogger(__name__)

EVENT_TYPES = (ModuleClaim, FingerLifted, InputEdge, SnapshotApplied, SnapshotConfirmed,
               ClockTrustChanged, ReaderAvailability)
IDLE_WAKE_S = 1.0  # with no timer due the loop still wakes this often, to prove it is alive
STOP_JOIN_S = 2.0
_STOP = object()  # the queue sentinel that ends the loop


class Controller:
    def __init__(self, hardware: DoorHardware, *, journal: JournalSink, alarms: AlarmSink,
                 clock: ClockEdge, default_policy: Policy, snapshot: Snapshot | None = None,
                 monotonic: Callable[[], float] = time.monotonic,
                 boot: BootKnowledge | None = None,
                 exit_without_rex_is_forced: bool = True,
                 ring: RingOutput | None = None) -> None:
        self._hardware = hardware
        self._monotonic = monotonic
        self._core = ControllerCore(hardware, journal, alarms, clock, default_policy, snapshot,
                                    monotonic, boot, exit_without_rex_is_forced, ring)
        self._events: queue.Queue[object] = queue.Queue()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._alive_at_mono: float | None = None
        self._status = self._core_status(running=False)

    # -- life cycle -----------------------------------------------------------------------

    def start(self) -> None:
        """Relay to its safe level first (``setup``), edges subscribed, inputs read, then the
        thread. A failure here leaves the relay de-energised and is raised to the caller."""
        if self._thread is not None or self._stopping.is_set():
            raise RuntimeError("a controller starts once; build a new one to start again")
        self._hardware.setup()
        try:
            self._hardware.on_input_change(self._on_edge)
            self._core.begin(self._monotonic())
        except Exception:
            self._core.actions.make_relay_safe()
            raise
        self._thread = threading.Thread(target=self._run, name="door-controller", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop at once (queued events are dropped), join the thread, de-energise the relay.
        Calling it again does nothing."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        self._events.put(_STOP)
        if self._thread is not None:
            self._thread.join(timeout=STOP_JOIN_S)
            if self._thread.is_alive():
                log.error("the controller thread did not stop within %s s", STOP_JOIN_S)
        self._core.actions.make_relay_safe()
        self._status = self._core_status(running=False)

    # -- feeding --------------------------------------------------------------------------

    def post(self, event: ControllerEvent) -> None:
        """Queue an event for the controller thread; safe from any thread, never blocks."""
        if not isinstance(event, EVENT_TYPES):
            raise TypeError(f"the controller does not take {type(event).__name__} events")
        self._events.put(event)

    def _on_edge(self, door_input: DoorInput) -> None:
        # Runs on the GPIO backend's thread: queue it and return, never touch the pins here.
        # The touch line is the reader's: its edges would only wake the loop.
        if door_input in DOOR_INPUTS:
            self._events.put(InputEdge(door_input))

    # -- status ---------------------------------------------------------------------------

    def status(self) -> ControllerStatus:
        """The last published view, with the current queue depth; safe from any thread."""
        return replace(self._status, queue_depth=self._events.qsize())

    def _core_status(self, running: bool) -> ControllerStatus:
        core, door = self._core, self._core.door
        decision = core.last_decision
        return ControllerStatus(
            running=running,
            door=_door_mode(door),
            relay_energised=core.actions.relay_energised,
            contact_open=door.contact_open, lockdown=door.lockdown, forced=door.forced,
            held=door.held.value, tamper=door.tamper,
            last_reason=None if decision is None else decision.reason.value,
            snapshot_version=None if core.snapshot is None else core.snapshot.version,
            queue_depth=self._events.qsize(), faults=core.faults,
            alive_at_mono=self._alive_at_mono,
        )

    # -- the thread -----------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while not self._stopping.is_set():
                event = self._next_event()
                if event is _STOP or self._stopping.is_set():
                    break
                self._turn(event)
        finally:
            self._core.actions.make_relay_safe()  # however the loop ended

    def _turn(self, event: object | None) -> None:
        """One event (if any), then every timer now due, then a fresh status."""
        try:
            if event is not None:
                self._core.handle(event, self._monotonic())  # type: ignore[arg-type]
            self._core.fire_due(self._monotonic())
        except Exception:  # the core guards each handler; this is the last line behind it
            log.exception("controller loop failed outside a handler; making the relay safe")
            self._core.actions.make_relay_safe()
        self._status = self._core_status(running=True)

    def _next_event(self) -> object | None:
        """The next event, or None once the next timer is due (or the idle wake-up)."""
        now = self._monotonic()
        self._alive_at_mono = now
        wait_s = self._core.seconds_until_next(now)
        wait_s = IDLE_WAKE_S if wait_s is None else min(wait_s, IDLE_WAKE_S)
        try:
            return self._events.get(timeout=wait_s) if wait_s > 0 else self._events.get_nowait()
        except queue.Empty:
            return None


def _door_mode(door: DoorState) -> str:
    if door.fire:
        return "fire_release"
    return "unlocked" if door.unlock_until_mono is not None else "locked"

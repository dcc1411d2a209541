"""Module reconcile: make the module's library match the slot map, one step per call.

Owns ``Reconciler`` (the executor), the ``SlotStore`` protocol it writes the map through (the
permission cache satisfies it; ``MemorySlotStore`` is the in-memory one for tests and tools),
``TemplateSource`` and ``sealed_templates``. The planner is ``daemon/library/plan.py``.

``Reconciler.step()`` runs one step and returns whether work is left, so the reader thread
interleaves reconcile with scans and a person at the door never waits behind it. A load
opens the sealed template just before DownChar (it is plaintext only inside that step),
stores it, and the next step reads the page back (LoadChar, UpChar) and compares its SHA-256
with the map: the line's 16-bit additive checksum lets corrupted packets through on a noisy
line, so only the hash makes a page active. A mismatch is retried a bounded number of times,
then raised as an alarm. When a fresh index read shows nothing left to do and every slot is
active, the pass records the reconciled version.

Runs on the reader thread only (it drives the module client). Timeout, PortLost and
ModuleReset propagate: the reader decides what they mean and starts a new pass afterwards.

The sync thread writes the map too (a new snapshot's plan, through the cache's ``apply``), at
any moment between two of these steps or inside one. So reconcile never writes back a map it
read earlier: every write is ``update_slot_map(change)``, a pure change applied by the store
under its lock to the map as it is then, and a page that a newer snapshot revoked or gave to
another finger is left as that snapshot says. Without that, a mark computed from the old map
restored a revoked page as active, and the module was reported reconciled with it inside.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Collection
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from doorward.daemon.codec.alarms import Alarm, AlarmKind
from doorward.daemon.codec.bundle import open_template, template_sha256
from doorward.daemon.access.claim import SlotState
from doorward.daemon.errors import DoorwardError
from doorward.daemon.library.plan import Step, StepKind, StepReason, plan_reconcile
from doorward.daemon.library.slotmap import Slot, SlotMap
from doorward.daemon.codec.snapshot import Snapshot
from doorward.drivers.r30x.errors import BadFrame, ModuleRejected, UnexpectedReply
from doorward.drivers.r30x.protocol import Confirmation
from doorward.drivers.r30x.sensor import R30xSensor

__all__ = ["MemorySlotStore", "Reconciler", "SlotChange", "SlotStore", "Step", "StepKind",
           "StepReason", "TemplateSource", "plan_reconcile", "sealed_templates"]  # fmt: skip

log = logging.getLogger(__name__)

DEFAULT_MAX_ATTEMPTS = 3  # downloads of one template per pass before the alarm
MAX_INDEX_READS = 4  # per pass: the first plan and the re-checks after each round
TRANSFER_BUFFER = 1  # CharBuffer1: scans overwrite it, so a load is one step, never split

# Alarm kinds (stable strings: they reach the journal and the server).

TemplateSource = Callable[[str], bytes]  # finger id -> plaintext template, opened on demand
AlarmSink = Callable[[Alarm], None]


SlotChange = Callable[[SlotMap], SlotMap]  # pure: the map as it is now -> the map wanted


class SlotStore(Protocol):
    def slot_map(self) -> SlotMap: ...

    def update_slot_map(self, change: SlotChange) -> SlotMap:
        """Apply ``change`` to the current map atomically (under the store's lock, against
        every other writer) and return the map that is now stored."""
        ...

    def set_reconciled_version(self, version: int) -> None: ...


class MemorySlotStore:
    """A ``SlotStore`` in memory. ``save_slot_map`` replaces the map whole: that is the
    snapshot's plan (the station's apply); reconcile only ever uses ``update_slot_map``."""

    def __init__(self, slot_map: SlotMap | None = None) -> None:
        self.map = slot_map or SlotMap()
        self.reconciled_version: int | None = None
        self._lock = threading.Lock()

    def slot_map(self) -> SlotMap:
        return self.map

    def save_slot_map(self, slot_map: SlotMap) -> None:
        with self._lock:
            self.map = slot_map

    def update_slot_map(self, change: SlotChange) -> SlotMap:
        with self._lock:
            self.map = change(self.map)
            return self.map

    def set_reconciled_version(self, version: int) -> None:
        self.reconciled_version = version


def sealed_templates(
    current_snapshot: Callable[[], Snapshot | None], door_private: X25519PrivateKey
) -> TemplateSource:
    """Open a finger's template from the current snapshot with the door's X25519 key."""

    def open_for(finger_id: str) -> bytes:
        snapshot = current_snapshot()
        if snapshot is None:
            raise LookupError("no permission snapshot")
        sealed = snapshot.index.fingers[finger_id].finger.sealed_template
        return open_template(sealed, door_private, door_id=snapshot.door_id, finger_id=finger_id)

    return open_for


class Reconciler:
    def __init__(
        self,
        sensor: R30xSensor,
        store: SlotStore,
        templates: TemplateSource,
        on_alarm: AlarmSink,
        *,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    ) -> None:
        self._sensor = sensor
        self._store = store
        self._templates = templates
        self._on_alarm = on_alarm
        self._max_attempts = max_attempts
        self._queue: deque[Step] = deque()
        self._running = False
        self._target: int | None = None
        self._suspect: frozenset[int] | None = None  # None: every active page
        self._failed: set[int] = set()
        self._index_reads = 0
        self.matched = False  # the last finished pass left the module matching the map

    @property
    def busy(self) -> bool:
        return self._running

    def start(
        self, target_version: int | None, suspect_pages: Collection[int] = (),
        *, verify_all: bool = False,
    ) -> None:
        """Begin a pass (dropping any unfinished one); the first step reads the index table.
        ``verify_all`` reads back every active page (the periodic check for altered slots)."""
        self._queue.clear()
        self._failed.clear()
        self._running, self.matched = True, False
        self._target, self._index_reads = target_version, 0
        self._suspect = None if verify_all else frozenset(suspect_pages)

    def cancel(self) -> None:
        """Drop the pass (the module stopped being ours): nothing is recorded."""
        self._queue.clear()
        self._running = self.matched = False

    def step(self) -> bool:
        """Run one step; True while work is left."""
        if not self._running:
            return False
        if self._queue:
            self._run(self._queue.popleft())
        else:
            self._check_module()
        return self._running

    # ---- planning and finishing ----

    def _check_module(self) -> None:
        """Read the index table and plan; an empty plan finishes the pass."""
        self._index_reads += 1
        if self._index_reads > MAX_INDEX_READS:
            detail = f"the module still differs after {MAX_INDEX_READS} index reads"
            self._alarm(AlarmKind.RECONCILE_STUCK, detail)
            self._finish()
            return
        slot_map = self._store.slot_map()
        suspect = slot_map.pages() if self._suspect is None else self._suspect
        self._suspect = frozenset()  # verify once per pass; re-checks only compare the index
        plan = plan_reconcile(slot_map, self._sensor.occupied_slots(), suspect)
        self._queue.extend(step for step in plan if step.page not in self._failed)
        if not self._queue:
            self._finish()

    def _finish(self) -> None:
        self._running = False
        self.matched = not self._failed and self._store.slot_map().is_reconciled()
        if self.matched and self._target is not None:
            self._store.set_reconciled_version(self._target)
        log.info("reconcile pass done: matched=%s failed=%s", self.matched, sorted(self._failed))

    # ---- one step ----

    def _run(self, step: Step) -> None:
        handler = {StepKind.DELETE: self._delete, StepKind.LOAD: self._load,
                   StepKind.VERIFY: self._verify}[step.kind]  # fmt: skip
        try:
            handler(step)
        except ModuleRejected as rejected:
            self._rejected(step, rejected)
        except (BadFrame, UnexpectedReply) as error:
            self._retry(step, f"line error: {error}")

    def _delete(self, step: Step) -> None:
        current = self._store.slot_map().at(step.page)
        if current is not None and current.state is not SlotState.PENDING_DELETE:
            return  # the map gave this page a finger since the plan: a later pass loads it
        self._sensor.delete_char(step.page)
        self._store.update_slot_map(lambda slot_map: _erased(slot_map, step.page))

    def _load(self, step: Step) -> None:
        slot = self._live_slot(step.page)
        template = None if slot is None else self._open(slot)
        if slot is None or template is None:
            return
        if not self._mark(slot, SlotState.PENDING_LOAD):  # a missing or altered page is not active
            return  # revoked or given to another finger meanwhile: nothing to download
        self._sensor.down_char(TRANSFER_BUFFER, template)
        self._sensor.store(TRANSFER_BUFFER, step.page)
        del template  # plaintext lives only inside this step
        self._queue.appendleft(Step(StepKind.VERIFY, step.page, step.reason, step.attempt))

    def _verify(self, step: Step) -> None:
        slot = self._live_slot(step.page)
        if slot is None:
            return
        if template_sha256(self._read_back(step.page)) == slot.template_sha256:
            self._mark(slot, SlotState.ACTIVE)
            return
        self._mark(slot, SlotState.PENDING_LOAD)
        self._retry(step, "read-back SHA-256 differs from the slot map")

    def _read_back(self, page: int) -> bytes:
        try:
            self._sensor.load_char(TRANSFER_BUFFER, page)
        except ModuleRejected as rejected:
            if rejected.code != Confirmation.TEMPLATE_READ_ERROR:
                raise
            return b""  # the page is empty: certainly not the template
        return self._sensor.up_char(TRANSFER_BUFFER)

    # ---- failures ----

    def _retry(self, step: Step, why: str) -> None:
        if step.kind is StepKind.DELETE:
            log.warning("delete of page %d failed (%s); the next index read re-plans",
                        step.page, why)  # fmt: skip
        elif step.attempt < self._max_attempts:
            log.warning("page %d, attempt %d: %s; loading again", step.page, step.attempt, why)
            again = Step(StepKind.LOAD, step.page, StepReason.RETRY, step.attempt + 1)
            self._queue.appendleft(again)
        else:
            self._give_up(step.page, AlarmKind.TEMPLATE_VERIFY_FAILED, f"page {step.page}: {why}, "
                          f"{step.attempt} attempts")  # fmt: skip

    def _rejected(self, step: Step, rejected: ModuleRejected) -> None:
        if rejected.code == Confirmation.LIBRARY_FULL:
            self._alarm(AlarmKind.MODULE_LIBRARY_FULL, f"page {step.page}: {rejected}")
            for pending in [s for s in self._queue if s.kind is not StepKind.DELETE]:
                self._queue.remove(pending)
                self._failed.add(pending.page)
            self._failed.add(step.page)
        elif rejected.code == Confirmation.BAD_PAGE:
            self._give_up(step.page, AlarmKind.MODULE_PAGE_OUT_OF_RANGE, f"page {step.page}: {rejected}")
        else:
            self._retry(step, str(rejected))

    def _give_up(self, page: int, kind: AlarmKind, detail: str) -> None:
        self._failed.add(page)
        self._alarm(kind, detail)

    def _alarm(self, kind: AlarmKind, detail: str) -> None:
        log.error("reconcile alarm %s: %s", kind.value, detail)
        self._on_alarm(Alarm(kind, detail))

    # ---- the slot map ----

    def _live_slot(self, page: int) -> Slot | None:
        slot = self._store.slot_map().at(page)
        return None if slot is None or slot.state is SlotState.PENDING_DELETE else slot

    def _open(self, slot: Slot) -> bytes | None:
        try:
            template = self._templates(slot.finger_id)
        except (DoorwardError, LookupError) as error:
            self._give_up(slot.page, AlarmKind.TEMPLATE_UNAVAILABLE, f"{slot.finger_id}: {error}")
            return None
        if template_sha256(template) != slot.template_sha256:
            detail = f"{slot.finger_id}: the opened template does not match its hash"
            self._give_up(slot.page, AlarmKind.TEMPLATE_UNAVAILABLE, detail)
            return None
        return template

    def _mark(self, slot: Slot, state: SlotState) -> bool:
        """Set a page's state on the map as it is at the write, unless the page changed hands
        meanwhile (a newer snapshot revoked or replaced the finger: its state is the
        snapshot's to say). True while the page still holds ``slot``'s finger."""

        def change(slot_map: SlotMap) -> SlotMap:
            current = slot_map.at(slot.page)
            if not _still_holds(current, slot) or current.state is state:
                return slot_map
            return slot_map.with_state(slot.page, state)

        return _still_holds(self._store.update_slot_map(change).at(slot.page), slot)


def _still_holds(current: Slot | None, slot: Slot) -> bool:
    """``current`` is the same finger and template as ``slot``, and not pending deletion."""
    return (current is not None and current.state is not SlotState.PENDING_DELETE
            and (current.finger_id, current.template_sha256)
            == (slot.finger_id, slot.template_sha256))  # fmt: skip


def _erased(slot_map: SlotMap, page: int) -> SlotMap:
    """The map after DeletChar of ``page``: a page pending deletion leaves it; a page that a
    newer snapshot gave a finger meanwhile stays (a later pass loads it)."""
    current = slot_map.at(page)
    if current is None or current.state is not SlotState.PENDING_DELETE:
        return slot_map
    return slot_map.without(page)

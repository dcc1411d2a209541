"""The kiosk as a station: its module, owned by a ``Reader``, filled from the station's bundle.

Owns ``Station`` and ``open_module``. A station is paired like a door (``doorward pair``
with a code for a station record): its signed bundle carries every finger of its module
identity up to the module's capacity, and the door-side reconcile (``daemon/library/reconcile.py``,
run by ``daemon/reader/thread.py``) loads them into the module, so the duplicate Search covers the
site. The bundle is long-polled with the station's token on a ``ServerConnection`` and
verified with ``doorward.daemon.codec.bundle`` against the pinned server key, by the door's own sync client
(``daemon/sync/client.py``), whose heartbeat reports the applied and reconciled versions, so the
server can confirm that an erased person left the station's module too. The slot map lives
in memory (``MemorySlotStore``): after a restart the reconcile pass re-verifies the module
against a fresh bundle.

The station's module is bound like a door's (``daemon/storage/module_record.py``): ``doorward pair``
binds it when the port is free and records its identity in the state directory, or leaves a
one-shot bind request; a fresh, foreign or other-identity module found at start is a tamper
alarm and receives no password, token or template (promise 8), which matters more here than
at a door, since a station's library covers the whole site.

The station's token is used for nothing else: every write goes through the operator's
session (``enrol/server_api.py``). Enrolment steps run as one reader job each, so reconcile,
health checks and the reader's scans never interleave with them on the UART.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from doorward.daemon.codec import bundle
from doorward.daemon.codec.alarms import Alarm
from doorward.daemon.access.claim import SlotState
from doorward.daemon.storage.credentials import Credentials
from doorward.daemon.errors import DoorwardError
from doorward.daemon.library.reconcile import MemorySlotStore, sealed_templates
from doorward.daemon.storage.module_record import BindingStore
from doorward.daemon.config.module import ServerConfig
from doorward.daemon.reader.thread import Reader
from doorward.daemon.reader.jobs import Priority
from doorward.daemon.reader.types import ModuleCredential, ReaderSettings, ReaderStatus
from doorward.daemon.library.slotmap import plan_slot_map
from doorward.daemon.codec.snapshot import Snapshot
from doorward.daemon.sync.client import SyncClient
from doorward.drivers.r30x.errors import PortLost
from doorward.drivers.r30x.sensor import R30xSensor
from doorward.enrol.strings import say

log = logging.getLogger(__name__)


class PortHeld(DoorwardError):
    """The module's port cannot be opened (another program holds it, or it is missing)."""


def open_module(url: str, baud: int = 57_600, timeout_s: float = 1.0) -> R30xSensor:
    """Open the port exclusively; a held port fails at once with a message saying so."""
    try:
        return R30xSensor.from_url(url, baud=baud, timeout_s=timeout_s)
    except PortLost as error:
        raise PortHeld(f"{say('port_held', port=url)} ({error})") from error


class Station:
    def __init__(self, sensor: R30xSensor, credentials: Credentials, *,
                 binding_store: BindingStore, settings: ReaderSettings = ReaderSettings(),
                 long_poll_s: float = 20.0, ca_file: str | None = None) -> None:  # fmt: skip
        self.credentials = credentials
        self.store = _ReportingSlotStore(self._report_now)
        self._snapshot: Snapshot | None = None
        self._stop = threading.Event()
        self._long_poll_s, self.ca_file = long_poll_s, ca_file
        self.status = ReaderStatus(False, "starting", False)
        self._status_changed = threading.Condition()
        module = ModuleCredential(credentials.module_password, credentials.binding_token_bytes())
        self.reader = Reader(sensor, module, self.store,
                             sealed_templates(lambda: self._snapshot, credentials.door_key()),
                             on_claim=lambda claim: None, on_lift=lambda: None,
                             on_status=self._on_status, on_alarm=self._on_alarm,
                             settings=settings, binding_store=binding_store)  # fmt: skip
        config = ServerConfig(credential="", ca_file=ca_file, request_deadline_s=10.0,
                              max_response_bytes=8 * 1024 * 1024, long_poll_s=long_poll_s)
        self._sync = SyncClient(credentials, config, apply_bundle=self._apply_quietly,
                                journal=_NoEvents(), heartbeat=self._heartbeat,
                                sync_interval_s=self._interval_s)  # fmt: skip

    # ---- life ----

    def start(self) -> None:
        self.reader.start()
        self._sync.start()

    def stop(self) -> None:
        self._stop.set()
        with self._status_changed:
            self._status_changed.notify_all()  # a bundle waiting for the identity gives up
        self._sync.stop()
        self.reader.stop()

    def wait_ready(self, timeout_s: float = 10.0) -> ReaderStatus:
        """Until the module is bound, checked and reconciled to a bundle."""
        with self._status_changed:
            self._status_changed.wait_for(self._ready, timeout_s)
        return self.status

    def _ready(self) -> bool:
        return (self.status.biometric_ready and not self.status.reconciling
                and self._snapshot is not None and self.store.reconciled_version is not None)

    def run(self, job: Callable[[R30xSensor], Any], name: str = "enrol") -> Future:
        """A job on the module thread, ahead of reconcile and health checks."""
        return self.reader.submit(job, Priority.LED, name)

    # ---- what the duplicate check needs ----

    @property
    def module_identity(self) -> str:
        return self.status.module_identity or ""

    def owner_at(self, page: int) -> tuple[str, str] | None:
        """(person id, finger id) of an active page of the library, else None."""
        slot = self.store.slot_map().at(page)
        snapshot = self._snapshot
        if slot is None or snapshot is None or slot.state is not SlotState.ACTIVE:
            return None
        entry = snapshot.index.fingers.get(slot.finger_id)
        return None if entry is None else (entry.user.user_id, slot.finger_id)

    def pages_of(self, finger_id: str) -> set[int]:
        slot = self.store.slot_map().of_finger(finger_id)
        return set() if slot is None else {slot.page}

    def active_pages(self) -> int:
        return sum(1 for slot in self.store.slot_map().slots if slot.state is SlotState.ACTIVE)

    # ---- the bundle ----

    def _apply_quietly(self, envelope: bytes) -> None:
        try:
            self.apply(envelope)
        except bundle.BundleError as error:
            log.warning("station bundle refused: %s", error)

    def _heartbeat(self) -> dict[str, Any]:
        status, snapshot = self.status, self._snapshot
        return {"applied_version": snapshot.version if snapshot else None,
                "reconciled_version": self.store.reconciled_version,
                "module_identity": status.module_identity or None,
                "reader_state": status.detail}  # fmt: skip

    def _interval_s(self) -> float:
        return self._snapshot.policy.sync_interval_s if self._snapshot else 30.0

    def _report_now(self) -> None:
        self._sync.report_now()

    def apply(self, envelope: bytes) -> None:
        """Verify a station bundle, plan the slot map, and start a reconcile pass."""
        snapshot = bundle.verify_bundle(envelope, self.credentials.trusted_keys(),
                                        door_id=self.credentials.device_id)  # fmt: skip
        if self._snapshot is not None and snapshot.version <= self._snapshot.version:
            return  # an old or repeated bundle: rollback-proof like a door
        identity = self._wait_identity()
        capacity = self.run(lambda sensor: sensor.params.capacity, "capacity").result(10)
        plan = plan_slot_map(self.store.slot_map(), snapshot, identity, capacity)
        snapshot.index  # built now, not during a job
        self._snapshot = snapshot
        self.store.save_slot_map(plan.slot_map)
        self.reader.request_reconcile(snapshot.version)

    def _wait_identity(self) -> str:
        with self._status_changed:
            self._status_changed.wait_for(lambda: self.status.module_identity or self._stop.is_set())
        return self.module_identity

    def _on_status(self, status: ReaderStatus) -> None:
        with self._status_changed:
            self.status = status
            self._status_changed.notify_all()

    def _on_alarm(self, alarm: Alarm) -> None:
        log.error("station module alarm %s: %s", alarm.kind.value, alarm.detail)


class _NoEvents:
    """A station journals nothing: the feed the sync client uploads stays empty."""

    journal_id = "station"

    def unacknowledged(self, limit: int) -> list:
        return []

    def acknowledge(self, up_to_seq: int) -> None:
        pass

    def resend_from(self, seq: int) -> bool:
        return True


class _ReportingSlotStore(MemorySlotStore):
    """The in-memory slot map, telling the heartbeat when the module is reconciled."""

    def __init__(self, on_reconciled: Callable[[], None]) -> None:
        super().__init__()
        self._on_reconciled = on_reconciled

    def set_reconciled_version(self, version: int) -> None:
        super().set_reconciled_version(version)
        self._on_reconciled()

"""Building the door's edges from the configuration, each one allowed to be missing.

Owns ``StartProblems`` and the ``open_*`` builders the service composes: the GPIO
(``open_gpio`` under ``DoorHardware``), the credential, the encrypted permission cache, the
durable journal, and the reader builder (module client on the configured URL, touch line,
slot store, sealed templates). Degraded, not dead: a missing or unsafe credential, a cache
that cannot be opened, or a module that is not there disables only the biometric grant
path; each problem becomes an alarm and a line in the status file, and the exit button, the
fire input and supervision keep working. Only the GPIO and the journal are required: without
the relay there is no door, and without the journal no decision may be made (every decision
is journalled before the relay moves).

A door that is not paired yet journals to ``journal-unpaired.db`` under a placeholder door
id, so pairing later starts ``journal.db`` fresh under the real id.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from doorward.daemon.codec.alarms import Alarm, AlarmKind
from doorward.daemon.storage.cache import CacheDamaged, CacheError, PermissionCache
from doorward.daemon.access.claim import Claim
from doorward.daemon.config.loader import Config
from doorward.daemon.storage.credentials import CredentialError, Credentials, load_credentials
from doorward.daemon.journal.store import EventJournal
from doorward.daemon.journal.door_journal import DoorJournal
from doorward.daemon.journal.loss import LostRange
from doorward.daemon.journal.upload import Stamp
from doorward.daemon.library.reconcile import SlotChange, sealed_templates
from doorward.daemon.storage.module_record import ModuleRecordStore
from doorward.daemon.reader.thread import Reader
from doorward.daemon.reader.types import ModuleCredential, ReaderSettings, ReaderStatus
from doorward.daemon.library.slotmap import SlotMap
from doorward.drivers.gpio import DoorHardware, open_gpio
from doorward.drivers.r30x.sensor import R30xSensor

log = logging.getLogger(__name__)

UNPAIRED_DOOR_ID = "unpaired"


@dataclass
class StartProblems:
    """What is missing at start: (alarm kind, detail), raised once the journal is open."""

    items: list[Alarm] = field(default_factory=list)

    def add(self, kind: AlarmKind, detail: str) -> None:
        log.error("%s: %s", kind.value, detail)
        self.items.append(Alarm(kind, detail))


@dataclass(frozen=True)
class ReaderCallbacks:
    on_claim: Callable[[Claim], None]
    on_lift: Callable[[], None]
    on_status: Callable[[ReaderStatus], None]
    on_alarm: Callable[[str, str], None]
    on_reconciled: Callable[[int], None] = lambda version: None
    on_event: Callable[[str, dict], None] = lambda kind, detail: None  # journal records


def open_hardware(config: Config) -> DoorHardware:
    return DoorHardware(open_gpio(config.hardware.backend(), client="doorward-run"),
                        config.hardware.door_pins())


def open_credentials(config: Config, problems: StartProblems) -> Credentials | None:
    try:
        return load_credentials(Path(config.server.credential))
    except CredentialError as error:
        problems.add(AlarmKind.BIOMETRIC_DISABLED, f"no usable credential: {error}")
        return None


def open_cache(config: Config, credentials: Credentials, problems: StartProblems) -> PermissionCache | None:
    """The cache's key lives in the door's credential (encrypted by systemd-creds on a Pi),
    never in a file beside the cache it protects."""
    storage = config.storage
    try:
        key = credentials.cache_key_bytes()
        try:
            return PermissionCache(storage.cache_path, key)
        except CacheDamaged as damaged:  # the server re-sends everything; the backstop stays
            problems.add(AlarmKind.CACHE_DAMAGED, f"{damaged}; starting from an empty cache")
            PermissionCache.wipe(storage.cache_path)
            return PermissionCache(storage.cache_path, key)
    except (CacheError, OSError) as error:
        problems.add(AlarmKind.BIOMETRIC_DISABLED, f"the permission cache cannot be opened: {error}")
        return None


def open_journal(config: Config, credentials: Credentials | None, stamp: Callable[[], Stamp],
                 on_loss: Callable[[LostRange], None],
                 on_chain_break: Callable[[int, str], None]) -> DoorJournal:
    """The door's journal (``journal.db``, or ``journal-unpaired.db`` until paired), telling
    ``on_loss`` of every declared loss and ``on_chain_break`` of a record that fails its hash."""
    storage = config.storage
    path, door_id = storage.journal_path, UNPAIRED_DOOR_ID
    if credentials is not None:
        door_id = credentials.device_id
    else:
        path = path.with_name("journal-unpaired.db")
    journal = EventJournal(path, door_id, retention_s=storage.journal_retention_s,
                           max_acknowledged_rows=storage.journal_max_acknowledged_rows,
                           min_free_bytes=storage.journal_min_free_bytes)
    return DoorJournal(journal, stamp, max_pending=storage.journal_max_pending,
                       on_loss=on_loss, on_chain_break=on_chain_break)


class CacheSlotStore:
    """The cache as the reader's ``SlotStore``; progress is recorded only over an applied
    snapshot (an empty cache has no slots to record)."""

    def __init__(self, cache: PermissionCache,
                 on_reconciled: Callable[[int], None] = lambda version: None) -> None:
        self._cache = cache
        self._on_reconciled = on_reconciled  # the heartbeat tells the server at once

    def slot_map(self) -> SlotMap:
        return self._cache.slot_map()

    def update_slot_map(self, change: SlotChange) -> SlotMap:
        if self._cache.applied_version() is None:
            return self._cache.slot_map()
        return self._cache.update_slot_map(change)

    def set_reconciled_version(self, version: int) -> None:
        applied = self._cache.applied_version()
        if applied is not None and version <= applied:
            self._cache.set_reconciled_version(version)
            self._on_reconciled(version)


def reader_settings(config: Config) -> ReaderSettings:
    # The reader's own idle health check is the fallback; the supervisor's, every
    # health_interval_s with its own deadline, normally keeps the line busy enough.
    return ReaderSettings(poll_interval_s=config.module.poll_interval_ms / 1000,
                          health_interval_s=2 * config.daemon.health_interval_s)


def reader_builder(config: Config, hardware: DoorHardware, credentials: Credentials,
                   cache: PermissionCache, pulse: Callable[[], float],
                   callbacks: ReaderCallbacks) -> Callable[[], tuple[Reader, R30xSensor]]:
    """A function that opens the module's port and builds the reader (PortLost if absent).

    The module is checked against the identity recorded in the state directory and bound
    only on a bind request there (``daemon/storage/module_record.py``): never merely because it is
    factory-fresh, so a module swapped in while the door was off gets no password and no
    template."""
    module = config.module

    def build() -> tuple[Reader, R30xSensor]:
        sensor = R30xSensor.from_url(module.url, baud=module.baud, timeout_s=module.timeout_s,
                                     password=credentials.module_password, clock=pulse)
        credential = ModuleCredential(credentials.module_password,
                                      credentials.binding_token_bytes())
        reader = Reader(
            sensor, credential, CacheSlotStore(cache, callbacks.on_reconciled),
            sealed_templates(cache.snapshot, credentials.door_key()),
            on_claim=callbacks.on_claim, on_lift=callbacks.on_lift,
            on_status=callbacks.on_status, on_alarm=callbacks.on_alarm,
            settings=reader_settings(config),
            touch=hardware if config.hardware.module_touch else None,
            binding_store=ModuleRecordStore(config.storage.state_dir),
            on_event=callbacks.on_event, version=cache.applied_version(), clock=pulse)
        return reader, sensor

    return build

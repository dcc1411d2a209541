"""Module reconcile: the planner, and the executor against the simulated module."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from doorward.daemon.codec.bundle import generate_door_keys, template_sha256
from doorward.daemon.storage.cache import PermissionCache
from doorward.daemon.access.claim import SlotState
from doorward.daemon.codec.alarms import AlarmKind
from doorward.daemon.library.reconcile import (
    MemorySlotStore,
    Reconciler,
    sealed_templates,
)
from doorward.daemon.library.plan import Step, StepKind, StepReason, plan_reconcile
from doorward.daemon.runtime.build import CacheSlotStore
from doorward.daemon.library.slotmap import SlotMap, plan_slot_map
from doorward.drivers.r30x.errors import ModuleRejected
from doorward.drivers.r30x.protocol import Command, Confirmation, PacketType
from tests.unit.test_reader_rig import (
    Rig,
    enrolled_template,
    sealed_snapshot,
    slot,
    slot_map,
    templates_of,
)

ACTIVE, LOAD, DELETE = SlotState.ACTIVE, SlotState.PENDING_LOAD, SlotState.PENDING_DELETE
FINGERS = ("f-alice", "f-bob", "f-carol", "f-dave")


@pytest.fixture
def rig() -> Iterator[Rig]:
    rig = Rig("r503")
    rig.sensor.open()
    yield rig
    rig.close()


class Run:
    """A reconciler over the rig with an in-memory store and plaintext templates."""

    def __init__(self, rig: Rig, slots: SlotMap, sensor=None, templates=None) -> None:
        self.store = MemorySlotStore(slots)
        self.alarms: list[tuple[str, str]] = []
        self.templates = templates or templates_of(rig.model, *FINGERS)
        source = self.templates.__getitem__ if isinstance(self.templates, dict) else self.templates
        self.reconciler = Reconciler(sensor or rig.sensor, self.store, source,
                                     lambda alarm: self.alarms.append((alarm.kind, alarm.detail)))

    def to_end(self, version: int = 9, **kwargs) -> int:
        self.reconciler.start(version, **kwargs)
        steps = 1
        while self.reconciler.step():
            steps += 1
            assert steps < 200, "reconcile does not finish"
        return steps


def module_hashes(rig: Rig) -> dict[int, str]:
    return {page: template_sha256(blob) for page, blob in rig.module.flash.library.items()}


def map_hashes(store: MemorySlotStore) -> dict[int, str]:
    return {s.page: s.template_sha256 for s in store.slot_map().slots}


def record_commands(rig: Rig) -> list[int]:
    """The instruction codes the client sends, in order (the link's host end is wrapped)."""
    sent: list[int] = []
    write = rig.link.host.write

    def recording_write(data: bytes) -> None:
        if data[6] == PacketType.COMMAND:
            sent.append(data[9])
        write(data)

    rig.link.host.write = recording_write  # type: ignore[method-assign]
    return sent


# ---- the planner ----


def test_plan_deletes_first_then_loads_and_verifies() -> None:
    t = templates_of("r503", *FINGERS)
    slots = SlotMap.of([
        slot(0, "f-alice", t["f-alice"], ACTIVE),  # present: nothing to do
        slot(1, "f-bob", t["f-bob"], ACTIVE),  # missing
        slot(2, "f-carol", t["f-carol"], LOAD),  # not in the module
        slot(3, "f-dave", t["f-dave"], DELETE),  # revoked
        slot(4, "f-erin", b"x", LOAD),  # occupied already: verify before loading
        slot(5, "f-fred", b"y", ACTIVE),  # suspect
    ])  # fmt: skip
    plan = plan_reconcile(slots, occupied_pages={0, 3, 4, 5, 9}, suspect_pages={5})
    assert plan == [
        Step(StepKind.DELETE, 3, StepReason.PENDING_DELETE),
        Step(StepKind.DELETE, 9, StepReason.EXTRA),
        Step(StepKind.LOAD, 1, StepReason.MISSING),
        Step(StepKind.LOAD, 2, StepReason.PENDING_LOAD),
        Step(StepKind.VERIFY, 4, StepReason.UNVERIFIED, attempt=0),
        Step(StepKind.VERIFY, 5, StepReason.SUSPECT, attempt=0),
    ]
    assert plan_reconcile(SlotMap.of([slots.slots[0]]), {0}) == []


# ---- the executor ----


def test_missing_extra_and_revoked_slots_are_repaired_deletions_first(rig: Rig) -> None:
    t = templates_of("r503", *FINGERS)
    rig.store_raw(0, t["f-alice"])  # active and present
    rig.store_raw(3, t["f-dave"])  # revoked, still in the module
    rig.store_raw(7, t["f-carol"])  # extra: nobody in the map
    slots = slot_map("r503", {0: ("f-alice", ACTIVE), 1: ("f-bob", ACTIVE),
                              2: ("f-carol", LOAD), 3: ("f-dave", DELETE)})  # fmt: skip
    commands = record_commands(rig)
    run = Run(rig, slots)
    run.to_end(version=9)
    assert run.alarms == []
    assert rig.occupied() == {0, 1, 2}
    assert module_hashes(rig) == map_hashes(run.store)
    assert all(s.state is ACTIVE for s in run.store.slot_map().slots)
    assert run.store.reconciled_version == 9
    deletes = [i for i, c in enumerate(commands) if c == Command.DELETE_CHAR]
    downloads = [i for i, c in enumerate(commands) if c == Command.DOWN_CHAR]
    assert len(deletes) == 2 and len(downloads) == 2 and max(deletes) < min(downloads)


def test_an_altered_slot_is_found_by_the_periodic_verify_and_repaired(rig: Rig) -> None:
    t = templates_of("r503", *FINGERS)
    rig.store_raw(0, t["f-alice"])
    rig.store_raw(1, t["f-carol"])  # page 1 should hold bob: the content was swapped
    run = Run(rig, slot_map("r503", {0: ("f-alice", ACTIVE), 1: ("f-bob", ACTIVE)}))
    run.to_end(version=4)  # the index table looks right: an ordinary pass sees nothing
    assert rig.module.flash.library[1] == t["f-carol"] and run.store.reconciled_version == 4
    run.to_end(version=5, verify_all=True)
    assert rig.module.flash.library[1] == t["f-bob"]
    assert run.store.reconciled_version == 5 and run.alarms == []


def test_a_template_corrupted_in_transfer_is_caught_by_its_hash_and_retried(rig: Rig) -> None:
    class CorruptFirstDownload:
        """One DownChar whose data is damaged before framing: every packet checksum is
        right, so only the read-back hash can notice."""

        def __init__(self, sensor) -> None:
            self._sensor, self.corrupted = sensor, 0

        def down_char(self, buffer_id: int, data: bytes) -> None:
            if not self.corrupted:
                self.corrupted += 1
                data = data[:100] + bytes([data[100] ^ 0x10]) + data[101:]
            self._sensor.down_char(buffer_id, data)

        def __getattr__(self, name: str):
            return getattr(self._sensor, name)

    sensor = CorruptFirstDownload(rig.sensor)
    run = Run(rig, slot_map("r503", {0: ("f-alice", LOAD)}), sensor=sensor)
    run.to_end()
    assert sensor.corrupted == 1 and run.alarms == []
    assert rig.module.flash.library[0] == run.templates["f-alice"]
    assert run.store.slot_map().state_of(0) is ACTIVE


def test_line_bitflips_during_loads_never_leave_a_wrong_page_active(rig: Rig) -> None:
    rig.control({"seed": 3, "fault": {"kind": "bitflip", "rate": 2e-4, "direction": "to_module"}})
    pages = {page: (fid, LOAD) for page, fid in enumerate(FINGERS)}
    run = Run(rig, slot_map("r503", pages))
    run.reconciler.start(1)
    for _ in range(200):
        try:
            if not run.reconciler.step():
                break
        except Exception:  # a garbled reply the driver could not retry: the reader retries
            pass
    rig.control({"fault": None})
    for s in run.store.slot_map().slots:  # active only where the module holds the exact bytes
        if s.state is ACTIVE:
            assert template_sha256(rig.module.flash.library[s.page]) == s.template_sha256
    run.to_end(version=2)
    assert run.store.reconciled_version == 2
    assert module_hashes(rig) == map_hashes(run.store)


def test_a_load_that_never_verifies_raises_an_alarm_and_records_nothing(rig: Rig) -> None:
    class AlwaysCorrupt:
        def __init__(self, sensor) -> None:
            self._sensor = sensor

        def down_char(self, buffer_id: int, data: bytes) -> None:
            self._sensor.down_char(buffer_id, bytes([data[0] ^ 1]) + data[1:])

        def __getattr__(self, name: str):
            return getattr(self._sensor, name)

    run = Run(rig, slot_map("r503", {0: ("f-alice", LOAD)}), sensor=AlwaysCorrupt(rig.sensor))
    run.to_end()
    assert [kind for kind, _ in run.alarms] == [AlarmKind.TEMPLATE_VERIFY_FAILED]
    assert run.store.slot_map().state_of(0) is LOAD and run.store.reconciled_version is None


def test_library_full_raises_an_alarm_and_stops_loading(rig: Rig) -> None:
    class FullLibrary:
        def __init__(self, sensor) -> None:
            self._sensor = sensor

        def store(self, buffer_id: int, page: int) -> None:
            raise ModuleRejected(Confirmation.LIBRARY_FULL, "STORE")

        def __getattr__(self, name: str):
            return getattr(self._sensor, name)

    pages = {0: ("f-alice", LOAD), 1: ("f-bob", LOAD)}
    run = Run(rig, slot_map("r503", pages), sensor=FullLibrary(rig.sensor))
    run.to_end()
    assert [kind for kind, _ in run.alarms] == [AlarmKind.MODULE_LIBRARY_FULL]
    assert run.store.reconciled_version is None and not run.reconciler.matched


def test_a_page_beyond_the_module_capacity_is_an_alarm(rig: Rig) -> None:
    run = Run(rig, slot_map("r503", {0: ("f-alice", LOAD), 250: ("f-bob", LOAD)}))
    run.to_end()
    assert [kind for kind, _ in run.alarms] == [AlarmKind.MODULE_PAGE_OUT_OF_RANGE]
    assert run.store.slot_map().state_of(0) is ACTIVE and rig.occupied() == {0}
    assert run.store.reconciled_version is None


def test_sealed_templates_open_with_the_door_key_just_before_download(rig: Rig) -> None:
    templates = templates_of("r503", "f-alice", "f-bob")
    snapshot = sealed_snapshot(templates, rig.door_key, "model=R503")
    source = sealed_templates(lambda: snapshot, rig.door_key)
    run = Run(rig, slot_map("r503", {0: ("f-alice", LOAD), 1: ("f-bob", LOAD)}), templates=source)
    run.to_end(version=3)
    assert run.store.reconciled_version == 3 and rig.occupied() == {0, 1}
    stranger = sealed_templates(lambda: snapshot, generate_door_keys())
    run = Run(rig, slot_map("r503", {2: ("f-alice", LOAD)}), templates=stranger)
    run.to_end()
    assert [kind for kind, _ in run.alarms] == [AlarmKind.TEMPLATE_UNAVAILABLE]


def test_a_page_revoked_while_loading_is_not_marked_active(rig: Rig) -> None:
    run = Run(rig, slot_map("r503", {0: ("f-alice", LOAD)}))
    run.reconciler.start(1)
    run.reconciler.step()  # index read
    run.reconciler.step()  # DownChar + Store
    run.store.save_slot_map(run.store.slot_map().with_state(0, DELETE))  # a newer snapshot
    run.reconciler.step()  # read-back verifies, but the page is no longer the map's to load
    assert run.store.slot_map().state_of(0) is DELETE
    while run.reconciler.step():
        pass
    assert 0 not in rig.occupied() and run.store.slot_map().slots == ()
    assert enrolled_template("r503", "f-alice")  # cached for the other tests


class ApplyLandsBeforeTheWrite:
    """The door's real slot store over the permission cache, where the sync thread's apply of
    the next bundle lands at the worst moment: after reconcile has decided to mark ``page``
    active and before its write reaches the cache. The apply runs on its own thread, joined
    before the write goes on, so the interleaving is the same on every run."""

    def __init__(self, inner: CacheSlotStore, page: int, land) -> None:  # noqa: ANN001
        self._inner, self._page, self._land = inner, page, land

    def slot_map(self) -> SlotMap:
        return self._inner.slot_map()

    def save_slot_map(self, slot_map: SlotMap) -> None:  # a blind write of a map read earlier
        self._maybe_land(slot_map)
        self._inner._cache.save_slot_map(slot_map)  # noqa: SLF001

    def update_slot_map(self, change):  # noqa: ANN001, ANN201
        self._maybe_land(change(self._inner.slot_map()))  # what the write intends, as of now
        return self._inner.update_slot_map(change)

    def set_reconciled_version(self, version: int) -> None:
        self._inner.set_reconciled_version(version)

    def _maybe_land(self, intended: SlotMap) -> None:
        if self._land is not None and intended.state_of(self._page) is ACTIVE:
            sync = threading.Thread(target=self._land, name="sync-apply")
            self._land = None
            sync.start()
            sync.join(10)
            assert not sync.is_alive()


def test_a_revocation_applied_while_reconcile_marks_the_page_is_never_undone(
        rig: Rig, tmp_path: Path) -> None:  # fmt: skip
    identity, capacity = rig.sensor.module_identity(), rig.sensor.params.capacity
    templates = templates_of("r503", "f-alice", "f-bob")
    version_1 = sealed_snapshot(templates, rig.door_key, identity, version=1)
    version_2 = sealed_snapshot({"f-bob": templates["f-bob"]}, rig.door_key, identity, version=2)
    key = bytes(range(32))
    cache = PermissionCache(tmp_path / "cache.db", key)

    def apply(snapshot) -> None:  # noqa: ANN001 - what BundleApplier does on the sync thread
        cache.apply(snapshot, plan_slot_map(cache.slot_map(), snapshot, identity, capacity).slot_map)

    apply(version_1)
    alice = cache.slot_map().of_finger("f-alice")
    assert alice is not None and alice.state is LOAD
    store = ApplyLandsBeforeTheWrite(CacheSlotStore(cache), alice.page, lambda: apply(version_2))
    reconciler = Reconciler(rig.sensor, store, sealed_templates(cache.snapshot, rig.door_key),
                            lambda kind, detail: None)
    for target in (1, 2):  # the pass that was running, then the one the apply asks for
        reconciler.start(target)
        while reconciler.step():
            pass
    cache.close()
    reopened = PermissionCache(tmp_path / "cache.db", key)
    assert reopened.applied_version() == 2
    assert reopened.slot_map().of_finger("f-alice") is None  # the revocation stands on disk
    assert alice.page not in rig.occupied()  # and the template left the module
    assert reopened.reconciled_version() == 2 and rig.occupied() == {
        reopened.slot_map().of_finger("f-bob").page}
    reopened.close()


def test_a_page_revoked_just_before_its_download_is_never_sent_to_the_module(rig: Rig) -> None:
    run = Run(rig, slot_map("r503", {0: ("f-alice", LOAD)}))
    sent = record_commands(rig)
    run.reconciler.start(1)
    run.reconciler.step()  # index read; the plan loads page 0
    read = run.store.slot_map

    def read_then_revoked() -> SlotMap:  # the sync thread's apply lands after this read
        current = read()
        run.store.slot_map = read
        run.store.save_slot_map(current.with_state(0, DELETE))
        return current

    run.store.slot_map = read_then_revoked
    while run.reconciler.step():
        pass
    assert Command.DOWN_CHAR not in sent  # the revoked template never crossed the cable
    assert 0 not in rig.occupied() and run.store.slot_map().slots == ()

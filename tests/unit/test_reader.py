"""The reader thread against the simulated module: claims, lifts, faults, tamper, priorities."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import pytest

from doorward.daemon.reader.binding import bind_module
from doorward.daemon.access.claim import Claim, ClaimKind, SlotState
from doorward.daemon.library.reconcile import MemorySlotStore
from doorward.daemon.storage.module_record import BindRequest, MemoryBindingStore
from doorward.daemon.reader.thread import Reader
from doorward.daemon.codec.alarms import AlarmKind
from doorward.daemon.reader.types import ModuleCredential, ReaderSettings, ReaderStatus
from doorward.daemon.library.slotmap import SlotMap
from doorward.drivers.r30x.protocol import DEFAULT_PASSWORD, Command
from doorward.drivers.r30x.sensor import R30xSensor
from doorward.sim.module.link import MemoryLink
from doorward.sim.module.r30x import SimulatedR30x
from tests.unit.test_library import record_commands
from tests.unit.test_reader_rig import Recorder, Rig, enrolled_template, sim_finger, slot_map

ACTIVE, LOAD, DELETE = SlotState.ACTIVE, SlotState.PENDING_LOAD, SlotState.PENDING_DELETE
PASSWORD, TOKEN = 0x5EC0_2E7D, b"door-1 binding token".ljust(32, b"!")
CREDENTIAL = ModuleCredential(PASSWORD, TOKEN)
FAST = ReaderSettings(poll_interval_s=0.03, lift_poll_s=0.03, health_interval_s=0.2,
                      offline_retry_s=0.05, module_check_interval_s=0.3)  # fmt: skip


class Door:
    """A bound simulated module, a slot store and a reader with recorded callbacks."""

    def __init__(self, pages: dict[int, tuple[str, SlotState]], *, model: str = "r503",
                 realtime: bool = False, present: dict[int, str] | None = None,
                 settings: ReaderSettings = FAST, bind: bool = True,
                 binding: MemoryBindingStore | None = None) -> None:  # fmt: skip
        self.rig = Rig(model, realtime=realtime)
        if bind:
            bind_module(self.rig.sensor, PASSWORD, TOKEN)
        for page, finger_id in (present or {}).items():
            self.rig.store_raw(page, enrolled_template(model, finger_id))
        self.store = MemorySlotStore(slot_map(model, pages))
        self.recorder = Recorder()
        self.events: list[tuple[str, dict]] = []
        self.templates = {fid: enrolled_template(model, fid) for fid, _ in pages.values()}
        self.reader = self.reader_on(self.rig.sensor, CREDENTIAL, binding, settings=settings)

    def reader_on(self, sensor: R30xSensor, credential: ModuleCredential,
                  binding: MemoryBindingStore | None = None, **kwargs) -> Reader:  # fmt: skip
        return Reader(sensor, credential, self.store, self.templates.__getitem__,
                      settings=kwargs.pop("settings", FAST), version=1, binding_store=binding,
                      on_event=lambda kind, detail: self.events.append((kind, detail)),
                      **self.recorder.callbacks(), **kwargs)  # fmt: skip

    def start(self, wait_reconciled: bool = True) -> None:
        self.reader.start()
        if wait_reconciled:
            self.status(lambda s: s.biometric_ready and not s.reconciling)

    def status(self, where, timeout_s: float = 3.0) -> ReaderStatus:
        return self.recorder.next("status", timeout_s, where)

    def scan(self, finger: str, timeout_s: float = 3.0) -> Claim:
        self.rig.control({"place": finger})
        claim = self.recorder.next("claim", timeout_s)
        self.rig.control({"lift": True})
        self.recorder.next("lift", timeout_s)
        return claim

    def close(self) -> None:
        self.reader.stop()
        self.rig.close()


@pytest.fixture
def door() -> Iterator[Door]:
    door = Door({0: ("f-alice", ACTIVE), 7: ("f-bob", ACTIVE)},
                present={0: "f-alice", 7: "f-bob"})  # fmt: skip
    yield door
    door.close()


def test_enrolled_unknown_and_messy_fingers_each_give_a_claim_and_a_lift(door: Door) -> None:
    door.start()
    hit = door.scan(sim_finger("f-alice"))
    assert (hit.kind, hit.page, hit.slot_state) == (ClaimKind.HIT, 0, ACTIVE)
    assert hit.finger_id == "f-alice"
    assert hit.match_confirmed and hit.module_identity == door.reader.status.module_identity
    assert hit.module_identity and hit.module_identity.startswith("model=R503")
    assert door.scan("zed/left-thumb") == Claim.unknown()
    door.rig.control({"messy_rate": 1.0})
    assert door.scan(sim_finger("f-alice")) == Claim.poor_image()


def test_a_lying_module_naming_an_empty_page_gives_an_unconfirmed_empty_claim(door: Door) -> None:
    door.start()
    door.rig.control({"lie": {"page": 5, "score": 200}})
    claim = door.scan(sim_finger("f-alice"))
    assert (claim.page, claim.slot_state, claim.finger_id) == (5, SlotState.EMPTY, None)
    assert not claim.match_confirmed


def test_a_lie_naming_another_fingers_active_page_fails_the_match(door: Door) -> None:
    door.start()
    door.rig.control({"lie": {"page": 7, "score": 200}})
    claim = door.scan(sim_finger("f-alice"))
    assert (claim.page, claim.slot_state, claim.finger_id) == (7, ACTIVE, "f-bob")
    assert not claim.match_confirmed


def test_a_revoked_finger_during_reconcile_is_pending_delete_not_tamper() -> None:
    door = Door({0: ("f-alice", ACTIVE), 3: ("f-dave", DELETE)},
                present={0: "f-alice", 3: "f-dave"})  # fmt: skip
    try:
        door.rig.control({"place": sim_finger("f-dave")})  # on the glass before the pass runs
        door.start(wait_reconciled=False)
        claim = door.recorder.next("claim")
        assert (claim.page, claim.slot_state, claim.finger_id) == (3, DELETE, "f-dave")
        door.rig.control({"lift": True})
        door.recorder.next("lift")
        door.status(lambda s: s.biometric_ready and not s.reconciling)
        assert door.rig.occupied() == {0} and door.store.reconciled_version == 1
    finally:
        door.close()


def test_silence_is_reported_offline_within_two_seconds_and_recovers(door: Door) -> None:
    door.start()
    door.rig.control({"fault": {"kind": "silence"}})
    started = time.monotonic()
    offline = door.status(lambda s: not s.online)
    assert time.monotonic() - started < 2.0 and "no reply" in offline.detail
    door.rig.control({"fault": None})
    door.status(lambda s: s.online and s.biometric_ready)
    assert door.scan(sim_finger("f-alice")).match_confirmed


def test_an_unplugged_port_is_reopened_without_a_restart(door: Door) -> None:
    door.start()
    door.rig.control({"fault": {"kind": "unplug", "ms": 400}})
    assert "port lost" in door.status(lambda s: not s.online).detail
    door.status(lambda s: s.online and s.biometric_ready)
    assert door.scan(sim_finger("f-alice")).match_confirmed


def test_a_module_reset_is_recovered_and_scans_go_on(door: Door) -> None:
    door.start()
    door.rig.control({"power_cycle": True})  # R503: RAM lost, a bare 0x55 when ready
    door.status(lambda s: s.reconciling)  # the binding check ran again and a pass started
    door.status(lambda s: s.biometric_ready and not s.reconciling)
    assert door.scan(sim_finger("f-alice")).match_confirmed
    assert door.recorder.alarms == []


def test_a_module_without_our_token_is_a_tamper_alarm_and_scans_stop() -> None:
    door = Door({0: ("f-alice", ACTIVE)}, present={0: "f-alice"}, bind=False)
    try:
        bind_module(door.rig.sensor, PASSWORD, b"another door's token")
        door.start(wait_reconciled=False)
        kind, detail = door.recorder.next("alarm")
        assert kind == AlarmKind.TAMPER and "foreign" in detail
        status = door.status(lambda s: s.online)
        assert not status.biometric_ready
        door.rig.control({"place": sim_finger("f-alice")})
        with pytest.raises(AssertionError):
            door.recorder.next("claim", timeout_s=0.3)
    finally:
        door.close()


class SwitchableTransport:
    """The cable: lets a test swap the module behind a running reader."""

    name = "switchable"

    def __init__(self, link: MemoryLink) -> None:
        self.link = link

    def write(self, data: bytes) -> None:
        self.link.host.write(data)

    def read(self, max_bytes: int, timeout_s: float) -> bytes:
        return self.link.host.read(max_bytes, timeout_s)

    def close(self) -> None:
        self.link.host.close()

    def reopen(self) -> None:
        self.link.host.reopen()


@pytest.mark.parametrize("clone_knows_credentials", [True, False])
def test_a_module_swapped_while_running_is_a_tamper_alarm(clone_knows_credentials: bool) -> None:
    door = Door({0: ("f-alice", ACTIVE)}, present={0: "f-alice"})
    cable = SwitchableTransport(door.rig.link)
    door.reader = door.reader_on(R30xSensor(cable, timeout_s=0.2), CREDENTIAL)
    other = SimulatedR30x("r503", firmware="R503-SIM-2.0", seed=9)
    other_link = MemoryLink(other)
    try:
        if clone_knows_credentials:
            scratch = R30xSensor(other_link.host, timeout_s=0.2)
            bind_module(scratch, PASSWORD, TOKEN)
        door.start()
        cable.link = other_link
        kind, detail = door.recorder.next("alarm")
        expected = "module swapped" if clone_knows_credentials else "unbound"
        assert kind == AlarmKind.TAMPER and expected in detail
        door.status(lambda s: not s.biometric_ready)
        # Held, and kept so over several checks: another identity is never adopted, even
        # holding our password and token, and gets no template.
        with pytest.raises(AssertionError):
            door.status(lambda s: s.biometric_ready, timeout_s=1.0)
        assert other.flash.library == {}
        cable.link = door.rig.link  # this door's own module again: reconciled, released
        door.status(lambda s: s.biometric_ready and not s.reconciling)
        assert door.scan(sim_finger("f-alice")).match_confirmed
    finally:
        door.close()
        other_link.close()


def identity_of(model: str = "r503", firmware: str | None = None) -> str:
    """What a module of that model and firmware reports (a scratch module, never bound)."""
    rig = Rig(model, firmware=firmware)
    try:
        rig.sensor.open()
        return rig.sensor.module_identity()
    finally:
        rig.close()


def never_loaded(module: SimulatedR30x) -> None:
    """No template, no password and no token went into the module."""
    assert module.flash.library == {}
    assert module.flash.password == DEFAULT_PASSWORD
    assert not any(module.flash.notepad[0])


def test_a_fresh_module_at_start_is_a_tamper_alarm_and_gets_no_password_or_template() -> None:
    # What a module swapped in while the Pi was off looks like at the next start.
    door = Door({0: ("f-alice", ACTIVE)}, bind=False,
                binding=MemoryBindingStore(expected=identity_of()))  # fmt: skip
    sent = record_commands(door.rig)
    try:
        door.start(wait_reconciled=False)
        kind, detail = door.recorder.next("alarm")
        assert kind == AlarmKind.TAMPER and "unbound" in detail
        assert identity_of() in detail and "doorward bind-module" in detail
        status = door.status(lambda s: s.online)
        assert not status.biometric_ready and status.module_identity == identity_of()
        door.rig.control({"place": sim_finger("f-alice")})
        with pytest.raises(AssertionError):
            door.recorder.next("claim", timeout_s=0.5)  # held: nothing is scanned
    finally:
        door.close()
    never_loaded(door.rig.module)
    assert not {Command.DOWN_CHAR, Command.STORE, Command.SET_PWD,
                Command.WRITE_NOTEPAD} & set(sent)  # fmt: skip
    assert door.events == []


def test_a_bind_request_naming_the_module_binds_it_once_and_is_used_up() -> None:
    binding = MemoryBindingStore(request=BindRequest(identity_of(), 0.0, "doorward bind-module"))
    door = Door({0: ("f-alice", LOAD)}, bind=False)
    cable = SwitchableTransport(door.rig.link)
    door.reader = door.reader_on(R30xSensor(cable, timeout_s=0.2), CREDENTIAL, binding)
    fresh = SimulatedR30x("r503", seed=9)  # the same model and firmware: the same identity
    fresh_link = MemoryLink(fresh)
    try:
        door.start()
        assert door.recorder.alarms == [] and door.rig.occupied() == {0}
        assert door.rig.module.flash.password == PASSWORD
        assert binding.request is None and binding.expected == identity_of()
        assert door.events == [("module_bound", {"module_identity": identity_of(),
                                                 "by": "doorward bind-module"})]  # fmt: skip
        cable.link = fresh_link  # a second fresh module: the permission is used up
        kind, detail = door.recorder.next("alarm")
        assert kind == AlarmKind.TAMPER and "unbound" in detail
        door.status(lambda s: not s.biometric_ready)
    finally:
        door.close()
        fresh_link.close()
    never_loaded(fresh)


def test_a_bind_request_for_another_identity_binds_nothing_and_stays() -> None:
    other = identity_of(firmware="R503-SIM-2.0")
    binding = MemoryBindingStore(request=BindRequest(other, 0.0, "doorward pair"))
    door = Door({0: ("f-alice", LOAD)}, bind=False, binding=binding)
    try:
        door.start(wait_reconciled=False)
        kind, detail = door.recorder.next("alarm")
        assert kind == AlarmKind.TAMPER and "unbound" in detail and other in detail
        door.status(lambda s: s.online and not s.biometric_ready)
    finally:
        door.close()
    never_loaded(door.rig.module)
    assert binding.request is not None and binding.expected is None


def test_a_bind_request_finishes_a_bind_cut_short() -> None:
    binding = MemoryBindingStore(request=BindRequest(identity_of(), 0.0, "doorward pair"))
    door = Door({0: ("f-alice", LOAD)}, bind=False, binding=binding)
    try:
        bind_module(door.rig.sensor, PASSWORD, b"a token from an older pairing")  # FOREIGN
        door.start()
        assert door.recorder.alarms == [] and door.rig.occupied() == {0}
        assert [kind for kind, _ in door.events] == ["module_bound"]
    finally:
        door.close()


def test_a_bound_door_without_a_record_adopts_its_module_and_records_it() -> None:
    binding = MemoryBindingStore()  # a door paired by an older release: no module record
    door = Door({0: ("f-alice", ACTIVE)}, present={0: "f-alice"}, binding=binding)
    try:
        door.start()
        assert binding.expected == identity_of() and door.recorder.alarms == []
    finally:
        door.close()


def test_a_scan_is_answered_before_queued_reconcile_steps_finish() -> None:
    loads = {page: (f"f-user{page}", LOAD) for page in range(1, 9)}
    door = Door({0: ("f-alice", ACTIVE), **loads}, model="r307", realtime=True,
                present={0: "f-alice"})  # fmt: skip
    try:
        door.start(wait_reconciled=False)
        door.status(lambda s: s.reconciling)
        door.rig.control({"place": sim_finger("f-alice")})
        claim = door.recorder.next("claim", timeout_s=5.0)
        assert claim.match_confirmed and claim.page == 0
        assert door.store.reconciled_version is None  # reconcile was still under way
        assert len(door.rig.occupied()) < 9
        door.rig.control({"lift": True})
        door.status(lambda s: s.biometric_ready and not s.reconciling, timeout_s=10.0)
        assert door.store.reconciled_version == 1 and len(door.rig.occupied()) == 9
    finally:
        door.close()


def test_stop_returns_within_milliseconds(door: Door) -> None:
    door.start()
    started = time.monotonic()
    door.reader.stop()
    assert time.monotonic() - started < 0.2
    assert SlotMap() == SlotMap()  # the store needs no closing


class TouchLine:
    """The module's touch line as ``DoorHardware`` offers it: a level and its edges."""

    def __init__(self, module) -> None:  # noqa: ANN001
        self.module, self.listeners = module, []

    def finger_touching(self) -> bool:
        return self.module.finger is not None

    def on_touch(self, callback) -> None:  # noqa: ANN001
        self.listeners.append(callback)

    def edge(self) -> None:
        for listener in self.listeners:
            listener()


def test_a_touch_line_gates_scanning_and_lift_and_jobs_run_between_scans() -> None:
    door = Door({0: ("f-alice", ACTIVE)}, present={0: "f-alice"})
    module = door.rig.module
    door.reader = Reader(door.rig.sensor, CREDENTIAL, door.store, door.templates.__getitem__,
                         settings=FAST, version=1, **door.recorder.callbacks(),
                         touch=TouchLine(module))
    try:
        door.start()
        assert door.scan(sim_finger("f-alice")).match_confirmed
        assert door.reader.set_led(1, 100, 2).result(timeout=2.0) is None
        assert module.led["colour"] == 2
        assert door.reader.submit(lambda sensor: sensor.template_count()).result(2.0) == 1
    finally:
        door.close()


def test_a_submitted_job_that_fails_on_its_own_terms_is_the_submitters_not_a_reader_fault(caplog) -> None:
    """The kiosk's steps run as reader jobs; a duplicate or a cancel is the step's outcome,
    handed back through its future, not a reader failure (it was logged with a traceback and
    the reader paused as if the module were offline)."""
    door = Door({0: ("f-alice", ACTIVE)}, present={0: "f-alice"})
    try:
        door.start()

        def duplicate(sensor: R30xSensor) -> None:
            raise LookupError("already enrolled")

        failed = door.reader.submit(duplicate)
        with pytest.raises(LookupError, match="already enrolled"):
            failed.result(2.0)
        assert door.reader.submit(lambda sensor: sensor.template_count()).result(2.0) == 1
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
        assert door.reader.status.biometric_ready
    finally:
        door.close()


def test_the_reader_listens_to_the_touch_line_itself_and_scans_at_the_edge() -> None:
    """The touch edge reaches the reader straight from the GPIO edge (no service or link in
    between): with the line's fallback poll ten seconds away, the edge alone starts the scan."""
    door = Door({0: ("f-alice", ACTIVE)}, present={0: "f-alice"})
    touch = TouchLine(door.rig.module)
    slow_poll = ReaderSettings(**{**vars(FAST), "touch_poll_s": 10.0})
    door.reader = Reader(door.rig.sensor, CREDENTIAL, door.store, door.templates.__getitem__,
                         settings=slow_poll, version=1, **door.recorder.callbacks(), touch=touch)
    try:
        door.start()
        assert len(touch.listeners) == 1  # subscribed at start
        door.rig.control({"place": sim_finger("f-alice")})
        touch.edge()
        assert door.recorder.next("claim", timeout_s=3.0).match_confirmed
    finally:
        door.close()

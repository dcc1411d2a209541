"""The module client against the simulator, over the in-memory link and a real pty.

Every profile, every command it supports, an unsupported one, enrol-then-identify, template
transfers at each packet size, and line faults with fixed seeds.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from doorward.drivers.r30x.errors import (
    ModuleRejected,
    ModuleReset,
    PortLost,
    SensorError,
    Timeout,
)
from doorward.drivers.r30x.protocol import Confirmation
from doorward.drivers.r30x.results import Features, Image, SearchResult
from doorward.drivers.r30x.sensor import R30xSensor
from doorward.sim.module.link import MemoryLink, PtyBridge
from doorward.sim.module.r30x import SimulatedR30x

MODELS = ("r307", "r503", "as608")


class Rig:
    """A simulated module and our client connected to it."""

    def __init__(self, model: str, link: str, tmp_path: Path, timeout_s: float = 0.5) -> None:
        self.module = SimulatedR30x(model, seed=7)
        if link == "memory":
            self._link: MemoryLink | PtyBridge = MemoryLink(self.module)
            self.sensor = R30xSensor(self._link.host, timeout_s=timeout_s)
        else:
            self._link = PtyBridge(self.module, tmp_path / "module")
            self.sensor = R30xSensor.from_url(str(tmp_path / "module"), timeout_s=timeout_s)
        self.sensor.open()

    def control(self, request: dict) -> dict:
        reply = self.module.control(request)
        assert reply["ok"], reply
        return reply

    def enrol(self, finger: str, page: int) -> None:
        self.control({"place": finger})
        for buffer_id in (1, 2):
            assert self.sensor.gen_img() is Image.TAKEN
            assert self.sensor.img2tz(buffer_id) is Features.OK
        assert self.sensor.reg_model()
        self.sensor.store(1, page)
        self.control({"lift": True})

    def identify(self, finger: str) -> SearchResult:
        self.control({"place": finger})
        assert self.sensor.gen_img() is Image.TAKEN
        assert self.sensor.img2tz(1) is Features.OK
        return self.sensor.search(1)

    def close(self) -> None:
        self.sensor.close()
        self._link.close()


@pytest.fixture(params=[(m, link) for m in MODELS for link in ("memory", "pty")],
                ids=lambda p: f"{p[0]}-{p[1]}")
def rig(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Rig]:
    model, link = request.param
    rig = Rig(model, link, tmp_path)
    yield rig
    rig.close()


@pytest.fixture(params=MODELS)
def memory_rig(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Rig]:
    rig = Rig(request.param, "memory", tmp_path, timeout_s=0.2)
    yield rig
    rig.close()


def test_common_commands(rig: Rig) -> None:
    sensor = rig.sensor
    assert sensor.gen_img() is Image.NO_FINGER
    capacity = {"r307": 1000, "r503": 200, "as608": 300}[rig.module.profile.name]
    assert sensor.params is not None and sensor.params.capacity == capacity
    sensor.write_notepad(3, b"doorward")
    assert sensor.read_notepad(3) == b"doorward".ljust(32, b"\x00")
    assert sensor.get_random_code() != sensor.get_random_code()
    sensor.set_system_parameter(5, 4)  # security level, applied by a later power cycle
    assert sensor.template_count() == 0 and sensor.occupied_slots() == set()


def test_enrol_then_identify(rig: Rig) -> None:
    rig.enrol("alice/right-index", 4)
    rig.enrol("bob/left-thumb", 9)
    sensor = rig.sensor
    assert sensor.occupied_slots() == {4, 9} and sensor.template_count() == 2
    alice = rig.identify("alice/right-index")
    assert (alice.found, alice.page) == (True, 4) and alice.score > 0
    assert sensor.search(1, fast=True).page == 4
    assert not rig.identify("carol/right-index").found
    # 1:1 confirmation of a hit, as the door does it: stored template against live features.
    rig.identify("bob/left-thumb")
    sensor.load_char(2, 9)
    assert sensor.match().matched
    sensor.load_char(2, 4)
    assert not sensor.match().matched
    sensor.delete_char(4)
    assert sensor.occupied_slots() == {9}
    sensor.empty()
    assert sensor.template_count() == 0


def test_poor_captures_are_values(memory_rig: Rig) -> None:
    memory_rig.control({"messy_rate": 1.0})
    memory_rig.control({"place": "alice/right-index"})
    assert memory_rig.sensor.gen_img() is Image.TAKEN
    assert memory_rig.sensor.img2tz(1).poor


def test_different_fingers_do_not_merge(memory_rig: Rig) -> None:
    sensor = memory_rig.sensor
    for buffer_id, finger in ((1, "alice/right-index"), (2, "bob/right-index")):
        memory_rig.control({"place": finger})
        sensor.gen_img()
        sensor.img2tz(buffer_id)
    assert sensor.reg_model() is False


def test_password_change_and_verify(rig: Rig) -> None:
    rig.sensor.set_password(0x5EC2E7)
    rig.sensor.verify_password()
    wrong = R30xSensor(rig.sensor._link.transport, password=1, timeout_s=0.5)
    with pytest.raises(ModuleRejected) as info:
        wrong.verify_password()
    assert info.value.code == Confirmation.WRONG_PASSWORD


@pytest.mark.parametrize("model", ["r503"])
def test_r503_extras(model: str, tmp_path: Path) -> None:
    rig = Rig(model, "pty", tmp_path)
    try:
        sensor = rig.sensor
        sensor.handshake()
        assert sensor.check_sensor() is True
        sensor.aura_led(control=1, speed=0x80, colour=2, count=0)
        assert sensor.get_image_ex() is Image.NO_FINGER
        info = sensor.read_product_info()
        assert (info.capacity, info.template_size) == (200, 1536)
        assert sensor.get_fw_ver() == rig.module.firmware
        assert sensor.get_alg_ver()
        rig.enrol("alice/right-index", 0)
        sensor.soft_reset()  # waits for the 0x55 ready byte and verifies again
        assert sensor.template_count() == 1  # flash survives a reset; RAM does not
        with pytest.raises(ModuleRejected) as info_0xfc:
            sensor.get_echo()  # 0x53 is not an R503 command
        assert info_0xfc.value.code == Confirmation.UNSUPPORTED
    finally:
        rig.close()


def test_r307_echo_and_unsupported(tmp_path: Path) -> None:
    rig = Rig("r307", "memory", tmp_path)
    try:
        rig.sensor.get_echo()
        with pytest.raises(ModuleRejected) as info:
            rig.sensor.handshake()
        assert info.value.code == Confirmation.PACKET_ERROR  # older modules: documented choice
    finally:
        rig.close()


def test_module_identity_names_profile_and_firmware(tmp_path: Path) -> None:
    identities = {}
    for model in MODELS:
        rig = Rig(model, "memory", tmp_path)
        identities[model] = rig.sensor.module_identity()
        rig.close()
    assert len(set(identities.values())) == 3
    assert "fw=R503-SIM-1.2.1" in identities["r503"]


@pytest.mark.parametrize("size_code", [0, 1, 2, 3])
@pytest.mark.parametrize("model", MODELS)
def test_template_round_trip_at_each_packet_size(model: str, size_code: int, tmp_path: Path) -> None:
    rig = Rig(model, "pty", tmp_path)
    try:
        sensor = rig.sensor
        rig.enrol("alice/right-index", 1)
        sensor.set_system_parameter(6, size_code)
        rig.control({"power_cycle": True})
        time.sleep(0.05)  # let the R503's 0x55 ready byte arrive before the new session
        sensor.open()  # a new session: verify, learn the new packet size
        assert sensor.params.packet_size == (32, 64, 128, 256)[size_code]
        sensor.load_char(1, 1)
        template = sensor.up_char(1)
        assert len(template) == rig.module.profile.template_size
        sensor.down_char(2, template)
        sensor.store(2, 7)
        sensor.load_char(1, 7)
        assert sensor.up_char(1) == template
        rig.control({"place": "alice/right-index"})
        sensor.gen_img()
        sensor.img2tz(1)
        assert sensor.search(1).page in (1, 7)
    finally:
        rig.close()


# ---- faults, fixed seeds ----


def test_silent_module_times_out_within_the_deadline(rig: Rig) -> None:
    rig.control({"fault": {"kind": "silence"}})
    start = time.monotonic()
    with pytest.raises(Timeout):
        rig.sensor.template_count()
    assert time.monotonic() - start < 0.5 + 0.3
    rig.control({"fault": None})
    assert rig.sensor.template_count() == 0


@pytest.mark.parametrize("kind", ["bitflip", "drop", "dup", "garbage", "truncate"])
def test_line_faults_give_typed_errors_and_recover(tmp_path: Path, kind: str) -> None:
    rig = Rig("r307", "memory", tmp_path, timeout_s=0.2)  # faults live in the link, not the model
    try:
        check_line_fault(rig, kind)
    finally:
        rig.close()


def check_line_fault(rig: Rig, kind: str) -> None:
    rig.enrol("alice/right-index", 2)
    rates = {"bitflip": 0.01, "drop": 0.05, "dup": 0.05, "garbage": 0.05, "truncate": 0.5}
    rig.control({"seed": 11})
    rig.control({"fault": {"kind": kind, "rate": rates[kind]}})
    outcomes = {"ok": 0, "error": 0, "wrong": 0}
    for _ in range(15):
        try:
            count = rig.sensor.template_count()
        except ModuleReset:
            outcomes["error"] += 1  # a garbage 0x55 looks like a reset: safe, costs a re-verify
        except SensorError:
            outcomes["error"] += 1
        else:
            outcomes["ok" if count == 1 else "wrong"] += 1
    rig.control({"fault": None})
    assert outcomes["error"] > 0, outcomes  # the fault really bit
    assert outcomes["wrong"] == 0, outcomes  # never a wrong value accepted at these rates
    assert rig.sensor.template_count() == 1  # and the next clean exchange succeeds


def test_unplug_gives_port_lost_and_reopen_recovers(rig: Rig) -> None:
    rig.control({"fault": {"kind": "unplug", "ms": 400}})
    with pytest.raises(PortLost):
        for _ in range(3):  # the pty may take one read to notice
            rig.sensor.template_count()
    with pytest.raises(PortLost):
        rig.sensor.reopen()
    deadline = time.monotonic() + 3
    while True:
        try:
            rig.sensor.reopen()
            break
        except PortLost:
            assert time.monotonic() < deadline, "never came back"
            time.sleep(0.05)
    assert rig.sensor.template_count() == 0


def test_a_module_reset_raises_module_reset_once_then_works(rig: Rig) -> None:
    rig.sensor.set_password(0xA5A5A5A5)  # a set password makes a reset visible (0x21)
    rig.enrol("alice/right-index", 0)
    rig.control({"power_cycle": True})
    time.sleep(0.1)  # the R503's 0x55 comes ~50 ms after power-up when realtime; at once here
    with pytest.raises(ModuleReset):
        rig.sensor.template_count()
    assert rig.sensor.template_count() == 1

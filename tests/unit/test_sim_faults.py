"""Line faults over a MemoryLink, with fixed seeds: what each kind does to the bytes."""

from __future__ import annotations

import threading

import pytest

from doorward.drivers.r30x.errors import PortLost
from doorward.drivers.r30x.protocol import Command, Deframer
from doorward.sim.module.link import MemoryLink
from doorward.sim.module.r30x import SimulatedR30x
from tests.support.sim import Host, wait_until

ACK_OK = bytes.fromhex("EF 01 FF FF FF FF 07 00 03 00 00 0A")
ACK_NUM = bytes.fromhex("EF 01 FF FF FF FF 07 00 05 00 00 00 00 0C")  # TempleteNum, 0 slots


@pytest.fixture
def rig():
    module = SimulatedR30x("r307", seed=11)
    with MemoryLink(module) as link:
        yield module, Host(link.host)


def fault(module: SimulatedR30x, **spec) -> None:
    assert module.control({"fault": spec}) == {"ok": True}


def test_bitflip_at_rate_one_inverts_every_byte(rig) -> None:
    module, host = rig
    fault(module, kind="bitflip", rate=1.0, direction="to_host")
    host.send(Command.VFY_PWD, bytes(4))
    assert host.raw(12) == bytes(b ^ 0xFF for b in ACK_OK)


def test_dup_and_garbage_double_the_stream(rig) -> None:
    module, host = rig
    fault(module, kind="dup", rate=1.0, direction="to_host")
    host.send(Command.TEMPLATE_NUM)
    assert host.raw(28) == bytes(b for b in ACK_NUM for _ in range(2))
    fault(module, kind="garbage", rate=1.0, direction="to_host")
    host.send(Command.TEMPLATE_NUM)
    assert host.raw(28)[1::2] == ACK_NUM


def test_drop_truncate_and_silence_lose_replies(rig) -> None:
    module, host = rig
    fault(module, kind="drop", rate=1.0, direction="to_host")
    host.send(Command.TEMPLATE_NUM)
    assert host.silent_for(0.05)
    fault(module, kind="truncate")
    host.send(Command.TEMPLATE_NUM)
    cut = host.raw(14, 0.1)
    assert 1 <= len(cut) < 14 and ACK_NUM.startswith(cut)
    fault(module, kind="silence", ms=60_000)
    host.send(Command.TEMPLATE_NUM)
    assert host.silent_for(0.05)
    module.control({"fault": None})
    host.deframer.clear()
    assert host.call(Command.TEMPLATE_NUM).code == 0


def test_low_rate_damage_is_reproducible_with_a_seed() -> None:
    def damaged_stream(seed: int) -> bytes:
        module = SimulatedR30x("r503", seed=seed)
        with MemoryLink(module) as link:
            host = Host(link.host)
            module.control({"fault": {"kind": "bitflip", "rate": 0.01, "direction": "to_host"}})
            out = bytearray()
            for _ in range(20):
                host.send(Command.READ_SYS_PARA)
                out += host.raw(28)
            return bytes(out)

    first, again, other = damaged_stream(1), damaged_stream(1), damaged_stream(2)
    assert first == again != other
    deframer = Deframer()
    deframer.feed(first)
    while deframer.next_packet() is not None:
        pass
    assert "checksum" in deframer.rejected  # some replies really were damaged


def test_damage_towards_the_module(rig) -> None:
    module, host = rig
    fault(module, kind="drop", rate=1.0, direction="to_module")
    host.send(Command.TEMPLATE_NUM)
    assert host.silent_for(0.05)
    fault(module, kind="bitflip", rate=0.02, direction="to_module")
    answers = []
    for _ in range(30):
        host.send(Command.TEMPLATE_NUM)
        answers.append(host.raw(14, 0.02))
    assert b"" in answers  # some commands never reached the module whole
    assert ACK_NUM in answers


def test_fault_expires_after_ms(rig) -> None:
    module, host = rig
    fault(module, kind="silence", ms=30)
    assert module.control({"state": True})["fault"]["kind"] == "silence"
    assert wait_until(lambda: module.control({"state": True})["fault"] is None, 2.0)
    assert host.call(Command.TEMPLATE_NUM).code == 0


def test_unplug_then_reopen(rig) -> None:
    module, host = rig
    fault(module, kind="unplug", ms=80)
    with pytest.raises(PortLost):
        host.transport.write(b"\x00")
    with pytest.raises(PortLost):
        host.transport.read(1, 0.01)
    with pytest.raises(PortLost):
        host.transport.reopen()

    def reopened() -> bool:
        try:
            host.transport.reopen()
        except PortLost:
            return False
        return True

    assert wait_until(reopened, 3.0)
    assert host.call(Command.TEMPLATE_NUM).code == 0


def test_unplug_wakes_a_blocked_reader(rig) -> None:
    module, host = rig
    outcome: list[BaseException] = []

    def blocked_read() -> None:
        try:
            host.transport.read(1, 10.0)
        except PortLost as error:
            outcome.append(error)

    reader = threading.Thread(target=blocked_read)
    reader.start()
    fault(module, kind="unplug")  # until cleared
    reader.join(timeout=2.0)
    assert not reader.is_alive() and len(outcome) == 1
    with pytest.raises(PortLost):
        host.transport.reopen()
    module.control({"fault": None})
    host.transport.reopen()
    assert host.call(Command.TEMPLATE_NUM).code == 0


@pytest.mark.parametrize(
    "spec",
    [{"kind": "melt"}, {"kind": "drop"}, {"kind": "drop", "rate": 2}, "drop",
     {"kind": "drop", "rate": 0.1, "direction": "sideways"}, {"kind": "drop", "speed": 1}],
)
def test_bad_fault_specs_are_refused(rig, spec) -> None:
    module, _ = rig
    reply = module.control({"fault": spec})
    assert reply["ok"] is False and reply["error"]


def test_a_hung_module_stays_silent_until_its_power_is_cut(rig) -> None:
    module, host = rig
    assert module.control({"hang": True}) == {"ok": True}
    host.send(Command.TEMPLATE_NUM)
    assert host.silent_for(0.05)
    for cure in ({"fault": None}, {"hang": False}):  # nothing but power clears a latch-up
        module.control(cure)
        host.send(Command.TEMPLATE_NUM)
        assert host.silent_for(0.05), cure
    host.transport.reopen()  # nor does unplugging and re-opening the cable
    host.send(Command.TEMPLATE_NUM)
    assert host.silent_for(0.05)
    assert module.control({"state": True})["hung"] is True
    module.set_power(False)
    module.set_power(True)
    assert module.control({"state": True})["hung"] is False
    assert host.call(Command.TEMPLATE_NUM).code == 0

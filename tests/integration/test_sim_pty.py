"""The simulator on a real pty opened by pyserial (exclusive), for every profile."""

from __future__ import annotations

import os
import struct
import time

import pytest
import serial

from doorward.drivers.r30x.errors import PortLost
from doorward.drivers.r30x.protocol import Command
from doorward.drivers.r30x.transport import SerialTransport
from doorward.sim.module.link import PtyBridge
from doorward.sim.module.profiles import PROFILES
from doorward.sim.module.r30x import SimulatedR30x
from tests.support.sim import Host, search, wait_until

ACK_OK = bytes.fromhex("EF 01 FF FF FF FF 07 00 03 00 00 0A")


@pytest.fixture(params=sorted(PROFILES))
def bridge(request, tmp_path):
    module = SimulatedR30x(request.param, seed=21)
    path = tmp_path / f"tty-{request.param}"
    with PtyBridge(module, path) as pty:
        yield module, pty, path


def open_host(path) -> Host:
    return Host(SerialTransport(str(path)))


def test_symlink_points_at_a_pty_and_is_removed_on_close(tmp_path) -> None:
    path = tmp_path / "tty"
    bridge = PtyBridge(SimulatedR30x("r307"), path)
    assert os.readlink(path).startswith("/dev/pts/")
    bridge.close()
    assert not os.path.lexists(path)


def test_commands_over_pyserial(bridge) -> None:
    module, _, path = bridge
    host = open_host(path)
    host.send(Command.VFY_PWD, bytes(4))
    assert host.raw(12) == ACK_OK
    host.enrol(module.place, "alice/right-index", page=2)
    module.place("alice/right-index")
    assert host.call(Command.GEN_IMG).code == 0
    assert host.call(Command.IMG2TZ, b"\x01").code == 0
    assert struct.unpack(">HH", search(host, 0, module.profile.capacity).params)[0] == 2
    assert host.call(Command.LOAD_CHAR, struct.pack(">BH", 2, 2)).code == 0
    ack, packets = host.upload(2)
    template = b"".join(p.payload for p in packets)
    assert len(template) == module.profile.template_size and len(packets) == len(template) // 128
    assert host.download(1, template, 128).code == 0
    assert b"".join(p.payload for p in host.upload(1)[1]) == template
    assert host.call(0x77).code == module.profile.unsupported_code
    host.transport.close()


def test_second_client_after_first_closes_and_no_busy_loop(bridge) -> None:
    module, _, path = bridge
    first = open_host(path)
    assert first.call(Command.TEMPLATE_NUM).code == 0
    first.send(Command.READ_SYS_PARA)  # a reply left unread in the pty
    first.transport.close()
    cpu_before = time.process_time()
    idle = time.monotonic()
    time.sleep(0.3)  # the bridge idles with no client attached
    busy_s = time.process_time() - cpu_before
    assert busy_s < 0.15 * (time.monotonic() - idle) + 0.05
    second = open_host(path)
    assert second.call(Command.TEMPLATE_NUM).payload == b"\x00\x00\x00"  # stale reply flushed
    second.transport.close()


def test_exclusive_open_refuses_a_second_client(bridge) -> None:
    _, _, path = bridge
    first = serial.serial_for_url(str(path), exclusive=True)
    with pytest.raises(serial.SerialException):
        serial.serial_for_url(str(path), exclusive=True)
    first.close()


def test_unplug_removes_the_path_and_replug_serves_again(bridge) -> None:
    module, _, path = bridge
    host = open_host(path)
    module.control({"fault": {"kind": "unplug", "ms": 150}})
    assert wait_until(lambda: not os.path.lexists(path), 2.0)
    with pytest.raises(PortLost):
        host.transport.read(1, 1.0)
        host.transport.read(1, 1.0)
    assert wait_until(lambda: os.path.lexists(path), 3.0)

    def reopened() -> bool:
        try:
            host.transport.reopen()
        except PortLost:
            return False
        return True

    assert wait_until(reopened, 3.0)
    host.deframer.clear()
    assert host.call(Command.TEMPLATE_NUM).code == 0
    host.transport.close()


def test_r503_ready_byte_reaches_a_connected_client(tmp_path) -> None:
    module = SimulatedR30x("r503")
    with PtyBridge(module, tmp_path / "tty"):
        host = open_host(tmp_path / "tty")
        assert host.silent_for(0.05)  # powered up long ago: nothing queued
        module.control({"power_cycle": True})
        assert host.raw(1) == b"\x55"
        host.transport.close()

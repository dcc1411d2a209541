"""Shared helpers of the simulator tests: a tiny host that speaks EF01 over any Transport.

Deliberately independent of the production module client (drivers/r30x/sensor.py): the
simulator is tested against the protocol sheet, not against our own driver.
"""

from __future__ import annotations

import json
import socket
import struct
import time
from pathlib import Path

from doorward.sim.rig.processes import wait_until  # noqa: F401 (re-exported for the tests)
from doorward.drivers.r30x.protocol import (
    DEFAULT_ADDRESS,
    Command,
    Deframer,
    Packet,
    PacketType,
    encode_command,
    encode_packet,
)

REPLY_TIMEOUT_S = 3.0


class Host:
    """Send commands, read whole packets; raises TimeoutError when nothing complete arrives."""

    def __init__(self, transport, address: int = DEFAULT_ADDRESS) -> None:
        self.transport = transport
        self.address = address
        self.deframer = Deframer()

    def send(self, command: int, params: bytes = b"", address: int | None = None) -> None:
        target = self.address if address is None else address
        self.transport.write(encode_command(command, params, target))

    def packet(self, timeout_s: float = REPLY_TIMEOUT_S) -> Packet:
        deadline = time.monotonic() + timeout_s
        while (packet := self.deframer.next_packet()) is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no complete packet from the module")
            self.deframer.feed(self.transport.read(4096, remaining))
        return packet

    def call(self, command: int, params: bytes = b"", address: int | None = None) -> Packet:
        self.send(command, params, address)
        return self.packet()

    def raw(self, n_bytes: int, timeout_s: float = REPLY_TIMEOUT_S) -> bytes:
        """Exactly the next ``n_bytes`` bytes as they came off the line (no deframing)."""
        deadline, out = time.monotonic() + timeout_s, bytearray()
        while len(out) < n_bytes:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            out += self.transport.read(n_bytes - len(out), remaining)
        return bytes(out)

    def silent_for(self, seconds: float) -> bool:
        return self.transport.read(1, seconds) == b""

    def upload(self, buffer_id: int) -> tuple[Packet, list[Packet]]:
        """UpChar: the ack, then every data packet up to and including PID 0x08."""
        ack = self.call(Command.UP_CHAR, bytes((buffer_id,)))
        packets: list[Packet] = []
        while ack.code == 0 and (not packets or packets[-1].kind != PacketType.END_DATA):
            packets.append(self.packet())
        return ack, packets

    def download(self, buffer_id: int, data: bytes, chunk: int) -> Packet:
        """DownChar: the ack, then ``data`` in ``chunk``-byte packets (last one PID 0x08)."""
        ack = self.call(Command.DOWN_CHAR, bytes((buffer_id,)))
        pieces = [data[i : i + chunk] for i in range(0, len(data), chunk)]
        for i, piece in enumerate(pieces):
            kind = PacketType.END_DATA if i == len(pieces) - 1 else PacketType.DATA
            self.transport.write(encode_packet(Packet(kind, piece, self.address)))
        return ack

    def enrol(self, finger_setter, finger: str, page: int) -> None:
        """Two captures of ``finger``, RegModel, Store at ``page``; asserts every step."""
        finger_setter(finger)
        for buffer_id in (1, 2):
            assert self.call(Command.GEN_IMG).code == 0
            assert self.call(Command.IMG2TZ, bytes((buffer_id,))).code == 0
        assert self.call(Command.REG_MODEL).code == 0
        assert self.call(Command.STORE, struct.pack(">BH", 1, page)).code == 0


def search(host: Host, start: int = 0, count: int = 1000) -> Packet:
    return host.call(Command.SEARCH, struct.pack(">BHH", 1, start, count))


class ControlClient:
    """A JSON-lines client of a Unix control socket."""

    def __init__(self, path: str | Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(5.0)
        self.sock.connect(str(path))
        self.reader = self.sock.makefile("rb")

    def raw(self, line: bytes) -> dict:
        self.sock.sendall(line if line.endswith(b"\n") else line + b"\n")
        return json.loads(self.reader.readline())

    def __call__(self, request: dict) -> dict:
        return self.raw(json.dumps(request).encode())

    def close(self) -> None:
        self.reader.close()
        self.sock.close()

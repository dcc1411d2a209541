"""A scripted module on a fake transport with a fake clock, for driver unit tests.

``ScriptedTransport`` answers each command frame with bytes from a responder function and
advances its own clock instead of sleeping, so timeouts are tested in microseconds.
"""

from __future__ import annotations

from collections.abc import Callable

from doorward.drivers.r30x.errors import PortLost
from doorward.drivers.r30x.protocol import Deframer, Packet, PacketType, encode_ack

Responder = Callable[[Packet], bytes]


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def ack(code: int = 0, params: bytes = b"") -> bytes:
    return encode_ack(code, params)


class ScriptedTransport:
    name = "scripted"

    def __init__(self, responder: Responder, clock: FakeMonotonic | None = None) -> None:
        self.responder = responder
        self.clock = clock or FakeMonotonic()
        self.inbox = bytearray()  # bytes waiting for the host to read
        self.sent: list[Packet] = []
        self.unplugged = False
        self.reads = 0
        self._deframer = Deframer()

    def inject(self, data: bytes) -> None:
        """Bytes the module sends on its own (reset byte, spurious packet)."""
        self.inbox += data

    def write(self, data: bytes) -> None:
        if self.unplugged:
            raise PortLost("unplugged")
        self._deframer.feed(data)
        while (packet := self._deframer.next_packet()) is not None:
            self.sent.append(packet)
            if packet.kind == PacketType.COMMAND:
                self.inbox += self.responder(packet)

    def read(self, max_bytes: int, timeout_s: float) -> bytes:
        self.reads += 1
        if self.unplugged:
            raise PortLost("unplugged")
        if not self.inbox:
            self.clock.now += max(timeout_s, 0.0)
            return b""
        out = bytes(self.inbox[:max_bytes])
        del self.inbox[:max_bytes]
        return out

    def close(self) -> None:
        pass

    def reopen(self) -> None:
        if self.unplugged:
            raise PortLost("still unplugged")

    @property
    def commands(self) -> list[int]:
        return [p.code for p in self.sent if p.kind == PacketType.COMMAND]

"""One request/reply with the module, on a monotonic deadline, over any ``Transport``.

Owns what every command shares: draining the input before a command (by reading and
decoding it, never discarding blindly), spotting a module reset, the deadline, the quiet-gap
rule that turns a truncated or corrupt reply into ``BadFrame`` in tens of milliseconds rather
than a full timeout, reply-kind and reply-length checks, and the data phases of UpChar and
DownChar. It knows nothing of individual commands beyond their reply lengths; ``sensor.py``
builds the commands on top. Never reopens a lost port: that is the owner's decision.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from doorward.drivers.r30x.errors import BadFrame, PortLost, Timeout, UnexpectedReply
from doorward.drivers.r30x.protocol import (
    DEFAULT_ADDRESS,
    RESET_BYTE,
    Command,
    Confirmation,
    Deframer,
    Packet,
    PacketType,
    encode_command,
    encode_data,
    reply_payload_len,
)
from doorward.drivers.r30x.transport import Transport

log = logging.getLogger(__name__)

READ_CHUNK = 4096
# A reply is sent in one burst; this much silence after a partial or rejected frame means the
# rest is not coming (the bytes were dropped or mangled on the line).
QUIET_GAP_S = 0.05
# Some optical modules answer the first command after a template download with a stray 0x01
# ack and then the real one (CircuitPython issues #31, #39): wait this long for the second.
SPURIOUS_ACK_WINDOW_S = 0.3


@dataclass
class ExchangeStats:
    exchanges: int = 0
    retries: int = 0
    unsolicited: int = 0
    rejected_frames: int = 0
    resets_seen: int = 0
    spurious_acks: int = 0


class ResetSeen(Exception):
    """Internal signal: the drained input shows the module reset (bare 0x55)."""


class Exchanger:
    def __init__(
        self,
        transport: Transport,
        *,
        address: int = DEFAULT_ADDRESS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.transport = transport
        self.address = address
        self._clock = clock
        self._deframer = Deframer(address)
        self._after_download = False
        self.stats = ExchangeStats()

    # ---- input handling ----

    def drain(self) -> None:
        """Read and decode whatever arrived since the last reply; raise ResetSeen on 0x55."""
        while True:
            data = self.transport.read(READ_CHUNK, 0.0)
            if not data:
                break
            self._deframer.feed(data)
        while (packet := self._deframer.next_packet()) is not None:
            self.stats.unsolicited += 1
            log.debug("discarded unsolicited packet %s %s", packet.kind.name, packet.payload.hex())
        self.stats.rejected_frames += len(self._deframer.rejected)
        stray = self._deframer.take_stray()
        if RESET_BYTE in stray:
            self.stats.resets_seen += 1
            raise ResetSeen(stray.hex(" "))

    def deadline(self, timeout_s: float) -> float:
        return self._clock() + timeout_s

    def wait_for_reset_byte(self, timeout_s: float) -> bool:
        """After SoftRst: read until the bare 0x55 ready byte arrives; False on timeout."""
        deadline = self._clock() + timeout_s
        while True:
            while self._deframer.next_packet() is not None:
                self.stats.unsolicited += 1
            if RESET_BYTE in self._deframer.take_stray():
                self._deframer.clear()
                return True
            remaining = deadline - self._clock()
            if remaining <= 0:
                return False
            self._deframer.feed(self.transport.read(READ_CHUNK, remaining))

    def forget_input(self) -> None:
        """Drop partial input after a reset: nothing before it can complete."""
        self._deframer.clear()

    def read_packet(self, deadline: float, what: str) -> Packet:
        """The next valid packet before ``deadline``; typed errors otherwise."""
        rejected_before = len(self._deframer.rejected)
        last_byte_at = self._clock()
        while (packet := self._deframer.next_packet()) is None:
            now = self._clock()
            if now >= deadline:
                raise Timeout(f"{what}: no complete reply within the deadline")
            suspect = self._deframer.pending or len(self._deframer.rejected) > rejected_before
            wait = deadline - now
            if suspect:
                wait = min(wait, last_byte_at + QUIET_GAP_S - now)
                if wait <= 0:
                    loss = self._describe_loss()
                    self._deframer.clear()
                    raise BadFrame(f"{what}: reply truncated or corrupt ({loss})")
            data = self.transport.read(READ_CHUNK, wait)
            if data:
                last_byte_at = self._clock()
                self._deframer.feed(data)
        return packet

    def _describe_loss(self) -> str:
        reasons = self._deframer.rejected
        return ", ".join(sorted(set(reasons))) + " rejected" if reasons else "incomplete frame"

    # ---- one command ----

    def command(self, command: Command, params: bytes, timeout_s: float) -> Packet:
        """Send one command and return its validated ack (any confirmation code)."""
        self.stats.exchanges += 1
        self.transport.write(encode_command(command, params, self.address))
        deadline = self._clock() + timeout_s
        reply = self.read_packet(deadline, command.name)
        if self._after_download:
            self._after_download = False
            reply = self._skip_spurious_ack(reply, deadline, command.name)
        self._check_ack(command, reply)
        if RESET_BYTE in self._deframer.take_stray():
            # The module restarted after our command arrived or just before it was run: the
            # reply came from empty RAM, so it cannot be trusted.
            self.stats.resets_seen += 1
            raise ResetSeen(f"0x55 before the {command.name} reply")
        return reply

    def _skip_spurious_ack(self, reply: Packet, deadline: float, what: str) -> Packet:
        if reply.kind != PacketType.ACK or reply.code != Confirmation.PACKET_ERROR:
            return reply
        try:
            second = self.read_packet(min(deadline, self._clock() + SPURIOUS_ACK_WINDOW_S), what)
        except (Timeout, BadFrame):
            return reply  # the 0x01 was the real answer
        self.stats.spurious_acks += 1
        log.info("%s: skipped the spurious 0x01 ack that follows a template download", what)
        return second

    @staticmethod
    def _check_ack(command: Command, reply: Packet) -> None:
        if reply.kind != PacketType.ACK:
            raise UnexpectedReply(f"{command.name}: got a {reply.kind.name} packet, not an ack")
        expected = reply_payload_len(command)
        length = len(reply.payload)
        # Error acks of parameter-returning commands may carry only the confirmation byte.
        if length != expected and not (length == 1 and reply.code != Confirmation.OK):
            raise UnexpectedReply(
                f"{command.name}: ack payload of {length} bytes, expected {expected}"
            )

    # ---- data phases ----

    def receive_data(self, deadline: float, max_packet: int, what: str) -> bytes:
        """Collect data packets up to and including the END_DATA packet."""
        chunks: list[bytes] = []
        while True:
            packet = self.read_packet(deadline, what)
            if packet.kind not in (PacketType.DATA, PacketType.END_DATA):
                raise UnexpectedReply(f"{what}: {packet.kind.name} packet inside a data transfer")
            if len(packet.payload) > max_packet:
                raise UnexpectedReply(
                    f"{what}: data packet of {len(packet.payload)} bytes exceeds {max_packet}"
                )
            chunks.append(packet.payload)
            if packet.kind == PacketType.END_DATA:
                return b"".join(chunks)

    def send_data(self, data: bytes, packet_size: int) -> None:
        """Send data packets; the module acknowledges none of them."""
        self.transport.write(b"".join(encode_data(data, packet_size, self.address)))
        self._after_download = True

    def close(self) -> None:
        self.transport.close()


__all__ = ["Exchanger", "ExchangeStats", "ResetSeen", "PortLost"]

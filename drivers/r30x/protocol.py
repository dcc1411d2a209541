"""R30x "EF01" packet framing: encode, decode, and the facts every reply must satisfy.

Pure: no serial port, no clock, no IO. The simulator and the module client both build on it.

Wire format (all fields big-endian)::

    +-------+---------+-----+--------+---------------------+----------+
    | EF 01 | address | PID | LENGTH | payload (LENGTH-2)  | checksum |
    |  2 B  |   4 B   | 1 B |  2 B   | instruction/conf... |   2 B    |
    +-------+---------+-----+--------+---------------------+----------+

    checksum = (PID + LENGTH_hi + LENGTH_lo + sum(payload)) & 0xFFFF

Header and address are not summed, so a wrong address cannot be caught by the checksum; the
decoder checks it separately. LENGTH counts the payload plus the two checksum bytes; legal
values are 3..258 (258 = a 256-byte data packet, although manuals print 256 as the maximum).

``Deframer`` hunts for ``EF 01`` so garbage before a packet (the R503's bare 0x55 after power-up
and SoftRst, a 0x00 glitch as the TX line rises) never breaks the stream; skipped bytes are kept
in ``Deframer.stray`` so the module client can recognise a reset. A frame that fails a check
drops only its first byte and the hunt resumes, because its "header" may have been noise.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

from doorward.drivers.errors import DoorwardError
from doorward.drivers.r30x.blocks import (  # noqa: F401 - re-exported: one import path for callers
    PACKET_SIZES,
    ProductInfo,
    SystemParameters,
    ascii_field,
    pack_index_page,
    unpack_index_page,
)
from doorward.drivers.r30x.codes import (  # noqa: F401 - re-exported
    REPLY_PAYLOAD_LEN,
    Command,
    Confirmation,
    describe_confirmation,
    reply_payload_len,
)

HEADER = b"\xef\x01"
DEFAULT_ADDRESS = 0xFFFFFFFF
DEFAULT_PASSWORD = 0x00000000
PREAMBLE_LEN = 9  # header 2 + address 4 + PID 1 + LENGTH 2
MIN_LENGTH = 3  # one payload byte + checksum
MAX_LENGTH = 258  # 256 data bytes + checksum
RESET_BYTE = 0x55  # sent bare by R503 V1.2 and Synochip clones when ready after power-up/SoftRst


class PacketType(IntEnum):
    COMMAND = 0x01
    DATA = 0x02
    ACK = 0x07
    END_DATA = 0x08


class FrameError(DoorwardError, ValueError):
    """A frame failed a check. ``reason`` is one of: checksum, length, packet type, address."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"bad frame ({reason}): {detail}")
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Packet:
    kind: PacketType
    payload: bytes
    address: int = DEFAULT_ADDRESS

    @property
    def code(self) -> int:
        """Instruction code (command) or confirmation code (ack)."""
        return self.payload[0]

    @property
    def params(self) -> bytes:
        return self.payload[1:]


def checksum(kind: int, payload: bytes) -> int:
    length = len(payload) + 2
    return (kind + (length >> 8) + (length & 0xFF) + sum(payload)) & 0xFFFF


def encode_packet(packet: Packet) -> bytes:
    length = len(packet.payload) + 2
    if not MIN_LENGTH <= length <= MAX_LENGTH:
        raise FrameError("length", f"payload of {len(packet.payload)} bytes cannot be framed")
    return b"".join(
        (
            HEADER,
            struct.pack(">IBH", packet.address, packet.kind, length),
            packet.payload,
            struct.pack(">H", checksum(packet.kind, packet.payload)),
        )
    )


def encode_command(command: int, params: bytes = b"", address: int = DEFAULT_ADDRESS) -> bytes:
    return encode_packet(Packet(PacketType.COMMAND, bytes((command,)) + params, address))


def encode_ack(confirmation: int, params: bytes = b"", address: int = DEFAULT_ADDRESS) -> bytes:
    return encode_packet(Packet(PacketType.ACK, bytes((confirmation,)) + params, address))


def encode_data(data: bytes, chunk_size: int, address: int = DEFAULT_ADDRESS) -> list[bytes]:
    """Split ``data`` into data packets of ``chunk_size`` bytes; the last one is END_DATA."""
    if chunk_size not in PACKET_SIZES.values():
        raise ValueError(f"data packet size must be one of 32/64/128/256, not {chunk_size}")
    if not data:
        raise ValueError("a data transfer carries at least one byte")
    chunks = [data[i : i + chunk_size] for i in range(0, len(data), chunk_size)]
    last = len(chunks) - 1
    return [
        encode_packet(
            Packet(PacketType.END_DATA if i == last else PacketType.DATA, chunk, address)
        )
        for i, chunk in enumerate(chunks)
    ]


def _valid_kind(value: int) -> bool:
    return value in PacketType._value2member_map_


def decode(buf: bytes | bytearray, address: int | None = None) -> tuple[int, Packet | None]:
    """Decode one packet from the front of ``buf``.

    Returns ``(consumed, packet)``:
    - ``(0, None)``: need more bytes;
    - ``(n, None)`` with n > 0: the first n bytes are not a packet start (garbage); drop them;
    - ``(n, packet)``: a valid packet occupied the first n bytes.

    Raises ``FrameError`` when a complete candidate frame fails a check; the caller drops one
    byte and decodes again. ``address=None`` accepts any address.
    """
    if not buf:
        return 0, None
    start = bytes(buf[:2])
    if start != HEADER:
        # Skip to the next possible header start; keep a trailing 0xEF (maybe half a header).
        nxt = bytes(buf).find(HEADER, 1)
        if nxt < 0:
            return (len(buf) - 1 if buf[-1] == HEADER[0] else len(buf)), None
        return nxt, None
    if len(buf) < PREAMBLE_LEN:
        return 0, None
    frame_address, kind, length = struct.unpack_from(">IBH", buf, 2)
    if not _valid_kind(kind):
        raise FrameError("packet type", f"packet identifier 0x{kind:02X} is not 01/02/07/08")
    if not MIN_LENGTH <= length <= MAX_LENGTH:
        raise FrameError("length", f"LENGTH {length} outside {MIN_LENGTH}..{MAX_LENGTH}")
    total = PREAMBLE_LEN + length
    if len(buf) < total:
        return 0, None
    payload = bytes(buf[PREAMBLE_LEN : total - 2])
    (received,) = struct.unpack_from(">H", buf, total - 2)
    expected = checksum(kind, payload)
    if received != expected:
        raise FrameError("checksum", f"checksum 0x{received:04X}, computed 0x{expected:04X}")
    if address is not None and frame_address != address:
        raise FrameError("address", f"address 0x{frame_address:08X}, expected 0x{address:08X}")
    return total, Packet(PacketType(kind), payload, frame_address)


class Deframer:
    """Incremental decoder over a byte stream: feed bytes, take packets out.

    ``stray`` collects bytes skipped while hunting for a header, ``rejected`` the reasons of
    frames that failed a check, so the caller can tell a reset byte from line noise.
    """

    def __init__(self, address: int | None = None) -> None:
        self.address = address
        self._buf = bytearray()
        self.stray = bytearray()
        self.rejected: list[str] = []

    def feed(self, data: bytes) -> None:
        self._buf += data

    @property
    def pending(self) -> int:
        return len(self._buf)

    def next_packet(self) -> Packet | None:
        """The next valid packet, or None when more bytes are needed."""
        while self._buf:
            try:
                consumed, packet = decode(self._buf, self.address)
            except FrameError as error:
                self.rejected.append(error.reason)
                self.stray += self._buf[:1]
                del self._buf[:1]
                continue
            if packet is not None:
                del self._buf[:consumed]
                return packet
            if consumed == 0:
                return None
            self.stray += self._buf[:consumed]
            del self._buf[:consumed]
        return None

    def take_stray(self) -> bytes:
        out = bytes(self.stray)
        self.stray.clear()
        self.rejected.clear()
        return out

    def clear(self) -> None:
        self._buf.clear()
        self.stray.clear()
        self.rejected.clear()

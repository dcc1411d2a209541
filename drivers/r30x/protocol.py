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

from daemon.errors import DoorwardError

HEADER = b"\xef\x01"
DEFAULT_ADDRESS = 0xFFFFFFFF
DEFAULT_PASSWORD = 0x00000000
PREAMBLE_LEN = 9  # header 2 + address 4 + PID 1 + LENGTH 2
MIN_LENGTH = 3  # one payload byte + checksum
MAX_LENGTH = 258  # 256 data bytes + checksum
RESET_BYTE = 0x55  # sent bare by R503 V1.2 and Synochip clones when ready after power-up/SoftRst

PACKET_SIZES = {0: 32, 1: 64, 2: 128, 3: 256}  # system parameter 6: code -> data bytes


class PacketType(IntEnum):
    COMMAND = 0x01
    DATA = 0x02
    ACK = 0x07
    END_DATA = 0x08


class Command(IntEnum):
    GEN_IMG = 0x01
    IMG2TZ = 0x02
    MATCH = 0x03
    SEARCH = 0x04
    REG_MODEL = 0x05
    STORE = 0x06
    LOAD_CHAR = 0x07
    UP_CHAR = 0x08
    DOWN_CHAR = 0x09
    UP_IMAGE = 0x0A
    DOWN_IMAGE = 0x0B
    DELETE_CHAR = 0x0C
    EMPTY = 0x0D
    SET_SYS_PARA = 0x0E
    READ_SYS_PARA = 0x0F
    GR_ENROLL = 0x10
    GR_IDENTIFY = 0x11
    SET_PWD = 0x12
    VFY_PWD = 0x13
    GET_RANDOM_CODE = 0x14
    SET_ADDR = 0x15
    READ_INF_PAGE = 0x16
    PORT_CONTROL = 0x17
    WRITE_NOTEPAD = 0x18
    READ_NOTEPAD = 0x19
    BURN_CODE = 0x1A
    HIGH_SPEED_SEARCH = 0x1B
    GEN_BIN_IMAGE = 0x1C
    TEMPLATE_NUM = 0x1D
    USER_GPIO = 0x1E
    READ_INDEX_TABLE = 0x1F
    GET_IMAGE_EX = 0x28
    GET_ENROLL_IMAGE = 0x29
    CANCEL = 0x30
    AUTO_ENROLL = 0x31
    AUTO_IDENTIFY = 0x32
    SLEEP = 0x33
    READ_UUID = 0x34
    AURA_LED_CONFIG = 0x35
    CHECK_SENSOR = 0x36
    GET_ALG_VER = 0x39
    GET_FW_VER = 0x3A
    READ_PROD_INFO = 0x3C
    SOFT_RST = 0x3D
    HANDSHAKE = 0x40
    LED_ON = 0x50
    LED_OFF = 0x51
    GET_IMAGE_NO_LED = 0x52
    GET_ECHO = 0x53


class Confirmation(IntEnum):
    OK = 0x00
    PACKET_ERROR = 0x01
    NO_FINGER = 0x02
    IMAGE_FAILED = 0x03
    IMAGE_TOO_DRY = 0x04
    IMAGE_TOO_WET = 0x05
    IMAGE_MESSY = 0x06
    TOO_FEW_FEATURES = 0x07
    NO_MATCH = 0x08
    NOT_FOUND = 0x09
    MERGE_FAILED = 0x0A
    BAD_PAGE = 0x0B
    TEMPLATE_READ_ERROR = 0x0C
    UPLOAD_FAILED = 0x0D
    CANNOT_RECEIVE = 0x0E
    CANNOT_SEND = 0x0F
    DELETE_FAILED = 0x10
    CLEAR_FAILED = 0x11
    LOW_POWER_FAILED = 0x12
    WRONG_PASSWORD = 0x13
    RESET_FAILED = 0x14
    NO_VALID_IMAGE = 0x15
    UPGRADE_FAILED = 0x16
    RESIDUAL_FINGER = 0x17
    FLASH_ERROR = 0x18
    UNDEFINED_ERROR = 0x19
    BAD_REGISTER = 0x1A
    BAD_REGISTER_CONTENT = 0x1B
    BAD_NOTEPAD_PAGE = 0x1C
    PORT_FAILED = 0x1D
    AUTO_ENROLL_FAILED = 0x1E
    LIBRARY_FULL = 0x1F
    BAD_ADDRESS = 0x20
    PASSWORD_REQUIRED = 0x21
    TEMPLATE_EMPTY = 0x22  # R503 meaning; Synochip lists call 0x22 "not empty" and 0x23 "empty"
    TEMPLATE_EMPTY_AS608 = 0x23
    LIBRARY_EMPTY = 0x24
    BAD_ENROLL_COUNT = 0x25
    AUTO_TIMEOUT = 0x26
    ALREADY_EXISTS = 0x27
    TEMPLATE_RELATED = 0x28
    SENSOR_ERROR = 0x29
    SN_NOT_EMPTY = 0x2A
    SN_EMPTY = 0x2B
    OTP_FAILED = 0x2C
    ILLEGAL_DATA = 0x35
    ECHO_OK = 0x55  # GetEcho's "OK"; the same value as the bare reset byte
    DATA_FOLLOWS = 0xF0
    COMMAND_ACK = 0xF1
    BURN_CHECKSUM = 0xF2
    BURN_PID = 0xF3
    BURN_LENGTH = 0xF4
    BURN_TOO_LONG = 0xF5
    BURN_FLASH = 0xF6
    UNSUPPORTED = 0xFC
    HARDWARE_ERROR = 0xFD
    EXECUTION_FAILED = 0xFE


def describe_confirmation(code: int) -> str:
    """A readable name for any confirmation byte, including undocumented ones."""
    try:
        return f"{Confirmation(code).name} (0x{code:02X})"
    except ValueError:
        return f"undocumented confirmation 0x{code:02X}"


# Ack payload length (confirmation byte included) when the command succeeds. Commands missing
# here reply with the confirmation byte alone. Simulated error acks keep these lengths (a
# "not found" Search ack carries page and score zero) because third-party clients read fixed
# lengths; real modules' error lengths are undocumented, so the client also accepts 1.
REPLY_PAYLOAD_LEN: dict[Command, int] = {
    Command.MATCH: 3,
    Command.SEARCH: 5,
    Command.HIGH_SPEED_SEARCH: 5,
    Command.READ_SYS_PARA: 17,
    Command.GET_RANDOM_CODE: 5,
    Command.TEMPLATE_NUM: 3,
    Command.READ_INDEX_TABLE: 33,
    Command.READ_NOTEPAD: 33,
    Command.GET_ALG_VER: 33,
    Command.GET_FW_VER: 33,
    Command.READ_PROD_INFO: 47,
    Command.GR_ENROLL: 3,
    Command.GR_IDENTIFY: 5,
    Command.AUTO_ENROLL: 3,
    Command.AUTO_IDENTIFY: 6,
    Command.USER_GPIO: 2,
}


def reply_payload_len(command: int) -> int:
    return REPLY_PAYLOAD_LEN.get(command, 1)  # type: ignore[call-overload]


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


# ---- parameter blocks shared by the simulator (encode) and the client (decode) ----


@dataclass(frozen=True, slots=True)
class SystemParameters:
    """ReadSysPara's 16-byte block (protocol sheet section 4.1)."""

    status: int
    system_id: int
    capacity: int
    security_level: int
    address: int
    packet_size_code: int
    baud_multiplier: int

    STRUCT = struct.Struct(">HHHHIHH")

    @property
    def packet_size(self) -> int:
        return PACKET_SIZES.get(self.packet_size_code, 128)

    @property
    def baud(self) -> int:
        return 9600 * self.baud_multiplier

    def pack(self) -> bytes:
        return self.STRUCT.pack(
            self.status,
            self.system_id,
            self.capacity,
            self.security_level,
            self.address,
            self.packet_size_code,
            self.baud_multiplier,
        )

    @classmethod
    def unpack(cls, block: bytes) -> SystemParameters:
        return cls(*cls.STRUCT.unpack(block[:16]))


@dataclass(frozen=True, slots=True)
class ProductInfo:
    """ReadProdInfo's 46-byte block (R503; protocol sheet section 2.3)."""

    model: str
    batch: str
    serial: str
    hardware_version: tuple[int, int]
    sensor_model: str
    image_width: int
    image_height: int
    template_size: int
    capacity: int

    STRUCT = struct.Struct(">16s4s8sBB8sHHHH")

    def pack(self) -> bytes:
        return self.STRUCT.pack(
            self.model.encode("ascii"),
            self.batch.encode("ascii"),
            self.serial.encode("ascii"),
            *self.hardware_version,
            self.sensor_model.encode("ascii"),
            self.image_width,
            self.image_height,
            self.template_size,
            self.capacity,
        )

    @classmethod
    def unpack(cls, block: bytes) -> ProductInfo:
        model, batch, serial, hw_major, hw_minor, sensor, width, height, size, cap = (
            cls.STRUCT.unpack(block[:46])
        )
        return cls(
            ascii_field(model),
            ascii_field(batch),
            ascii_field(serial),
            (hw_major, hw_minor),
            ascii_field(sensor),
            width,
            height,
            size,
            cap,
        )


def ascii_field(raw: bytes) -> str:
    """A zero-padded ASCII field as text; non-ASCII bytes are escaped, never fatal."""
    return raw.split(b"\x00", 1)[0].decode("ascii", "backslashreplace").strip()


def pack_index_page(occupied: set[int], page: int) -> bytes:
    """ReadIndexTable's 32-byte bitmap for slots 256*page .. 256*page+255 (LSB = lowest)."""
    table = bytearray(32)
    base = 256 * page
    for slot in occupied:
        offset = slot - base
        if 0 <= offset < 256:
            table[offset // 8] |= 1 << (offset % 8)
    return bytes(table)


def unpack_index_page(table: bytes, page: int) -> set[int]:
    base = 256 * page
    return {
        base + 8 * i + bit for i, byte in enumerate(table[:32]) for bit in range(8) if byte >> bit & 1
    }

"""Parameter blocks shared by the simulator (pack) and the client (unpack).

ReadSysPara's 16-byte block, ReadProdInfo's 46-byte block and ReadIndexTable's bitmap, laid
out as in the protocol sheet (sections 4.1, 2.3 and 2.2). Pure data.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

PACKET_SIZES = {0: 32, 1: 64, 2: 128, 3: 256}  # system parameter 6: code -> data bytes


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

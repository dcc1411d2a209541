"""Model profiles of the simulated R30x family and the timing model, as plain data.

Owns: which commands each model answers, buffer and file sizes, capacities, the ReadSysPara
defaults, the default firmware strings and the per-command processing times. A benchmark reads
``profile.processing_s[Command]`` and ``wire_time_s()`` to compute the floor of an exchange
(wire time of the bytes + modelled processing). Pure data: imports no IO.

Sizes and defaults follow docs/r30x-protocol.md section 5.1 (R307/AS608 256/512 B, R503
V1.2.x 512/1536 B) and section 4.4 (system id 0x0000 on R503/AS608, 0x0009 hard-coded by
R30x-era libraries). The AS608 system id is read by libdriver as a sensor type; 0x0000 is
its "FPC1011C" value and what the simulator reports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

from doorward.drivers.r30x.protocol import Command

BITS_PER_BYTE_ON_WIRE = 10  # 8N1: start bit + 8 data bits + stop bit
BASE_BAUD = 9600

# Commands every profile answers (protocol sheet section 2.1, "All").
COMMON_COMMANDS = frozenset(
    {
        Command.GEN_IMG, Command.IMG2TZ, Command.MATCH, Command.SEARCH, Command.REG_MODEL,
        Command.STORE, Command.LOAD_CHAR, Command.UP_CHAR, Command.DOWN_CHAR,
        Command.DELETE_CHAR, Command.EMPTY, Command.SET_SYS_PARA, Command.READ_SYS_PARA,
        Command.SET_PWD, Command.VFY_PWD, Command.GET_RANDOM_CODE, Command.SET_ADDR,
        Command.WRITE_NOTEPAD, Command.READ_NOTEPAD, Command.TEMPLATE_NUM,
        Command.READ_INDEX_TABLE, Command.HIGH_SPEED_SEARCH,
    }
)

R503_EXTRA = frozenset(
    {
        Command.HANDSHAKE, Command.GET_IMAGE_EX, Command.AURA_LED_CONFIG,
        Command.CHECK_SENSOR, Command.SOFT_RST, Command.GET_FW_VER, Command.GET_ALG_VER,
        Command.READ_PROD_INFO,
    }
)

# Module processing time per command, seconds, excluding wire time. Where section 6.3 of the
# protocol sheet gives a measured TX->RX latency (57 600 bps clone), the wire time of the
# command and ack (section 8.1) is subtracted; other values are estimates (flash writes like
# Store, quick register reads like TempleteNum).
_PROCESSING_S: dict[Command, float] = {
    Command.GEN_IMG: 0.190 - 0.00417,  # measured 184/193/190 ms with a finger present
    Command.GET_IMAGE_EX: 0.190 - 0.00417,
    Command.IMG2TZ: 0.298 - 0.00434,  # measured 296/302/295 ms
    Command.MATCH: 0.010,
    Command.SEARCH: 0.047 - 0.00573,  # measured 47 ms
    Command.HIGH_SPEED_SEARCH: 0.047 - 0.00573,
    Command.REG_MODEL: 0.012 - 0.00417,  # measured 12 ms
    Command.STORE: 0.058 - 0.00469,  # measured 58 ms
    Command.LOAD_CHAR: 0.010,
    Command.DELETE_CHAR: 0.066 - 0.00486,  # measured 66 ms (one slot)
    Command.EMPTY: 0.070 - 0.00417,  # measured 70 ms
    Command.READ_SYS_PARA: 0.016 - 0.00694,  # measured 16 ms
    Command.TEMPLATE_NUM: 0.012 - 0.00451,  # measured 12 ms
    Command.SET_SYS_PARA: 0.050,
    Command.SET_PWD: 0.050,
    Command.SET_ADDR: 0.050,
    Command.WRITE_NOTEPAD: 0.050,
}
DEFAULT_PROCESSING_S = 0.003  # register reads, handshakes, buffer transfers
NO_FINGER_S = 0.005  # GenImg answers 0x02 at once when no finger is on the glass
READY_DELAY_S = 0.050  # R503 V1.2.x: ~50 ms from power-up/SoftRst to the 0x55 byte


def _processing_table() -> Mapping[Command, float]:
    table = {command: DEFAULT_PROCESSING_S for command in Command}
    table.update(_PROCESSING_S)
    return MappingProxyType(table)


@dataclass(frozen=True, slots=True)
class ModuleProfile:
    name: str
    capacity: int
    feature_size: int  # UpChar after Img2Tz
    template_size: int  # UpChar after RegModel or LoadChar
    char_buffers: int
    sends_ready_byte: bool  # bare 0x55 after power-up and SoftRst
    system_id: int
    default_firmware: str
    algorithm_version: str
    extra_commands: frozenset[Command]
    unsupported_code: int  # R503 documents 0xFC; older modules are undocumented (0x01 here)
    valid_baud_multipliers: frozenset[int]
    touch_active_low: bool  # R503 touch line idles high, low when touched; AS608 WAK is high
    image_size: tuple[int, int]
    processing_s: Mapping[Command, float] = field(default_factory=_processing_table)
    no_finger_s: float = NO_FINGER_S
    ready_delay_s: float = READY_DELAY_S

    @property
    def commands(self) -> frozenset[Command]:
        return COMMON_COMMANDS | self.extra_commands

    def supports(self, code: int) -> bool:
        return code in self.commands

    @property
    def max_merge(self) -> int:
        """RegModel merges two feature files, or two to six on R503 (one per char buffer)."""
        return self.char_buffers


PROFILES: Mapping[str, ModuleProfile] = MappingProxyType(
    {
        "r307": ModuleProfile(
            name="r307", capacity=1000, feature_size=256, template_size=512, char_buffers=2,
            sends_ready_byte=False, system_id=0x0009, default_firmware="R307-SIM-1.0",
            algorithm_version="R307-ALG-SIM-1.0",
            extra_commands=frozenset({Command.GET_ECHO}), unsupported_code=0x01,
            valid_baud_multipliers=frozenset(range(1, 13)), touch_active_low=True,
            image_size=(256, 288),
        ),
        "r503": ModuleProfile(
            name="r503", capacity=200, feature_size=512, template_size=1536, char_buffers=6,
            sends_ready_byte=True, system_id=0x0000, default_firmware="R503-SIM-1.2.1",
            algorithm_version="R503-ALG-SIM-1.2", extra_commands=R503_EXTRA,
            unsupported_code=0xFC, valid_baud_multipliers=frozenset({1, 2, 4, 6, 12}),
            touch_active_low=True, image_size=(192, 192),
        ),
        "as608": ModuleProfile(
            name="as608", capacity=300, feature_size=256, template_size=512, char_buffers=2,
            sends_ready_byte=False, system_id=0x0000, default_firmware="AS608-SIM-1.0",
            algorithm_version="AS608-ALG-SIM-1.0", extra_commands=frozenset(),
            unsupported_code=0x01, valid_baud_multipliers=frozenset(range(1, 13)),
            touch_active_low=False, image_size=(256, 288),
        ),
    }
)


def get_profile(name: str) -> ModuleProfile:
    try:
        return PROFILES[name.lower()]
    except KeyError:
        raise ValueError(f"unknown module model {name!r}; choose one of {sorted(PROFILES)}")


def byte_time_s(baud: int) -> float:
    """Seconds one byte occupies on an 8N1 line (57 600 bps: 0.17361 ms)."""
    return BITS_PER_BYTE_ON_WIRE / baud


def wire_time_s(n_bytes: int, baud: int = 57_600) -> float:
    return n_bytes * byte_time_s(baud)

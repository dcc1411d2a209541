"""The R30x module client: every command the door and the kiosk use, with typed results.

Usage::

    with R30xSensor.from_url("/dev/serial0", password=pw) as sensor:
        sensor.open()                      # VfyPwd, then ReadSysPara
        if sensor.gen_img() is Image.TAKEN and sensor.img2tz(1) is Features.OK:
            hit = sensor.search(1)

Reset handling: before each command the input is drained; a bare 0x55 there, or a 0x21
("verify password first") reply, means the module restarted and lost its buffers. The client
verifies the password again and raises ``ModuleReset`` without replaying the command: the
caller must start its scan or enrolment over. Only idempotent commands are retried, once, and
only after a garbled reply (never after silence, so a dead module is reported within one
deadline). A lost port raises ``PortLost``; ``reopen()`` is for the owner to call.
"""

from __future__ import annotations

import logging
import struct
import time
from collections.abc import Callable, Collection

from doorward.drivers.r30x.errors import BadFrame, ModuleRejected, ModuleReset, UnexpectedReply
from doorward.drivers.r30x.exchange import Exchanger, ResetSeen
from doorward.drivers.r30x.identity import identity_from
from doorward.drivers.r30x.protocol import (
    DEFAULT_ADDRESS,
    DEFAULT_PASSWORD,
    Command,
    Confirmation,
    ProductInfo,
    SystemParameters,
    ascii_field,
    unpack_index_page,
)
from doorward.drivers.r30x.results import (
    FEATURE_OUTCOMES,
    IMAGE_OUTCOMES,
    Features,
    Image,
    MatchResult,
    ModuleParameters,
    SearchResult,
)
from doorward.drivers.r30x.transport import DEFAULT_BAUD, SerialTransport, Transport

log = logging.getLogger(__name__)

OK = frozenset({Confirmation.OK})
DEFAULT_TIMEOUT_S = 1.0
# R503 V1.2: ready ~50 ms after SoftRst; drivers allow up to 3 s (protocol sheet 6.4).
SOFT_RESET_READY_S = 1.0
# The least deadline a command gets, whatever the caller's ``timeout_s``: the module's own
# processing time with margin (protocol sheet 6.2: capture < 0.5 s, feature extraction
# < 0.5 s, a 1:1000 search < 1 s, flash writes ~60-70 ms, clearing the library longer).
# Kept tight: silence must show as "reader offline" within 2 s.
SLOW_COMMAND_TIMEOUT_S = {
    Command.GEN_IMG: 0.5,
    Command.GET_IMAGE_EX: 0.5,
    Command.IMG2TZ: 0.6,
    Command.SEARCH: 1.5,
    Command.HIGH_SPEED_SEARCH: 1.5,
    Command.STORE: 0.3,
    Command.DELETE_CHAR: 0.3,
    Command.EMPTY: 2.0,
}
# Safe to send twice: a repeat leaves the module as one send would (reads, or writes that
# land on the same state).
IDEMPOTENT = frozenset(
    {
        Command.VFY_PWD, Command.READ_SYS_PARA, Command.TEMPLATE_NUM, Command.READ_INDEX_TABLE,
        Command.READ_NOTEPAD, Command.WRITE_NOTEPAD, Command.GET_FW_VER, Command.GET_ALG_VER,
        Command.READ_PROD_INFO, Command.HANDSHAKE, Command.GET_ECHO, Command.CHECK_SENSOR,
        Command.GEN_IMG, Command.GET_IMAGE_EX, Command.IMG2TZ, Command.MATCH, Command.SEARCH,
        Command.HIGH_SPEED_SEARCH, Command.LOAD_CHAR, Command.UP_CHAR, Command.DELETE_CHAR,
        Command.AURA_LED_CONFIG, Command.STORE,
    }
)  # fmt: skip


class R30xSensor:
    def __init__(
        self,
        transport: Transport,
        *,
        password: int = DEFAULT_PASSWORD,
        address: int = DEFAULT_ADDRESS,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        baud: int = DEFAULT_BAUD,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.password = password
        self.timeout_s = timeout_s
        self.baud = baud
        self.params: ModuleParameters | None = None
        self._link = Exchanger(transport, address=address, clock=clock)

    @classmethod
    def from_url(cls, url: str, *, baud: int = DEFAULT_BAUD, **kwargs: object) -> R30xSensor:
        return cls(SerialTransport(url, baud), baud=baud, **kwargs)  # type: ignore[arg-type]

    @property
    def stats(self):  # noqa: ANN201 - ExchangeStats
        return self._link.stats

    # ---- lifecycle ----

    def open(self) -> ModuleParameters:
        """Verify the password and learn capacity and packet size."""
        self.settle()
        self.verify_password()
        self.params = self.read_parameters()
        return self.params

    def settle(self) -> None:
        """Drop what the module sent before we talked to it: its power-up byte (0x55) loses
        nothing, where the same byte in the middle of a session means a reset."""
        try:
            self._link.drain()
        except ResetSeen:
            pass

    def reopen(self) -> ModuleParameters:
        """After ``PortLost``: open the port again and re-establish the session."""
        self._link.forget_input()
        self._link.transport.reopen()
        return self.open()

    def close(self) -> None:
        self._link.close()

    def __enter__(self) -> R30xSensor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- the exchange, with reset detection and retry ----

    def _call(
        self, command: Command, params: bytes = b"", ok_codes: Collection[int] = OK
    ) -> tuple[int, bytes]:
        """Run one command; return (confirmation, reply params) for any code in ok_codes."""
        timeout_s = max(self.timeout_s, SLOW_COMMAND_TIMEOUT_S.get(command, 0.0))
        attempts = 2 if command in IDEMPOTENT else 1
        for attempt in range(1, attempts + 1):
            self._drain_checking_reset()
            try:
                reply = self._link.command(command, params, timeout_s)
                break
            except ResetSeen as seen:
                self._recover_from_reset(str(seen))
            except (BadFrame, UnexpectedReply):
                if attempt == attempts:
                    raise
                self._link.stats.retries += 1
        code = reply.code
        if code == Confirmation.PASSWORD_REQUIRED and command != Command.VFY_PWD:
            self._recover_from_reset(f"{command.name} answered 0x21 (password not verified)")
        if code not in ok_codes:
            raise ModuleRejected(code, command.name)
        return code, reply.params

    def _drain_checking_reset(self) -> None:
        try:
            self._link.drain()
        except ResetSeen as seen:
            self._recover_from_reset(f"module sent a reset byte ({seen})")

    def _recover_from_reset(self, why: str) -> None:
        log.warning("fingerprint module reset: %s; verifying the password again", why)
        self._link.forget_input()
        self.verify_password()
        raise ModuleReset(why)

    # ---- session and parameters ----

    def verify_password(self) -> None:
        self._call(Command.VFY_PWD, struct.pack(">I", self.password))

    def set_password(self, password: int) -> None:
        self._call(Command.SET_PWD, struct.pack(">I", password))
        self.password = password

    def handshake(self) -> None:
        """HandShake 0x40 (R503 family): OK means ready."""
        self._call(Command.HANDSHAKE)

    def get_echo(self) -> None:
        """GetEcho 0x53 (ZFM/R307 family): the module answers 0x55 when ready."""
        self._call(Command.GET_ECHO, ok_codes={Confirmation.ECHO_OK})

    def read_system_parameters(self) -> SystemParameters:
        _, block = self._call(Command.READ_SYS_PARA)
        return SystemParameters.unpack(block)

    def read_parameters(self) -> ModuleParameters:
        sp = self.read_system_parameters()
        return ModuleParameters(
            sp.capacity, sp.packet_size, sp.security_level, sp.system_id, sp.baud
        )

    def set_system_parameter(self, number: int, value: int) -> None:
        """SetSysPara, for a one-time setup: the module applies it after a power cycle."""
        self._call(Command.SET_SYS_PARA, bytes((number, value)))

    def _require_params(self) -> ModuleParameters:
        if self.params is None:
            self.params = self.read_parameters()
        return self.params

    # ---- capture and matching ----

    def gen_img(self) -> Image:
        code, _ = self._call(Command.GEN_IMG, ok_codes=IMAGE_OUTCOMES)
        return IMAGE_OUTCOMES[code]

    def get_image_ex(self) -> Image:
        """GetImageEx 0x28 (R503): like GenImg but reports a poor image instead of taking it."""
        code, _ = self._call(Command.GET_IMAGE_EX, ok_codes=IMAGE_OUTCOMES)
        return IMAGE_OUTCOMES[code]

    def img2tz(self, buffer_id: int) -> Features:
        code, _ = self._call(Command.IMG2TZ, bytes((buffer_id,)), ok_codes=FEATURE_OUTCOMES)
        return FEATURE_OUTCOMES[code]

    def match(self) -> MatchResult:
        """Compare CharBuffer1 with CharBuffer2."""
        code, params = self._call(Command.MATCH, ok_codes={Confirmation.OK, Confirmation.NO_MATCH})
        score = struct.unpack(">H", params)[0] if len(params) == 2 else 0
        return MatchResult(code == Confirmation.OK, score if code == Confirmation.OK else 0)

    def search(
        self, buffer_id: int = 1, start: int = 0, count: int | None = None, *, fast: bool = False
    ) -> SearchResult:
        """1:N search of ``count`` slots from ``start`` (default: the whole library)."""
        if count is None:
            count = self._require_params().capacity - start
        command = Command.HIGH_SPEED_SEARCH if fast else Command.SEARCH
        ok = {Confirmation.OK, Confirmation.NOT_FOUND}
        code, params = self._call(command, struct.pack(">BHH", buffer_id, start, count), ok)
        if code != Confirmation.OK:
            return SearchResult(False, 0, 0)
        page, score = struct.unpack(">HH", params)
        return SearchResult(True, page, score)

    def reg_model(self) -> bool:
        """Merge the captured feature files; False when they are not the same finger."""
        code, _ = self._call(Command.REG_MODEL, ok_codes={Confirmation.OK, Confirmation.MERGE_FAILED})
        return code == Confirmation.OK

    # ---- the library ----

    def store(self, buffer_id: int, page: int) -> None:
        self._call(Command.STORE, struct.pack(">BH", buffer_id, page))

    def load_char(self, buffer_id: int, page: int) -> None:
        self._call(Command.LOAD_CHAR, struct.pack(">BH", buffer_id, page))

    def delete_char(self, page: int, count: int = 1) -> None:
        self._call(Command.DELETE_CHAR, struct.pack(">HH", page, count))

    def empty(self) -> None:
        self._call(Command.EMPTY)

    def template_count(self) -> int:
        _, params = self._call(Command.TEMPLATE_NUM)
        return struct.unpack(">H", params)[0]

    def read_index_table(self, index_page: int) -> set[int]:
        _, table = self._call(Command.READ_INDEX_TABLE, bytes((index_page,)))
        return unpack_index_page(table, index_page)

    def occupied_slots(self) -> set[int]:
        capacity = self._require_params().capacity
        slots: set[int] = set()
        for index_page in range((capacity + 255) // 256):
            slots |= self.read_index_table(index_page)
        return {slot for slot in slots if slot < capacity}

    # ---- template transfers ----

    def up_char(self, buffer_id: int) -> bytes:
        """Upload a char buffer to the host: a feature file or a template."""
        params = self._require_params()
        for attempt in (1, 2):
            self._call(Command.UP_CHAR, bytes((buffer_id,)))
            deadline = self._link.deadline(self.timeout_s + self._line_time_s(1536, params))
            try:
                return self._link.receive_data(deadline, params.packet_size, "UP_CHAR data")
            except (BadFrame, UnexpectedReply):
                if attempt == 2:
                    raise
                self._link.stats.retries += 1
        raise AssertionError("unreachable")

    def down_char(self, buffer_id: int, data: bytes) -> None:
        """Download a template or feature file into a char buffer."""
        params = self._require_params()
        self._call(Command.DOWN_CHAR, bytes((buffer_id,)))
        self._link.send_data(data, params.packet_size)

    def _line_time_s(self, size: int, params: ModuleParameters) -> float:
        packets = -(-size // params.packet_size)
        return 2 * (size + 11 * packets) * 10 / (params.baud or self.baud)

    # ---- notepad, LEDs, health ----

    def write_notepad(self, page: int, data: bytes) -> None:
        if len(data) > 32:
            raise ValueError("a notepad page holds 32 bytes")
        self._call(Command.WRITE_NOTEPAD, bytes((page,)) + data.ljust(32, b"\x00"))

    def read_notepad(self, page: int) -> bytes:
        return self._call(Command.READ_NOTEPAD, bytes((page,)))[1]

    def get_random_code(self) -> int:
        return struct.unpack(">I", self._call(Command.GET_RANDOM_CODE)[1])[0]

    def aura_led(self, control: int, speed: int, colour: int, count: int = 0) -> None:
        """AuraLedConfig 0x35 (R503 ring LED): control 1-6, colour 1-7 (sheet section 2.4)."""
        self._call(Command.AURA_LED_CONFIG, bytes((control, speed, colour, count)))

    def check_sensor(self) -> bool:
        """CheckSensor 0x36 (R503): False when the module reports its sensor abnormal."""
        code, _ = self._call(Command.CHECK_SENSOR, ok_codes={Confirmation.OK, Confirmation.SENSOR_ERROR})
        return code == Confirmation.OK

    def soft_reset(self) -> None:
        """SoftRst 0x3D: the module restarts and sends 0x55 when ready; re-verify then."""
        self._call(Command.SOFT_RST)
        if not self._link.wait_for_reset_byte(SOFT_RESET_READY_S):
            log.warning("no 0x55 ready byte within %.1f s of SoftRst", SOFT_RESET_READY_S)
        self.verify_password()

    # ---- identity ----

    def get_fw_ver(self) -> str:
        return ascii_field(self._call(Command.GET_FW_VER)[1])

    def get_alg_ver(self) -> str:
        return ascii_field(self._call(Command.GET_ALG_VER)[1])

    def read_product_info(self) -> ProductInfo:
        return ProductInfo.unpack(self._call(Command.READ_PROD_INFO)[1])

    def module_identity(self) -> str:
        """One string naming profile and firmware; templates move only between equal ones."""
        return identity_from(self)

"""What each instruction does inside the simulated module: one handler per command.

Owns the command semantics (buffers, library, registers, notepad, the R503 extras); framing,
the password/address gate, timing and emission stay in sim/module/r30x.py. A handler takes the
command's parameter bytes and returns a ``Reply``; a parameter block too short to unpack
answers 0x01 like a malformed packet. Imports no IO beyond the flash's own save().
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from doorward.drivers.r30x.protocol import (
    Command,
    Confirmation as C,
    ProductInfo,
    SystemParameters,
    pack_index_page,
)
from doorward.sim.module import fingers
from doorward.sim.module.flash import NOTEPAD_PAGE_SIZE, NOTEPAD_PAGES

if TYPE_CHECKING:
    from doorward.sim.module.r30x import SimulatedR30x

INDEX_PAGES = 4  # ReadIndexTable pages 0..3 cover up to 1024 slots
STATUS_PASS, STATUS_PWD, STATUS_IMAGE = 0x0002, 0x0004, 0x0008


@dataclass(frozen=True, slots=True)
class Reply:
    code: int
    params: bytes = b""
    data: bytes | None = None  # uploaded as data packets after the ack (UpChar)
    processing_s: float | None = None  # overrides the profile's time (GenImg, no finger)
    reset_after: bool = False  # SoftRst: reset once the ack is out, then send 0x55


class CommandSet:
    def __init__(self, module: SimulatedR30x) -> None:
        self.m = module
        self._handlers: dict[int, Callable[[bytes], Reply]] = {
            Command.GEN_IMG: self.gen_img, Command.GET_IMAGE_EX: self.gen_img,
            Command.IMG2TZ: self.img2tz, Command.MATCH: self.match,
            Command.SEARCH: self.search, Command.HIGH_SPEED_SEARCH: self.search,
            Command.REG_MODEL: self.reg_model, Command.STORE: self.store,
            Command.LOAD_CHAR: self.load_char, Command.UP_CHAR: self.up_char,
            Command.DOWN_CHAR: self.down_char, Command.DELETE_CHAR: self.delete_char,
            Command.EMPTY: self.empty, Command.SET_SYS_PARA: self.set_sys_para,
            Command.READ_SYS_PARA: self.read_sys_para, Command.SET_PWD: self.set_pwd,
            Command.VFY_PWD: self.vfy_pwd, Command.GET_RANDOM_CODE: self.random_code,
            Command.SET_ADDR: self.set_addr, Command.WRITE_NOTEPAD: self.write_notepad,
            Command.READ_NOTEPAD: self.read_notepad, Command.TEMPLATE_NUM: self.template_num,
            Command.READ_INDEX_TABLE: self.read_index_table, Command.GET_ECHO: self.get_echo,
            Command.HANDSHAKE: self.ok, Command.CHECK_SENSOR: self.ok,
            Command.AURA_LED_CONFIG: self.aura_led, Command.SOFT_RST: self.soft_reset,
            Command.GET_FW_VER: self.fw_version, Command.GET_ALG_VER: self.alg_version,
            Command.READ_PROD_INFO: self.product_info,
        }

    def run(self, code: int, params: bytes) -> Reply:
        handler = self._handlers.get(code)
        if handler is None or not self.m.profile.supports(code):
            return Reply(self.m.profile.unsupported_code)
        try:
            return handler(params)
        except (struct.error, IndexError):
            return Reply(C.PACKET_ERROR)  # parameters missing: treated as a bad packet

    # ---- helpers ----

    def buffer_index(self, buffer_id: int) -> int | None:
        if self.m.profile.char_buffers == 2:
            # ZFM-20 manual: any BufferID other than 1 is handled as CharBuffer2.
            return 1 if buffer_id == 1 else 2
        return buffer_id if 1 <= buffer_id <= self.m.profile.char_buffers else None

    def parsed(self, index: int) -> fingers.CharFile | None:
        blob = self.m.volatile.buffers[index]
        p = self.m.profile
        return None if blob is None else fingers.parse(blob, p.feature_size, p.template_size)

    def fill(self, index: int, blob: bytes) -> None:
        self.m.volatile.buffers[index] = blob
        self.m.volatile.filled.append(index)

    def threshold(self) -> int:
        return fingers.threshold(self.m.settings.security_level)

    # ---- capture and matching ----

    def gen_img(self, params: bytes) -> Reply:
        if self.m.finger is None:
            self.m.volatile.image = None
            return Reply(C.NO_FINGER, processing_s=self.m.profile.no_finger_s)
        self.m.volatile.image = fingers.new_capture(self.m.finger, self.m.rng)
        return Reply(C.OK)

    def img2tz(self, params: bytes) -> Reply:
        index = self.buffer_index(params[0])
        if index is None:
            return Reply(C.PACKET_ERROR)
        image = self.m.volatile.image
        if image is None:
            return Reply(C.NO_VALID_IMAGE)
        if self.m.messy_rate > 0 and self.m.rng.random() < self.m.messy_rate:
            return Reply(C.IMAGE_MESSY)  # the documented "too messy" code; buffer unchanged
        self.fill(index, fingers.extract_features(image, self.m.tag, self.m.profile.feature_size))
        return Reply(C.OK)

    def match(self, params: bytes) -> Reply:
        points = fingers.score(self.parsed(1), self.parsed(2), self.m.tag)
        self.m.volatile.last_pass = points >= self.threshold()
        if self.m.volatile.last_pass:
            return Reply(C.OK, struct.pack(">H", points))
        return Reply(C.NO_MATCH)

    def search(self, params: bytes) -> Reply:
        buffer_id, start, count = struct.unpack_from(">BHH", params)
        if self.m.lie is not None:  # a lying module: "found" whatever is on the glass
            return Reply(C.OK, struct.pack(">HH", *self.m.lie))
        index = self.buffer_index(buffer_id)
        if index is None:
            return Reply(C.PACKET_ERROR)
        page, points = self.best_page(index, start, count)
        self.m.volatile.last_pass = page is not None
        if page is None:
            return Reply(C.NOT_FOUND)
        return Reply(C.OK, struct.pack(">HH", page, points))

    def best_page(self, index: int, start: int, count: int) -> tuple[int | None, int]:
        probe, p = self.parsed(index), self.m.profile
        best: tuple[int | None, int] = (None, 0)
        for page in range(start, min(start + count, p.capacity)):
            blob = self.m.flash.library.get(page)
            if blob is None:
                continue
            stored = fingers.parse(blob, p.feature_size, p.template_size)
            points = fingers.score(probe, stored, self.m.tag)
            if points >= self.threshold() and points > best[1]:
                best = (page, points)  # strictly better only: ties keep the lowest page
        return best

    def merge_sources(self) -> list[int]:
        if self.m.profile.char_buffers == 2:
            return [1, 2]
        sources = list(dict.fromkeys(self.m.volatile.filled))  # distinct, in fill order
        return sources if len(sources) >= 2 else [1, 2]

    def reg_model(self, params: bytes) -> Reply:
        files = [self.parsed(i) for i in self.merge_sources()]
        template = fingers.merge(
            files, self.m.tag, self.m.settings.security_level, self.m.profile.template_size,
            same_finger_only=not self.m.merge_any,
        )
        self.m.volatile.filled.clear()
        if template is None:
            return Reply(C.MERGE_FAILED)
        self.m.volatile.buffers[1] = self.m.volatile.buffers[2] = template
        return Reply(C.OK)

    # ---- library ----

    def store(self, params: bytes) -> Reply:
        buffer_id, page = struct.unpack_from(">BH", params)
        index = self.buffer_index(buffer_id)
        if index is None or self.m.volatile.buffers[index] is None:
            return Reply(C.PACKET_ERROR)
        if page >= self.m.profile.capacity:
            return Reply(C.BAD_PAGE)
        self.m.flash.library[page] = self.m.volatile.buffers[index]
        self.m.flash.save()
        self.m.volatile.filled.clear()
        return Reply(C.OK)

    def load_char(self, params: bytes) -> Reply:
        buffer_id, page = struct.unpack_from(">BH", params)
        index = self.buffer_index(buffer_id)
        if index is None:
            return Reply(C.PACKET_ERROR)
        if page >= self.m.profile.capacity:
            return Reply(C.BAD_PAGE)
        if page not in self.m.flash.library:
            return Reply(C.TEMPLATE_READ_ERROR)
        self.fill(index, self.m.flash.library[page])
        return Reply(C.OK)

    def up_char(self, params: bytes) -> Reply:
        index = self.buffer_index(params[0])
        blob = None if index is None else self.m.volatile.buffers[index]
        if blob is None:
            return Reply(C.UPLOAD_FAILED)
        return Reply(C.OK, data=blob)

    def down_char(self, params: bytes) -> Reply:
        index = self.buffer_index(params[0])
        if index is None:
            return Reply(C.CANNOT_RECEIVE)
        self.m.start_download(index)
        return Reply(C.OK)

    def delete_char(self, params: bytes) -> Reply:
        page, count = struct.unpack_from(">HH", params)
        if page >= self.m.profile.capacity:
            return Reply(C.BAD_PAGE)
        if page + count > self.m.profile.capacity:
            return Reply(C.DELETE_FAILED)
        for slot in range(page, page + count):
            self.m.flash.library.pop(slot, None)
        self.m.flash.save()
        return Reply(C.OK)

    def empty(self, params: bytes) -> Reply:
        self.m.flash.library.clear()
        self.m.flash.save()
        return Reply(C.OK)

    def template_num(self, params: bytes) -> Reply:
        return Reply(C.OK, struct.pack(">H", len(self.m.flash.library)))

    def read_index_table(self, params: bytes) -> Reply:
        page = params[0]
        if page >= INDEX_PAGES:
            return Reply(C.BAD_PAGE)
        return Reply(C.OK, pack_index_page(set(self.m.flash.library), page))

    # ---- registers, password, address ----

    def set_sys_para(self, params: bytes) -> Reply:
        register, value = struct.unpack_from(">BB", params)
        stored, p = self.m.flash.stored, self.m.profile
        if register == 4:
            if value not in p.valid_baud_multipliers:
                return Reply(C.BAD_REGISTER_CONTENT)
            stored.baud_multiplier = value  # takes effect at the next power-up
        elif register == 5:
            if not 1 <= value <= 5:
                return Reply(C.BAD_REGISTER_CONTENT)
            stored.security_level = self.m.settings.security_level = value  # at once
        elif register == 6:
            if value not in (0, 1, 2, 3):
                return Reply(C.BAD_REGISTER_CONTENT)
            stored.packet_size_code = value  # takes effect at the next power-up
        else:
            return Reply(C.BAD_REGISTER)
        self.m.flash.save()
        return Reply(C.OK)

    def read_sys_para(self, params: bytes) -> Reply:
        v, s = self.m.volatile, self.m.settings
        status = (STATUS_PASS if v.last_pass else 0) | (STATUS_PWD if v.verified else 0)
        status |= STATUS_IMAGE if v.image is not None else 0
        block = SystemParameters(
            status, self.m.profile.system_id, self.m.profile.capacity, s.security_level,
            self.m.flash.address, s.packet_size_code, s.baud_multiplier,
        )
        return Reply(C.OK, block.pack())

    def set_pwd(self, params: bytes) -> Reply:
        (self.m.flash.password,) = struct.unpack_from(">I", params)
        self.m.flash.save()
        self.m.volatile.verified = True  # the host that set it knows it
        return Reply(C.OK)

    def vfy_pwd(self, params: bytes) -> Reply:
        (password,) = struct.unpack_from(">I", params)
        self.m.volatile.verified = password == self.m.flash.password
        return Reply(C.OK if self.m.volatile.verified else C.WRONG_PASSWORD)

    def set_addr(self, params: bytes) -> Reply:
        # The ack is framed after this runs, so it already carries the new address.
        (self.m.flash.address,) = struct.unpack_from(">I", params)
        self.m.flash.save()
        return Reply(C.OK)

    def random_code(self, params: bytes) -> Reply:
        return Reply(C.OK, struct.pack(">I", self.m.rng.getrandbits(32)))

    # ---- notepad ----

    def write_notepad(self, params: bytes) -> Reply:
        page, data = params[0], params[1:]
        if len(data) != NOTEPAD_PAGE_SIZE:
            return Reply(C.PACKET_ERROR)
        if page >= NOTEPAD_PAGES:
            return Reply(C.BAD_NOTEPAD_PAGE)
        self.m.flash.notepad[page] = bytes(data)
        self.m.flash.save()
        return Reply(C.OK)

    def read_notepad(self, params: bytes) -> Reply:
        page = params[0]
        if page >= NOTEPAD_PAGES:
            return Reply(C.BAD_NOTEPAD_PAGE)
        return Reply(C.OK, self.m.flash.notepad[page])

    # ---- model-specific extras ----

    def ok(self, params: bytes) -> Reply:
        return Reply(C.OK)

    def get_echo(self, params: bytes) -> Reply:
        return Reply(C.ECHO_OK)  # GetEcho's "OK" is 0x55, not 0x00

    def aura_led(self, params: bytes) -> Reply:
        control, speed, colour, count = struct.unpack_from(">BBBB", params)
        self.m.led = {"control": control, "speed": speed, "colour": colour, "count": count}
        return Reply(C.OK)

    def soft_reset(self, params: bytes) -> Reply:
        return Reply(C.OK, reset_after=True)

    def fw_version(self, params: bytes) -> Reply:
        return Reply(C.OK, self.m.firmware.encode("ascii")[:32].ljust(32, b"\0"))

    def alg_version(self, params: bytes) -> Reply:
        return Reply(C.OK, self.m.profile.algorithm_version.encode("ascii")[:32].ljust(32, b"\0"))

    def product_info(self, params: bytes) -> Reply:
        p = self.m.profile
        info = ProductInfo(
            p.name.upper(), "SIM1", f"{self.m.seed % 10**8:08d}", (1, 2), "SIMSENS",
            p.image_size[0], p.image_size[1], p.template_size, p.capacity,
        )
        return Reply(C.OK, info.pack())

"""The simulated R30x module: bytes in, timed packets out, byte-accurate to the protocol sheet.

Owns the module's receive state machine (framing via drivers/r30x/protocol.py, the address and
password gate, the DownChar data phase), its volatile state (char buffers, image buffer,
"password verified"), power and reset, and the timing of every reply. Command semantics live
in sim/module/commands.py, persistent state in sim/module/flash.py, line faults in sim/module/faults.py; the links
(sim/module/link.py) carry the ``Emission``s produced here. Imports no serial or socket library.

Build one with ``SimulatedR30x("r503", seed=1)`` and serve it with ``MemoryLink(module)`` or
``PtyBridge(module, path)``; ``python -m doorward.sim.module.r30x`` runs it from the command line.
"""

from __future__ import annotations

import collections
import random
import struct
import sys
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

from doorward.drivers.r30x.protocol import (
    DEFAULT_PASSWORD,
    PACKET_SIZES,
    PREAMBLE_LEN,
    RESET_BYTE,
    Command,
    Confirmation,
    FrameError,
    Packet,
    PacketType,
    decode,
    encode_ack,
    encode_data,
    reply_payload_len,
)
from doorward.sim.module import fingers
from doorward.sim.module.commands import CommandSet, Reply
from doorward.sim.module.faults import FaultInjector
from doorward.sim.module.flash import Flash, load_flash
from doorward.sim.module.profiles import ModuleProfile, byte_time_s, get_profile

# A real UART module abandons a half-received frame after a gap; without this a corrupted
# LENGTH field would make the simulator swallow the host's retries. (Simulator choice.)
RX_GAP_RESET_S = 0.2


@dataclass(frozen=True, slots=True)
class Emission:
    """Bytes the module sends: not before ``not_before`` (monotonic), paced per byte."""

    data: bytes
    not_before: float
    byte_time_s: float
    generation: int  # a power loss invalidates everything still queued


@dataclass
class Volatile:
    """RAM of the module: lost at power-off and SoftRst."""

    buffers: list[bytes | None]  # index 0 unused: CharBuffer1 is buffers[1]
    image: fingers.Capture | None = None
    filled: list[int] = field(default_factory=list)  # buffers filled since RegModel/Store
    verified: bool = False
    last_pass: bool = False
    download: tuple[int, bytearray] | None = None  # DownChar target buffer and bytes so far


class SimulatedR30x:
    def __init__(
        self,
        model: str | ModuleProfile = "r307",
        *,
        firmware: str | None = None,
        seed: int = 0,
        flash_path: str | Path | None = None,
        realtime: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.profile = model if isinstance(model, ModuleProfile) else get_profile(model)
        self.firmware = firmware or self.profile.default_firmware
        self.tag = fingers.binding_tag(self.profile.name, self.firmware)
        path = None if flash_path is None else Path(flash_path)
        self.flash = load_flash(path, self.profile.name, self.firmware)
        self.settings = replace(self.flash.stored)  # what the module runs with until power-up
        self.realtime = realtime
        self.clock = clock
        self.seed = seed
        self.rng = random.Random(seed)
        self.faults = FaultInjector(seed)
        self.messy_rate = 0.0
        self.lie: tuple[int, int] | None = None
        # A clone's RegModel that merges any two captures without comparing them (some AS608
        # and R307 clones do): the host's own Match is then all that refuses mixed fingers.
        self.merge_any = False
        # A latched-up module (firmware hang after a brown-out or an ESD hit): it hears
        # nothing and answers nothing until its supply is cut; no control request clears it.
        self.hung = False
        self.finger: str | None = None
        self.received: collections.Counter[int] = collections.Counter()  # commands, by code
        self.led: dict[str, int] = {}
        self.powered = True
        self.generation = 0
        self.volatile = self._fresh_ram()
        self.touch_listeners: list[Callable[[bool], None]] = []
        self.commands = CommandSet(self)
        self._rx = bytearray()
        self._last_rx = 0.0
        self._rx_line_free_at = 0.0  # when the host's bytes so far have finished arriving
        self._sink: Callable[[Emission], None] | None = None
        self.lock = threading.RLock()

    def _fresh_ram(self) -> Volatile:
        return Volatile(buffers=[None] * (self.profile.char_buffers + 1))

    # ---- wiring to a link ----

    def attach(self, sink: Callable[[Emission], None] | None) -> None:
        """The link that carries this module's output (one at a time)."""
        self._sink = sink

    @property
    def packet_size(self) -> int:
        return PACKET_SIZES[self.settings.packet_size_code]

    @property
    def baud(self) -> int:
        return 9600 * self.settings.baud_multiplier

    def _emit(self, data: bytes, not_before: float) -> None:
        pace = byte_time_s(self.baud) if self.realtime else 0.0
        if self._sink is not None:
            self._sink(Emission(data, not_before, pace, self.generation))

    def _delay(self, seconds: float) -> float:
        return seconds if self.realtime else 0.0

    # ---- receiving ----

    def receive(self, data: bytes) -> None:
        """Bytes from the host (after line faults). Replies go to the attached sink."""
        with self.lock:
            now = self.clock()
            if not self.powered or self.hung:
                return  # an unpowered or latched-up module hears nothing
            if self._rx and now - self._last_rx > RX_GAP_RESET_S:
                self._rx.clear()
            self._last_rx = now
            self._rx += data
            while self._rx:
                consumed = self._take_frame(now)
                if consumed == 0:
                    break
                del self._rx[:consumed]

    def _take_frame(self, now: float) -> int:
        try:
            consumed, packet = decode(self._rx)
        except FrameError as error:
            return self._reject_frame(error, now)
        if packet is not None:
            self._dispatch(packet, consumed, self._arrival(now, consumed))
        return consumed

    def _arrival(self, now: float, size: int) -> float:
        """When the last byte of a ``size``-byte frame has crossed the line: the host's
        bytes (commands and DownChar data alike) queue behind each other at the baud."""
        if not self.realtime:
            return now
        done = max(now, self._rx_line_free_at) + size * byte_time_s(self.baud)
        self._rx_line_free_at = done
        return done

    def _reject_frame(self, error: FrameError, now: float) -> int:
        """A bad checksum on a command to us answers 0x01 (the manuals' "error receiving
        packet"); anything else that fails a check drops one byte and the hunt resumes."""
        if error.reason != "checksum":
            return 1
        address, kind, length = struct.unpack_from(">IBH", self._rx, 2)
        self.volatile.download = None  # a corrupted data packet abandons the download
        if kind == PacketType.COMMAND and address == self.flash.address:
            code = self._rx[PREAMBLE_LEN]
            arrived = self._arrival(now, PREAMBLE_LEN + length)
            self._send(code, Reply(Confirmation.PACKET_ERROR), arrived)
        return PREAMBLE_LEN + length

    def _dispatch(self, packet: Packet, size: int, now: float) -> None:
        if packet.address != self.flash.address:
            return  # foreign address: a real module stays silent (protocol sheet section 7)
        if packet.kind == PacketType.COMMAND:
            self._run_command(packet, size, now)
        elif packet.kind in (PacketType.DATA, PacketType.END_DATA):
            self._take_data(packet)

    def _run_command(self, packet: Packet, size: int, now: float) -> None:
        self.volatile.download = None  # a command ends any unfinished download
        code = packet.code
        self.received[code] += 1
        if self._password_required() and code != Command.VFY_PWD:
            reply = Reply(Confirmation.PASSWORD_REQUIRED)
        else:
            reply = self.commands.run(code, packet.params)
        self._send(code, reply, now)

    def _password_required(self) -> bool:
        return self.flash.password != DEFAULT_PASSWORD and not self.volatile.verified

    def start_download(self, index: int) -> None:
        self.volatile.download = (index, bytearray())

    def _take_data(self, packet: Packet) -> None:
        """DownChar data phase: P-byte packets until PID 0x08; nothing is acknowledged."""
        if self.volatile.download is None:
            return
        index, received = self.volatile.download
        received += packet.payload
        if len(packet.payload) > self.packet_size or len(received) > self.profile.template_size:
            self.volatile.download = None  # larger than the module's buffers: abandoned
            return
        if packet.kind == PacketType.END_DATA:
            self.volatile.download = None
            self.commands.fill(index, bytes(received))

    # ---- sending ----

    def _send(self, code: int, reply: Reply, arrived: float) -> None:
        processing = reply.processing_s
        if processing is None:
            processing = self.profile.processing_s.get(code, 0.0)  # type: ignore[call-overload]
        start = arrived + self._delay(processing)  # processing starts once the command is in
        params = reply.params.ljust(reply_payload_len(code) - 1, b"\0")  # fixed reply lengths
        self._emit(encode_ack(reply.code, params, self.flash.address), start)
        if reply.data is not None:
            for chunk in encode_data(reply.data, self.packet_size, self.flash.address):
                self._emit(chunk, start)  # queued behind the ack; the link paces them
        if reply.reset_after:
            self._reset(power_up=False, at=start + self._delay(12 * byte_time_s(self.baud)))

    def _reset(self, power_up: bool, at: float) -> None:
        self.volatile = self._fresh_ram()
        self._rx.clear()
        if power_up:
            self.settings = replace(self.flash.stored)  # baud and packet size apply now
        if self.profile.sends_ready_byte:
            # R503 V1.2.x: a bare 0x55 about 50 ms after power-up and SoftRst.
            self._emit(bytes((RESET_BYTE,)), at + self._delay(self.profile.ready_delay_s))

    # ---- power, finger, control ----

    def set_power(self, on: bool) -> None:
        with self.lock:
            if on == self.powered:
                return
            self.powered = on
            if on:
                self._reset(power_up=True, at=self.clock())
            else:
                self.generation += 1  # drops replies still queued in the link
                self.volatile = self._fresh_ram()
                self._rx.clear()
                self.hung = False  # losing power is the only cure for a latch-up

    def replace_with_new(self) -> None:
        """Another module of the same model and firmware, factory-fresh, on the same cable
        and supply: what a swap while the Pi is off looks like to the Pi."""
        with self.lock:
            self.flash = Flash(self.profile.name, self.firmware, self.flash.path)
            self.flash.save()
            self.settings = replace(self.flash.stored)
            self.received.clear()
            self.lie, self.merge_any, self.hung, self.messy_rate = None, False, False, 0.0
            self.generation += 1  # nothing the old module said is still on its way
            self.volatile = self._fresh_ram()
            self._rx.clear()
            if self.powered:
                self._reset(power_up=True, at=self.clock())

    def hang(self) -> None:
        """Latch up: silent from now on, through unplugs and reopens, until power is cut."""
        with self.lock:
            self.hung = True
            self.generation += 1  # a reply already on its way is lost with the firmware
            self._rx.clear()

    def power_cycle(self) -> None:
        with self.lock:
            self.set_power(False)
            self.set_power(True)

    def place(self, finger: str) -> None:
        self._touch(finger)

    def lift(self) -> None:
        self._touch(None)

    def _touch(self, finger: str | None) -> None:
        with self.lock:
            changed = (finger is None) != (self.finger is None)
            self.finger = finger
        for listener in list(self.touch_listeners) if changed else []:
            listener(finger is not None)

    def reseed(self, seed: int) -> None:
        with self.lock:
            self.seed = seed
            self.rng.seed(seed)
            self.faults.reseed(seed)

    def control(self, request: object) -> dict[str, object]:
        """One request of the JSON-lines control protocol (sim/module/control.py)."""
        from doorward.sim.module.control import apply_request

        return apply_request(self, request)


def main(argv: list[str] | None = None, prog: str = "python -m doorward.sim.module.r30x") -> int:
    from doorward.sim.module.serve import serve_module

    return serve_module(sys.argv[1:] if argv is None else argv, prog)


if __name__ == "__main__":
    sys.exit(main())

"""The module client against a scripted module: resets, retries, quirks and deadlines.

The scripted transport advances a fake clock instead of sleeping, so every timing rule is
checked exactly and fast. The simulator-backed tests cover the real command set.
"""

from __future__ import annotations

import struct

import pytest

from doorward.drivers.r30x.errors import (
    BadFrame,
    ModuleRejected,
    ModuleReset,
    PortLost,
    Timeout,
    UnexpectedReply,
)
from doorward.drivers.r30x.exchange import QUIET_GAP_S
from doorward.drivers.r30x.protocol import (
    Command,
    Confirmation,
    Packet,
    PacketType,
    ProductInfo,
    SystemParameters,
    encode_ack,
    encode_data,
    encode_packet,
)
from doorward.drivers.r30x.results import Features, Image, MatchResult, SearchResult
from doorward.drivers.r30x.sensor import R30xSensor
from tests.support.fakes import ScriptedTransport, ack

SYS_PARAMS = SystemParameters(0, 9, 1000, 3, 0xFFFFFFFF, 2, 6)


class Script:
    """Replies by command code; a list value is consumed one reply per command."""

    def __init__(self, **overrides: object) -> None:
        self.replies: dict[int, object] = {
            Command.VFY_PWD: ack(),
            Command.READ_SYS_PARA: ack(0, SYS_PARAMS.pack()),
        }
        self.replies.update({int(Command[k]): v for k, v in overrides.items()})

    def __call__(self, packet: Packet) -> bytes:
        reply = self.replies.get(packet.code, b"")
        if isinstance(reply, list):
            return reply.pop(0) if reply else b""
        return reply  # type: ignore[return-value]


def make(script: Script, password: int = 0) -> tuple[R30xSensor, ScriptedTransport]:
    transport = ScriptedTransport(script)
    sensor = R30xSensor(transport, password=password, clock=transport.clock, timeout_s=1.0)
    sensor.open()
    transport.sent.clear()
    return sensor, transport


def test_open_verifies_password_then_reads_parameters() -> None:
    transport = ScriptedTransport(Script())
    sensor = R30xSensor(transport, password=0x1234, clock=transport.clock)
    params = sensor.open()
    assert transport.commands == [Command.VFY_PWD, Command.READ_SYS_PARA]
    assert transport.sent[0].params == struct.pack(">I", 0x1234)
    assert (params.capacity, params.packet_size, params.baud) == (1000, 128, 57600)


@pytest.mark.parametrize(
    ("code", "expected"),
    [(0x00, Image.TAKEN), (0x02, Image.NO_FINGER), (0x03, Image.POOR)],
)
def test_capture_outcomes_are_values(code: int, expected: Image) -> None:
    sensor, _ = make(Script(GEN_IMG=ack(code)))
    assert sensor.gen_img() is expected


def test_feature_and_search_outcomes_are_values() -> None:
    sensor, transport = make(
        Script(
            IMG2TZ=[ack(0x06), ack(0x00)],
            SEARCH=[ack(0x09, bytes(4)), ack(0x00, struct.pack(">HH", 7, 180))],
            MATCH=ack(0x08, bytes(2)),
        )
    )
    assert [sensor.img2tz(1), sensor.img2tz(1)] == [Features.MESSY, Features.OK]
    assert sensor.search(1) == SearchResult(False, 0, 0)
    assert sensor.search(1) == SearchResult(True, 7, 180)
    assert transport.sent[-1].params == struct.pack(">BHH", 1, 0, 1000)
    assert sensor.match() == MatchResult(False, 0)


def test_other_confirmations_raise_module_rejected() -> None:
    sensor, _ = make(Script(STORE=ack(0x18)))
    with pytest.raises(ModuleRejected) as info:
        sensor.store(1, 5)
    assert info.value.code == Confirmation.FLASH_ERROR
    assert "STORE" in str(info.value) and "FLASH_ERROR" in str(info.value)


def test_silence_times_out_within_the_deadline_without_retry() -> None:
    sensor, transport = make(Script(TEMPLATE_NUM=b""))
    start = transport.clock.now
    with pytest.raises(Timeout):
        sensor.template_count()
    assert transport.clock.now - start == pytest.approx(1.0)
    assert transport.commands == [Command.TEMPLATE_NUM]


def test_garbage_before_the_reply_is_skipped() -> None:
    sensor, _ = make(Script(TEMPLATE_NUM=b"\x00\x13\xef\x99" + ack(0, b"\x00\x05")))
    assert sensor.template_count() == 5


def corrupt(frame: bytes) -> bytes:
    return frame[:-1] + bytes([frame[-1] ^ 0x01])


def test_corrupt_reply_to_an_idempotent_command_is_retried_once() -> None:
    good = ack(0, b"\x00\x05")
    sensor, transport = make(Script(TEMPLATE_NUM=[corrupt(good), good]))
    assert sensor.template_count() == 5
    assert transport.commands == [Command.TEMPLATE_NUM, Command.TEMPLATE_NUM]
    assert sensor.stats.retries == 1


def test_corrupt_reply_is_reported_after_a_quiet_gap_not_a_full_timeout() -> None:
    sensor, transport = make(Script(REG_MODEL=corrupt(ack())))
    start = transport.clock.now
    with pytest.raises(BadFrame, match="checksum"):
        sensor.reg_model()
    assert transport.clock.now - start == pytest.approx(QUIET_GAP_S)
    assert transport.commands == [Command.REG_MODEL]  # not idempotent: never re-sent


def test_truncated_reply_is_a_bad_frame() -> None:
    sensor, _ = make(Script(EMPTY=ack()[:-3]))
    with pytest.raises(BadFrame, match="incomplete"):
        sensor.empty()


def test_wrong_reply_length_is_unexpected() -> None:
    sensor, _ = make(Script(TEMPLATE_NUM=ack(0, b"\x00")))
    with pytest.raises(UnexpectedReply, match="expected 3"):
        sensor.template_count()


def test_short_error_ack_of_a_parameter_command_is_accepted() -> None:
    sensor, _ = make(Script(SEARCH=ack(0x09)))
    assert sensor.search(1, 0, 10) == SearchResult(False, 0, 0)


def test_reply_from_another_address_is_ignored() -> None:
    foreign = encode_packet(Packet(PacketType.ACK, b"\x00\x00\x05", 0x12345678))
    sensor, _ = make(Script(TEMPLATE_NUM=foreign))
    with pytest.raises((BadFrame, Timeout)):
        sensor.template_count()


def test_reset_byte_between_commands_raises_module_reset_once_and_reverifies() -> None:
    sensor, transport = make(Script(TEMPLATE_NUM=ack(0, b"\x00\x02")), password=0xCAFE)
    transport.inject(b"\x55")
    with pytest.raises(ModuleReset):
        sensor.template_count()
    assert transport.commands == [Command.VFY_PWD]  # re-verified, command not replayed
    assert transport.sent[0].params == struct.pack(">I", 0xCAFE)
    assert sensor.template_count() == 2


def test_password_required_reply_means_the_module_reset() -> None:
    sensor, transport = make(Script(GEN_IMG=[ack(0x21), ack(0x02)]))
    with pytest.raises(ModuleReset, match="0x21"):
        sensor.gen_img()
    assert transport.commands == [Command.GEN_IMG, Command.VFY_PWD]
    assert sensor.gen_img() is Image.NO_FINGER


def test_unsolicited_packet_is_drained_and_ignored() -> None:
    sensor, transport = make(Script(TEMPLATE_NUM=ack(0, b"\x00\x03")))
    transport.inject(ack(0x00))
    assert sensor.template_count() == 3
    assert sensor.stats.unsolicited == 1


def test_spurious_ack_after_template_download_is_skipped() -> None:
    real = ack(0, struct.pack(">H", 150))
    sensor, _ = make(Script(DOWN_CHAR=ack(), MATCH=ack(0x01) + real))
    sensor.down_char(2, bytes(512))
    assert sensor.match() == MatchResult(True, 150)
    assert sensor.stats.spurious_acks == 1


def test_a_lone_packet_error_after_download_is_the_real_answer() -> None:
    sensor, _ = make(Script(DOWN_CHAR=ack(), MATCH=ack(0x01)))
    sensor.down_char(2, bytes(512))
    with pytest.raises(ModuleRejected) as info:
        sensor.match()
    assert info.value.code == Confirmation.PACKET_ERROR


def test_download_sends_packets_of_the_module_packet_size() -> None:
    sensor, transport = make(Script(DOWN_CHAR=ack()))
    template = bytes(range(256)) * 2
    sensor.down_char(1, template)
    data = [p for p in transport.sent if p.kind != PacketType.COMMAND]
    assert [p.kind for p in data] == [PacketType.DATA] * 3 + [PacketType.END_DATA]
    assert b"".join(p.payload for p in data) == template


def test_upload_reassembles_data_packets() -> None:
    template = bytes(range(256)) * 2
    sensor, _ = make(Script(UP_CHAR=ack() + b"".join(encode_data(template, 128))))
    assert sensor.up_char(1) == template


def test_upload_rejects_oversized_data_packets() -> None:
    template = bytes(512)
    script = Script(UP_CHAR=ack() + b"".join(encode_data(template, 256)))
    sensor, _ = make(script)
    with pytest.raises(UnexpectedReply, match="exceeds 128"):
        sensor.up_char(1)


def test_unplugged_port_raises_port_lost_and_reopen_recovers() -> None:
    sensor, transport = make(Script(TEMPLATE_NUM=ack(0, b"\x00\x01")))
    transport.unplugged = True
    with pytest.raises(PortLost):
        sensor.template_count()
    with pytest.raises(PortLost):
        sensor.reopen()
    transport.unplugged = False
    sensor.reopen()
    assert sensor.template_count() == 1


def test_identity_of_a_self_reporting_module() -> None:
    info = ProductInfo("R503", "B001", "SN000001", (1, 2), "FPC1021", 192, 192, 1536, 200)
    script = Script(
        READ_PROD_INFO=ack(0, info.pack()),
        GET_FW_VER=ack(0, b"FW-1.2.3".ljust(32, b"\0")),
        GET_ALG_VER=ack(0, b"ALG-9".ljust(32, b"\0")),
    )
    sensor, _ = make(script)
    assert sensor.module_identity() == (
        "model=R503;hw=1.2;fw=FW-1.2.3;alg=ALG-9;template_bytes=1536;capacity=200"
    )


def test_identity_falls_back_to_system_parameters() -> None:
    sensor, _ = make(Script(READ_PROD_INFO=ack(0x01)))
    assert sensor.module_identity() == "model=unknown;system_id=0x0009;capacity=1000"


def test_get_echo_accepts_its_0x55_confirmation() -> None:
    sensor, _ = make(Script(GET_ECHO=encode_ack(0x55)))
    sensor.get_echo()  # raises if 0x55 were treated as an error


def test_soft_reset_waits_for_the_ready_byte_then_reverifies() -> None:
    sensor, transport = make(Script(SOFT_RST=ack() + b"\x55"))
    sensor.soft_reset()
    assert transport.commands == [Command.SOFT_RST, Command.VFY_PWD]


def test_reset_byte_before_a_reply_discredits_that_reply() -> None:
    sensor, transport = make(Script(SEARCH=b"\x55" + ack(0x09, bytes(4))), password=7)
    with pytest.raises(ModuleReset, match="before the SEARCH reply"):
        sensor.search(1)
    assert transport.commands == [Command.SEARCH, Command.VFY_PWD]

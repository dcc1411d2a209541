"""The simulated module over a MemoryLink: every command, golden bytes, gates, persistence."""

from __future__ import annotations

import json
import struct
import time

import pytest

from doorward.drivers.r30x.protocol import (
    REPLY_PAYLOAD_LEN,
    Command,
    PacketType,
    ProductInfo,
    SystemParameters,
    encode_command,
    encode_packet,
    Packet,
    unpack_index_page,
)
from doorward.sim.module.link import MemoryLink
from doorward.sim.module.profiles import PROFILES, get_profile, wire_time_s
from doorward.sim.module.r30x import SimulatedR30x
from tests.support.sim import Host, search

MODELS = sorted(PROFILES)
ALICE, BOB = "alice/right-index", "bob/left-thumb"


@pytest.fixture(params=MODELS)
def rig(request):
    module = SimulatedR30x(request.param, seed=7)
    with MemoryLink(module) as link:
        yield module, Host(link.host)


def capture(module: SimulatedR30x, host: Host, finger: str, buffer_id: int = 1) -> None:
    module.place(finger)
    assert host.call(Command.GEN_IMG).code == 0
    assert host.call(Command.IMG2TZ, bytes((buffer_id,))).code == 0


def test_golden_ack_bytes(rig) -> None:
    module, host = rig
    host.send(Command.VFY_PWD, bytes(4))
    assert host.raw(12) == bytes.fromhex("EF 01 FF FF FF FF 07 00 03 00 00 0A")
    host.send(Command.GEN_IMG)  # no finger on the glass
    assert host.raw(12) == bytes.fromhex("EF 01 FF FF FF FF 07 00 03 02 00 0C")
    host.transport.write(bytes.fromhex("EF 01 FF FF FF FF 01 00 03 0F 00 13"))  # ReadSysPara
    reply = host.raw(28)
    assert reply[:9] == bytes.fromhex("EF 01 FF FF FF FF 07 00 13") and reply[9] == 0


def test_every_reply_has_its_documented_length(rig) -> None:
    module, host = rig
    for command in sorted(module.profile.commands):
        if command in (Command.SOFT_RST, Command.DOWN_CHAR, Command.SET_ADDR, Command.SET_PWD):
            continue
        params = {Command.WRITE_NOTEPAD: bytes(33), Command.SET_SYS_PARA: b"\x05\x03"}.get(
            command, bytes(8)
        )
        reply = host.call(command, params)
        expected = REPLY_PAYLOAD_LEN.get(command, 1)
        assert len(reply.payload) == expected, command.name


def test_read_sys_para_reports_profile_defaults(rig) -> None:
    module, host = rig
    block = SystemParameters.unpack(host.call(Command.READ_SYS_PARA).params)
    expected_id = {"r307": 0x0009, "r503": 0x0000, "as608": 0x0000}[module.profile.name]
    assert (block.system_id, block.capacity, block.security_level) == (
        expected_id, module.profile.capacity, 3)
    assert (block.address, block.packet_size_code, block.baud_multiplier) == (0xFFFFFFFF, 2, 6)


def test_enrol_then_search_match_and_reject(rig) -> None:
    module, host = rig
    host.enrol(module.place, ALICE, page=5)
    capture(module, host, ALICE)
    found = search(host, 0, module.profile.capacity)
    page, points = struct.unpack(">HH", found.params)
    assert (found.code, page) == (0, 5) and points >= 50
    capture(module, host, BOB)
    assert search(host, 0, module.profile.capacity).payload == bytes((0x09, 0, 0, 0, 0))
    capture(module, host, ALICE)
    assert host.call(Command.HIGH_SPEED_SEARCH, struct.pack(">BHH", 1, 0, 10)).code == 0
    assert search(host, 6, 100).code == 0x09  # page 5 outside StartPage..StartPage+count-1
    assert search(host, 5, 1).code == 0


def test_search_reports_best_scoring_page(rig) -> None:
    module, host = rig
    host.enrol(module.place, BOB, page=1)
    host.enrol(module.place, ALICE, page=2)
    capture(module, host, ALICE)
    assert struct.unpack(">HH", search(host).params)[0] == 2


def test_match_same_and_different_fingers(rig) -> None:
    module, host = rig
    capture(module, host, ALICE, 1)
    capture(module, host, ALICE, 2)
    reply = host.call(Command.MATCH)
    assert reply.code == 0 and struct.unpack(">H", reply.params)[0] >= 50
    capture(module, host, BOB, 2)
    assert host.call(Command.MATCH).payload == b"\x08\x00\x00"
    assert host.call(Command.REG_MODEL).code == 0x0A


def test_template_round_trip_at_each_packet_size(rig) -> None:
    module, host = rig
    host.enrol(module.place, ALICE, page=0)
    for code, size in ((0, 32), (1, 64), (3, 256), (2, 128)):
        assert host.call(Command.SET_SYS_PARA, bytes((6, code))).code == 0
        module.power_cycle()
        host.raw(1, 0.2)  # the R503's 0x55, if any
        host.deframer.clear()
        assert host.call(Command.LOAD_CHAR, struct.pack(">BH", 1, 0)).code == 0
        ack, packets = host.upload(1)
        template = b"".join(p.payload for p in packets)
        assert len(template) == module.profile.template_size
        assert [len(p.payload) for p in packets] == [size] * (len(template) // size)
        assert [p.kind for p in packets][-1] == PacketType.END_DATA
        assert all(p.kind == PacketType.DATA for p in packets[:-1])
        assert host.download(2, template, size).code == 0
        assert host.call(Command.STORE, struct.pack(">BH", 2, 9)).code == 0
        assert host.call(Command.LOAD_CHAR, struct.pack(">BH", 1, 9)).code == 0
        assert b"".join(p.payload for p in host.upload(1)[1]) == template


def test_download_packets_larger_than_p_are_abandoned(rig) -> None:
    module, host = rig
    host.enrol(module.place, ALICE, page=0)
    template = b"".join(p.payload for p in host.upload(1)[1])
    assert host.call(Command.LOAD_CHAR, struct.pack(">BH", 2, 0)).code == 0
    host.download(2, bytes(len(template)), 256)  # module still at P = 128
    assert b"".join(p.payload for p in host.upload(2)[1]) == template


def test_feature_file_and_template_sizes(rig) -> None:
    module, host = rig
    capture(module, host, ALICE, 1)
    assert len(b"".join(p.payload for p in host.upload(1)[1])) == module.profile.feature_size
    capture(module, host, ALICE, 2)
    host.call(Command.REG_MODEL)
    for buffer_id in (1, 2):
        blob = b"".join(p.payload for p in host.upload(buffer_id)[1])
        assert len(blob) == module.profile.template_size


def test_library_commands(rig) -> None:
    module, host = rig
    for page in (0, 3, 17):
        host.enrol(module.place, f"user{page}/index", page=page)
    assert host.call(Command.TEMPLATE_NUM).payload == b"\x00\x00\x03"
    table = host.call(Command.READ_INDEX_TABLE, b"\x00").params
    assert unpack_index_page(table, 0) == {0, 3, 17}
    assert host.call(Command.LOAD_CHAR, struct.pack(">BH", 1, 4)).code == 0x0C
    assert host.call(Command.LOAD_CHAR, struct.pack(">BH", 1, module.profile.capacity)).code == 0x0B
    assert host.call(Command.STORE, struct.pack(">BH", 1, module.profile.capacity)).code == 0x0B
    assert host.call(Command.DELETE_CHAR, struct.pack(">HH", 2, 2)).code == 0
    assert sorted(module.flash.library) == [0, 17]
    assert host.call(Command.EMPTY).code == 0
    assert host.call(Command.TEMPLATE_NUM).params == b"\x00\x00"


def test_notepad_random_and_registers(rig) -> None:
    module, host = rig
    page = bytes(range(32))
    assert host.call(Command.WRITE_NOTEPAD, b"\x03" + page).code == 0
    assert host.call(Command.READ_NOTEPAD, b"\x03").params == page
    assert host.call(Command.READ_NOTEPAD, b"\x10").payload == b"\x1c" + bytes(32)
    assert host.call(Command.WRITE_NOTEPAD, b"\x10" + page).code == 0x1C
    first, second = (host.call(Command.GET_RANDOM_CODE).params for _ in range(2))
    assert len(first) == 4 and first != second
    assert host.call(Command.SET_SYS_PARA, b"\x07\x01").code == 0x1A
    assert host.call(Command.SET_SYS_PARA, b"\x05\x09").code == 0x1B
    assert host.call(Command.SET_SYS_PARA, b"\x05\x05").code == 0
    assert host.call(Command.SET_SYS_PARA, b"\x04\x0c").code == 0
    block = SystemParameters.unpack(host.call(Command.READ_SYS_PARA).params)
    assert (block.security_level, block.baud_multiplier) == (5, 6)  # baud waits for power-up
    module.power_cycle()
    host.raw(1, 0.2)
    host.deframer.clear()
    assert SystemParameters.unpack(host.call(Command.READ_SYS_PARA).params).baud == 115_200


def test_password_gate(rig) -> None:
    module, host = rig
    assert host.call(Command.SET_PWD, struct.pack(">I", 0x1234)).code == 0
    assert host.call(Command.TEMPLATE_NUM).code == 0  # the setter stays verified
    module.power_cycle()
    host.raw(1, 0.2)
    host.deframer.clear()
    reply = host.call(Command.TEMPLATE_NUM)
    assert reply.payload == b"\x21\x00\x00"  # refused, reply length kept
    assert host.call(Command.GEN_IMG).code == 0x21
    assert host.call(Command.VFY_PWD, struct.pack(">I", 1)).code == 0x13
    assert host.call(Command.VFY_PWD, struct.pack(">I", 0x1234)).code == 0
    assert host.call(Command.TEMPLATE_NUM).code == 0


def test_address_foreign_packets_ignored_and_set_addr_acks_from_new_address(rig) -> None:
    module, host = rig
    assert host.call(Command.SET_ADDR, struct.pack(">I", 0x12345678)).address == 0x12345678
    host.send(Command.TEMPLATE_NUM)  # still the old address
    assert host.silent_for(0.1)
    reply = host.call(Command.TEMPLATE_NUM, address=0x12345678)
    assert (reply.code, reply.address) == (0, 0x12345678)


def test_bad_checksum_answers_0x01(rig) -> None:
    module, host = rig
    frame = bytearray(encode_command(Command.TEMPLATE_NUM))
    frame[-1] ^= 0x01
    host.transport.write(bytes(frame))
    assert host.packet().payload == b"\x01\x00\x00"
    assert host.call(Command.TEMPLATE_NUM).code == 0  # the stream is in sync again


def test_garbage_before_a_command_is_skipped(rig) -> None:
    module, host = rig
    host.transport.write(b"\x00\x55\xef\x13" + encode_command(Command.TEMPLATE_NUM))
    assert host.packet().code == 0


def test_unsupported_command(rig) -> None:
    module, host = rig
    reply = host.call(Command.UP_IMAGE)
    assert reply.code == (0xFC if module.profile.name == "r503" else 0x01)
    assert host.call(0x77).code == module.profile.unsupported_code


def test_messy_captures_and_no_image(rig) -> None:
    module, host = rig
    assert host.call(Command.IMG2TZ, b"\x01").code == 0x15
    module.control({"messy_rate": 1.0})
    module.place(ALICE)
    assert host.call(Command.GEN_IMG).code == 0
    assert host.call(Command.IMG2TZ, b"\x01").code == 0x06


def test_lie_mode_lies_to_search_only(rig) -> None:
    module, host = rig
    assert module.control({"lie": {"page": 7, "score": 200}})["ok"]
    capture(module, host, BOB, 1)
    assert search(host).payload == bytes((0, 0, 7, 0, 200))
    capture(module, host, ALICE, 2)
    assert host.call(Command.MATCH).code == 0x08  # Match stays honest
    module.control({"lie": None})
    assert search(host).code == 0x09


def test_firmware_mismatch_never_matches() -> None:
    old = SimulatedR30x("r307", firmware="R307-SIM-1.0")
    new = SimulatedR30x("r307", firmware="R307-SIM-2.0")
    with MemoryLink(old) as link_old, MemoryLink(new) as link_new:
        host_old, host_new = Host(link_old.host), Host(link_new.host)
        host_old.enrol(old.place, ALICE, page=0)
        template = b"".join(p.payload for p in host_old.upload(1)[1])
        host_new.download(1, template, 128)
        assert host_new.call(Command.STORE, struct.pack(">BH", 1, 0)).code == 0
        capture(new, host_new, ALICE)
        assert search(host_new).code == 0x09


def test_flash_persists_across_instances(tmp_path) -> None:
    path = tmp_path / "flash.json"
    first = SimulatedR30x("as608", flash_path=path)
    with MemoryLink(first) as link:
        host = Host(link.host)
        host.enrol(first.place, ALICE, page=4)
        host.call(Command.WRITE_NOTEPAD, b"\x01" + b"n" * 32)
        host.call(Command.SET_PWD, struct.pack(">I", 99))
    assert json.loads(path.read_text())["model"] == "as608"
    second = SimulatedR30x("as608", flash_path=path)
    with MemoryLink(second) as link:
        host = Host(link.host)
        assert host.call(Command.VFY_PWD, struct.pack(">I", 99)).code == 0
        assert host.call(Command.READ_NOTEPAD, b"\x01").params == b"n" * 32
        capture(second, host, ALICE)
        assert struct.unpack(">HH", search(host, 0, 300).params)[0] == 4
    with pytest.raises(ValueError, match="as608"):
        SimulatedR30x("r503", flash_path=path)


def test_r503_extras() -> None:
    module = SimulatedR30x("r503", seed=3)
    with MemoryLink(module) as link:
        host = Host(link.host)
        assert host.call(Command.HANDSHAKE).code == 0
        assert host.call(Command.CHECK_SENSOR).code == 0
        assert host.call(Command.AURA_LED_CONFIG, b"\x01\x80\x02\x00").code == 0
        assert module.control({"state": True})["led"]["colour"] == 2
        assert host.call(Command.GET_FW_VER).params.rstrip(b"\0") == b"R503-SIM-1.2.1"
        assert host.call(Command.GET_ALG_VER).params.rstrip(b"\0").startswith(b"R503")
        info = ProductInfo.unpack(host.call(Command.READ_PROD_INFO).params)
        assert (info.template_size, info.capacity, info.image_width) == (1536, 200, 192)
        module.place(ALICE)
        assert host.call(Command.GET_IMAGE_EX).code == 0
        host.send(Command.SOFT_RST)
        assert host.raw(13) == bytes.fromhex("EF 01 FF FF FF FF 07 00 03 00 00 0A 55")


def test_r503_reg_model_merges_up_to_six_buffers() -> None:
    module = SimulatedR30x("r503", seed=5)
    with MemoryLink(module) as link:
        host = Host(link.host)
        for buffer_id in (3, 4, 5, 6):
            capture(module, host, ALICE, buffer_id)
        assert host.call(Command.REG_MODEL).code == 0
        assert module.volatile.buffers[1][6] == 4  # header: four captures merged
        capture(module, host, ALICE, 5)
        capture(module, host, BOB, 6)
        assert host.call(Command.REG_MODEL).code == 0x0A
        assert host.call(Command.IMG2TZ, b"\x07").code == 0x01


@pytest.mark.parametrize("model", ["r307", "r503"])
def test_a_clone_that_merges_any_fingers_accepts_two_people_in_one_template(model: str) -> None:
    module = SimulatedR30x(model, seed=5)
    with MemoryLink(module) as link:
        host = Host(link.host)
        capture(module, host, ALICE, 1)
        capture(module, host, BOB, 2)
        assert host.call(Command.REG_MODEL).code == 0x0A  # an honest module refuses
        assert module.control({"merge_any": True}) == {"ok": True}
        capture(module, host, ALICE, 1)
        capture(module, host, BOB, 2)
        assert host.call(Command.REG_MODEL).code == 0  # the clone merges without complaint
        assert module.control({"state": True})["merge_any"] is True
        assert module.control({"merge_any": "yes"})["ok"] is False


def test_r307_get_echo_and_power_up_is_silent() -> None:
    module = SimulatedR30x("r307")
    with MemoryLink(module) as link:
        host = Host(link.host)
        assert host.call(Command.GET_ECHO).payload == b"\x55"
        module.power_cycle()
        assert host.silent_for(0.1)  # no ready byte on the R307
        assert host.call(Command.SOFT_RST).code == 0x01  # R503-only command


def test_power_off_loses_buffers_and_answers_nothing() -> None:
    module = SimulatedR30x("r503")
    with MemoryLink(module) as link:
        host = Host(link.host)
        capture(module, host, ALICE)
        module.set_power(False)
        host.send(Command.TEMPLATE_NUM)
        assert host.silent_for(0.1)
        module.set_power(True)
        assert host.raw(1) == b"\x55"
        assert host.upload(1)[0].code == 0x0D  # char buffer empty after the power loss


def test_timing_model_is_data() -> None:
    profile = get_profile("r503")
    floor = wire_time_s(12 + 12) + profile.processing_s[Command.GEN_IMG]
    assert floor == pytest.approx(0.190, abs=0.001)
    assert profile.processing_s[Command.SEARCH] + wire_time_s(33) == pytest.approx(0.047, abs=1e-3)
    assert wire_time_s(1) == pytest.approx(0.00017361, rel=1e-4)
    assert profile.no_finger_s < 0.02 and profile.ready_delay_s == 0.05


def test_data_packet_outside_a_download_is_ignored(rig) -> None:
    module, host = rig
    host.transport.write(encode_packet(Packet(PacketType.END_DATA, bytes(32))))
    assert host.silent_for(0.05)
    assert host.call(Command.TEMPLATE_NUM).code == 0


def test_realtime_replies_never_beat_the_modelled_floor() -> None:
    module = SimulatedR30x("r503", realtime=True)
    with MemoryLink(module) as link:
        host = Host(link.host)
        for command, params, reply_len in ((Command.READ_SYS_PARA, b"", 28),
                                           (Command.GEN_IMG, b"", 12)):
            floor = wire_time_s(11 + 1 + len(params) + reply_len)
            no_finger = command == Command.GEN_IMG
            profile = module.profile
            floor += profile.no_finger_s if no_finger else profile.processing_s[command]
            started = time.monotonic()
            host.call(command, params)
            assert time.monotonic() - started >= floor * 0.99  # lower bound only: never flaky


def test_a_module_replaced_by_a_new_one_is_factory_fresh_and_counts_commands_afresh() -> None:
    module = SimulatedR30x("r503", seed=5)
    with MemoryLink(module) as link:
        host = Host(link.host)
        capture(module, host, ALICE, 1)
        assert host.call(Command.STORE, b"\x01\x00\x03").code == 0
        assert host.call(Command.SET_PWD, b"\x12\x34\x56\x78").code == 0
        assert module.control({"state": True})["commands_received"]["STORE"] == 1
        assert module.control({"factory_new": True}) == {"ok": True}
        assert host.raw(1) == b"\x55"  # the new R503 powers up on the same supply
        state = module.control({"state": True})
        assert state["library"]["occupied"] == [] and state["password_set"] is False
        assert state["commands_received"] == {}
        assert host.call(Command.TEMPLATE_NUM).code == 0  # no password asked
        assert module.control({"state": True})["commands_received"] == {"TEMPLATE_NUM": 1}

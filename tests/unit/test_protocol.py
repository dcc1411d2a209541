"""Tests for the pure R30x "EF01" framing module, ``drivers/r30x/protocol.py``.

Golden frames come from the protocol sheet (docs/r30x-protocol.md §1.1); broken frames and stray
bytes from §9.1. Every golden and broken stream goes through a ``Deframer`` whole, split at every
point and byte by byte (pymodbus' habit), and the three results must be identical and equal to
the expected one. Hypothesis adds random frames, noise and chunkings.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from itertools import pairwise
from dataclasses import dataclass

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from doorward.daemon.errors import DoorwardError
from doorward.drivers.r30x import protocol
from doorward.drivers.r30x.protocol import (
    DEFAULT_ADDRESS,
    HEADER,
    MAX_LENGTH,
    PACKET_SIZES,
    Command,
    Confirmation,
    Deframer,
    FrameError,
    Packet,
    PacketType,
    ProductInfo,
    SystemParameters,
    checksum,
    decode,
    encode_ack,
    encode_command,
    encode_data,
    encode_packet,
    pack_index_page,
    unpack_index_page,
)

OTHER_ADDRESS = 0x12345678
FLUSH = bytes(9 + MAX_LENGTH)  # zeros: enough to complete (and fail) any pending candidate


def hx(text: str) -> bytes:
    return bytes.fromhex(text)


# ---- golden frames, protocol sheet §1.1 (address FFFFFFFF) ----

GEN_IMG = hx("EF 01 FF FF FF FF 01 00 03 01 00 05")
IMG2TZ_CB1 = hx("EF 01 FF FF FF FF 01 00 04 02 01 00 08")
SEARCH_CB1_0_200 = hx("EF 01 FF FF FF FF 01 00 08 04 01 00 00 00 C8 00 D6")
STORE_CB1_PAGE1 = hx("EF 01 FF FF FF FF 01 00 06 06 01 00 01 00 0F")
VFY_PWD_0 = hx("EF 01 FF FF FF FF 01 00 07 13 00 00 00 00 00 1B")
READ_SYS_PARA = hx("EF 01 FF FF FF FF 01 00 03 0F 00 13")
ACK_OK = hx("EF 01 FF FF FF FF 07 00 03 00 00 0A")
ACK_NO_FINGER = hx("EF 01 FF FF FF FF 07 00 03 02 00 0C")

GOLDEN = [
    # (id, wire bytes, how the module encodes it, the packet decode must return)
    ("GenImg", GEN_IMG, lambda: encode_command(Command.GEN_IMG),
     Packet(PacketType.COMMAND, b"\x01")),
    ("Img2Tz CB1", IMG2TZ_CB1, lambda: encode_command(Command.IMG2TZ, b"\x01"),
     Packet(PacketType.COMMAND, b"\x02\x01")),
    ("Search CB1 0..200", SEARCH_CB1_0_200,
     lambda: encode_command(Command.SEARCH, hx("01 0000 00C8")),
     Packet(PacketType.COMMAND, hx("04 01 0000 00C8"))),
    ("Store CB1 -> 1", STORE_CB1_PAGE1, lambda: encode_command(Command.STORE, hx("01 0001")),
     Packet(PacketType.COMMAND, hx("06 01 0001"))),
    ("VfyPwd 0", VFY_PWD_0, lambda: encode_command(Command.VFY_PWD, bytes(4)),
     Packet(PacketType.COMMAND, hx("13 00000000"))),
    ("ReadSysPara", READ_SYS_PARA, lambda: encode_command(Command.READ_SYS_PARA),
     Packet(PacketType.COMMAND, b"\x0f")),
    ("Ack OK", ACK_OK, lambda: encode_ack(Confirmation.OK), Packet(PacketType.ACK, b"\x00")),
    ("Ack no finger", ACK_NO_FINGER, lambda: encode_ack(Confirmation.NO_FINGER),
     Packet(PacketType.ACK, b"\x02")),
]
GOLDEN_IDS = [case[0] for case in GOLDEN]

# Parameterless commands: the manuals print these checksums, valid at every address (§1.1).
PARAMETERLESS_CHECKSUMS = [
    (Command.GEN_IMG, 0x0005),
    (Command.MATCH, 0x0007),
    (Command.REG_MODEL, 0x0009),
    (Command.UP_IMAGE, 0x000E),
    (Command.DOWN_IMAGE, 0x000F),
    (Command.EMPTY, 0x0011),
    (Command.READ_SYS_PARA, 0x0013),
    (Command.GET_RANDOM_CODE, 0x0018),
    (Command.TEMPLATE_NUM, 0x0021),
]


# ---- feeding a Deframer ----


@dataclass(frozen=True)
class Outcome:
    packets: list[Packet]
    stray: bytes
    rejected: list[str]
    pending: int


def drain(deframer: Deframer, limit: int) -> list[Packet]:
    """Every packet the deframer can give now; fails instead of looping forever."""
    out: list[Packet] = []
    while (packet := deframer.next_packet()) is not None:
        out.append(packet)
        assert len(out) <= limit, "next_packet keeps returning packets: no progress"
    return out


def run(chunks: Sequence[bytes], address: int | None = None) -> Outcome:
    deframer = Deframer(address)
    total = sum(len(chunk) for chunk in chunks)
    packets: list[Packet] = []
    for chunk in chunks:
        deframer.feed(chunk)
        packets += drain(deframer, total // 12 + 1)
    return Outcome(packets, bytes(deframer.stray), list(deframer.rejected), deframer.pending)


def whole(stream: bytes) -> list[bytes]:
    return [stream]


def halves(stream: bytes, at: int) -> list[bytes]:
    return [stream[:at], stream[at:]]


def byte_by_byte(stream: bytes) -> list[bytes]:
    return [stream[i : i + 1] for i in range(len(stream))]


def outcome_of_every_feed(
    stream: bytes, address: int | None = None, *, every_split: bool = True
) -> Outcome:
    """Feed ``stream`` whole, in halves and byte by byte; all results must be identical."""
    expected = run(whole(stream), address)
    split_points = range(len(stream) + 1) if every_split else [len(stream) // 2]
    for at in split_points:
        assert run(halves(stream, at), address) == expected, f"split at {at}"
    assert run(byte_by_byte(stream), address) == expected, "byte by byte"
    return expected


# ---- golden frames ----


@pytest.mark.parametrize(("wire", "encode", "packet"), [c[1:] for c in GOLDEN], ids=GOLDEN_IDS)
def test_golden_frame_encodes_to_the_sheet_bytes(wire, encode, packet):
    assert encode() == wire
    assert encode_packet(packet) == wire


@pytest.mark.parametrize(("wire", "packet"), [(c[1], c[3]) for c in GOLDEN], ids=GOLDEN_IDS)
def test_golden_frame_decodes(wire, packet):
    assert decode(wire) == (len(wire), packet)
    assert decode(bytearray(wire), DEFAULT_ADDRESS) == (len(wire), packet)
    assert decode(wire + ACK_OK) == (len(wire), packet)  # only the first frame is consumed


@pytest.mark.parametrize(("wire", "packet"), [(c[1], c[3]) for c in GOLDEN], ids=GOLDEN_IDS)
def test_golden_frame_through_deframer(wire, packet):
    for address in (None, DEFAULT_ADDRESS):
        assert outcome_of_every_feed(wire, address) == Outcome([packet], b"", [], 0)


@pytest.mark.parametrize("wire", [c[1] for c in GOLDEN], ids=GOLDEN_IDS)
def test_every_proper_prefix_of_a_golden_frame_needs_more(wire):
    for n in range(len(wire)):
        assert decode(wire[:n]) == (0, None), f"prefix of {n} bytes"


def test_golden_packet_fields():
    _, search = decode(SEARCH_CB1_0_200)
    assert (search.kind, search.address, search.code, search.params) == (
        PacketType.COMMAND, DEFAULT_ADDRESS, Command.SEARCH, hx("01 0000 00C8"))
    _, ack = decode(ACK_NO_FINGER)
    assert (ack.kind, ack.code, ack.params) == (PacketType.ACK, Confirmation.NO_FINGER, b"")


@pytest.mark.parametrize(("command", "constant"), PARAMETERLESS_CHECKSUMS,
                         ids=[c.name for c, _ in PARAMETERLESS_CHECKSUMS])
def test_parameterless_command_checksum_constant_at_every_address(command, constant):
    assert checksum(PacketType.COMMAND, bytes((command,))) == constant
    for address in (DEFAULT_ADDRESS, 0x00000000, OTHER_ADDRESS, 0xEF01EF01):
        frame = encode_command(command, address=address)
        assert frame == HEADER + address.to_bytes(4, "big") + bytes(
            (0x01, 0x00, 0x03, command)) + constant.to_bytes(2, "big")
        assert decode(frame, address) == (12, Packet(PacketType.COMMAND, bytes((command,)),
                                                     address))


def test_largest_checksum_cannot_overflow_and_still_decodes():
    # §1.1: END_DATA with 256 x 0xFF sums to 0x08 + 0x01 + 0x02 + 256 * 255 = 65291.
    frame = encode_packet(Packet(PacketType.END_DATA, b"\xff" * 256))
    assert frame[6:9] == hx("08 0102")
    assert frame[-2:] == (65291).to_bytes(2, "big")
    assert decode(frame) == (267, Packet(PacketType.END_DATA, b"\xff" * 256))


def test_checksum_wraps_to_16_bits():
    # Not reachable by a legal frame, but the rule is "carries dropped".
    assert checksum(0x07, b"\xff" * 300) == (0x07 + 0x01 + 0x2E + 300 * 255) & 0xFFFF


@pytest.mark.parametrize("payload_len", [0, 257, 1000])
def test_encode_refuses_unframeable_payloads(payload_len):
    with pytest.raises(FrameError) as caught:
        encode_packet(Packet(PacketType.DATA, bytes(payload_len)))
    assert caught.value.reason == "length"


def test_frame_error_is_a_doorward_value_error():
    with pytest.raises(FrameError) as caught:
        decode(hx("EF 01 FF FF FF FF 01 00 03 01 00 06"))
    assert caught.value.reason == "checksum"
    assert isinstance(caught.value, DoorwardError)
    assert isinstance(caught.value, ValueError)


# ---- decode on its own: each check raises with its reason ----

DECODE_ERRORS = [
    ("checksum", hx("EF 01 FF FF FF FF 01 00 03 01 00 06"), None, "checksum"),
    ("checksum high byte", hx("EF 01 FF FF FF FF 01 00 03 01 01 05"), None, "checksum"),
    ("payload byte", hx("EF 01 FF FF FF FF 01 00 08 04 01 00 00 00 C9 00 D6"), None, "checksum"),
    ("LENGTH 2", hx("EF 01 FF FF FF FF 01 00 02 01 00 05"), None, "length"),
    ("LENGTH 0", hx("EF 01 FF FF FF FF 01 00 00"), None, "length"),
    ("LENGTH 259", hx("EF 01 FF FF FF FF 02 01 03"), None, "length"),
    ("LENGTH FFFF", hx("EF 01 FF FF FF FF 02 FF FF"), None, "length"),
    ("LENGTH one short", hx("EF 01 FF FF FF FF 01 00 07 04 01 00 00 00 C8 00 D6"), None,
     "checksum"),
    ("PID 00", hx("EF 01 FF FF FF FF 00 00 03 01 00 04"), None, "packet type"),
    ("PID 03", hx("EF 01 FF FF FF FF 03 00 03 01 00 07"), None, "packet type"),
    ("PID FF", hx("EF 01 FF FF FF FF FF 00 03 01 01 03"), None, "packet type"),
    ("address", hx("EF 01 12 34 56 78 07 00 03 00 00 0A"), DEFAULT_ADDRESS, "address"),
    ("default address when another expected", ACK_OK, OTHER_ADDRESS, "address"),
]


@pytest.mark.parametrize(("frame", "address", "reason"), [c[1:] for c in DECODE_ERRORS],
                         ids=[c[0] for c in DECODE_ERRORS])
def test_decode_rejects_broken_frame(frame, address, reason):
    with pytest.raises(FrameError) as caught:
        decode(frame, address)
    assert caught.value.reason == reason


def test_decode_accepts_any_address_when_none_is_expected():
    frame = hx("EF 01 12 34 56 78 07 00 03 00 00 0A")
    assert decode(frame) == (12, Packet(PacketType.ACK, b"\x00", OTHER_ADDRESS))
    assert decode(frame, OTHER_ADDRESS) == (12, Packet(PacketType.ACK, b"\x00", OTHER_ADDRESS))


@pytest.mark.parametrize(
    ("buf", "consumed"),
    [
        (b"", 0),
        (b"\xef", 0),  # maybe half a header: keep it
        (b"\x55", 1),
        (b"\x00\x55\x13", 3),
        (b"\x00\xef", 1),  # keep the trailing 0xEF
        (b"\xef\x02\xef", 2),
        (b"\x55" + ACK_OK, 1),  # skip to the header
        (b"\xef\xef\x01", 1),
        (b"\xef\x01\xff", 0),  # header, preamble incomplete
    ],
)
def test_decode_garbage_and_need_more(buf, consumed):
    assert decode(buf) == (consumed, None)


# ---- broken frames and stray bytes through a Deframer, three ways ----

BAD_CHECKSUM = hx("EF 01 FF FF FF FF 01 00 03 01 00 06")
LENGTH_2 = hx("EF 01 FF FF FF FF 01 00 02 01 00 05")
LENGTH_0 = hx("EF 01 FF FF FF FF 07 00 00 00 00 0A")
LENGTH_259 = hx("EF 01 FF FF FF FF 02 01 03") + bytes(257) + hx("00 06")
LENGTH_FFFF = hx("EF 01 FF FF FF FF 02 FF FF 00 00 00")
GEN_IMG_LENGTH_TOO_LONG = hx("EF 01 FF FF FF FF 01 00 04 01 00 05")
SEARCH_LENGTH_TOO_SHORT = hx("EF 01 FF FF FF FF 01 00 07 04 01 00 00 00 C8 00 D6")
PID_03 = hx("EF 01 FF FF FF FF 03 00 03 01 00 07")
PID_00 = hx("EF 01 FF FF FF FF 00 00 03 01 00 04")
ACK_OK_OTHER_ADDRESS = hx("EF 01 12 34 56 78 07 00 03 00 00 0A")
GARBAGE_WITH_HEADERS = hx("00 EF 01 00 EF EF 01 FF 55")  # two false headers, both PID FF
LONG_FALSE_HEADER = hx("EF 01 FF FF FF FF 02 01 02")  # valid PID, LENGTH 258, nothing behind

P_GEN_IMG = Packet(PacketType.COMMAND, b"\x01")
P_ACK_OK = Packet(PacketType.ACK, b"\x00")
P_NO_FINGER = Packet(PacketType.ACK, b"\x02")

# (id, stream, expected address, expected outcome)
BROKEN = [
    ("bad checksum alone", BAD_CHECKSUM, None, Outcome([], BAD_CHECKSUM, ["checksum"], 0)),
    ("bad checksum then valid", BAD_CHECKSUM + ACK_OK, None,
     Outcome([P_ACK_OK], BAD_CHECKSUM, ["checksum"], 0)),
    ("valid, bad checksum, valid", GEN_IMG + BAD_CHECKSUM + ACK_OK, None,
     Outcome([P_GEN_IMG, P_ACK_OK], BAD_CHECKSUM, ["checksum"], 0)),
    ("LENGTH 2", LENGTH_2 + ACK_OK, None, Outcome([P_ACK_OK], LENGTH_2, ["length"], 0)),
    ("LENGTH 0", LENGTH_0 + ACK_OK, None, Outcome([P_ACK_OK], LENGTH_0, ["length"], 0)),
    ("LENGTH 259", LENGTH_259 + ACK_OK, None, Outcome([P_ACK_OK], LENGTH_259, ["length"], 0)),
    ("LENGTH FFFF", LENGTH_FFFF + ACK_OK, None, Outcome([P_ACK_OK], LENGTH_FFFF, ["length"], 0)),
    ("LENGTH too long, stream ends", GEN_IMG_LENGTH_TOO_LONG, None,
     Outcome([], b"", [], len(GEN_IMG_LENGTH_TOO_LONG))),
    ("LENGTH too long, then valid", GEN_IMG_LENGTH_TOO_LONG + ACK_OK, None,
     Outcome([P_ACK_OK], GEN_IMG_LENGTH_TOO_LONG, ["checksum"], 0)),
    ("LENGTH too short, then valid", SEARCH_LENGTH_TOO_SHORT + ACK_OK, None,
     Outcome([P_ACK_OK], SEARCH_LENGTH_TOO_SHORT, ["checksum"], 0)),
    ("PID 03", PID_03 + ACK_OK, None, Outcome([P_ACK_OK], PID_03, ["packet type"], 0)),
    ("PID 00", PID_00 + ACK_OK, None, Outcome([P_ACK_OK], PID_00, ["packet type"], 0)),
    ("wrong address rejected", ACK_OK_OTHER_ADDRESS + ACK_NO_FINGER, DEFAULT_ADDRESS,
     Outcome([P_NO_FINGER], ACK_OK_OTHER_ADDRESS, ["address"], 0)),
    ("default address rejected when another expected", ACK_OK + ACK_OK_OTHER_ADDRESS,
     OTHER_ADDRESS,
     Outcome([Packet(PacketType.ACK, b"\x00", OTHER_ADDRESS)], ACK_OK, ["address"], 0)),
    ("any address when none expected", ACK_OK_OTHER_ADDRESS + ACK_OK, None,
     Outcome([Packet(PacketType.ACK, b"\x00", OTHER_ADDRESS), P_ACK_OK], b"", [], 0)),
    ("stray headers inside garbage", GARBAGE_WITH_HEADERS + GEN_IMG, None,
     Outcome([P_GEN_IMG], GARBAGE_WITH_HEADERS, ["packet type", "packet type"], 0)),
    ("bare header right before a frame", HEADER + ACK_OK, None,
     Outcome([P_ACK_OK], HEADER, ["packet type"], 0)),
    ("header and address right before a frame", HEADER + hx("FF FF FF FF") + ACK_OK, None,
     Outcome([P_ACK_OK], HEADER + hx("FF FF FF FF"), ["packet type"], 0)),
    ("false header with LENGTH 258 holds the next frame", LONG_FALSE_HEADER + GEN_IMG, None,
     Outcome([], b"", [], len(LONG_FALSE_HEADER) + 12)),
    ("false header with LENGTH 258, then enough bytes", LONG_FALSE_HEADER + GEN_IMG + FLUSH,
     None, Outcome([P_GEN_IMG], LONG_FALSE_HEADER + FLUSH, ["checksum"], 0)),
    ("lone 0x55 reset byte before first packet", b"\x55" + ACK_OK, None,
     Outcome([P_ACK_OK], b"\x55", [], 0)),
    ("0x00 glitch before first packet", b"\x00" + ACK_OK, None,
     Outcome([P_ACK_OK], b"\x00", [], 0)),
    ("0x00 glitch and 0x55 before first packet", b"\x00\x55" + ACK_OK, DEFAULT_ADDRESS,
     Outcome([P_ACK_OK], b"\x00\x55", [], 0)),
    ("0x55 between packets (SoftRst)", ACK_OK + b"\x55" + ACK_NO_FINGER, None,
     Outcome([P_ACK_OK, P_NO_FINGER], b"\x55", [], 0)),
    ("garbage before and after", hx("13 37 00") + ACK_OK + hx("42 55"), None,
     Outcome([P_ACK_OK], hx("13 37 00 42 55"), [], 0)),
    ("trailing 0xEF kept pending", ACK_OK + hx("13 37 EF"), None,
     Outcome([P_ACK_OK], hx("13 37"), [], 1)),
    ("0xEF just before the header", hx("12 EF") + ACK_OK, None,
     Outcome([P_ACK_OK], hx("12 EF"), [], 0)),
    ("missing first header byte", GEN_IMG[1:] + ACK_OK, None,
     Outcome([P_ACK_OK], GEN_IMG[1:], [], 0)),
    ("altered second header byte", hx("EF 02") + GEN_IMG[2:] + ACK_OK, None,
     Outcome([P_ACK_OK], hx("EF 02") + GEN_IMG[2:], [], 0)),
    ("two frames at once", GEN_IMG + ACK_NO_FINGER, None,
     Outcome([P_GEN_IMG, P_NO_FINGER], b"", [], 0)),
    ("every golden frame back to back", b"".join(c[1] for c in GOLDEN), DEFAULT_ADDRESS,
     Outcome([c[3] for c in GOLDEN], b"", [], 0)),
    ("truncated frame", SEARCH_CB1_0_200[:7], None, Outcome([], b"", [], 7)),
    ("frame then truncated frame", ACK_OK + SEARCH_CB1_0_200[:-1], None,
     Outcome([P_ACK_OK], b"", [], 16)),
]


@pytest.mark.parametrize(("stream", "address", "expected"), [c[1:] for c in BROKEN],
                         ids=[c[0] for c in BROKEN])
def test_broken_stream_same_in_every_feed(stream, address, expected):
    assert outcome_of_every_feed(stream, address) == expected


def test_truncated_frame_needs_more_then_completes():
    for cut in range(len(SEARCH_CB1_0_200)):
        deframer = Deframer(DEFAULT_ADDRESS)
        deframer.feed(SEARCH_CB1_0_200[:cut])
        assert deframer.next_packet() is None
        assert (deframer.pending, bytes(deframer.stray), deframer.rejected) == (cut, b"", [])
        deframer.feed(SEARCH_CB1_0_200[cut:])
        assert deframer.next_packet() == Packet(PacketType.COMMAND, hx("04 01 0000 00C8"))
        assert deframer.next_packet() is None
        assert (deframer.pending, bytes(deframer.stray), deframer.rejected) == (0, b"", [])


def test_take_stray_reports_reset_byte_and_clears():
    deframer = Deframer()
    deframer.feed(b"\x55" + BAD_CHECKSUM + ACK_OK)
    assert deframer.next_packet() == P_ACK_OK
    assert deframer.rejected == ["checksum"]
    assert deframer.take_stray() == b"\x55" + BAD_CHECKSUM
    assert (bytes(deframer.stray), deframer.rejected) == (b"", [])
    deframer.feed(b"\x00" + ACK_OK[:5])
    assert deframer.next_packet() is None
    deframer.clear()
    assert (deframer.pending, bytes(deframer.stray), deframer.rejected) == (0, b"", [])


# ---- data packets ----


@pytest.mark.parametrize("size", sorted(PACKET_SIZES.values()))
@pytest.mark.parametrize("total", [512, 768, 1536])
def test_encode_data_splits_and_reassembles(size, total):
    data = bytes((i * 7 + total) & 0xFF for i in range(total))
    frames = encode_data(data, size, address=OTHER_ADDRESS)
    count = math.ceil(total / size)
    assert len(frames) == count
    decoded = [decode(frame, OTHER_ADDRESS) for frame in frames]
    assert [n for n, _ in decoded] == [len(frame) for frame in frames]
    assert [len(frame) for frame in frames] == [11 + size] * count
    assert [frame[7:9] for frame in frames] == [(size + 2).to_bytes(2, "big")] * count
    kinds = [packet.kind for _, packet in decoded]
    assert kinds == [PacketType.DATA] * (count - 1) + [PacketType.END_DATA]
    assert b"".join(packet.payload for _, packet in decoded) == data
    assert {packet.address for _, packet in decoded} == {OTHER_ADDRESS}
    # the whole transfer through a deframer, three ways
    outcome = outcome_of_every_feed(b"".join(frames), OTHER_ADDRESS, every_split=False)
    assert outcome == Outcome([packet for _, packet in decoded], b"", [], 0)


def test_encode_data_short_last_packet():
    data = bytes(range(100))
    frames = encode_data(data, 32)
    packets = [decode(frame)[1] for frame in frames]
    assert [len(p.payload) for p in packets] == [32, 32, 32, 4]
    assert [p.kind for p in packets] == [PacketType.DATA] * 3 + [PacketType.END_DATA]
    assert b"".join(p.payload for p in packets) == data


def test_encode_data_single_packet_is_end_data():
    assert encode_data(b"\x42", 128) == [encode_packet(Packet(PacketType.END_DATA, b"\x42"))]


@pytest.mark.parametrize(("data", "size"), [(b"", 128), (b"\x00" * 10, 100), (b"\x00", 512)])
def test_encode_data_refuses_bad_arguments(data, size):
    with pytest.raises(ValueError):
        encode_data(data, size)


def test_256_byte_data_packet_has_length_258_and_decodes():
    payload = bytes(range(256))
    frame = encode_packet(Packet(PacketType.DATA, payload))
    assert frame[7:9] == hx("0102")
    assert len(frame) == 267
    assert decode(frame) == (267, Packet(PacketType.DATA, payload))
    assert outcome_of_every_feed(frame, every_split=False) == Outcome(
        [Packet(PacketType.DATA, payload)], b"", [], 0)


# ---- parameter blocks ----


@given(
    status=st.integers(0, 0xFFFF),
    system_id=st.integers(0, 0xFFFF),
    capacity=st.integers(0, 0xFFFF),
    security_level=st.integers(0, 0xFFFF),
    address=st.integers(0, 0xFFFFFFFF),
    packet_size_code=st.integers(0, 0xFFFF),
    baud_multiplier=st.integers(0, 0xFFFF),
)
@settings(max_examples=50)
def test_system_parameters_round_trip(**fields):
    params = SystemParameters(**fields)
    block = params.pack()
    assert len(block) == 16
    assert SystemParameters.unpack(block) == params
    assert SystemParameters.unpack(block + b"\xaa\xbb") == params  # trailing bytes ignored


def test_system_parameters_layout_matches_sheet():
    # §4.1/§4.4: status 0x0004, id 0, capacity 200, security 3, FFFFFFFF, code 2, N 6
    block = hx("0004 0000 00C8 0003 FFFFFFFF 0002 0006")
    params = SystemParameters.unpack(block)
    assert params == SystemParameters(4, 0, 200, 3, 0xFFFFFFFF, 2, 6)
    assert (params.packet_size, params.baud) == (128, 57600)
    assert params.pack() == block


def ascii_text(max_size: int) -> st.SearchStrategy[str]:
    # ascii_field strips whitespace and stops at NUL, so only those survive a round trip
    printable = st.characters(min_codepoint=0x21, max_codepoint=0x7E)
    return st.text(printable, max_size=max_size)


@given(
    model=ascii_text(16),
    batch=ascii_text(4),
    serial=ascii_text(8),
    hardware_version=st.tuples(st.integers(0, 255), st.integers(0, 255)),
    sensor_model=ascii_text(8),
    image_width=st.integers(0, 0xFFFF),
    image_height=st.integers(0, 0xFFFF),
    template_size=st.integers(0, 0xFFFF),
    capacity=st.integers(0, 0xFFFF),
)
@settings(max_examples=50)
def test_product_info_round_trip(**fields):
    info = ProductInfo(**fields)
    block = info.pack()
    assert len(block) == 46
    assert ProductInfo.unpack(block) == info


def test_product_info_layout_and_non_ascii_bytes():
    block = (
        b"R503\x00".ljust(16, b"\x00") + b"B\xff01" + b"SN000042" + b"\x01\x02"
        + b"FPC1021\x00" + hx("00C0 00C0 0640 00C8")
    )
    info = ProductInfo.unpack(block)
    assert info == ProductInfo("R503", "B\\xff01", "SN000042", (1, 2), "FPC1021",
                               192, 192, 1600, 200)


@given(occupied=st.sets(st.integers(0, 1023), max_size=80), page=st.integers(0, 3))
@settings(max_examples=60)
def test_index_page_round_trip(occupied, page):
    table = pack_index_page(occupied, page)
    assert len(table) == 32
    in_page = {slot for slot in occupied if 256 * page <= slot < 256 * page + 256}
    assert unpack_index_page(table, page) == in_page


@pytest.mark.parametrize(
    ("slots", "page", "byte_index", "bit"),
    [({0}, 0, 0, 0), ({7}, 0, 0, 7), ({9}, 0, 1, 1), ({255}, 0, 31, 7),
     ({256}, 1, 0, 0), ({265}, 1, 1, 1), ({511}, 1, 31, 7), ({1023}, 3, 31, 7)],
)
def test_index_page_bit_zero_is_lowest_slot(slots, page, byte_index, bit):
    expected = bytearray(32)
    expected[byte_index] = 1 << bit
    assert pack_index_page(slots, page) == bytes(expected)
    assert unpack_index_page(bytes(expected), page) == slots


def test_index_page_ignores_slots_of_other_pages():
    assert pack_index_page({0, 9, 255}, 1) == bytes(32)
    assert pack_index_page({256, 300, 511, 512}, 0) == bytes(32)
    assert unpack_index_page(hx("03") + bytes(31), 1) == {256, 257}


# ---- hypothesis: random frames, noise and chunkings ----


@contextmanager
def decode_budget(limit: int) -> Iterator[list[int]]:
    """Count Deframer's decode calls and fail (instead of hanging) past ``limit``."""
    calls = [0]
    real = protocol.decode

    def counting(buf, address=None):
        calls[0] += 1
        assert calls[0] <= limit, "Deframer keeps decoding without progress"
        return real(buf, address)

    protocol.decode = counting
    try:
        yield calls
    finally:
        protocol.decode = real


@dataclass(frozen=True)
class Emitted:
    packet: Packet
    offset: int  # where its bytes start in the input stream


def run_tracked(chunks: Sequence[bytes], address: int | None) -> tuple[list[Emitted], Outcome]:
    """Like ``run`` but records where each packet sits in the stream, and counts work."""
    total = sum(len(chunk) for chunk in chunks)
    deframer = Deframer(address)
    emitted: list[Emitted] = []
    packet_bytes = 0
    next_packet_calls = 0
    with decode_budget(2 * total + 2 * len(chunks) + 10) as calls:
        for chunk in chunks:
            deframer.feed(chunk)
            while True:
                next_packet_calls += 1
                packet = deframer.next_packet()
                if packet is None:
                    break
                # every byte before this packet is either stray or an earlier packet
                emitted.append(Emitted(packet, len(deframer.stray) + packet_bytes))
                packet_bytes += len(encode_packet(packet))
                assert len(emitted) <= total // 12, "more packets than the stream can hold"
    # decode either consumes at least one byte or answers "need more", which ends a call
    assert calls[0] <= total + next_packet_calls
    outcome = Outcome([e.packet for e in emitted], bytes(deframer.stray),
                      list(deframer.rejected), deframer.pending)
    return emitted, outcome


random_packets = st.builds(
    Packet,
    st.sampled_from(PacketType),
    st.binary(min_size=1, max_size=40),
    st.sampled_from([DEFAULT_ADDRESS, OTHER_ADDRESS]),
)

# noise that cannot contain a header: any bytes, but never 0x01 right after 0xEF
# (replacing with EF 00 cannot create a new EF 01)
clean_noise = st.binary(max_size=24).map(lambda b: b.replace(b"\xef\x01", b"\xef\x00"))

# noise built to look like the start of a frame
nasty_noise = st.one_of(
    st.binary(max_size=24),
    st.sampled_from([b"\x55", b"\x00", b"\x00\x55", b"\xef", HEADER, HEADER + b"\xff" * 4]),
    st.tuples(st.sampled_from([DEFAULT_ADDRESS, OTHER_ADDRESS]), st.integers(0, 255),
              st.integers(0, 0xFFFF), st.binary(max_size=8)).map(
        lambda t: HEADER + t[0].to_bytes(4, "big") + bytes((t[1],)) + t[2].to_bytes(2, "big")
        + t[3]),
    random_packets.map(encode_packet).flatmap(  # a truncated or slightly damaged real frame
        lambda f: st.tuples(st.integers(1, len(f) - 1), st.integers(0, 255)).map(
            lambda t: f[: t[0]] + bytes((t[1],)))),
)


def chunked(data: st.DataObject, stream: bytes) -> list[bytes]:
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=12), label="cuts"))
    bounds = [0, *cuts, len(stream)]
    return [stream[a:b] for a, b in pairwise(bounds)]


def assemble(segments: list[tuple[str, bytes]]) -> tuple[bytes, list[tuple[int, bytes]]]:
    """Concatenate segments; return the stream and (offset, bytes) of each inserted frame."""
    stream = bytearray()
    frames = []
    for kind, chunk in segments:
        if kind == "frame":
            frames.append((len(stream), chunk))
        stream += chunk
    return bytes(stream), frames


def header_offsets(stream: bytes) -> set[int]:
    found, at = set(), stream.find(HEADER)
    while at >= 0:
        found.add(at)
        at = stream.find(HEADER, at + 1)
    return found


@given(
    segments=st.lists(st.tuples(random_packets, clean_noise), max_size=8),
    lead=clean_noise,
    address=st.sampled_from([None, DEFAULT_ADDRESS]),
    data=st.data(),
)
@settings(max_examples=300)
def test_fuzz_frames_in_header_free_noise_come_out_exactly(segments, lead, address, data):
    """Without stray headers the outcome is fully determined: wanted packets in order; noise
    and frames for another address as stray; the same for every chunking."""
    pieces = [("noise", lead)]
    for packet, noise in segments:
        wanted = address is None or packet.address == address
        pieces += [("frame" if wanted else "unwanted", encode_packet(packet)), ("noise", noise)]
    stream, wanted_frames = assemble(pieces)
    unwanted_offsets, stray_mask, pos = set(), bytearray(), 0
    for kind, chunk in pieces:
        if kind == "unwanted":
            unwanted_offsets.add(pos)
        stray_mask += (b"\x00" if kind == "frame" else b"\x01") * len(chunk)
        pos += len(chunk)
    # the only headers outside wanted frames are the starts of unwanted frames
    assume({at for at in header_offsets(stream) if stray_mask[at]} == unwanted_offsets)

    emitted, outcome = run_tracked(chunked(data, stream), address)
    assert outcome == run(whole(stream), address)
    assert [(e.offset, encode_packet(e.packet)) for e in emitted] == wanted_frames
    assert outcome.rejected == ["address"] * len(unwanted_offsets)
    # a last 0xEF outside a frame may be half a header: it stays pending
    pending = 1 if stream.endswith(b"\xef") and stray_mask[-1] else 0
    expected_stray = bytes(b for b, stray in zip(stream, stray_mask, strict=True) if stray)
    assert outcome.pending == pending
    assert outcome.stray == expected_stray[: len(expected_stray) - pending]


@given(
    segments=st.lists(
        st.one_of(random_packets.map(lambda p: ("frame", encode_packet(p))),
                  nasty_noise.map(lambda b: ("noise", b))),
        max_size=14,
    ),
    address=st.sampled_from([None, DEFAULT_ADDRESS]),
    flush=st.booleans(),
    data=st.data(),
)
@settings(max_examples=400)
def test_fuzz_frames_in_nasty_noise(segments, address, flush, data):
    stream, frames = assemble(segments)
    if flush:
        stream += FLUSH
    chunks = chunked(data, stream)
    emitted, outcome = run_tracked(chunks, address)  # raises nothing, bounded work

    # the chunking never changes the result
    assert outcome == run(whole(stream), address)

    # no bad packet: each output packet re-encodes to exactly the bytes it came from
    end = 0
    for e in emitted:
        frame = encode_packet(e.packet)
        assert e.offset >= end
        assert stream[e.offset : e.offset + len(frame)] == frame
        assert address is None or e.packet.address == address
        end = e.offset + len(frame)

    # stray + packets + pending account for every byte, in order
    consumed = stream[: len(stream) - outcome.pending]
    rebuilt, pos = bytearray(), 0
    for e in emitted:
        rebuilt += consumed[pos : e.offset]
        pos = e.offset + len(encode_packet(e.packet))
    rebuilt += consumed[pos:]
    assert bytes(rebuilt) == outcome.stray

    # once every candidate can complete, each inserted frame comes out at its own offset,
    # unless the framing legitimately swallowed it inside an earlier (checksum-valid) packet
    if flush:
        assert outcome.pending == 0
        spans = [(e.offset, encode_packet(e.packet)) for e in emitted]
        for offset, frame in frames:
            if address is not None and decode(frame)[1].address != address:
                continue
            swallowed = any(o < offset < o + len(f) for o, f in spans)
            assert (offset, frame) in spans or swallowed, f"frame at {offset} lost"


# ---- hypothesis: one corrupted field is always rejected ----

FIELDS = ["checksum", "payload", "pid", "length", "address", "header missing", "header altered"]


@given(packet=random_packets, field=st.sampled_from(FIELDS), check_address=st.booleans(),
       data=st.data())
@settings(max_examples=400)
def test_single_field_corruption_is_rejected(packet, field, check_address, data):
    frame = bytearray(encode_packet(packet))
    expected_address = packet.address if check_address else None
    reason: list[str] = []
    if field == "checksum":
        old = int.from_bytes(frame[-2:], "big")
        new = data.draw(st.integers(0, 0xFFFF).filter(lambda v: v != old), label="checksum")
        frame[-2:] = new.to_bytes(2, "big")
        reason = ["checksum"]
    elif field == "payload":
        index = data.draw(st.integers(9, len(frame) - 3), label="index")
        frame[index] = (frame[index] + data.draw(st.integers(1, 255), label="delta")) & 0xFF
        reason = ["checksum"]
    elif field == "pid":
        frame[6] = data.draw(st.integers(0, 255).filter(lambda v: v not in (1, 2, 7, 8)))
        reason = ["packet type"]
    elif field == "length":
        length = data.draw(st.one_of(st.integers(0, 2), st.integers(MAX_LENGTH + 1, 0xFFFF)))
        frame[7:9] = length.to_bytes(2, "big")
        reason = ["length"]
    elif field == "address":
        expected_address = data.draw(
            st.integers(0, 0xFFFFFFFF).filter(lambda v: v != packet.address), label="expected")
        reason = ["address"]
    elif field == "header missing":
        del frame[data.draw(st.integers(0, 1), label="dropped")]
    else:
        index = data.draw(st.integers(0, 1), label="index")
        frame[index] = data.draw(st.integers(0, 255).filter(lambda v: v != HEADER[index]))
    corrupted = bytes(frame)
    # a header elsewhere in the bytes could legitimately start another frame: not this test
    assume(HEADER not in (corrupted if field.startswith("header") else corrupted[1:]))

    sentinel_address = DEFAULT_ADDRESS if expected_address is None else expected_address
    sentinel = encode_ack(Confirmation.OK, address=sentinel_address)
    stream = corrupted + sentinel
    emitted, outcome = run_tracked(chunked(data, stream), expected_address)
    assert outcome == Outcome(
        [Packet(PacketType.ACK, b"\x00", sentinel_address)], corrupted, reason, 0)
    assert [e.offset for e in emitted] == [len(corrupted)]

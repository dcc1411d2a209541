"""Instruction and confirmation codes of the R30x family, and each reply's payload length.

Every code in the protocol sheet (sections 2.1 and 3), including those whose meaning differs
between models: the client decides per model which ones it sends. Pure data.
"""

from __future__ import annotations

from enum import IntEnum


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

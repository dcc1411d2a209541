"""The module binding: which fingerprint module is "ours".

Owns ``BindingStatus``, ``check_binding``, ``bind_module`` and ``new_binding``. Pairing gives
each door a random 32-bit module password (SetPwd) and a random token written to notepad
page 0; a module that verifies our password and holds our token is bound. Whether a module is
bound is always read from the module itself: the credential (password and token) is
read-only to the daemon, so nothing else could say.

What each status means at the door: ``BOUND`` is the normal case; ``UNBOUND`` is a module
still on the factory password (new, or swapped in); ``FOREIGN`` verifies our password but
holds another token (swapped, or bound by another pairing); ``WRONG_PASSWORD`` takes neither
our password nor the default (another door's module, or tampered). Anything but ``BOUND`` is
a tamper alarm, and biometric access waits until the module is bound and reconciled.

The R30x line is unauthenticated: a module emulator that has sniffed the password and token
passes this check. The check stops a casual swap, not an attacker on the cable
(docs/threat-model.md).
"""

from __future__ import annotations

import enum
import hmac
import secrets

from doorward.drivers.r30x.errors import ModuleRejected
from doorward.drivers.r30x.protocol import DEFAULT_PASSWORD, Confirmation
from doorward.drivers.r30x.sensor import R30xSensor

NOTEPAD_PAGE = 0
NOTEPAD_PAGE_BYTES = 32  # the module pads every notepad page to 32 bytes
TOKEN_BYTES = 32


class BindingStatus(str, enum.Enum):
    BOUND = "bound"
    UNBOUND = "unbound_default_password"
    FOREIGN = "foreign_or_swapped"
    WRONG_PASSWORD = "wrong_password"


class BindingError(ModuleRejected):
    """The module cannot be bound: it takes neither our password nor the default."""

    def __init__(self) -> None:
        super().__init__(Confirmation.WRONG_PASSWORD, "bind")


def new_binding() -> tuple[int, bytes]:
    """A random non-default module password and notepad token, made at pairing."""
    password = DEFAULT_PASSWORD
    while password == DEFAULT_PASSWORD:
        password = secrets.randbits(32)
    return password, secrets.token_bytes(TOKEN_BYTES)


def check_binding(sensor: R30xSensor, password: int, token: bytes) -> BindingStatus:
    """Verify ``password`` (else the default) and compare notepad page 0 with ``token``.

    Leaves ``sensor.password`` at the password the module took (ours when it took neither),
    so the client's re-verify after a module reset uses the right one.
    """
    if _accepts(sensor, password):
        page = sensor.read_notepad(NOTEPAD_PAGE)
        return BindingStatus.BOUND if _same_token(page, token) else BindingStatus.FOREIGN
    if _accepts(sensor, DEFAULT_PASSWORD):
        return BindingStatus.UNBOUND
    sensor.password = password
    return BindingStatus.WRONG_PASSWORD


def bind_module(sensor: R30xSensor, password: int, token: bytes) -> BindingStatus:
    """Make the module ours: SetPwd when it still has the factory password, then the token.

    The password goes first: a bind cut short then leaves a module that takes our password
    without our token (``FOREIGN``), which the next bind finishes. Raises ``BindingError``
    for a module that takes neither password.
    """
    padded = _padded(token)  # refuse a bad token before the module changes at all
    status = check_binding(sensor, password, token)
    if status is BindingStatus.WRONG_PASSWORD:
        raise BindingError()
    if status is BindingStatus.UNBOUND:
        sensor.set_password(password)
    if status is not BindingStatus.BOUND:
        sensor.write_notepad(NOTEPAD_PAGE, padded)
    return check_binding(sensor, password, token)


def _accepts(sensor: R30xSensor, password: int) -> bool:
    sensor.password = password
    try:
        sensor.verify_password()
    except ModuleRejected as rejected:
        if rejected.code != Confirmation.WRONG_PASSWORD:
            raise
        return False
    return True


def _padded(token: bytes) -> bytes:
    if not 0 < len(token) <= NOTEPAD_PAGE_BYTES or not any(token):
        # all zeros is what a factory-fresh notepad holds: it would bind every new module
        raise ValueError(f"a binding token is 1..{NOTEPAD_PAGE_BYTES} bytes, not all zero")
    return token.ljust(NOTEPAD_PAGE_BYTES, b"\x00")


def _same_token(page: bytes, token: bytes) -> bool:
    return hmac.compare_digest(page.ljust(NOTEPAD_PAGE_BYTES, b"\x00"), _padded(token))

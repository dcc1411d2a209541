"""The door side of pairing: ``doorward pair``.

An admin creates the door on the server and reads out a one-time code and the server key's
fingerprint. Pairing then, in order:
1. asks the server for its key and refuses at once if the fingerprint differs (before the
   code is ever sent);
2. generates the door's X25519 key, a random module password and a random binding token;
3. registers (the code is single use), escrowing the module password, and checks the key in
   the answer against the fingerprint again;
4. writes one credential (0600 file, or an encrypted systemd credential);
5. binds the module (SetPwd, the token in notepad page 0) when it can open the port
   exclusively, and records its identity for the daemon to expect; otherwise it writes a
   one-shot bind request that the restarted daemon honours for that identity only
   (``daemon/commands/pair.py``, ``daemon/storage/module_record.py``).

``--recover-module`` (a replaced SD card): no new password; the server returns the escrowed
one sealed to the new key, so the module keeps working without a factory reset.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from doorward.daemon.codec import bundle
from doorward.daemon.storage.credentials import Credentials
from doorward.daemon.errors import DoorwardError
from doorward.daemon.sync.http import ServerConnection


class PairingError(DoorwardError):
    """Pairing refused; nothing was written."""


@dataclass(frozen=True)
class PairingRequest:
    server_url: str
    code: str
    fingerprint: str
    module_identity: str
    recover_module: bool = False
    ca_file: str | None = None
    deadline_s: float = 10.0


def normalise_fingerprint(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch in "0123456789abcdef")


def binding_token_for(password: int) -> str:
    """The notepad token, derived from the module password so that recovering the escrowed
    password after an SD-card replacement also recovers the token (hex, 16 bytes)."""
    digest = hashlib.sha256(b"doorward module binding\x00" + password.to_bytes(4, "big"))
    return digest.hexdigest()[:32]


def random_module_password() -> int:
    """A 32-bit password that is neither a factory default (0) nor all ones."""
    while (password := secrets.randbits(32)) in (0, 0xFFFFFFFF):
        pass
    return password


def _check_fingerprint(expected: str, got: str, where: str) -> None:
    if normalise_fingerprint(expected) != normalise_fingerprint(got):
        raise PairingError(
            f"the server's key fingerprint {got} ({where}) is not the one the admin gave "
            f"({expected}): refusing to pair; check the server URL and ask the admin again"
        )


def pair(request: PairingRequest) -> Credentials:
    """Register with the server; returns the credential to store (nothing is written here)."""
    connection = ServerConnection(
        request.server_url, ca_file=request.ca_file, deadline_s=request.deadline_s
    )
    try:
        health = connection.call_json("GET", "/api/v1/health")
        _check_fingerprint(request.fingerprint, str(health.get("server_key_fingerprint")), "health")
        door_key = bundle.generate_door_keys()
        password = None if request.recover_module else random_module_password()
        answer = connection.call_json("POST", "/api/v1/pair", json=_pair_body(request, door_key, password))
    finally:
        connection.close()
    return _credentials(request, door_key, password, answer)


def _pair_body(request: PairingRequest, door_key, password: int | None) -> dict:  # noqa: ANN001
    body = {
        "code": request.code,
        "x25519_public": bundle.b64(bundle.raw_public(door_key.public_key())),
        "module_identity": request.module_identity,
    }
    if password is not None:
        body["module_password"] = f"{password:08x}"
    return body


def _credentials(request: PairingRequest, door_key, password: int | None, answer: dict) -> Credentials:  # noqa: ANN001
    public = base64.b64decode(answer["server_public_key"])
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    server_key = Ed25519PublicKey.from_public_bytes(public)
    _check_fingerprint(request.fingerprint, bundle.key_fingerprint(server_key), "pairing answer")
    if bundle.public_key_id(server_key) != answer["server_key_id"]:
        raise PairingError("the server's key id does not belong to its key")
    if password is None:
        password = _recovered_password(answer, door_key)
    private_raw = door_key.private_bytes_raw()
    return Credentials(
        device_id=answer["device_id"], kind=answer.get("kind", "door"),
        server_url=request.server_url.rstrip("/"), server_key_id=answer["server_key_id"],
        server_public_key=answer["server_public_key"],
        server_key_fingerprint=bundle.key_fingerprint(server_key), token=answer["token"],
        door_private_key=base64.b64encode(private_raw).decode(), module_password=password,
        binding_token=binding_token_for(password),
        cache_key=base64.b64encode(os.urandom(32)).decode(),
        device_name=str(answer.get("name") or ""),
    )  # fmt: skip


def _recovered_password(answer: dict, door_key) -> int:  # noqa: ANN001
    sealed = answer.get("module_password_sealed")
    if not sealed:
        raise PairingError("the server holds no escrowed module password for this door")
    context = bundle.password_context(answer["device_id"])
    try:
        return int(bundle.unseal(base64.b64decode(sealed), door_key, context).decode(), 16)
    except (bundle.SealError, ValueError) as error:
        raise PairingError(f"the escrowed module password does not open: {error}") from error


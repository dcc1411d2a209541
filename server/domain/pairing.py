"""Pairing doors and stations: one-time codes, key registration, token, password escrow.

Owns ``create_code`` (admin) and ``pair`` (device). A code is single use, expires, and only
its SHA-256 is stored. Pairing registers the device's X25519 (and optional Ed25519) public
key, replaces any earlier token and keys (re-pairing revokes them), escrows the module
password sealed with the data key, and returns an escrowed password sealed to the device's
new key. The device checks the server key's fingerprint, which it is also given here.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from doorward.daemon.codec import bundle
from doorward.server.domain.auth import hash_token, new_token
from doorward.server.context import audit, mark_devices_dirty
from doorward.server.domain.directory import fetch
from doorward.server.errors import Forbidden, Invalid
from doorward.server.store.keys import ServerKeys, password_context
from doorward.server.store.ledger import RemovalLedger

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud and typed
CODE_GROUPS = 4
CODE_GROUP_CHARS = 4  # 16 characters, 80 bits


def normalise_code(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch in CODE_ALPHABET)


def _code_hash(code: str) -> str:
    return hashlib.sha256(normalise_code(code).encode()).hexdigest()


def create_code(conn: sqlite3.Connection, now: float, actor: str, device_id: str,
                lifetime_s: float) -> tuple[str, float]:
    fetch(conn, "devices", device_id, "device")
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_GROUPS * CODE_GROUP_CHARS))
    code = "-".join(raw[i:i + CODE_GROUP_CHARS] for i in range(0, len(raw), CODE_GROUP_CHARS))
    conn.execute("INSERT INTO pairing_codes (code_sha256, device_id, created_at, expires_at)"
                 " VALUES (?,?,?,?)", (_code_hash(code), device_id, now, now + lifetime_s))
    audit(conn, now, actor, "pairing_code.create", device_id, expires_at=now + lifetime_s)
    return code, now + lifetime_s


@dataclass(frozen=True)
class PairRequest:
    code: str
    x25519_public: bytes
    module_identity: str
    signing_public: bytes | None = None
    module_password: bytes | None = None


def _check_key(raw: bytes | None, field: str) -> None:
    if raw is not None and len(raw) != 32:
        raise Invalid(field, f"expected 32 raw key bytes, got {len(raw)}")


def _redeem(conn: sqlite3.Connection, code: str, now: float) -> str:
    """The device id of a valid code, which is used up in the same transaction."""
    row = conn.execute("SELECT device_id, expires_at, used_at FROM pairing_codes WHERE code_sha256 = ?",
                       (_code_hash(code),)).fetchone()
    if row is None or row["used_at"] is not None or row["expires_at"] <= now:
        raise Forbidden("pairing code unknown, used or expired; ask an admin for a new one")
    conn.execute("UPDATE pairing_codes SET used_at = ? WHERE code_sha256 = ?", (now, _code_hash(code)))
    return row["device_id"]


def pair(conn: sqlite3.Connection, now: float, keys: ServerKeys, request: PairRequest, *,
         ledger: RemovalLedger) -> dict[str, Any]:
    _check_key(request.x25519_public, "x25519_public")
    _check_key(request.signing_public, "signing_public")
    device_id = _redeem(conn, request.code, now)
    device = fetch(conn, "devices", device_id, "device")
    token = new_token()
    escrow = device["module_password_sealed"]
    if request.module_password is not None:
        escrow = keys.data.seal(request.module_password, password_context(device_id))
    conn.execute(
        "UPDATE devices SET token_sha256 = ?, x25519_public = ?, signing_public = ?, paired_at = ?,"
        " module_password_sealed = ?, reported_module_identity = ?, offline_alarmed = 0,"
        " last_heartbeat_at = NULL WHERE id = ?",
        (hash_token(token), request.x25519_public, request.signing_public, now, escrow,
         request.module_identity, device_id))
    # Old pairing codes die with the old keys; templates must be re-sealed to the new key.
    conn.execute("DELETE FROM pairing_codes WHERE device_id = ? AND used_at IS NULL", (device_id,))
    mark_devices_dirty(conn, "id = ?", (device_id,))
    answer = _answer(device, token, keys, escrow, request)
    actor = f"{device['kind']}:{device['name']}"
    # A restore must not revive the token and keys this pairing replaced.
    ledger.record("device.paired", device_id, now, actor, token_sha256=hash_token(token),
                  x25519_public=request.x25519_public, signing_public=request.signing_public,
                  module_password_sealed=escrow, reported_module_identity=request.module_identity,
                  paired_at=now)
    audit(conn, now, actor, f"{device['kind']}.pair", device_id,
          repaired=device["paired_at"] is not None, module_identity=request.module_identity)
    return answer


def _answer(device: sqlite3.Row, token: str, keys: ServerKeys, escrow: bytes | None,
            request: PairRequest) -> dict[str, Any]:
    returned = None
    if escrow is not None and request.module_password is None:
        password = keys.data.open(bytes(escrow), password_context(device["id"]))
        recipient = X25519PublicKey.from_public_bytes(request.x25519_public)
        returned = bundle.b64(bundle.seal(password, recipient, bundle.password_context(device["id"])))
    return {"device_id": device["id"], "kind": device["kind"], "name": device["name"], "token": token,
            "server_key_id": keys.key_id, "server_public_key": bundle.b64(keys.public_raw),
            "server_key_fingerprint": keys.fingerprint, "module_identity": device["module_identity"],
            "module_password_sealed": returned}

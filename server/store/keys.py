"""The server's two secrets: the Ed25519 signing key and the data key, each in a 0600 file.

Owns creating them (``doorward server init``), loading them, and ``DataKey``, which seals
templates and escrowed module passwords at rest with AES-256-GCM. The keys never enter the
database, so a copy of the database alone yields no template (promise 12). Keep them apart
from database backups (docs/server.md).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from doorward.daemon.codec import bundle

DATA_KEY_BYTES = 32
NONCE_BYTES = 12


class DataKey:
    """AES-256-GCM with a random nonce; the associated data names what is sealed, so a
    sealed value cannot be moved to another finger or door inside the database."""

    def __init__(self, key: bytes) -> None:
        if len(key) != DATA_KEY_BYTES:
            raise ValueError(f"data key must be {DATA_KEY_BYTES} bytes, got {len(key)}")
        self._aead = AESGCM(key)

    def seal(self, secret: bytes, context: str) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, secret, context.encode())

    def open(self, sealed: bytes, context: str) -> bytes:
        return self._aead.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], context.encode())


def template_context(finger_id: str) -> str:
    return f"template\x00{finger_id}"


def password_context(device_id: str) -> str:
    return f"module_password\x00{device_id}"


@dataclass(frozen=True)
class ServerKeys:
    signing: Ed25519PrivateKey
    data: DataKey

    @property
    def key_id(self) -> str:
        return bundle.public_key_id(self.signing.public_key())

    @property
    def fingerprint(self) -> str:
        return bundle.key_fingerprint(self.signing.public_key())

    @property
    def public_raw(self) -> bytes:
        return bundle.raw_public(self.signing.public_key())


def create_keys(signing_path: Path, data_path: Path) -> ServerKeys:
    """Create both key files (0600, never overwriting) and return the keys."""
    signing = bundle.generate_signing_key()
    pem = signing.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    data = os.urandom(DATA_KEY_BYTES)
    signing_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    _write_secret(signing_path, pem)
    _write_secret(data_path, data)
    return ServerKeys(signing, DataKey(data))


def load_keys(signing_path: Path, data_path: Path) -> ServerKeys:
    for path in (signing_path, data_path):
        if not path.exists():
            raise FileNotFoundError(f"{path}: missing; run `doorward server init` first")
        if path.stat().st_mode & 0o077:
            raise PermissionError(f"{path}: readable by others; chmod 600 it")
    signing = serialization.load_pem_private_key(signing_path.read_bytes(), password=None)
    if not isinstance(signing, Ed25519PrivateKey):
        raise ValueError(f"{signing_path}: not an Ed25519 private key")
    return ServerKeys(signing, DataKey(data_path.read_bytes()))


def _write_secret(path: Path, content: bytes) -> None:
    # O_EXCL: init never replaces a key that doors already trust.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())

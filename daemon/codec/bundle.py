"""THE sync codec, shared by the door and the server: bundles, sealed secrets, event chains.

Pure: the standard library, ``cryptography`` and the snapshot dataclasses; no IO, no clock
(times arrive as arguments). ``server/`` may import this module and nothing else from
``daemon/``. docs/sync-protocol.md specifies every byte; tests/vectors/ holds golden vectors.

Bundle envelope (UTF-8 JSON object)::

    {"format": "doorward-bundle/1", "key_id": "<16 hex>",
     "payload": "<base64 of the payload bytes>", "signature": "<base64 Ed25519 signature>"}

The signature covers exactly the payload bytes. The payload is canonical JSON (sorted keys,
no whitespace, UTF-8) of ``Snapshot.to_payload()`` plus ``"format"``, so the format is signed
too. A verifier checks the signature over the bytes it received and never re-serialises.

Freshness statement (the ``Doorward-Freshness`` header of a bundle poll's answer)::

    <key_id> "." <base64 of the statement bytes> "." <base64 Ed25519 signature>

The statement is canonical JSON of ``{"format": "doorward-freshness/1", "door", "nonce",
"version", "server_time"}``: the server's word, signed by its bundle key, that ``version``
is the door's current bundle as of ``server_time``, in answer to the door's ``nonce``. Its
own format string keeps it from ever being taken for a bundle payload, and the other way.

Sealed secret (templates; the escrowed module password), base64 in JSON::

    0x01 | ephemeral X25519 public key (32) | nonce (12) | ChaCha20-Poly1305 ciphertext + tag

with the key from HKDF-SHA256(shared secret, salt = ephemeral public || recipient public,
info = "doorward seal v1") and associated data naming what is sealed (door and finger ids),
so a sealed template cannot be moved to another door or finger.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from dataclasses import dataclass, field, fields, replace
from typing import Any

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from doorward.daemon.errors import DoorwardError
from doorward.daemon.codec.snapshot import Snapshot, SnapshotError

FORMAT = "doorward-bundle/1"
FRESHNESS_FORMAT = "doorward-freshness/1"
NONCE_HEX_CHARS = 32  # a poll's nonce: 16 random bytes, lowercase hex
MAX_FRESHNESS_CHARS = 1024
MAX_BUNDLE_BYTES = 4 * 1024 * 1024  # a full R307 door is ~1 MiB; refuse anything far larger
SEAL_VERSION = 0x01
SEAL_INFO = b"doorward seal v1"
GENESIS_HASH = "0" * 64


class BundleError(DoorwardError, ValueError):
    """A bundle was refused; the message says why."""


class BundleFormatError(BundleError):
    """Not a well-formed envelope or payload."""


class BundleSignatureError(BundleError):
    """The signature does not verify with the pinned key."""


class UnknownKeyError(BundleError):
    """Signed by a key this door does not trust."""


class WrongDoorError(BundleError):
    """A valid bundle for another door."""


class BundleTooLargeError(BundleError):
    """Larger than the door accepts."""


class FreshnessError(BundleError):
    """A freshness statement that does not verify, or answers another door or nonce."""


class SealError(DoorwardError, ValueError):
    """A sealed secret does not open with this key and context."""


# ---- keys ----


def raw_public(key: Ed25519PublicKey | X25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def generate_signing_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def generate_door_keys() -> X25519PrivateKey:
    """The door's sealing key: templates and the escrowed password are sealed to it."""
    return X25519PrivateKey.generate()


def public_key_id(public: Ed25519PublicKey) -> str:
    """The envelope's ``key_id``: first 16 hex digits of SHA-256 of the raw public key."""
    return hashlib.sha256(raw_public(public)).hexdigest()[:16]


def key_fingerprint(public: Ed25519PublicKey | X25519PublicKey) -> str:
    """What an admin reads out at pairing: 128 bits of SHA-256, in 8 groups of 4 hex digits."""
    digest = hashlib.sha256(raw_public(public)).hexdigest()[:32]
    return ":".join(digest[i : i + 4] for i in range(0, 32, 4))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, AttributeError) as error:
        raise BundleFormatError(f"{what} is not valid base64") from error


# ---- sealing ----


def _seal_key(shared: bytes, ephemeral: bytes, recipient: bytes) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=ephemeral + recipient, info=SEAL_INFO)
    return hkdf.derive(shared)


def seal(secret: bytes, recipient: X25519PublicKey, context: bytes) -> bytes:
    """Seal to a recipient's X25519 key with a fresh ephemeral key and nonce."""
    return seal_with(secret, recipient, context, X25519PrivateKey.generate(), os.urandom(12))


def seal_with(
    secret: bytes,
    recipient: X25519PublicKey,
    context: bytes,
    ephemeral_key: X25519PrivateKey,
    nonce: bytes,
) -> bytes:
    """``seal`` with the random parts given: for golden vectors only."""
    ephemeral = raw_public(ephemeral_key.public_key())
    key = _seal_key(ephemeral_key.exchange(recipient), ephemeral, raw_public(recipient))
    sealed = ChaCha20Poly1305(key).encrypt(nonce, secret, context)
    return bytes((SEAL_VERSION,)) + ephemeral + nonce + sealed


def unseal(sealed: bytes, recipient: X25519PrivateKey, context: bytes) -> bytes:
    if len(sealed) < 1 + 32 + 12 + 16 or sealed[0] != SEAL_VERSION:
        raise SealError("not a sealed secret of version 1")
    ephemeral, nonce, body = sealed[1:33], sealed[33:45], sealed[45:]
    try:
        shared = recipient.exchange(X25519PublicKey.from_public_bytes(ephemeral))
        key = _seal_key(shared, ephemeral, raw_public(recipient.public_key()))
        return ChaCha20Poly1305(key).decrypt(nonce, body, context)
    except (InvalidTag, ValueError) as error:
        raise SealError("sealed secret does not open with this key and context") from error


def template_context(door_id: str, finger_id: str) -> bytes:
    return f"template\x00{door_id}\x00{finger_id}".encode()


def password_context(door_id: str) -> bytes:
    """Associated data of the module password escrowed to a door on re-pairing."""
    return f"module_password\x00{door_id}".encode()


def seal_template(
    template: bytes, door_public: X25519PublicKey, *, door_id: str, finger_id: str
) -> str:
    """A template sealed to one door and one finger, as base64 text for the payload."""
    return b64(seal(template, door_public, template_context(door_id, finger_id)))


def open_template(
    sealed: str, door_private: X25519PrivateKey, *, door_id: str, finger_id: str
) -> bytes:
    try:
        raw = base64.b64decode(sealed.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as error:
        raise SealError(f"sealed template of finger {finger_id} is not base64") from error
    return unseal(raw, door_private, template_context(door_id, finger_id))


def template_sha256(template: bytes) -> str:
    return hashlib.sha256(template).hexdigest()


# ---- bundles ----


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def encode_payload(snapshot: Snapshot) -> bytes:
    return canonical_json({**snapshot.to_payload(), "format": FORMAT})


def sign_bundle(snapshot: Snapshot, signing_key: Ed25519PrivateKey) -> bytes:
    payload = encode_payload(snapshot)
    envelope = {
        "format": FORMAT,
        "key_id": public_key_id(signing_key.public_key()),
        "payload": b64(payload),
        "signature": b64(signing_key.sign(payload)),
    }
    return canonical_json(envelope)


def _parse_envelope(envelope: bytes, max_bytes: int) -> dict[str, str]:
    if len(envelope) > max_bytes:
        raise BundleTooLargeError(f"bundle of {len(envelope)} bytes exceeds {max_bytes}")
    try:
        outer = json.loads(envelope)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BundleFormatError(f"envelope is not JSON: {error}") from error
    if not isinstance(outer, dict):
        raise BundleFormatError("envelope is not a JSON object")
    for key in ("format", "key_id", "payload", "signature"):
        if not isinstance(outer.get(key), str):
            raise BundleFormatError(f"envelope field {key!r} missing or not a string")
    if outer["format"] != FORMAT:
        raise BundleFormatError(f"unsupported bundle format {outer['format']!r}")
    return outer


def verify_bundle(
    envelope: bytes,
    trusted: dict[str, Ed25519PublicKey],
    *,
    door_id: str,
    max_bytes: int = MAX_BUNDLE_BYTES,
) -> Snapshot:
    """Check size, format, pinned key, signature and door; return the snapshot.

    Version and expiry need the door's stored state: see ``version_action`` and the cache.
    """
    outer = _parse_envelope(envelope, max_bytes)
    key = trusted.get(outer["key_id"])
    if key is None:
        raise UnknownKeyError(f"bundle signed by unknown key {outer['key_id']!r}")
    payload = unb64(outer["payload"], "payload")
    try:
        key.verify(unb64(outer["signature"], "signature"), payload)
    except InvalidSignature as error:
        raise BundleSignatureError("bundle signature does not verify") from error
    snapshot = _decode_payload(payload)
    if snapshot.door_id != door_id:
        raise WrongDoorError(f"bundle is for door {snapshot.door_id!r}, not {door_id!r}")
    return snapshot


def _decode_payload(payload: bytes) -> Snapshot:
    try:
        values = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BundleFormatError(f"payload is not JSON: {error}") from error
    if not isinstance(values, dict) or values.pop("format", None) != FORMAT:
        raise BundleFormatError("payload does not carry the signed format")
    try:
        return Snapshot.from_payload(values)
    except SnapshotError as error:
        raise BundleFormatError(f"payload: {error}") from error


def version_action(incoming: int, stored: int | None, cache_empty: bool) -> str:
    """Promise 6: "apply" a newer version, "noop" on an equal one (unless the cache is
    empty), "rollback" on a lower one (refuse and alarm)."""
    if stored is None or incoming > stored:
        return "apply"
    if incoming == stored:
        return "apply" if cache_empty else "noop"
    return "rollback"


# ---- freshness statements ----


@dataclass(frozen=True)
class FreshnessStatement:
    door_id: str
    nonce: str
    version: int
    server_time: float


def new_nonce() -> str:
    return os.urandom(NONCE_HEX_CHARS // 2).hex()


def is_nonce(text: str) -> bool:
    return len(text) == NONCE_HEX_CHARS and all(c in "0123456789abcdef" for c in text)


def sign_freshness(statement: FreshnessStatement, signing_key: Ed25519PrivateKey) -> str:
    body = canonical_json({"format": FRESHNESS_FORMAT, "door": statement.door_id,
                           "nonce": statement.nonce, "version": statement.version,
                           "server_time": statement.server_time})
    key_id = public_key_id(signing_key.public_key())
    return f"{key_id}.{b64(body)}.{b64(signing_key.sign(body))}"


def verify_freshness(header: str, trusted: dict[str, Ed25519PublicKey], *, door_id: str,
                     nonce: str) -> FreshnessStatement:
    """Check a ``Doorward-Freshness`` value against the pinned key, this door and the nonce
    this poll sent; return the statement. Raises a ``BundleError`` naming what is wrong."""
    parts = header.split(".") if len(header) <= MAX_FRESHNESS_CHARS else []
    if len(parts) != 3:
        raise FreshnessError("freshness statement is not key_id.statement.signature")
    key = trusted.get(parts[0])
    if key is None:
        raise FreshnessError(f"freshness statement signed by unknown key {parts[0]!r}")
    body = unb64(parts[1], "freshness statement")
    try:
        key.verify(unb64(parts[2], "freshness signature"), body)
    except InvalidSignature as error:
        raise FreshnessError("freshness signature does not verify") from error
    statement = _freshness_fields(body)
    if statement.door_id != door_id or statement.nonce != nonce:
        raise FreshnessError("freshness statement answers another door or another poll")
    return statement


def _freshness_fields(body: bytes) -> FreshnessStatement:
    try:
        values = json.loads(body)
        if values["format"] != FRESHNESS_FORMAT:
            raise FreshnessError(f"unsupported freshness format {values['format']!r}")
        statement = FreshnessStatement(values["door"], values["nonce"], values["version"],
                                       values["server_time"])
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as error:
        raise FreshnessError(f"freshness statement is malformed: {error!r}") from None
    if not isinstance(statement.version, int) or isinstance(statement.version, bool):
        raise FreshnessError("freshness statement: version is not an integer")
    return statement


# ---- event chain ----


@dataclass(frozen=True)
class Event:
    """One journal record as it travels to the server. ``at`` is UTC ISO 8601 with "Z"."""

    door_id: str
    journal_id: str
    seq: int
    at: str
    kind: str
    detail: dict[str, Any] = field(default_factory=dict)
    prev_hash: str = GENESIS_HASH
    hash: str = ""

    def to_dict(self) -> dict[str, Any]:
        # Shallow on purpose (``asdict`` deep-copies ``detail``): it is on the journal's
        # append path, before the relay moves, and nothing here mutates the result.
        return {name: getattr(self, name) for name in EVENT_FIELDS}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Event:
        try:
            return cls(**data)
        except TypeError as error:
            raise BundleFormatError(f"event record: {error}") from error


EVENT_FIELDS = tuple(f.name for f in fields(Event))


def event_canonical_bytes(event: Event) -> bytes:
    """The hashed bytes: every field but ``hash``, canonical JSON."""
    values = event.to_dict()
    del values["hash"]
    return canonical_json(values)


def chain_hash(prev_hash: str, event: Event) -> str:
    """SHA-256 hex of the event's canonical bytes, with ``prev_hash`` as its link."""
    values = event.to_dict()
    del values["hash"]
    values["prev_hash"] = prev_hash
    return hashlib.sha256(canonical_json(values)).hexdigest()


def make_event(
    *, door_id: str, journal_id: str, seq: int, at: str, kind: str,
    detail: dict[str, Any], prev_hash: str,
) -> Event:  # fmt: skip
    unhashed = Event(door_id, journal_id, seq, at, kind, detail, prev_hash)
    return replace(unhashed, hash=chain_hash(prev_hash, unhashed))


def verify_chain(events: list[Event], prev_hash: str = GENESIS_HASH) -> int | None:
    """Index of the first event that breaks the chain (or its own hash), else None."""
    for index, event in enumerate(events):
        if event.prev_hash != prev_hash or chain_hash(prev_hash, event) != event.hash:
            return index
        prev_hash = event.hash
    return None

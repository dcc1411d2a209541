"""The freshness statement: the server's signed word that a version is still current,
answering one poll's nonce (docs/sync-protocol.md). Golden vector, and every refusal."""

from __future__ import annotations

import base64
import json
import pathlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from doorward.daemon.codec import bundle

VECTORS = json.loads((pathlib.Path(__file__).parents[1] / "vectors" / "sync-v1.json").read_text())
SIGNING = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(VECTORS["signing_key_seed_hex"]))
TRUSTED = {VECTORS["key_id"]: SIGNING.public_key()}
VECTOR = VECTORS["freshness"]
DOOR, NONCE = VECTOR["door"], VECTOR["nonce"]


def statement(**changes: object) -> bundle.FreshnessStatement:
    fields = {"door_id": DOOR, "nonce": NONCE, "version": VECTOR["version"],
              "server_time": VECTOR["server_time"]} | changes
    return bundle.FreshnessStatement(**fields)  # type: ignore[arg-type]


def test_the_vector_signs_byte_for_byte_and_verifies() -> None:
    assert bundle.sign_freshness(statement(), SIGNING) == VECTOR["header"]
    assert bundle.verify_freshness(VECTOR["header"], TRUSTED, door_id=DOOR, nonce=NONCE) == statement()


def test_nonces_are_fresh_hex() -> None:
    nonces = {bundle.new_nonce() for _ in range(50)}
    assert len(nonces) == 50 and all(bundle.is_nonce(n) for n in nonces)
    assert not bundle.is_nonce("ABCDEF" * 6) and not bundle.is_nonce("00")


def resigned(body: dict, key: Ed25519PrivateKey = SIGNING) -> str:
    raw = bundle.canonical_json(body)
    key_id = bundle.public_key_id(key.public_key())
    return f"{key_id}.{bundle.b64(raw)}.{bundle.b64(key.sign(raw))}"


VECTOR_BODY = json.loads(base64.b64decode(VECTOR["header"].split(".")[1]))
REFUSED = [
    ("a replay answers another poll's nonce",
     bundle.sign_freshness(statement(nonce="ff" * 16), SIGNING), "another door or another poll"),
    ("another door's statement", bundle.sign_freshness(statement(door_id="door-other"), SIGNING),
     "another door or another poll"),
    ("another key", bundle.sign_freshness(statement(), Ed25519PrivateKey.generate()), "unknown key"),
    ("a tampered version", VECTOR["header"].replace(
        VECTOR["header"].split(".")[1],
        bundle.b64(bundle.canonical_json(VECTOR_BODY | {"version": VECTOR["version"] + 1}))),
     "does not verify"),
    ("a bundle payload is not a statement", resigned(VECTOR_BODY | {"format": bundle.FORMAT}),
     "unsupported freshness format"),
    ("a version that is not an integer", resigned(VECTOR_BODY | {"version": "7"}),
     "not an integer"),
    ("a missing field", resigned({k: v for k, v in VECTOR_BODY.items() if k != "nonce"}),
     "malformed"),
    ("not three parts", "abc", "key_id.statement.signature"),
    ("far too long", "a." * 600, "key_id.statement.signature"),
    ("not base64", f"{VECTORS['key_id']}.!!.!!", "not valid base64"),
]


@pytest.mark.parametrize(("header", "words"), [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED])
def test_refused_statements_name_the_reason(header: str, words: str) -> None:
    with pytest.raises(bundle.BundleError, match=words):
        bundle.verify_freshness(header, TRUSTED, door_id=DOOR, nonce=NONCE)


def test_a_statement_is_never_a_bundle() -> None:
    """Domain separation the other way: a signed statement put in a bundle envelope."""
    body = base64.b64decode(VECTOR["header"].split(".")[1])
    envelope = bundle.canonical_json({"format": bundle.FORMAT, "key_id": VECTORS["key_id"],
                                      "payload": bundle.b64(body),
                                      "signature": VECTOR["header"].split(".")[2]})
    with pytest.raises(bundle.BundleFormatError, match="signed format"):
        bundle.verify_bundle(envelope, TRUSTED, door_id=DOOR)

"""The sync codec: golden vectors, signatures, sealing, version rules and the event chain."""

from __future__ import annotations

import base64
import json
import pathlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from doorward.daemon.codec import bundle
from doorward.daemon.codec.snapshot import Snapshot

VECTORS = json.loads((pathlib.Path(__file__).parents[1] / "vectors" / "sync-v1.json").read_text())
SIGNING = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(VECTORS["signing_key_seed_hex"]))
TRUSTED = {VECTORS["key_id"]: SIGNING.public_key()}
ENVELOPE = VECTORS["envelope_utf8"].encode()
DOOR = "door-7f3a"


def snapshot() -> Snapshot:
    return bundle.verify_bundle(ENVELOPE, TRUSTED, door_id=DOOR)


# ---- golden vectors ----


def test_vector_keys() -> None:
    public = SIGNING.public_key()
    assert bundle.raw_public(public).hex() == VECTORS["signing_public_hex"]
    assert bundle.public_key_id(public) == VECTORS["key_id"]
    assert bundle.key_fingerprint(public) == VECTORS["key_fingerprint"]


def test_vector_envelope_verifies_and_reencodes_byte_for_byte() -> None:
    decoded = snapshot()
    assert bundle.encode_payload(decoded).decode() == VECTORS["payload_bytes_utf8"]
    assert bundle.sign_bundle(decoded, SIGNING) == ENVELOPE  # Ed25519 is deterministic
    assert decoded.version == 1764300000000000 and decoded.zone.two_person


def test_vector_sealed_template() -> None:
    seal = VECTORS["seal"]
    door = X25519PrivateKey.from_private_bytes(bytes.fromhex(seal["door_private_hex"]))
    ephemeral = X25519PrivateKey.from_private_bytes(bytes.fromhex(seal["ephemeral_private_hex"]))
    template = bytes.fromhex(seal["template_hex"])
    context = seal["context_utf8"].encode()
    sealed = bundle.seal_with(
        template, door.public_key(), context, ephemeral, bytes.fromhex(seal["nonce_hex"])
    )
    assert bundle.b64(sealed) == seal["sealed_b64"]
    finger = snapshot().users[0].fingers[0]
    opened = bundle.open_template(finger.sealed_template, door, door_id=DOOR, finger_id="f-9c2e")
    assert opened == template
    assert bundle.template_sha256(opened) == finger.template_sha256


def test_vector_event_chain() -> None:
    events = [bundle.Event.from_dict(e) for e in VECTORS["events"]]
    assert bundle.verify_chain(events) is None
    assert [e.seq for e in events] == [1, 2, 3]
    assert events[1].prev_hash == events[0].hash


# ---- refusals ----


def resign(payload: dict, key: Ed25519PrivateKey = SIGNING) -> bytes:
    return bundle.sign_bundle(Snapshot.from_payload(payload), key)


def vector_payload() -> dict:
    payload = json.loads(VECTORS["payload_bytes_utf8"])
    del payload["format"]
    return payload


def test_another_key_is_refused() -> None:
    other = Ed25519PrivateKey.generate()
    with pytest.raises(bundle.UnknownKeyError):
        bundle.verify_bundle(resign(vector_payload(), other), TRUSTED, door_id=DOOR)


def test_a_key_id_pointing_at_the_pinned_key_with_a_foreign_signature_is_refused() -> None:
    envelope = json.loads(resign(vector_payload(), Ed25519PrivateKey.generate()))
    envelope["key_id"] = VECTORS["key_id"]
    with pytest.raises(bundle.BundleSignatureError):
        bundle.verify_bundle(json.dumps(envelope).encode(), TRUSTED, door_id=DOOR)


def test_another_doors_bundle_is_refused() -> None:
    payload = vector_payload() | {"door": "door-other"}
    with pytest.raises(bundle.WrongDoorError, match="door-other"):
        bundle.verify_bundle(resign(payload), TRUSTED, door_id=DOOR)


def test_oversized_bundle_is_refused_before_parsing() -> None:
    with pytest.raises(bundle.BundleTooLargeError):
        bundle.verify_bundle(ENVELOPE, TRUSTED, door_id=DOOR, max_bytes=len(ENVELOPE) - 1)


def test_payload_edit_breaks_the_signature() -> None:
    envelope = json.loads(ENVELOPE)
    payload = base64.b64decode(envelope["payload"]).replace(b'"lockdown":false', b'"lockdown":true ')
    envelope["payload"] = base64.b64encode(payload).decode()
    with pytest.raises(bundle.BundleSignatureError):
        bundle.verify_bundle(json.dumps(envelope).encode(), TRUSTED, door_id=DOOR)


@pytest.mark.parametrize(
    ("envelope", "message"),
    [
        (b"not json", "not JSON"),
        (b"[]", "not a JSON object"),
        (b'{"format": "doorward-bundle/2", "key_id": "", "payload": "", "signature": ""}', "format"),
        (b'{"format": "doorward-bundle/1", "key_id": "x", "payload": 3, "signature": ""}', "payload"),
    ],
)
def test_malformed_envelopes_are_refused_with_a_reason(envelope: bytes, message: str) -> None:
    with pytest.raises(bundle.BundleFormatError, match=message):
        bundle.verify_bundle(envelope, TRUSTED, door_id=DOOR)


@given(st.integers(min_value=0), st.integers(min_value=1, max_value=255))
def test_any_single_byte_change_is_refused(position_seed: int, flip: int) -> None:
    position = position_seed % len(ENVELOPE)
    mutated = bytearray(ENVELOPE)
    mutated[position] ^= flip
    try:
        decoded = bundle.verify_bundle(bytes(mutated), TRUSTED, door_id=DOOR)
    except bundle.BundleError:
        return
    # Only a change JSON ignores can pass (none exist in canonical form, but be exact):
    assert decoded == snapshot()


# ---- sealing ----


def test_a_sealed_template_opens_only_for_its_door_and_finger() -> None:
    door = bundle.generate_door_keys()
    sealed = bundle.seal_template(b"tpl", door.public_key(), door_id="d1", finger_id="f1")
    assert bundle.open_template(sealed, door, door_id="d1", finger_id="f1") == b"tpl"
    for door_id, finger_id in (("d2", "f1"), ("d1", "f2")):
        with pytest.raises(bundle.SealError):
            bundle.open_template(sealed, door, door_id=door_id, finger_id=finger_id)
    with pytest.raises(bundle.SealError):
        bundle.open_template(sealed, bundle.generate_door_keys(), door_id="d1", finger_id="f1")


def test_sealing_twice_gives_different_bytes() -> None:
    door = bundle.generate_door_keys()
    assert bundle.seal(b"x", door.public_key(), b"c") != bundle.seal(b"x", door.public_key(), b"c")


# ---- version rule ----


@pytest.mark.parametrize(
    ("incoming", "stored", "empty", "action"),
    [
        (5, None, True, "apply"),
        (6, 5, False, "apply"),
        (5, 5, False, "noop"),
        (5, 5, True, "apply"),
        (4, 5, False, "rollback"),
        (4, 5, True, "rollback"),
    ],
)
def test_version_action(incoming: int, stored: int | None, empty: bool, action: str) -> None:
    assert bundle.version_action(incoming, stored, empty) == action


# ---- event chain ----


def chain(n: int) -> list[bundle.Event]:
    events, prev = [], bundle.GENESIS_HASH
    for seq in range(1, n + 1):
        event = bundle.make_event(
            door_id="d", journal_id="j", seq=seq, at=f"2026-01-01T00:00:{seq:02d}.000000Z",
            kind="granted", detail={"n": seq}, prev_hash=prev,
        )
        events.append(event)
        prev = event.hash
    return events


def test_an_edited_event_breaks_the_chain_at_that_event() -> None:
    events = chain(5)
    events[2] = bundle.Event(**{**events[2].to_dict(), "detail": {"n": 99}})
    assert bundle.verify_chain(events) == 2


def test_a_removed_event_breaks_the_chain() -> None:
    events = chain(5)
    assert bundle.verify_chain(events[:2] + events[3:]) == 2


def test_a_chain_continues_from_a_given_hash() -> None:
    events = chain(4)
    assert bundle.verify_chain(events[2:], prev_hash=events[1].hash) is None
    assert bundle.verify_chain(events[2:]) == 0

"""Regenerate the sync-protocol golden vectors: ``python -m tests.vectors.make_vectors``.

Run it only when the format changes on purpose (and bump ``FORMAT``): the vectors exist so
that a second implementation, and this one after a refactor, produce the same bytes.
"""

from __future__ import annotations

import json
import pathlib

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from doorward.daemon.codec import bundle
from doorward.daemon.codec.snapshot import Snapshot

HERE = pathlib.Path(__file__).resolve().parent
SIGNING_SEED = bytes(range(32))
DOOR_KEY = bytes(range(32, 64))
EPHEMERAL_KEY = bytes(range(64, 96))
NONCE = bytes(range(12))
TEMPLATE = bytes((i * 7) % 256 for i in range(512))

PAYLOAD = {
    "door": "door-7f3a",
    "zone": {"id": "tent-apollo", "two_person": True, "two_person_window_s": 20.0},
    "version": 1764300000000000,
    "issued_at": 1764300000.0,
    "expires_at": 1764904800.0,
    "policy": {"unlock_s": 5.0, "held_open_s": 30.0},
    "lockdown": False,
    "time_zone": "Europe/Berlin",
    "schedules": [
        {
            "id": "office-hours",
            "weekly": {"mon": [["07:00", "19:00"]], "tue": [["07:00", "19:00"]],
                       "wed": [["07:00", "19:00"]], "thu": [["07:00", "19:00"]],
                       "fri": [["07:00", "19:00"]], "sat": [], "sun": []},
            "holiday": [],
        }
    ],
    "holidays": ["2026-12-25"],
    "users": [
        {
            "id": "u-01HZX3",
            "roles": ["staff"],
            "valid_from": None,
            "valid_until": None,
            "grants": [{"zone": "tent-apollo", "schedule": "office-hours"}],
            "fingers": [
                {
                    "id": "f-9c2e",
                    "module_identity": "model=unknown;system_id=0x0009;capacity=1000",
                    "template_sha256": bundle.template_sha256(TEMPLATE),
                    "sealed_template": "",
                    "duress": False,
                }
            ],
        }
    ],
}


def build() -> dict:
    signing = Ed25519PrivateKey.from_private_bytes(SIGNING_SEED)
    door = X25519PrivateKey.from_private_bytes(DOOR_KEY)
    context = bundle.template_context("door-7f3a", "f-9c2e")
    sealed = bundle.seal_with(
        TEMPLATE, door.public_key(), context, X25519PrivateKey.from_private_bytes(EPHEMERAL_KEY), NONCE
    )
    payload = json.loads(json.dumps(PAYLOAD))
    payload["users"][0]["fingers"][0]["sealed_template"] = bundle.b64(sealed)
    snapshot = Snapshot.from_payload(payload)
    envelope = bundle.sign_bundle(snapshot, signing)
    events, prev = [], bundle.GENESIS_HASH
    for seq, kind in enumerate(("granted", "door_opened", "door_closed"), start=1):
        event = bundle.make_event(
            door_id="door-7f3a", journal_id="j-2b9d", seq=seq,
            at=f"2026-11-28T08:00:0{seq}.000000Z", kind=kind,
            detail={"user_id": "u-01HZX3"} if kind == "granted" else {}, prev_hash=prev,
        )
        events.append(event.to_dict())
        prev = event.hash
    return {
        "signing_key_seed_hex": SIGNING_SEED.hex(),
        "signing_public_hex": bundle.raw_public(signing.public_key()).hex(),
        "key_id": bundle.public_key_id(signing.public_key()),
        "key_fingerprint": bundle.key_fingerprint(signing.public_key()),
        "payload_bytes_utf8": bundle.encode_payload(snapshot).decode(),
        "envelope_utf8": envelope.decode(),
        "seal": {
            "door_private_hex": DOOR_KEY.hex(),
            "door_public_hex": bundle.raw_public(door.public_key()).hex(),
            "ephemeral_private_hex": EPHEMERAL_KEY.hex(),
            "nonce_hex": NONCE.hex(),
            "context_utf8": context.decode(),
            "template_hex": TEMPLATE.hex(),
            "sealed_b64": bundle.b64(sealed),
        },
        "events": events,
        "freshness": freshness(signing),
    }


def freshness(signing: Ed25519PrivateKey) -> dict:
    """A freshness statement answering one poll (added with the poll nonce)."""
    statement = bundle.FreshnessStatement("door-7f3a", bytes(range(16)).hex(),
                                          1764300000000000, 1764300123.5)
    return {"door": statement.door_id, "nonce": statement.nonce, "version": statement.version,
            "server_time": statement.server_time,
            "header": bundle.sign_freshness(statement, signing)}


if __name__ == "__main__":
    (HERE / "sync-v1.json").write_text(json.dumps(build(), indent=1) + "\n")
    print(f"wrote {HERE / 'sync-v1.json'}")

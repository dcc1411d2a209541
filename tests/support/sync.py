"""Builders for the door-side sync tests: keys, snapshots with really sealed templates, and
signed bundles, all deterministic in what they contain (sealing itself is randomised).

``door_payload(version, users=N)`` gives a payload whose fingers' templates depend on the
version and the user, so a test can tell exactly which version a cache holds.
"""

from __future__ import annotations

import hashlib
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from doorward.daemon.codec import bundle
from doorward.daemon.codec.snapshot import Snapshot
from doorward.sim.rig.access import EXPIRES_AT, ISSUED_AT, MODULE, payload

DOOR = "door-1"
SIGNING_SEED = bytes(range(100, 132))
DOOR_SEED = bytes(range(132, 164))


def signing_key(seed: bytes = SIGNING_SEED) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(seed)


def door_key(seed: bytes = DOOR_SEED) -> X25519PrivateKey:
    return X25519PrivateKey.from_private_bytes(seed)


def trusted(key: Ed25519PrivateKey) -> dict[str, Any]:
    public = key.public_key()
    return {bundle.public_key_id(public): public}


def template_bytes(finger_id: str, generation: int) -> bytes:
    """A 512-byte stand-in for a module template, different per finger and generation."""
    seed = hashlib.sha256(f"{finger_id}/{generation}".encode()).digest()
    return (seed * 16)[:512]


def finger_payload(finger_id: str, generation: int, door_public, door: str = DOOR,
                   module: str = MODULE) -> dict[str, Any]:
    template = template_bytes(finger_id, generation)
    return {"id": finger_id, "module_identity": module,
            "template_sha256": bundle.template_sha256(template),
            "sealed_template": bundle.seal_template(template, door_public, door_id=door,
                                                    finger_id=finger_id),
            "duress": False, "active": True}


def door_payload(version: int, users: int = 3, fingers_per_user: int = 2, *,
                 door: str = DOOR, door_public=None, issued_at: float = ISSUED_AT,
                 expires_at: float = EXPIRES_AT, module: str = MODULE) -> dict[str, Any]:
    """A door's payload: user ``u-N`` exists in versions where N < users; a finger's
    template changes every third version, so slot maps really change between versions."""
    door_public = door_public or door_key().public_key()
    people = []
    for number in range(users):
        fingers = [finger_payload(f"f-{number}-{n}", version // 3, door_public, door, module)
                   for n in range(fingers_per_user)]
        people.append({"id": f"u-{number}", "grants": [{"zone": "tent-apollo",
                       "schedule": None}], "fingers": fingers})
    return payload(*people, version=version, door=door, issued_at=issued_at,
                   expires_at=expires_at)


def door_snapshot(version: int, **options: Any) -> Snapshot:
    return Snapshot.from_payload(door_payload(version, **options))


def signed(snapshot: Snapshot, key: Ed25519PrivateKey | None = None) -> bytes:
    return bundle.sign_bundle(snapshot, key or signing_key())


def signed_version(version: int, key: Ed25519PrivateKey | None = None, **options: Any) -> bytes:
    return signed(door_snapshot(version, **options), key)

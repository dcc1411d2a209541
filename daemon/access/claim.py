"""What the reader tells ``decide()`` about one scan: the module's claim, checked as far as
the Pi can check it.

Owns ``Claim``, ``ClaimKind`` and ``SlotState``. The reader resolves the module's page
through the door's slot map (the slot state and finger id come from the cache, never from
the module) and says whether the 1:1 Match of the stored template confirmed the hit.

Pure: standard library only. Must not import the driver, the cache or any IO module.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class ClaimKind(str, enum.Enum):
    UNKNOWN = "unknown"  # the module searched and found nothing
    POOR_IMAGE = "poor_image"  # image too poor to extract features; says nothing about who
    HIT = "hit"  # the module says "page N, score S"


class SlotState(str, enum.Enum):
    """The slot map's state of the page the module named."""

    ACTIVE = "active"
    PENDING_LOAD = "pending_load"  # in the snapshot, not yet verified in the module
    PENDING_DELETE = "pending_delete"  # revoked, not yet erased from the module
    EMPTY = "empty"  # nothing should be there: the module is lying or was tampered with


@dataclass(frozen=True)
class Claim:
    kind: ClaimKind
    page: int | None = None
    score: int | None = None
    slot_state: SlotState | None = None
    finger_id: str | None = None  # from the slot map; None for an empty slot
    match_confirmed: bool = False  # LoadChar page + 1:1 Match against the live features
    module_identity: str | None = None  # the connected module's module_identity()

    @classmethod
    def unknown(cls) -> Claim:
        return cls(ClaimKind.UNKNOWN)

    @classmethod
    def poor_image(cls) -> Claim:
        return cls(ClaimKind.POOR_IMAGE)

    @classmethod
    def hit(
        cls,
        page: int,
        score: int,
        slot_state: SlotState,
        finger_id: str | None,
        match_confirmed: bool,
        module_identity: str,
    ) -> Claim:
        return cls(
            ClaimKind.HIT, page, score, slot_state, finger_id, match_confirmed, module_identity
        )

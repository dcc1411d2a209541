"""What reconcile must do to make the module's library match the slot map: the pure planner.

Owns ``Step``, ``StepKind`` and ``plan_reconcile``. The slot map (the cache) is the truth and
the module's index table only a report of what it holds. Deletions come first, so a revoked
finger leaves the module before anything else happens and pages pending deletion become free;
then loads. An occupied page that the map holds as pending-load, or an active page whose
content is suspect, is verified (read back and hashed) before anything is downloaded: a
template that is already right costs one upload instead of a download and an upload.

Pure: standard library and the slot-map types only. No IO, no clock.
"""

from __future__ import annotations

import enum
from collections.abc import Collection
from dataclasses import dataclass

from doorward.daemon.access.claim import SlotState
from doorward.daemon.library.slotmap import SlotMap


class StepKind(str, enum.Enum):
    DELETE = "delete"  # DeletChar the page; drop it from the map if it was pending-delete
    LOAD = "load"  # open the sealed template, DownChar, Store; a VERIFY follows
    VERIFY = "verify"  # LoadChar, UpChar, SHA-256 against the map; active on a match


class StepReason(str, enum.Enum):
    PENDING_DELETE = "pending_delete"  # revoked or changed in the snapshot
    EXTRA = "extra"  # occupied in the module, unknown to the map
    PENDING_LOAD = "pending_load"  # in the map, not in the module
    UNVERIFIED = "unverified"  # pending-load but the page is occupied: maybe already right
    MISSING = "missing"  # active in the map, empty in the module
    SUSPECT = "suspect"  # active and occupied, content to be checked (periodic verify)
    RETRY = "retry"  # a load whose read-back hash did not match


@dataclass(frozen=True)
class Step:
    kind: StepKind
    page: int
    reason: StepReason
    attempt: int = 1  # the download attempt it belongs to; 0: a verify before any download


def plan_reconcile(
    slot_map: SlotMap, occupied_pages: Collection[int], suspect_pages: Collection[int] = ()
) -> list[Step]:
    """Every step that brings the module in line with ``slot_map``, deletions first."""
    return _deletions(slot_map, occupied_pages) + _loads(slot_map, occupied_pages, suspect_pages)


def _deletions(slot_map: SlotMap, occupied: Collection[int]) -> list[Step]:
    revoked = [
        Step(StepKind.DELETE, slot.page, StepReason.PENDING_DELETE)
        for slot in slot_map.slots
        if slot.state is SlotState.PENDING_DELETE
    ]
    known = slot_map.pages()
    extra = [
        Step(StepKind.DELETE, page, StepReason.EXTRA) for page in sorted(set(occupied) - known)
    ]
    return revoked + extra


def _loads(slot_map: SlotMap, occupied: Collection[int], suspect: Collection[int]) -> list[Step]:
    steps: list[Step] = []
    for slot in slot_map.slots:
        present = slot.page in occupied
        if slot.state is SlotState.PENDING_LOAD:
            reason = StepReason.UNVERIFIED if present else StepReason.PENDING_LOAD
            kind = StepKind.VERIFY if present else StepKind.LOAD
            steps.append(Step(kind, slot.page, reason, attempt=0 if present else 1))
        elif slot.state is SlotState.ACTIVE and not present:
            steps.append(Step(StepKind.LOAD, slot.page, StepReason.MISSING))
        elif slot.state is SlotState.ACTIVE and slot.page in suspect:
            steps.append(Step(StepKind.VERIFY, slot.page, StepReason.SUSPECT, attempt=0))
    return steps

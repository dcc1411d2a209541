"""The slot map: which module page holds which finger, and what state each page is in.

The module's library is a cache of the snapshot that the door controls: the slot map, kept in
the encrypted permission cache, is the truth, and the module's word about a page is only
checked against it. Owns ``Slot``, ``SlotMap`` and ``plan_slot_map`` (what a new snapshot
means for the map: revoked or changed fingers become pending-delete, new ones pending-load in
free pages). Reconcile (``daemon/library/reconcile.py``) then makes the module match the map, deletions
first, and marks pages active once a loaded template's hash is verified.

Pure: standard library and the snapshot types. No IO.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from doorward.daemon.access.claim import SlotState
from doorward.daemon.codec.snapshot import Snapshot


@dataclass(frozen=True)
class Slot:
    page: int
    finger_id: str
    template_sha256: str
    state: SlotState


@dataclass(frozen=True)
class SlotMap:
    slots: tuple[Slot, ...] = ()  # sorted by page, at most one slot per page

    @classmethod
    def of(cls, slots: Iterable[Slot]) -> SlotMap:
        ordered = tuple(sorted(slots, key=lambda slot: slot.page))
        pages = [slot.page for slot in ordered]
        if len(pages) != len(set(pages)):
            raise ValueError("a slot map holds at most one finger per page")
        return cls(ordered)

    def at(self, page: int) -> Slot | None:
        for slot in self.slots:
            if slot.page == page:
                return slot
        return None

    def state_of(self, page: int) -> SlotState:
        slot = self.at(page)
        return SlotState.EMPTY if slot is None else slot.state

    def of_finger(self, finger_id: str) -> Slot | None:
        """The live (not pending-delete) slot of a finger."""
        for slot in self.slots:
            if slot.finger_id == finger_id and slot.state != SlotState.PENDING_DELETE:
                return slot
        return None

    def pages(self) -> set[int]:
        return {slot.page for slot in self.slots}

    def with_state(self, page: int, state: SlotState) -> SlotMap:
        return SlotMap.of(replace(s, state=state) if s.page == page else s for s in self.slots)

    def without(self, page: int) -> SlotMap:
        return SlotMap.of(s for s in self.slots if s.page != page)

    def is_reconciled(self) -> bool:
        return all(slot.state == SlotState.ACTIVE for slot in self.slots)


@dataclass(frozen=True)
class SlotPlan:
    slot_map: SlotMap
    overflow: tuple[str, ...]  # finger ids that did not fit in the module: an alarm, never silent
    unusable: tuple[str, ...]  # finger ids enrolled on another module identity


def wanted_fingers(snapshot: Snapshot, module_identity: str) -> tuple[dict[str, str], list[str]]:
    """finger id -> template hash of every active finger this module can hold, and the ids
    of fingers enrolled on a different module identity (compared whole)."""
    wanted: dict[str, str] = {}
    unusable: list[str] = []
    for user in snapshot.users:
        for finger in user.fingers:
            if not (user.active and finger.active):
                continue
            if finger.module_identity != module_identity:
                unusable.append(finger.finger_id)
            else:
                wanted[finger.finger_id] = finger.template_sha256
    return wanted, unusable


def plan_slot_map(
    current: SlotMap, snapshot: Snapshot, module_identity: str, capacity: int
) -> SlotPlan:
    """The slot map a snapshot asks for, keeping every page that still holds a wanted finger.

    A finger no longer wanted, or whose template changed, is pending-delete on its page; a
    wanted finger without a page gets the lowest free one (pending-delete pages are not free
    until erased) as pending-load; fingers beyond the capacity are reported as overflow.
    """
    wanted, unusable = wanted_fingers(snapshot, module_identity)
    kept: list[Slot] = []
    for slot in current.slots:
        still_wanted = wanted.get(slot.finger_id) == slot.template_sha256
        if still_wanted and slot.state != SlotState.PENDING_DELETE:
            kept.append(slot)
        else:
            kept.append(replace(slot, state=SlotState.PENDING_DELETE))
    placed = {s.finger_id for s in kept if s.state != SlotState.PENDING_DELETE}
    used = {s.page for s in kept}
    free = (page for page in range(capacity) if page not in used)
    overflow: list[str] = []
    for finger_id in sorted(set(wanted) - placed):
        page = next(free, None)
        if page is None:
            overflow.append(finger_id)
            continue
        kept.append(Slot(page, finger_id, wanted[finger_id], SlotState.PENDING_LOAD))
    return SlotPlan(SlotMap.of(kept), tuple(overflow), tuple(sorted(unusable)))

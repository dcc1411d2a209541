"""The slot map: what a new snapshot means for the module's pages."""

from __future__ import annotations

import pytest

from doorward.daemon.access.claim import SlotState
from doorward.daemon.library.slotmap import Slot, SlotMap, plan_slot_map
from doorward.daemon.codec.snapshot import Snapshot
from doorward.sim.rig.access import MODULE, OTHER_MODULE, finger, payload, sha, user

ACTIVE, LOAD, DELETE = SlotState.ACTIVE, SlotState.PENDING_LOAD, SlotState.PENDING_DELETE


def snapshot(*users: dict) -> Snapshot:
    return Snapshot.from_payload(payload(*users))


def test_new_fingers_get_the_lowest_free_pages_as_pending_load() -> None:
    plan = plan_slot_map(SlotMap(), snapshot(user("a"), user("b")), MODULE, capacity=10)
    assert plan.slot_map.slots == (
        Slot(0, "f-a", sha("f-a"), LOAD),
        Slot(1, "f-b", sha("f-b"), LOAD),
    )
    assert plan.overflow == () and plan.unusable == ()


def test_kept_fingers_keep_their_page_and_state_revoked_ones_await_deletion() -> None:
    current = SlotMap.of([Slot(3, "f-a", sha("f-a"), ACTIVE), Slot(5, "f-gone", sha("x"), ACTIVE)])
    plan = plan_slot_map(current, snapshot(user("a"), user("b")), MODULE, capacity=10)
    assert plan.slot_map.slots == (
        Slot(0, "f-b", sha("f-b"), LOAD),
        Slot(3, "f-a", sha("f-a"), ACTIVE),
        Slot(5, "f-gone", sha("x"), DELETE),
    )


def test_a_changed_template_is_deleted_and_loaded_again_elsewhere() -> None:
    current = SlotMap.of([Slot(0, "f-a", "old-hash", ACTIVE)])
    plan = plan_slot_map(current, snapshot(user("a")), MODULE, capacity=10)
    assert plan.slot_map.slots == (
        Slot(0, "f-a", "old-hash", DELETE),
        Slot(1, "f-a", sha("f-a"), LOAD),
    )
    assert plan.slot_map.of_finger("f-a") == Slot(1, "f-a", sha("f-a"), LOAD)


def test_overflow_is_reported_never_silently_dropped() -> None:
    plan = plan_slot_map(SlotMap(), snapshot(user("a"), user("b"), user("c")), MODULE, 2)
    assert [s.finger_id for s in plan.slot_map.slots] == ["f-a", "f-b"]
    assert plan.overflow == ("f-c",)


def test_pending_delete_pages_are_not_free_until_erased() -> None:
    current = SlotMap.of([Slot(0, "f-old", "h", DELETE)])
    plan = plan_slot_map(current, snapshot(user("a")), MODULE, capacity=1)
    assert plan.overflow == ("f-a",)


def test_fingers_of_another_module_identity_are_unusable_not_loaded() -> None:
    users = (user("a"), user("b", finger("f-b", module=OTHER_MODULE)))
    plan = plan_slot_map(SlotMap(), snapshot(*users), MODULE, capacity=10)
    assert [s.finger_id for s in plan.slot_map.slots] == ["f-a"]
    assert plan.unusable == ("f-b",)


def test_inactive_users_and_fingers_are_not_loaded() -> None:
    users = (user("a", active=False), user("b", finger("f-b", active=False)), user("c"))
    plan = plan_slot_map(SlotMap(), snapshot(*users), MODULE, capacity=10)
    assert [s.finger_id for s in plan.slot_map.slots] == ["f-c"]


def test_slot_map_lookups() -> None:
    slot_map = SlotMap.of([Slot(2, "f-a", "h", ACTIVE), Slot(4, "f-a", "h0", DELETE)])
    assert slot_map.state_of(2) is ACTIVE and slot_map.state_of(3) is SlotState.EMPTY
    assert slot_map.of_finger("f-a") == Slot(2, "f-a", "h", ACTIVE)
    assert not slot_map.is_reconciled()
    assert slot_map.without(4).with_state(2, LOAD).slots == (Slot(2, "f-a", "h", LOAD),)
    with pytest.raises(ValueError):
        SlotMap.of([Slot(1, "x", "h", ACTIVE), Slot(1, "y", "h", ACTIVE)])

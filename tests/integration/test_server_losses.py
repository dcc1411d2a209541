"""Lost door records at the server: a declared gap is let in at its seam with one alarm
naming the loss; an undeclared gap is still a 409; a new journal id from a door that had
another chain raises one alarm, which names what the door declared when it did."""

from __future__ import annotations

import dataclasses

from doorward.daemon.codec import bundle
from doorward.daemon.journal.loss import LostRange, MISSING, WIPED
from tests.support.server import make_site, running_server


def declaration(door, loss: LostRange) -> bundle.Event:  # noqa: ANN001 - TestDoor
    """The record a door journals for ``loss`` (``EventJournal.declare_loss``)."""
    return door.event("alarm", loss.record_detail())


def alarms(site, kind: str | None = None) -> list[dict]:  # noqa: ANN001
    return [a for a in site.admin.get("/api/v1/alarms").json() if kind in (None, a["kind"])]


def stored(site) -> dict[int, dict]:  # noqa: ANN001
    events = site.admin.get("/api/v1/events", params={"device_id": site.door_id}).json()
    return {e["seq"]: e for e in events}


def post(door, events, losses=()) -> dict:  # noqa: ANN001
    with door.client() as client:
        answer = client.post("/api/v1/device/events", json={
            "events": [e.to_dict() for e in events], "losses": [l.wire() for l in losses]})
    return {"status": answer.status_code, **answer.json()}


def test_a_declared_gap_is_let_in_at_its_seam_with_one_alarm(tmp_path) -> None:
    with running_server(tmp_path) as server:
        site = make_site(server)
        door = site.door
        first = [door.event("granted"), door.event("granted")]
        assert post(door, first)["status"] == 200
        lost = door.event("granted")  # seq 3 never arrives
        loss = LostRange(door.journal_id, lost.seq, lost.seq, MISSING)
        later = [door.event("granted"), declaration(door, loss)]
        refused = post(door, later)
        assert (refused["status"], refused["expected_seq"], refused["got_seq"]) == (409, 3, 4)
        answer = post(door, later, [loss])
        assert (answer["status"], answer["acknowledged"], answer["declared_gaps"]) == \
            (200, {door.journal_id: 5}, 1)
        [alarm] = alarms(site)
        events = stored(site)
    assert alarm["kind"] == "journal_loss"
    detail = alarm["detail"]
    assert (detail["journal_id"], detail["from_seq"], detail["to_seq"], detail["reason"]) == \
        (door.journal_id, 3, 3, MISSING)
    assert (detail["skipped_from_seq"], detail["skipped_to_seq"]) == (3, 3)
    assert sorted(events) == [1, 2, 4, 5]
    assert events[4]["chain_ok"] is False and events[5]["chain_ok"] is True  # the seam, flagged


def test_a_declaration_the_server_did_not_need_still_raises_its_alarm(tmp_path) -> None:
    with running_server(tmp_path) as server:
        site = make_site(server)
        door = site.door
        sent = door.event("granted")
        loss = LostRange(door.journal_id, 1, 1, MISSING)
        assert post(door, [sent, declaration(door, loss)])["status"] == 200
        [alarm] = alarms(site)
    assert alarm["detail"]["from_seq"] == 1 and alarm["detail"]["server_holds"] == 1


def test_a_broken_record_at_a_seam_is_still_a_chain_break(tmp_path) -> None:
    with running_server(tmp_path) as server:
        site = make_site(server)
        door = site.door
        door.event("granted")
        loss = LostRange(door.journal_id, 1, 1, MISSING)
        forged = dataclasses.replace(door.event("granted"), kind="access_granted")
        assert post(door, [forged], [loss])["status"] == 200
        kinds = sorted(a["kind"] for a in alarms(site))
    assert kinds == ["chain_break", "journal_loss"]


def test_a_new_journal_id_without_a_declaration_raises_one_alarm(tmp_path) -> None:
    with running_server(tmp_path) as server:
        site = make_site(server)
        door = site.door
        old_id = door.journal_id
        post(door, [door.event("granted") for _ in range(3)])
        door.journal_id, door.seq, door.last_hash = "j-new", 0, bundle.GENESIS_HASH
        assert post(door, [door.event("daemon_started"), door.event("granted")])["status"] == 200
        post(door, [door.event("granted")])
        [alarm] = alarms(site)
    detail = alarm["detail"]
    assert alarm["kind"] == "journal_loss"
    assert (detail["journal_id"], detail["server_last_seq"], detail["new_journal_id"]) == \
        (old_id, 3, "j-new")
    assert (detail["from_seq"], detail["to_seq"], detail["reason"]) == \
        (4, None, "new_journal_undeclared")


def test_a_new_journal_that_declares_the_old_chain_raises_only_that_alarm(tmp_path) -> None:
    with running_server(tmp_path) as server:
        site = make_site(server)
        door = site.door
        old_id = door.journal_id
        post(door, [door.event("granted") for _ in range(3)])
        door.journal_id, door.seq, door.last_hash = "j-new", 0, bundle.GENESIS_HASH
        loss = LostRange(old_id, 3, None, WIPED)  # the door's lineage knew of 2 acknowledged
        assert post(door, [declaration(door, loss), door.event("daemon_started")])["status"] == 200
        [alarm] = alarms(site)
    detail = alarm["detail"]
    assert (detail["journal_id"], detail["from_seq"], detail["reason"]) == (old_id, 3, WIPED)
    assert (detail["server_last_seq"], detail["server_holds"]) == (3, 1)


def test_the_first_journal_of_a_door_raises_nothing(tmp_path) -> None:
    with running_server(tmp_path) as server:
        site = make_site(server)
        post(site.door, [site.door.event("daemon_started")])
        assert alarms(site) == []


def test_a_loss_whose_range_ends_before_it_starts_is_refused_by_name(tmp_path) -> None:
    with running_server(tmp_path) as server:
        site = make_site(server)
        door = site.door
        answer = post(door, [door.event("granted")], [LostRange(door.journal_id, 5, 2, MISSING)])
    assert answer["status"] == 422 and "losses[0].to_seq" in str(answer)

"""The door side of the server: pairing, the bundle long-poll, versions, clock trust, events,
backup and restore; played by TestDoor, built from daemon/codec/bundle.py only."""

from __future__ import annotations

import time

import pytest

from doorward.daemon.codec import bundle
from doorward.server.store import backup
from doorward.server.clock import ManualClock
from doorward.server.store.ledger import RemovalLedger
from tests.support.server import TestDoor, enrol, make_site, running_server


@pytest.fixture
def server(tmp_path):
    with running_server(tmp_path) as running:
        yield running


def new_code(site, device: str | None = None) -> str:
    return site.admin.post(f"/api/v1/doors/{device or site.door_id}/pairing-codes").json()["code"]


# ---- pairing ----


def test_a_pairing_code_works_once(server) -> None:
    site = make_site(server)
    code = new_code(site)
    assert TestDoor(server).pair(code).status_code == 201
    replay = TestDoor(server).pair(code)
    assert replay.status_code == 403 and "pairing code" in replay.json()["detail"]


def test_wrong_and_expired_codes_are_refused(server) -> None:
    site = make_site(server)
    assert TestDoor(server).pair("AAAA-BBBB-CCCC-DDDD").status_code == 403
    code = new_code(site)
    server.clock.advance(server.config.pairing_code_s + 1)
    assert TestDoor(server).pair(code).status_code == 403


def test_codes_are_forgiving_about_case_and_dashes(server) -> None:
    site = make_site(server)
    code = new_code(site).lower().replace("-", " ")
    assert TestDoor(server).pair(code).status_code == 201


def test_repairing_revokes_the_old_token_and_returns_the_escrowed_password(server) -> None:
    site = make_site(server)
    old = site.door
    assert old.poll().status_code == 200
    replacement = TestDoor(server)
    answer = replacement.pair(new_code(site), module_password=None)  # a new SD card: no password
    assert answer.status_code == 201
    assert old.poll().status_code == 401
    sealed = answer.json()["module_password_sealed"]
    context = f"module_password\x00{site.door_id}".encode()
    assert bundle.unseal(bundle.unb64(sealed, "password"), replacement.key, context) == b"0x5EC2E7A1"
    with pytest.raises(bundle.SealError):
        bundle.unseal(bundle.unb64(sealed, "password"), old.key, context)
    snapshot = replacement.fetch()  # templates now sealed to the new key
    assert snapshot.door_id == site.door_id


# ---- bundles and long-poll ----


def test_etag_and_conditional_polls(server) -> None:
    site = make_site(server)
    first = site.door.poll()
    etag = first.headers["ETag"]
    unchanged = site.door.poll(wait=0, etag=etag)
    assert unchanged.status_code == 304 and unchanged.headers["ETag"] == etag


def test_a_revocation_wakes_a_held_poll_within_a_second(server) -> None:
    site = make_site(server)
    alice = enrol(site.admin, "Alice")
    grant = site.admin.post("/api/v1/grants", json={"person_id": alice["person_id"], "zone_id": site.zone_id}).json()["id"]
    site.door.fetch()
    import threading
    result = {}

    def hold() -> None:
        started = time.monotonic()
        result["answer"] = site.door.poll(wait=30, etag=site.door.etag)
        result["waited"] = time.monotonic() - started

    holder = threading.Thread(target=hold)
    holder.start()
    time.sleep(0.5)  # the poll is held
    assert "answer" not in result
    revoked_at = time.monotonic()
    assert site.admin.delete(f"/api/v1/grants/{grant}").status_code == 204
    holder.join(5)
    assert time.monotonic() - revoked_at < 1.0
    assert result["answer"].status_code == 200
    snapshot = bundle.verify_bundle(result["answer"].content, site.door.pinned, door_id=site.door_id)
    assert snapshot.users == ()


def test_a_held_poll_returns_304_when_nothing_changes(server) -> None:
    site = make_site(server)
    site.door.fetch()
    started = time.monotonic()
    assert site.door.poll(wait=0.5, etag=site.door.etag).status_code == 304
    assert 0.4 < time.monotonic() - started < 3


def test_versions_rise_and_a_bundle_is_reissued_before_half_its_validity(server) -> None:
    site = make_site(server)
    first = site.door.fetch()
    assert site.door.fetch().version == first.version  # nothing changed, nothing due
    server.clock.advance(first.validity_s * 0.35)
    assert site.door.fetch().version == first.version
    server.clock.advance(first.validity_s * 0.1)  # 45 %: before half, a new bundle
    second = site.door.fetch()
    assert second.version > first.version and second.expires_at > first.expires_at


def test_an_unsynchronised_server_clock_never_extends_expiry_but_revocations_go_out(server) -> None:
    site = make_site(server)
    alice = enrol(site.admin, "Alice")
    grant = site.admin.post("/api/v1/grants", json={"person_id": alice["person_id"], "zone_id": site.zone_id}).json()["id"]
    first = site.door.fetch()
    server.clock.set_synchronised(False)
    server.clock.advance(first.validity_s)  # long past half-life: would normally re-issue
    assert site.door.fetch().version == first.version
    admin = server.add_admin("after-a-week")  # the first session expired meanwhile
    assert admin.delete(f"/api/v1/grants/{grant}").status_code == 204
    revoked = site.door.fetch()
    assert revoked.users == () and revoked.version > first.version
    assert revoked.expires_at == first.expires_at
    kinds = [a["kind"] for a in admin.get("/api/v1/alarms").json()]
    assert "server_clock" in kinds


def test_no_first_bundle_is_issued_while_the_clock_is_unsynchronised(tmp_path) -> None:
    with running_server(tmp_path, clock=ManualClock(synchronised=False)) as server:
        site = make_site(server)
        answer = site.door.poll()
        assert answer.status_code == 503 and "clock" in answer.json()["detail"]


def test_versions_stay_above_every_issued_one_after_a_restore(tmp_path) -> None:
    clock = ManualClock()  # frozen: only the version floor can keep versions rising
    with running_server(tmp_path, clock=clock) as server:
        site = make_site(server)
        before = site.door.fetch().version
        backup.backup(server.config.database, tmp_path / "backup.db")
        enrol(site.admin, "Added after the backup")
        person = site.admin.get("/api/v1/people").json()[0]["id"]
        site.admin.post("/api/v1/grants", json={"person_id": person, "zone_id": site.zone_id})
        highest = site.door.fetch().version
        assert highest > before
        keys, door = server.keys, site.door
    backup.restore(tmp_path / "backup.db", tmp_path / "doorward.server.store.db", server.ctx.ledger)
    with running_server(tmp_path, clock=clock, keys=keys) as restored:
        door.server = restored
        assert door.fetch().version > highest


def test_restore_refuses_while_the_server_holds_the_lock(tmp_path) -> None:
    (tmp_path / "a.db").touch()
    lock = backup.ServerLock(tmp_path / "doorward.server.store.db")
    assert lock.acquire()
    try:
        with pytest.raises(RuntimeError, match="running"):
            backup.restore(tmp_path / "a.db", tmp_path / "doorward.server.store.db", RemovalLedger(tmp_path / "ledger"))
    finally:
        lock.release()


# ---- events ----


def test_events_are_acknowledged_duplicates_ignored_and_a_gap_answered_409(server) -> None:
    site = make_site(server)
    door = site.door
    batch = [door.event("granted"), door.event("door_opened"), door.event("door_closed")]
    answer = door.post_events(batch[:2])
    assert answer.status_code == 200 and answer.json()["acknowledged"] == {door.journal_id: 2}
    again = door.post_events(batch)
    assert again.json()["duplicates"] == 2 and again.json()["acknowledged"] == {door.journal_id: 3}
    skipped = door.event("denied")
    gap = door.post_events([door.event("denied")])
    assert gap.status_code == 409
    assert gap.json()["expected_seq"] == 4 and gap.json()["journal_id"] == door.journal_id
    assert door.post_events([skipped]).json()["acknowledged"] == {door.journal_id: 4}
    assert len(site.admin.get("/api/v1/events", params={"device_id": site.door_id}).json()) == 4


def test_a_chain_break_raises_an_alarm(server) -> None:
    site = make_site(server)
    door = site.door
    good = door.event("granted")
    forged = bundle.Event(**{**door.event("granted").to_dict(), "detail": {"user_id": "u_mallory"}})
    answer = door.post_events([good, forged])
    assert answer.status_code == 200 and answer.json()["chain_breaks"] == 1
    alarms = site.admin.get("/api/v1/alarms").json()
    assert [(a["kind"], a["detail"]["seq"]) for a in alarms] == [("chain_break", 2)]


def test_events_of_another_door_are_refused(server) -> None:
    site = make_site(server)
    event = site.door.event("granted")
    stranger = bundle.make_event(door_id="d_other", journal_id="j", seq=1, at=event.at, kind="granted",
                                 detail={}, prev_hash=bundle.GENESIS_HASH)
    answer = site.door.post_events([stranger])
    assert answer.status_code == 422 and "door_id" in answer.text


def test_a_heartbeat_records_the_doors_state(server) -> None:
    site = make_site(server)
    report = {"applied_version": 5, "reconciled_version": 4, "module_identity": "model=other",
              "clock_trusted": True, "reader_state": "ok", "backlog": 3, "disk_free_bytes": 10**9,
              "power": "mains"}
    assert site.door.heartbeat(**report).status_code == 200
    door = site.admin.get(f"/api/v1/doors/{site.door_id}").json()
    assert door["heartbeat"]["backlog"] == 3 and door["online"] is True
    assert door["module_mismatch"] is True and door["reconciled_version"] == 4


def test_held_polls_hold_no_worker_thread(server) -> None:
    """More held polls than the thread pool has threads (40), and the API still answers."""
    import asyncio

    import httpx

    site = make_site(server)
    site.door.fetch()

    async def scenario() -> float:
        headers = {"Authorization": f"Bearer {site.door.token}", "If-None-Match": site.door.etag}
        limits = httpx.Limits(max_connections=100)
        async with httpx.AsyncClient(base_url=server.url, timeout=30, limits=limits, trust_env=False) as client:
            held = [asyncio.create_task(client.get("/api/v1/device/bundle", params={"wait": 10}, headers=headers))
                    for _ in range(60)]
            await asyncio.sleep(1.0)
            started = time.monotonic()
            answer = await client.get("/api/v1/sites", headers=site.admin.headers)
            elapsed = time.monotonic() - started
            assert answer.status_code == 200 and not any(task.done() for task in held)
            for task in held:
                task.cancel()
            await asyncio.gather(*held, return_exceptions=True)
            return elapsed

    assert asyncio.run(scenario()) < 1.0


def test_stopping_the_server_answers_held_polls_at_once(tmp_path) -> None:
    import threading

    result = {}
    with running_server(tmp_path) as server:
        site = make_site(server)
        site.door.fetch()
        holder = threading.Thread(target=lambda: result.update(answer=site.door.poll(wait=30, etag=site.door.etag)))
        holder.start()
        time.sleep(0.5)
        stopping = time.monotonic()
    holder.join(5)
    assert time.monotonic() - stopping < 3
    assert result["answer"].status_code == 304

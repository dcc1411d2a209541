"""The central server's admin API against the real server on loopback: sites, people, grants,
bundles, capacity, enrolment, erasure."""

from __future__ import annotations

import pytest

from doorward.daemon.codec import bundle
from tests.support.server import R307, R503, enrol, make_site, running_server, template


@pytest.fixture
def server(tmp_path):
    with running_server(tmp_path) as running:
        yield running


def test_a_bundle_holds_exactly_the_people_granted_the_doors_zone(server) -> None:
    site = make_site(server)
    admin = site.admin
    other_zone = admin.post("/api/v1/zones", json={"site_id": site.site_id, "name": "Tent"}).json()["id"]
    people = {name: enrol(admin, name, start=10 * n) for n, name in enumerate(
        ("Alice", "Bob", "Carol", "Dave", "Erin", "Frank"))}
    now = server.clock.now()

    def grant(name: str, zone: str) -> None:
        answer = admin.post("/api/v1/grants", json={"person_id": people[name]["person_id"], "zone_id": zone})
        assert answer.status_code == 201, answer.text

    def patch(name: str, **changes) -> None:
        answer = admin.patch(f"/api/v1/people/{people[name]['person_id']}", json=changes)
        assert answer.status_code == 200, answer.text

    # Everyone who must stay out is set up before the grants that must be carried, and the
    # door's last change comes after all of them: its bundle is built from the whole picture,
    # so a query that forgot a filter would carry them.
    grant("Bob", other_zone)  # another zone only
    grant("Alice", other_zone)  # also another zone: only this door's grant may travel
    for name in ("Dave", "Erin", "Frank"):
        grant(name, site.zone_id)
    patch("Dave", active=False)  # revoked
    patch("Erin", valid_until=now - 1)  # expired
    patch("Frank", valid_until=now + 3600)  # still valid: carried
    grant("Alice", site.zone_id)  # Carol: no grant at all
    snapshot = site.door.fetch()
    carried = {u.user_id: u for u in snapshot.users}
    assert sorted(carried) == sorted(people[name]["person_id"] for name in ("Alice", "Frank"))
    for name in ("Alice", "Frank"):
        user = carried[people[name]["person_id"]]
        assert {f.finger_id for f in user.fingers} == set(people[name]["finger_ids"])
        assert [(g.zone_id, g.schedule_id) for g in user.grants] == [(site.zone_id, None)]
    assert snapshot.time_zone == "Europe/Berlin" and snapshot.zone.zone_id == site.zone_id
    payload = str(snapshot.to_payload())
    for name in ("Bob", "Carol", "Dave", "Erin"):
        assert people[name]["person_id"] not in payload
        assert not any(finger in payload for finger in people[name]["finger_ids"])
    assert other_zone not in payload
    assert "Alice" not in bundle.encode_payload(snapshot).decode()  # opaque ids only


def test_templates_travel_only_sealed_to_the_door(server) -> None:
    site = make_site(server)
    alice = enrol(site.admin, "Alice")
    site.admin.post("/api/v1/grants", json={"person_id": alice["person_id"], "zone_id": site.zone_id})
    answer = site.door.poll()
    plain = template(0)
    assert plain not in answer.content and bundle.b64(plain).encode() not in answer.content
    snapshot = bundle.verify_bundle(answer.content, site.door.pinned, door_id=site.door_id)
    finger = snapshot.users[0].fingers[0]
    assert site.door.open_template(snapshot, finger.finger_id) == plain
    assert finger.template_sha256 == bundle.template_sha256(plain)
    with pytest.raises(bundle.SealError):  # another door's key cannot open it
        bundle.open_template(finger.sealed_template, bundle.generate_door_keys(),
                             door_id=site.door_id, finger_id=finger.finger_id)


def test_only_fingers_of_the_doors_exact_module_identity_are_carried(server) -> None:
    site = make_site(server)
    mixed = enrol(site.admin, "Mixed", identity=R503)
    site.admin.post("/api/v1/grants", json={"person_id": mixed["person_id"], "zone_id": site.zone_id})
    (user,) = site.door.fetch().users
    assert user.user_id == mixed["person_id"] and user.fingers == ()  # granted, nothing usable
    report = site.admin.get(f"/api/v1/doors/{site.door_id}/capacity").json()
    assert report["people_without_usable_template"] == [{"id": mixed["person_id"], "name": "Mixed"}]
    assert report["templates_used"] == 0


def test_a_grant_that_would_overflow_the_module_is_refused_naming_the_door(server) -> None:
    site = make_site(server, capacity=2)
    first = enrol(site.admin, "First", fingers=2)
    second = enrol(site.admin, "Second", start=5)
    assert site.admin.post("/api/v1/grants", json={"person_id": first["person_id"], "zone_id": site.zone_id}).status_code == 201
    refused = site.admin.post("/api/v1/grants", json={"person_id": second["person_id"], "zone_id": site.zone_id})
    assert refused.status_code == 409
    assert refused.json()["door_id"] == site.door_id
    assert (refused.json()["templates_needed"], refused.json()["capacity"]) == (3, 2)
    assert "Lab door" in refused.json()["detail"]
    person = site.admin.get(f"/api/v1/people/{second['person_id']}").json()
    assert person["grants"] == []  # nothing stored
    extra = {"name": "third", "module_identity": R307, "template": bundle.b64(template(9))}
    assert site.admin.post(f"/api/v1/people/{first['person_id']}/fingers", json=extra).status_code == 409


def test_an_enrolment_is_all_or_nothing(server) -> None:
    site = make_site(server)
    body = {"person": {"name": "Dora"}, "consent": {"reference": "form 7"},
            "fingers": [{"name": "ok", "module_identity": R307, "template": bundle.b64(template(1))},
                        {"name": "bad", "module_identity": R307, "template": "not base64!"}]}
    assert site.admin.post("/api/v1/enrolments", json=body).status_code == 422
    assert site.admin.get("/api/v1/people").json() == []
    body["fingers"][1]["template"] = bundle.b64(template(2))
    assert site.admin.post("/api/v1/enrolments", json=body).status_code == 201
    assert [p["name"] for p in site.admin.get("/api/v1/people").json()] == ["Dora"]


def test_no_finger_is_stored_before_consent(server) -> None:
    site = make_site(server)
    person = site.admin.post("/api/v1/people", json={"name": "Eve"}).json()["id"]
    finger = {"name": "index", "module_identity": R307, "template": bundle.b64(template(3))}
    refused = site.admin.post(f"/api/v1/people/{person}/fingers", json=finger)
    assert refused.status_code == 409 and "consent" in refused.json()["detail"]
    assert site.admin.post(f"/api/v1/people/{person}/consent", json={"reference": "signed"}).status_code == 201
    assert site.admin.post(f"/api/v1/people/{person}/fingers", json=finger).status_code == 201


def test_erasure_is_confirmed_per_door_from_cache_and_module(server) -> None:
    site = make_site(server)
    alice = enrol(site.admin, "Alice")
    site.admin.post("/api/v1/grants", json={"person_id": alice["person_id"], "zone_id": site.zone_id})
    site.door.fetch()
    assert site.admin.delete(f"/api/v1/people/{alice['person_id']}").status_code == 202
    snapshot = site.door.fetch()
    assert snapshot.users == ()
    removals = site.admin.get(f"/api/v1/people/{alice['person_id']}/removals").json()
    assert [(r["device_id"], r["finger_id"]) for r in removals] == [(site.door_id, alice["finger_ids"][0])]
    assert removals[0]["cache_confirmed_at"] is None and removals[0]["module_confirmed_at"] is None
    site.door.heartbeat(applied_version=snapshot.version, reconciled_version=snapshot.version - 1)
    removal = site.admin.get(f"/api/v1/doors/{site.door_id}/removals").json()[0]
    assert removal["cache_confirmed_at"] is not None and removal["module_confirmed_at"] is None
    site.door.heartbeat(applied_version=snapshot.version, reconciled_version=snapshot.version)
    assert site.admin.get(f"/api/v1/doors/{site.door_id}/removals").json()[0]["module_confirmed_at"] is not None


def test_a_station_carries_every_finger_of_its_module_identity_up_to_capacity(server) -> None:
    site = make_site(server)
    station = site.admin.post("/api/v1/stations", json={"name": "Kiosk", "site_id": site.site_id,
                                                          "module_identity": R307, "capacity": 3}).json()["id"]
    code = site.admin.post(f"/api/v1/stations/{station}/pairing-codes").json()["code"]
    from tests.support.server import TestDoor
    kiosk = TestDoor(server)
    assert kiosk.pair(code).status_code == 201
    enrol(site.admin, "A", fingers=2)
    enrol(site.admin, "B", fingers=2, start=5)
    enrol(site.admin, "C", identity=R503, start=9)
    snapshot = kiosk.fetch()
    assert sum(len(u.fingers) for u in snapshot.users) == 3
    assert all(f.module_identity == R307 for u in snapshot.users for f in u.fingers)
    assert all(u.grants == () for u in snapshot.users)


def test_validation_errors_name_the_field(server) -> None:
    site = make_site(server)
    answer = site.admin.post("/api/v1/sites", json={"name": "X", "time_zone": "Mars/Olympus"})
    assert answer.status_code == 422 and "time_zone" in answer.text
    answer = site.admin.patch(f"/api/v1/doors/{site.door_id}", json={"policy": {"unlock_s": -1}})
    assert answer.status_code == 422 and "unlock_s" in answer.text
    answer = site.admin.post("/api/v1/schedules", json={"site_id": site.site_id, "name": "s",
                                                        "weekly": {"mon": [["08:00", "25:00"]]}})
    assert answer.status_code == 422 and "weekly.mon" in answer.text
    answer = site.admin.post("/api/v1/people", json={"name": "x" * 201})
    assert answer.status_code == 422 and "name" in answer.text


def test_schedules_holidays_and_lockdown_reach_the_bundle(server) -> None:
    site = make_site(server)
    admin = site.admin
    schedule = admin.post("/api/v1/schedules", json={"site_id": site.site_id, "name": "office",
                                                     "weekly": {"mon": [["08:00", "18:00"]]}}).json()["id"]
    alice = enrol(admin, "Alice")
    admin.post("/api/v1/grants", json={"person_id": alice["person_id"], "zone_id": site.zone_id, "schedule_id": schedule})
    admin.put(f"/api/v1/sites/{site.site_id}/holidays", json={"day": "2027-01-01", "name": "New year"})
    admin.patch(f"/api/v1/zones/{site.zone_id}", json={"lockdown": True})
    snapshot = site.door.fetch()
    assert [s.schedule_id for s in snapshot.schedules] == [schedule]
    assert snapshot.users[0].grants[0].schedule_id == schedule
    assert [d.isoformat() for d in snapshot.holidays] == ["2027-01-01"]
    assert snapshot.lockdown is True
    assert admin.put(f"/api/v1/sites/{site.site_id}/holidays", json={"day": "2027-02-30"}).status_code == 422


def test_the_audit_log_records_admin_actions(server) -> None:
    site = make_site(server)
    enrol(site.admin, "Alice")
    actions = [row["action"] for row in site.admin.get("/api/v1/audit").json()]
    for expected in ("site.create", "zone.create", "door.create", "pairing_code.create", "door.pair",
                     "person.create", "person.consent", "finger.add"):
        assert expected in actions
    assert all(row["actor"] for row in site.admin.get("/api/v1/audit").json())


def test_an_explicit_null_is_refused_where_null_means_nothing(server) -> None:
    site = make_site(server)
    person = site.admin.post("/api/v1/people", json={"name": "Nils", "valid_until": 2e9}).json()["id"]
    for field in ("name", "roles", "active"):
        answer = site.admin.patch(f"/api/v1/people/{person}", json={field: None})
        assert answer.status_code == 422 and field in answer.json()["detail"]
    assert site.admin.patch(f"/api/v1/people/{person}", json={"valid_until": None}).status_code == 200
    assert site.admin.get(f"/api/v1/people/{person}").json()["valid_until"] is None
    assert site.admin.patch(f"/api/v1/doors/{site.door_id}", json={"capacity": None}).status_code == 422


def test_a_replayed_template_upload_is_refused(server) -> None:
    site = make_site(server)
    first = enrol(site.admin, "Alice")
    finger = {"name": "again", "module_identity": R307, "template": bundle.b64(template(0))}
    answer = site.admin.post(f"/api/v1/people/{first['person_id']}/fingers", json=finger)
    assert answer.status_code == 409 and answer.json()["field"] == "template"


def test_decommissioning_a_door_kills_its_token_and_zones_in_use_stay(server) -> None:
    site = make_site(server)
    assert site.admin.delete(f"/api/v1/zones/{site.zone_id}").status_code == 409  # a door is in it
    shown = site.admin.get(f"/api/v1/doors/{site.door_id}").json()
    assert shown["x25519_fingerprint"] == bundle.key_fingerprint(site.door.key.public_key())
    assert site.admin.delete(f"/api/v1/doors/{site.door_id}").status_code == 204
    assert site.door.poll().status_code == 401
    assert site.admin.delete(f"/api/v1/zones/{site.zone_id}").status_code == 204
    assert site.admin.get("/api/v1/zones").json() == []

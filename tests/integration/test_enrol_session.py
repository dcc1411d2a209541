"""The enrolment session against the reference server: consent, atomic send, failures."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from doorward.drivers.r30x.sensor import R30xSensor
from doorward.enrol.progress import EnrolmentFailed
from doorward.enrol.server_api import EXEMPT_ROLE, OperatorApi, SessionExpired, Unreachable, sign_in
from doorward.enrol.session import EnrolmentSession
from doorward.sim.module.link import MemoryLink
from doorward.sim.module.r30x import SimulatedR30x
from tests.support.kiosk import FAST, DirectStation, ScriptedFinger, free_port
from tests.support.server import ADMIN_PASSWORD, RunningServer, make_site, running_server

ALICE = "alice/right-index"


class World:
    def __init__(self, server: RunningServer, model: str) -> None:
        self.server = server
        self.site = make_site(server)
        server.add_admin("erin", role="enroller")
        self.module = SimulatedR30x(model, seed=9)
        self.link = MemoryLink(self.module)
        self.sensor = R30xSensor(self.link.host)
        self.sensor.open()
        identity = self.sensor.module_identity()
        self.station_id = self.site.admin.post("/api/v1/stations", json={
            "name": "Kiosk", "site_id": self.site.site_id, "module_identity": identity,
            "capacity": 200}).json()["id"]  # fmt: skip
        self.station = DirectStation(self.sensor, identity)
        self.robot = ScriptedFinger(self.module.control, [ALICE])

    def session(self, name: str = "erin", url: str | None = None) -> EnrolmentSession:
        operator = sign_in(self.server.url, name, ADMIN_PASSWORD)
        api = OperatorApi(url or self.server.url, operator, deadline_s=2.0)
        return EnrolmentSession(self.station, self.station_id, api, self.robot, FAST)

    def people(self) -> list[dict]:
        return self.site.admin.get("/api/v1/people").json()

    def close(self) -> None:
        self.sensor.close()
        self.link.close()


def expire_sessions_of(server: RunningServer, name: str) -> None:
    """The operator's session runs out (the admin's own session lives on)."""
    with server.ctx.db.transaction() as conn:
        conn.execute("UPDATE sessions SET expires_at = ? WHERE admin_id = (SELECT id FROM admins"
                     " WHERE name = ?)", (server.clock.now() - 1, name))


@pytest.fixture(params=["r307", "r503"])
def world(request, tmp_path: Path) -> Iterator[World]:
    with running_server(tmp_path) as server:
        world = World(server, request.param)
        yield world
        world.close()


def test_a_new_person_is_enrolled_in_one_atomic_request(world: World) -> None:
    session = world.session()
    session.new_person("Alice Example")
    session.record_consent("form 2024-17")
    session.start_finger("right-index").result()
    answer = session.finish()
    person = world.site.admin.get(f"/api/v1/people/{answer['person_id']}").json()
    assert person["name"] == "Alice Example" and person["consent_reference"] == "form 2024-17"
    assert [(f["name"], f["module_identity"]) for f in person["fingers"]] == [
        ("right-index", world.station.module_identity)]
    assert person["consent_by"] == "enroller:erin"  # the operator's session, not the station
    assert world.sensor.occupied_slots() == set()


def test_no_capture_without_consent(world: World) -> None:
    session = world.session()
    session.new_person("Alice Example")
    with pytest.raises(EnrolmentFailed) as failed:
        session.start_finger("right-index")
    assert failed.value.key == "consent_missing"
    assert world.robot.placements == 0 and world.people() == []
    with pytest.raises(EnrolmentFailed):
        session.record_consent("   ")


def test_the_server_unreachable_leaves_nothing_half_enrolled(world: World) -> None:
    session = world.session(url=f"http://127.0.0.1:{free_port()}")
    session.new_person("Alice Example")
    session.record_consent("form 1")
    session.start_finger("right-index").result()
    with pytest.raises(Unreachable):
        session.finish()
    assert world.people() == [] and world.sensor.occupied_slots() == set()
    assert len(session.fingers) == 1  # kept in memory so the operator can send again


def test_the_operator_session_expiring_mid_enrolment_stores_nothing(world: World) -> None:
    session = world.session()
    session.new_person("Alice Example")
    session.record_consent("form 1")
    session.start_finger("right-index").result()
    expire_sessions_of(world.server, "erin")
    with pytest.raises(SessionExpired):
        session.finish()
    assert world.people() == [] and session.fingers == [] and session.person is None


def test_re_enrol_replaces_the_old_finger_after_the_new_one_is_stored(world: World) -> None:
    session = world.session("root")
    session.new_person("Alice Example")
    session.record_consent("form 1")
    session.start_finger("right-index").result()
    person_id = session.finish()["person_id"]
    old = world.site.admin.get(f"/api/v1/people/{person_id}").json()["fingers"][0]["id"]
    session.choose_person(person_id)
    session.record_consent("form 2")
    assert session.start_finger("right-index", replaces=old).result().replaces == old
    session.finish()
    fingers = world.site.admin.get(f"/api/v1/people/{person_id}").json()["fingers"]
    assert len(fingers) == 1 and fingers[0]["id"] != old


def test_a_person_who_cannot_be_enrolled_is_recorded(world: World) -> None:
    session = world.session()
    session.new_person("Carol Example")
    person_id = session.record_unable()
    person = world.site.admin.get(f"/api/v1/people/{person_id}").json()
    assert EXEMPT_ROLE in person["roles"] and person["fingers"] == []


def test_the_station_token_cannot_enrol_on_the_server(world: World) -> None:
    code = world.site.admin.post(f"/api/v1/stations/{world.station_id}/pairing-codes").json()["code"]
    from tests.support.server import TestDoor

    station = TestDoor(world.server)
    assert station.pair(code, module_identity=world.station.module_identity).status_code == 201
    with station.client() as client:
        body = {"person": {"name": "Mallory"}, "consent": {"reference": "x"},
                "fingers": [{"name": "right-index", "module_identity": "m", "template": "AAAAAAAA"}]}
        assert client.post("/api/v1/enrolments", json=body).status_code == 403
    assert world.people() == []


def test_a_duress_finger_is_marked_in_the_same_atomic_enrolment(world: World) -> None:
    world.robot = ScriptedFinger(world.module.control, [ALICE, "alice/left-index"])
    session = world.session("root")  # an admin: only admins may mark duress
    session.new_person("Alice Example")
    session.record_consent("form 2024-18")
    session.start_finger("right-index").result()
    session.start_finger("left-index").result()
    with pytest.raises(EnrolmentFailed):
        session.mark_duress("right-thumb")  # not one of this enrolment's fingers
    session.mark_duress("left-index")
    answer = session.finish()
    person = world.site.admin.get(f"/api/v1/people/{answer['person_id']}").json()
    assert {f["name"]: f["duress"] for f in person["fingers"]} == {
        "right-index": False, "left-index": True}

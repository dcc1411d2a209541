"""Every write endpoint refuses a request without valid credentials; each role does only
what it should; sessions and device tokens are separate."""

from __future__ import annotations

import re

import pytest

from tests.support.server import ADMIN_PASSWORD, make_site, running_server

WRITE_METHODS = ("post", "put", "patch", "delete")
# Unauthenticated by design: logging in, and pairing (authenticated by the one-time code).
OPEN_WRITES = {("post", "/api/v1/sessions"), ("post", "/api/v1/pair")}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("auth")) as running:
        yield running


@pytest.fixture(scope="module")
def site(server):
    return make_site(server)


def write_operations(server) -> list[tuple[str, str]]:
    paths = server.app.openapi()["paths"]
    return [(method, path) for path, item in paths.items() for method in item
            if method in WRITE_METHODS and (method, path) not in OPEN_WRITES]


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x_0000", path)


def test_every_write_endpoint_refuses_missing_or_invalid_credentials(server, site) -> None:
    operations = write_operations(server)
    assert len(operations) >= 20
    for token in (None, "not-a-token", site.door.token[:-2] + "xx"):
        with server.client(token) as client:
            for method, path in operations:
                answer = client.request(method.upper(), concrete(path), json={})
                assert answer.status_code == 401, (method, path, token, answer.text)


def test_a_door_token_cannot_use_the_admin_api(server, site) -> None:
    with site.door.client() as door:
        for method, path in write_operations(server):
            if not path.startswith("/api/v1/device/"):
                assert door.request(method.upper(), concrete(path), json={}).status_code == 403, path
        assert door.get("/api/v1/people").status_code == 403


def test_an_admin_session_cannot_use_the_device_api(site) -> None:
    assert site.admin.get("/api/v1/device/bundle").status_code == 403
    assert site.admin.post("/api/v1/device/heartbeat", json={}).status_code == 403


def test_roles_do_only_what_they_should(server, site) -> None:
    enroller, auditor = server.add_admin("kiosk-ann", "enroller"), server.add_admin("audit-bo", "auditor")
    person = {"name": "Role Test"}
    assert enroller.post("/api/v1/people", json=person).status_code == 201
    assert auditor.post("/api/v1/people", json=person).status_code == 403
    grant = {"person_id": "u_x", "zone_id": site.zone_id}
    assert enroller.post("/api/v1/grants", json=grant).status_code == 403
    assert enroller.post("/api/v1/zones", json={"site_id": site.site_id, "name": "z"}).status_code == 403
    assert enroller.get("/api/v1/audit").status_code == 403
    assert auditor.get("/api/v1/audit").status_code == 200
    assert auditor.get("/api/v1/alarms").status_code == 200
    assert auditor.post(f"/api/v1/doors/{site.door_id}/pairing-codes").status_code == 403
    assert auditor.post("/api/v1/admins", json={"name": "x", "role": "admin", "password": "p" * 12}).status_code == 403
    assert enroller.delete("/api/v1/people/u_x").status_code == 403


def test_security_watches_and_answers_alarms_but_changes_no_grant(server, site) -> None:
    security, auditor = server.add_admin("guard-sam", "security"), server.add_admin("audit-cy", "auditor")
    assert site.door.post_events([site.door.event("alarm", {"alarm": "forced_open"})]).status_code == 200
    alarm = server.ctx.read().execute("SELECT id FROM alarms WHERE state = 'open' ORDER BY id DESC").fetchone()[0]
    for path in ("/api/v1/alarms", "/api/v1/audit", "/api/v1/events", "/api/v1/people", "/api/v1/doors"):
        assert security.get(path).status_code == 200, path
    assert auditor.post(f"/api/v1/alarms/{alarm}/acknowledge").status_code == 403
    assert security.post(f"/api/v1/alarms/{alarm}/acknowledge").status_code == 200
    assert security.post(f"/api/v1/alarms/{alarm}/clear").status_code == 200
    assert security.post("/api/v1/people", json={"name": "x"}).status_code == 403
    assert security.post("/api/v1/grants", json={"person_id": "u_x", "zone_id": site.zone_id}).status_code == 403
    assert security.patch(f"/api/v1/zones/{site.zone_id}", json={"lockdown": True}).status_code == 403
    assert security.post("/api/v1/admins", json={"name": "y", "role": "admin", "password": "p" * 12}).status_code == 403


def test_login_refuses_a_wrong_password_and_logout_ends_the_session(server, site) -> None:
    with server.client() as anonymous:
        assert anonymous.post("/api/v1/sessions", json={"name": "root", "password": "wrong"}).status_code == 401
        assert anonymous.post("/api/v1/sessions", json={"name": "nobody", "password": "x"}).status_code == 401
        token = anonymous.post("/api/v1/sessions", json={"name": "root", "password": ADMIN_PASSWORD}).json()["token"]
    with server.client(token) as admin:
        assert admin.get("/api/v1/me").json()["role"] == "admin"
        assert admin.delete("/api/v1/sessions/current").status_code == 204
        assert admin.get("/api/v1/me").status_code == 401


def test_sessions_expire(server, site) -> None:
    with server.client() as anonymous:
        token = anonymous.post("/api/v1/sessions", json={"name": "root", "password": ADMIN_PASSWORD}).json()["token"]
    server.clock.advance(server.config.session_s + 1)
    try:
        with server.client(token) as admin:
            assert admin.get("/api/v1/me").status_code == 401
    finally:
        server.clock.advance(-(server.config.session_s + 1))


def test_tokens_and_passwords_are_stored_only_hashed(server, site) -> None:
    conn = server.ctx.db.connect()
    dump = "\n".join(conn.iterdump())
    conn.close()
    assert site.door.token not in dump
    assert site.admin.headers["Authorization"].split()[1] not in dump
    assert ADMIN_PASSWORD not in dump and "$argon2id$" in dump


def test_guessing_passwords_and_pairing_codes_is_slowed(tmp_path) -> None:
    with running_server(tmp_path) as server:
        server.add_admin("target")
        with server.client() as anonymous:
            for _ in range(5):
                assert anonymous.post("/api/v1/sessions", json={"name": "target", "password": "guess"}).status_code == 401
            right = {"name": "target", "password": ADMIN_PASSWORD}
            assert anonymous.post("/api/v1/sessions", json=right).status_code == 429  # even the right one
            server.clock.advance(301)
            assert anonymous.post("/api/v1/sessions", json=right).status_code == 201
            guess = {"code": "AAAA-BBBB-CCCC-DDDD", "x25519_public": "A" * 43 + "=", "module_identity": "m"}
            assert [anonymous.post("/api/v1/pair", json=guess).status_code for _ in range(6)] == [403] * 5 + [429]


def test_only_an_admin_marks_a_duress_finger_or_sets_a_validity_window(server, site) -> None:
    from tests.support.server import R307, b64, template

    enroller = server.add_admin("kiosk-dee", "enroller")
    finger = {"name": "right-index", "module_identity": R307, "template": b64(template(900))}
    visitor = {"name": "Visitor", "valid_from": 1_900_000_000, "valid_until": 1_900_086_400}
    duress_enrolment = {"person": {"name": "Dee"}, "consent": {"reference": "f-1"},
                        "fingers": [{**finger, "duress": True}]}
    window_enrolment = {"person": visitor, "consent": {"reference": "f-2"}, "fingers": [finger]}
    for path, body in (("/api/v1/enrolments", duress_enrolment),
                       ("/api/v1/enrolments", window_enrolment), ("/api/v1/people", visitor)):
        refused = enroller.post(path, json=body)
        assert refused.status_code == 403 and "only an admin" in refused.text, (path, refused.text)
    person = enroller.post("/api/v1/people", json={"name": "Plain Dee"}).json()["id"]
    assert enroller.post(f"/api/v1/people/{person}/consent", json={"reference": "f-3"}).status_code == 201
    assert enroller.post(f"/api/v1/people/{person}/fingers",
                         json={**finger, "duress": True}).status_code == 403
    assert enroller.post(f"/api/v1/people/{person}/fingers", json=finger).status_code == 201
    names = [p["name"] for p in site.admin.get("/api/v1/people").json()]
    assert "Dee" not in names and "Visitor" not in names  # nothing half-stored
    assert site.admin.post("/api/v1/enrolments", json={**duress_enrolment, "person": {"name": "Ad"},
                           "fingers": [{**finger, "template": b64(template(901)), "duress": True}]}
                           ).status_code == 201
    assert site.admin.post("/api/v1/people", json=visitor).status_code == 201

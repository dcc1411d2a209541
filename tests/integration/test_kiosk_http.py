"""The kiosk at the HTTP level (httpx on loopback): page states, progress stream, refusals."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from doorward.enrol.kiosk.guard import COOKIE
from tests.support.kiosk import ADMIN_PASSWORD, EventFollower, KioskRig, kiosk_rig, wait_until

ALICE, BOB = "alice/right-index", "bob/right-index"


class Browser:
    """What a page does: load it (cookie + CSRF token), then post actions with the token."""

    def __init__(self, rig: KioskRig) -> None:
        self.rig = rig
        self.http = rig.client()
        page = self.http.get("/")
        assert page.status_code == 200
        self.csrf = re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)
        self.cookie = page.cookies[COOKIE]
        self.set_cookie = page.headers["set-cookie"]

    def post(self, action: str, **body) -> httpx.Response:
        return self.http.post(f"/api/{action}", json=body, headers={"X-CSRF-Token": self.csrf})

    def act(self, action: str, **body) -> dict:
        answer = self.post(action, **body)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def state(self) -> dict:
        return self.http.get("/api/state").json()

    def follow(self, script: list[str]) -> EventFollower:
        client = httpx.Client(base_url=self.rig.url, cookies={COOKIE: self.cookie}, trust_env=False)
        return EventFollower(client, self.rig.control, script)

    def sign_in(self, name: str = "erin") -> dict:
        return self.act("sign-in", name=name, password=ADMIN_PASSWORD)["view"]


@pytest.fixture(scope="module")
def rig(tmp_path_factory) -> Iterator[KioskRig]:
    with kiosk_rig(Path(tmp_path_factory.mktemp("kiosk"))) as rig:
        yield rig


def test_the_page_sets_a_strict_cookie_and_serves_its_files(rig: KioskRig) -> None:
    browser = Browser(rig)
    assert "HttpOnly" in browser.set_cookie and "SameSite=Strict" in browser.set_cookie
    assert len(browser.csrf) >= 32
    page = browser.http.get("/")
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert 'id="strings"' in page.text and "{{" not in page.text
    for name, kind in (("kiosk.js", "javascript"), ("kiosk.css", "css")):
        assert kind in browser.http.get(f"/static/{name}").headers["content-type"]
    assert browser.http.get("/static/../station.py").status_code == 404


@pytest.mark.parametrize("host", ["evil.example:80", "127.0.0.1", "localhost:1", "10.0.0.1:8765"])
def test_a_foreign_host_header_is_refused(rig: KioskRig, host: str) -> None:
    browser = Browser(rig)
    with rig.client(host=host) as foreign:
        foreign.cookies.set(COOKIE, browser.cookie)
        assert foreign.get("/").status_code == 421
        assert foreign.get("/api/state").status_code == 421
        answer = foreign.post("/api/sign-in", json={"name": "erin", "password": ADMIN_PASSWORD},
                              headers={"X-CSRF-Token": browser.csrf})
        assert answer.status_code == 421
    assert browser.state()["screen"] == "signed_out"
    with rig.client(host=f"localhost:{rig.port}") as local:
        assert local.get("/").status_code == 200


def test_writes_without_the_csrf_token_or_from_another_origin_are_refused(rig: KioskRig) -> None:
    browser = Browser(rig)
    body = {"name": "erin", "password": ADMIN_PASSWORD}
    assert browser.http.post("/api/sign-in", json=body).status_code == 403
    assert browser.http.post("/api/sign-in", json=body, headers={"X-CSRF-Token": "x" * 43}).status_code == 403
    other = Browser(rig)  # another session's token is no good either
    assert browser.http.post("/api/sign-in", json=body, headers={"X-CSRF-Token": other.csrf}).status_code == 403
    evil = {"X-CSRF-Token": browser.csrf, "Origin": "http://evil.example"}
    assert browser.http.post("/api/sign-in", json=body, headers=evil).status_code == 403
    assert browser.state()["operator"] is None


def test_the_station_token_alone_is_refused(rig: KioskRig) -> None:
    bearer = {"Authorization": f"Bearer {rig.station_token}"}
    with rig.client() as client:
        for action in ("finish", "person", "finger", "sign-in"):
            assert client.post(f"/api/{action}", json={}, headers=bearer).status_code in (401, 403)
    browser = Browser(rig)  # a session, with the station token, but no operator signed in
    answer = browser.http.post("/api/person", json={"name": "Mallory"},
                               headers={**bearer, "X-CSRF-Token": browser.csrf})
    assert answer.status_code == 401
    assert not [p for p in rig.people() if p["name"] == "Mallory"]


def test_a_wrong_password_is_told_and_nobody_is_signed_in(rig: KioskRig) -> None:
    browser = Browser(rig)
    view = browser.act("sign-in", name="erin", password="wrong password!")["view"]
    assert view["screen"] == "signed_out" and view["notice"]["key"] == "sign_in_failed"


def test_every_screen_from_sign_in_to_sent_with_live_progress(rig: KioskRig) -> None:
    browser = Browser(rig)
    assert browser.state()["screen"] == "signed_out"
    follower = browser.follow([ALICE])
    assert browser.sign_in()["screen"] == "person"
    assert browser.act("search", query="bo")["results"][0]["name"] == "Bob"
    assert browser.act("person", name="Alice Example")["view"]["screen"] == "consent"
    view = browser.act("finger", finger="right-index")["view"]
    assert view["notice"]["key"] == "consent_missing" and view["screen"] == "consent"
    assert browser.act("consent", reference="form 7")["view"]["screen"] == "finger"
    assert browser.act("finger", finger="right-index")["view"]["screen"] == "capturing"
    wait_until(lambda: browser.state()["screen"] == "finger")
    view = browser.state()
    assert view["notice"]["key"] == "finger_done" and view["captured"] == ["right-index"]
    keys = follower.keys()
    assert keys[0] == "place" and keys.count("captured") == 5 and keys[-1] == "finger_done"
    assert follower.keys("state")[0] == "signed_out" and "capturing" in follower.keys("state")
    view = browser.act("finish")["view"]
    assert view["notice"]["key"] == "sent" and view["captured"] == []
    alice = [p for p in rig.people() if p["name"] == "Alice Example"]
    assert len(alice) == 1 and alice[0]["consent_at"] is not None
    assert browser.act("sign-out")["view"]["screen"] == "signed_out"


def test_a_duplicate_is_refused_and_named_only_in_the_operator_notes(rig: KioskRig) -> None:
    browser = Browser(rig)
    follower = browser.follow([BOB])
    browser.sign_in()
    browser.act("person", name="Bob Again")
    browser.act("consent", reference="form 8")
    browser.act("finger", finger="right-index")
    wait_until(lambda: browser.state()["screen"] == "finger")
    view = browser.state()
    assert view["notice"]["key"] == "duplicate" and "Bob" not in view["notice"]["text"]
    note = next(note for note in view["operator_notes"] if "Bob" in note)
    assert "Bob's right index finger" in note and note.count("right index finger") == 1
    assert all("Bob" not in data.get("text", "") for kind, data in follower.events if kind == "progress")
    assert view["captured"] == [] and not [p for p in rig.people() if p["name"] == "Bob Again"]
    browser.act("sign-out")


def test_an_existing_person_shows_fingers_and_zones_and_a_finger_can_be_deleted(rig: KioskRig) -> None:
    bob = next(p for p in rig.people() if p["name"] == "Bob")
    rig.admin.post("/api/v1/grants", json={"person_id": bob["id"], "zone_id": rig.zone_id})
    browser = Browser(rig)
    browser.sign_in("root")
    answer = browser.act("person", person_id=bob["id"])
    person = answer["person"]
    assert [g["zone_name"] for g in person["grants"]] == ["Lab"]
    assert [f["name"] for f in person["fingers"]] == ["right-index"]
    assert [f["name"] for f in answer["view"]["enrolled"]] == ["right-index"]  # the picker marks it
    view = browser.act("delete-finger", finger_id=person["fingers"][0]["id"])["view"]
    assert rig.admin.get(f"/api/v1/people/{bob['id']}").json()["fingers"] == []
    assert view["enrolled"] == []
    browser.act("sign-out")


def test_two_idle_minutes_sign_the_operator_out(tmp_path: Path) -> None:
    with kiosk_rig(tmp_path, enrolled=(), idle_timeout_s=0.5) as rig:
        browser = Browser(rig)
        browser.sign_in()
        view = wait_until(lambda: (v := browser.state())["screen"] == "signed_out" and v)
        assert view["notice"]["key"] == "idle_signed_out"
        assert browser.post("person", name="Late").status_code == 401
        assert not [p for p in rig.people() if p["name"] == "Late"]


def test_an_enroller_posting_a_duress_finger_or_a_window_is_refused_and_nothing_changes(rig: KioskRig) -> None:
    browser = Browser(rig)
    assert browser.sign_in()["operator"] == {"name": "erin", "role": "enroller", "admin": False}
    browser.act("person", name="Mallory Visitor")
    for window in ({"valid_until": time.time() + 3600}, {"valid_from": None, "valid_until": None}):
        answer = browser.post("consent", reference="form 9", **window)
        assert answer.status_code == 403
        view = answer.json()["view"]
        assert view["notice"]["key"] == "admin_only_window" and view["consent"] is None
        assert view["window"] is None and view["screen"] == "consent"
    browser.act("consent", reference="form 9")
    answer = browser.post("finger", finger="right-index", duress=True)
    assert answer.status_code == 403
    view = answer.json()["view"]
    assert view["notice"]["key"] == "admin_only_duress" and view["screen"] == "finger"
    assert view["captured"] == [] and view["instruction"] is None  # no capture started
    browser.act("sign-out")
    assert not [p for p in rig.people() if p["name"] == "Mallory Visitor"]


def test_an_admin_sets_an_existing_persons_window_and_a_duress_finger(rig: KioskRig) -> None:
    dora = rig.admin.post("/api/v1/people", json={"name": "Dora Visitor"}).json()["id"]
    browser = Browser(rig)
    follower = browser.follow(["dora/left-index"])
    assert browser.sign_in("root")["operator"]["admin"] is True
    browser.act("person", person_id=dora)
    starts, ends = time.time() - 60, time.time() + 7200
    view = browser.act("consent", reference="form 10", valid_from=ends, valid_until=starts)["view"]
    assert view["notice"]["key"] == "window_order" and view["consent"] is None
    view = browser.act("consent", reference="form 10", valid_from=starts, valid_until=ends)["view"]
    assert view["screen"] == "finger" and view["window"] == {"valid_from": starts, "valid_until": ends}
    browser.act("finger", finger="left-index", duress=True)
    wait_until(lambda: browser.state()["captured"] == ["left-index"])
    assert browser.state()["duress"] == ["left-index"] and follower.placements == 5
    assert browser.act("finish")["view"]["notice"]["key"] == "sent"
    record = rig.admin.get(f"/api/v1/people/{dora}").json()
    assert (record["valid_from"], record["valid_until"]) == (starts, ends)
    assert [(f["name"], f["duress"]) for f in record["fingers"]] == [("left-index", True)]
    assert browser.state()["enrolled"][0]["duress"] is True
    browser.act("sign-out")

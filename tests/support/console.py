"""Test helpers for the admin console: a browser-like client that signs in through the form,
keeps the session cookie, and posts forms with the CSRF token the page carried.

``console_site`` builds on ``tests.support.server`` (a running server, a paired door): one
person with a hostile name per escaping case, door events naming them, and an open alarm.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import httpx

from doorward.server.domain.auth import create_admin
from tests.support.server import ADMIN_PASSWORD, RunningServer, Site, enrol, make_site

HOSTILE_NAMES = ("<script>alert(1)</script>", "\"'><img src=x onerror=alert(1)>")
HOSTILE_DOOR = "<b onmouseover=alert(3)>Lab</b> & door"
CSRF = re.compile(r'name="csrf" value="([^"]*)"')


def csrf_of(page: str) -> str:
    found = CSRF.search(page)
    assert found, "the page carries no CSRF field"
    return found.group(1)


class ConsoleBrowser:
    """One browser: a cookie jar, no redirects followed unless asked."""

    def __init__(self, server: RunningServer) -> None:
        self.server = server
        self.http = httpx.Client(base_url=server.url, timeout=40, trust_env=False)

    def close(self) -> None:
        self.http.close()

    def get(self, path: str, **kwargs) -> httpx.Response:
        return self.http.get(path, **kwargs)

    def sign_in(self, name: str, password: str = ADMIN_PASSWORD) -> httpx.Response:
        form = self.http.get("/console/login")
        return self.http.post("/console/login", data={"csrf": csrf_of(form.text), "name": name,
                                                      "password": password, "next": "/console/"})

    def csrf(self, path: str = "/console/") -> str:
        return csrf_of(self.http.get(path).text)

    def post(self, path: str, data: dict | None = None, csrf: str | None = "page", **kwargs) -> httpx.Response:
        """Post a form; ``csrf="page"`` takes the token from the start page, None sends none."""
        body = dict(data or {})
        if csrf == "page":
            body["csrf"] = self.csrf()
        elif csrf is not None:
            body["csrf"] = csrf
        return self.http.post(path, data=body, **kwargs)


def add_account(server: RunningServer, name: str, role: str) -> None:
    with server.ctx.db.transaction() as conn:
        create_admin(conn, server.ctx.passwords, name, role, ADMIN_PASSWORD, server.clock.now())


def signed_in(server: RunningServer, name: str, role: str) -> ConsoleBrowser:
    add_account(server, name, role)
    browser = ConsoleBrowser(server)
    answer = browser.sign_in(name)
    assert answer.status_code == 303, answer.text
    return browser


@dataclass
class ConsoleSite:
    site: Site
    people: dict[str, str]  # name -> person id
    alarm_id: int


def console_site(server: RunningServer) -> ConsoleSite:
    """A paired door with a hostile name, a person per hostile name with a granted and a denied scan each, and an
    open forced-door alarm."""
    site = make_site(server)
    renamed = site.admin.patch(f"/api/v1/doors/{site.door_id}", json={"name": HOSTILE_DOOR})
    assert renamed.status_code == 200, renamed.text
    people: dict[str, str] = {}
    events = []
    for n, name in enumerate(HOSTILE_NAMES):
        enrolled = enrol(site.admin, name, start=10 * n)
        person_id, finger_id = enrolled["person_id"], enrolled["finger_ids"][0]
        people[name] = person_id
        base = 1_800_000_000.0 + 60 * n
        events.append(site.door.event("access_granted", {"reason": "granted", "user": person_id,
                                                         "finger": finger_id}, at=base))
        events.append(site.door.event("access_denied", {"reason": "outside_schedule", "user": person_id,
                                                        "finger": finger_id}, at=base + 10))
    events.append(site.door.event("alarm", {"alarm": "forced_open"}, at=1_800_000_500.0))
    answer = site.door.post_events(events)
    assert answer.status_code == 200, answer.text
    alarm = server.ctx.read().execute("SELECT id FROM alarms WHERE kind = 'forced'").fetchone()
    assert site.door.heartbeat(applied_version=1, reconciled_version=1, clock_trusted=True,
                               reader_state="ok", backlog=0).status_code == 200
    return ConsoleSite(site, people, alarm[0])

"""Test helpers for the central server: a real server on loopback, an admin client, a test door.

``running_server`` (the harness's, ``doorward.sim.rig.embedded``) starts uvicorn on 127.0.0.1 port 0 in a thread (so
the test can hand it a ``ManualClock``) and finds the bound port. ``TestDoor`` plays the door side with
``doorward.daemon.codec.bundle`` only: it pairs, polls bundles, verifies and opens them, posts hash-chained
events and heartbeats. Nothing here talks to any address but 127.0.0.1.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from dataclasses import dataclass, field
from typing import Any

import httpx

from doorward.sim.rig.embedded import (  # noqa: F401 (re-exported for the tests)
    ADMIN_PASSWORD, RunningServer, make_config, running_server,
)
from doorward.sim.rig.processes import wait_until  # noqa: F401 (re-exported for the tests)
from doorward.daemon.codec import bundle

R307 = "model=unknown;system_id=0x0009;capacity=1000"
R503 = "model=R503;hw=1.2;fw=1.0;alg=1.0;template_bytes=1536;capacity=200"


def iso(instant: float) -> str:
    return dt.datetime.fromtimestamp(instant, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class TestDoor:
    """The door side of the protocol, built from daemon/codec/bundle.py only."""

    server: RunningServer
    key: Any = field(default_factory=bundle.generate_door_keys)
    door_id: str = ""
    token: str = ""
    pinned: dict = field(default_factory=dict)
    journal_id: str = "j-test"
    seq: int = 0
    last_hash: str = bundle.GENESIS_HASH
    etag: str | None = None
    pair_answer: dict = field(default_factory=dict)

    __test__ = False  # not a pytest class

    def pair(self, code: str, module_identity: str = R307, module_password: str | None = "0x5EC2E7A1") -> httpx.Response:
        public = bundle.raw_public(self.key.public_key())
        body = {"code": code, "x25519_public": base64.b64encode(public).decode(),
                "module_identity": module_identity}
        if module_password is not None:
            body["module_password"] = module_password
        with self.server.client() as client:
            answer = client.post("/api/v1/pair", json=body)
        if answer.status_code == 201:
            self.pair_answer = answer.json()
            self.door_id, self.token = self.pair_answer["device_id"], self.pair_answer["token"]
            self.pinned = {self.server.keys.key_id: self.server.keys.signing.public_key()}
            assert self.pair_answer["server_key_fingerprint"] == self.server.keys.fingerprint
        return answer

    def client(self) -> httpx.Client:
        return self.server.client(self.token)

    def poll(self, wait: float = 0, etag: str | None = None) -> httpx.Response:
        headers = {"If-None-Match": etag} if etag else {}
        with self.client() as client:
            return client.get("/api/v1/device/bundle", params={"wait": wait}, headers=headers)

    def fetch(self) -> bundle.Snapshot:
        answer = self.poll()
        assert answer.status_code == 200, answer.text
        self.etag = answer.headers["ETag"]
        return bundle.verify_bundle(answer.content, self.pinned, door_id=self.door_id)

    def open_template(self, snapshot: bundle.Snapshot, finger_id: str) -> bytes:
        finger = next(f for u in snapshot.users for f in u.fingers if f.finger_id == finger_id)
        return bundle.open_template(finger.sealed_template, self.key, door_id=self.door_id, finger_id=finger_id)

    def event(self, kind: str, detail: dict | None = None, at: float = 1_800_000_000.0) -> bundle.Event:
        self.seq += 1
        event = bundle.make_event(door_id=self.door_id, journal_id=self.journal_id, seq=self.seq,
                                  at=iso(at), kind=kind, detail=detail or {}, prev_hash=self.last_hash)
        self.last_hash = event.hash
        return event

    def post_events(self, events: list[bundle.Event]) -> httpx.Response:
        with self.client() as client:
            return client.post("/api/v1/device/events", json={"events": [e.to_dict() for e in events]})

    def heartbeat(self, **report: Any) -> httpx.Response:
        with self.client() as client:
            return client.post("/api/v1/device/heartbeat", json=report)


def template(n: int, size: int = 512) -> bytes:
    """A deterministic fake template of the module's size, different for every ``n``."""
    blocks = (hashlib.sha256(f"template {n} block {i}".encode()).digest() for i in range(size // 32 + 1))
    return b"".join(blocks)[:size]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@dataclass
class Site:
    """A small site made through the API: one site, a zone, a door (paired), an admin client."""

    admin: httpx.Client
    site_id: str
    zone_id: str
    door_id: str
    door: TestDoor


def make_site(server: RunningServer, capacity: int = 1000, identity: str = R307) -> Site:
    admin = server.add_admin("root")
    site_id = admin.post("/api/v1/sites", json={"name": "HQ", "time_zone": "Europe/Berlin"}).json()["id"]
    zone_id = admin.post("/api/v1/zones", json={"site_id": site_id, "name": "Lab"}).json()["id"]
    door_id = admin.post("/api/v1/doors", json={"name": "Lab door", "site_id": site_id, "zone_id": zone_id,
                                                "module_identity": identity, "capacity": capacity}).json()["id"]
    code = admin.post(f"/api/v1/doors/{door_id}/pairing-codes").json()["code"]
    door = TestDoor(server)
    assert door.pair(code, module_identity=identity).status_code == 201
    return Site(admin, site_id, zone_id, door_id, door)


def enrol(admin: httpx.Client, name: str, fingers: int = 1, identity: str = R307, start: int = 0,
          duress: bool = False) -> dict:
    body = {"person": {"name": name}, "consent": {"reference": f"form-{name}"},
            "fingers": [{"name": f"finger {i}", "module_identity": identity, "template": b64(template(start + i)),
                         "duress": duress} for i in range(fingers)]}
    answer = admin.post("/api/v1/enrolments", json=body)
    assert answer.status_code == 201, answer.text
    return answer.json()

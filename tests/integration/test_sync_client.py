"""The door's pairing and sync client against the reference server on loopback."""

from __future__ import annotations

import dataclasses
import itertools
import threading
import time
from pathlib import Path

import pytest

from doorward.daemon.codec import bundle
from doorward.daemon.journal.store import EventJournal
from doorward.daemon.journal.upload import Stamp, UploadFeed
from doorward.daemon.config.module import ServerConfig
from doorward.daemon.sync.pairing import PairingError, PairingRequest, binding_token_for, pair
from doorward.daemon.sync.client import Backoff, SyncClient
from doorward.daemon.sync.http import CaBundleError, ServerConnection
from tests.support.server import R307, enrol, running_server, wait_until

_journal_dirs = itertools.count()


class DoorJournal:
    """A real journal file and the feed the sync client reads, as ``doorward run`` wires them."""

    def __init__(self, directory: Path, door_id: str) -> None:
        self.events = EventJournal(directory / f"journal-{next(_journal_dirs)}.db", door_id)
        self.losses_told: list = []
        self.events.on_loss = self.losses_told.append
        self.feed = UploadFeed(self.events, lambda: Stamp(1_800_000_000.0, True, 1.0, "boot"))
        self.journal_id = self.events.journal_id

    def append(self, kind: str, detail: dict) -> None:
        self.events.append(kind, detail, wall_now=1_800_000_000.0 + self.events.last_seq(),
                           wall_trusted=True, mono_now=1.0, boot_id="boot")

    @property
    def acked(self) -> int:
        return self.events.acknowledged_seq()

    def unacknowledged(self, limit: int) -> list[bundle.Event]:
        return self.events.unacknowledged(limit)


def new_door(admin, site_id: str, zone_id: str, name: str = "Tent door") -> tuple[str, str]:
    door_id = admin.post("/api/v1/doors", json={"name": name, "site_id": site_id, "zone_id": zone_id,
                                                "module_identity": R307, "capacity": 1000}).json()["id"]
    return door_id, admin.post(f"/api/v1/doors/{door_id}/pairing-codes").json()["code"]


@pytest.fixture
def site(tmp_path: Path):
    with running_server(tmp_path) as server:
        admin = server.add_admin("root")
        site_id = admin.post("/api/v1/sites", json={"name": "HQ", "time_zone": "Europe/Berlin"}).json()["id"]
        zone_id = admin.post("/api/v1/zones", json={"site_id": site_id, "name": "Tent"}).json()["id"]
        yield server, admin, site_id, zone_id


def request(server, code: str, **changes) -> PairingRequest:  # noqa: ANN001
    fields = dict(server_url=server.url, code=code, fingerprint=server.keys.fingerprint,
                  module_identity=R307, deadline_s=5.0)
    return PairingRequest(**(fields | changes))


def test_a_wrong_fingerprint_refuses_before_the_code_is_spent(site) -> None:
    server, admin, site_id, zone_id = site
    _, code = new_door(admin, site_id, zone_id)
    with pytest.raises(PairingError, match="not the one the admin gave"):
        pair(request(server, code, fingerprint="0000:1111:2222:3333:4444:5555:6666:7777"))
    credentials = pair(request(server, code))  # the code was never sent, so it still works
    assert credentials.server_key_fingerprint == server.keys.fingerprint
    assert credentials.trusted_keys().keys() == {server.keys.key_id}


def test_a_code_is_single_use(site) -> None:
    server, admin, site_id, zone_id = site
    _, code = new_door(admin, site_id, zone_id)
    pair(request(server, code))
    with pytest.raises(Exception, match="403|used"):
        pair(request(server, code))


def test_recover_module_returns_the_escrowed_password(site) -> None:
    server, admin, site_id, zone_id = site
    door_id, code = new_door(admin, site_id, zone_id)
    first = pair(request(server, code))
    again = admin.post(f"/api/v1/doors/{door_id}/pairing-codes").json()["code"]
    recovered = pair(request(server, again, recover_module=True))
    assert recovered.module_password == first.module_password
    assert recovered.binding_token == first.binding_token == binding_token_for(first.module_password)
    assert recovered.token != first.token and recovered.door_private_key != first.door_private_key


def sync_client(credentials, journal, applied, interval_s: float = 30.0,  # noqa: ANN001
                backoff_initial_s: float = 0.1, **config_changes) -> SyncClient:
    """The client as a door runs it: the default 30 s sync interval (events leave because
    they were journalled, never because a short interval polls them out)."""
    config = ServerConfig(credential="", ca_file=None, request_deadline_s=2.0,
                          max_response_bytes=8 * 1024 * 1024, long_poll_s=5.0)
    config = dataclasses.replace(config, **config_changes)
    feed = journal.feed if isinstance(journal, DoorJournal) else journal

    def apply(envelope: bytes) -> None:
        snapshot = bundle.verify_bundle(envelope, credentials.trusted_keys(), door_id=credentials.device_id)
        applied.append(snapshot)

    return SyncClient(credentials, config, apply_bundle=apply, journal=feed,
                      heartbeat=lambda: {"applied_version": applied[-1].version if applied else None},
                      sync_interval_s=lambda: interval_s, backoff_initial_s=backoff_initial_s)


def test_bundle_events_and_heartbeat_flow_and_a_revocation_arrives_in_seconds(site, tmp_path) -> None:
    server, admin, site_id, zone_id = site
    door_id, code = new_door(admin, site_id, zone_id)
    person = enrol(admin, "Ada")
    admin.post("/api/v1/grants", json={"person_id": person["person_id"], "zone_id": zone_id})
    credentials = pair(request(server, code))
    journal, applied = DoorJournal(tmp_path, credentials.device_id), []
    client = sync_client(credentials, journal, applied)
    client.start()
    try:
        wait_until(lambda: applied and applied[-1].users, timeout_s=5)
        journal.append("granted", {"user_id": applied[-1].users[0].user_id})
        client.events_journalled()
        wait_until(lambda: journal.acked == 1, timeout_s=3)
        version = applied[-1].version
        revoked_at = time.monotonic()
        assert admin.delete(f"/api/v1/people/{person['person_id']}").status_code == 202
        wait_until(lambda: applied[-1].version > version and not applied[-1].users, timeout_s=5)
        assert time.monotonic() - revoked_at < 5
        door = admin.get(f"/api/v1/doors/{door_id}").json()
        wait_until(lambda: admin.get(f"/api/v1/doors/{door_id}").json().get("last_heartbeat_at"), 3)
        assert client.status().online
    finally:
        client.stop()
    assert door["id"] == door_id


def test_the_client_stops_in_milliseconds_even_mid_long_poll(site, tmp_path) -> None:
    server, admin, site_id, zone_id = site
    _, code = new_door(admin, site_id, zone_id)
    credentials = pair(request(server, code))
    client = sync_client(credentials, DoorJournal(tmp_path, credentials.device_id), [])
    client.start()
    time.sleep(0.5)  # the poller is now holding a long-poll
    started = time.monotonic()
    client.stop()
    assert time.monotonic() - started < 0.5  # the held poll is aborted, not waited out


def test_a_dead_server_means_offline_and_backoff_not_a_tight_loop(tmp_path: Path) -> None:
    with running_server(tmp_path) as server:
        admin = server.add_admin("root")
        site_id = admin.post("/api/v1/sites", json={"name": "HQ", "time_zone": "UTC"}).json()["id"]
        zone_id = admin.post("/api/v1/zones", json={"site_id": site_id, "name": "Z"}).json()["id"]
        _, code = new_door(admin, site_id, zone_id)
        credentials = pair(request(server, code))
    journal = DoorJournal(tmp_path, credentials.device_id)
    journal.append("granted", {})
    client = sync_client(credentials, journal, [])
    client.start()
    try:
        wait_until(lambda: client.status().last_error is not None, timeout_s=3)
        assert not client.status().online and journal.acked == 0  # nothing lost, nothing acked
    finally:
        client.stop()


def test_backoff_grows_with_jitter_and_is_capped() -> None:
    import random

    backoff = Backoff(1.0, cap_s=300.0, rng=random.Random(3))
    waits = [backoff.next_s() for _ in range(12)]
    assert all(0.5 <= w <= 1.0 for w in waits[:1])
    assert max(waits) <= 300.0 and waits[-1] >= 150.0
    assert len(set(waits)) == len(waits)  # jittered
    backoff.reset()
    assert backoff.next_s() <= 1.0


def test_a_server_restored_from_a_backup_gets_the_lost_events_again_and_no_rollback(tmp_path: Path) -> None:
    from doorward.server.store import backup
    from doorward.server.clock import ManualClock

    clock = ManualClock()
    with running_server(tmp_path, clock=clock) as server:
        admin = server.add_admin("root")
        site_id = admin.post("/api/v1/sites", json={"name": "HQ", "time_zone": "UTC"}).json()["id"]
        zone_id = admin.post("/api/v1/zones", json={"site_id": site_id, "name": "Z"}).json()["id"]
        _, code = new_door(admin, site_id, zone_id)
        credentials = pair(request(server, code))
        journal, applied = DoorJournal(tmp_path, credentials.device_id), []
        client = sync_client(credentials, journal, applied)
        client.start()
        try:
            journal.append("granted", {"n": 1})
            client.events_journalled()
            wait_until(lambda: journal.acked == 1 and applied, timeout_s=5)
            backup.backup(server.config.database, tmp_path / "backup.db")
            for n in (2, 3):
                journal.append("granted", {"n": n})
            client.events_journalled()
            person = enrol(admin, "Added after the backup")
            admin.post("/api/v1/grants", json={"person_id": person["person_id"], "zone_id": zone_id})
            wait_until(lambda: journal.acked == 3 and applied[-1].users, timeout_s=5)
            highest = applied[-1].version
        finally:
            client.stop()
        keys = server.keys
    backup.restore(tmp_path / "backup.db", tmp_path / "doorward.server.store.db", server.ctx.ledger)
    with running_server(tmp_path, clock=clock, keys=keys) as restored:
        credentials = dataclasses.replace(credentials, server_url=restored.url)
        journal.append("granted", {"n": 4})
        client = sync_client(credentials, journal, applied)
        client.start()
        try:
                wait_until(lambda: journal.acked == 4 and applied[-1].version > highest, timeout_s=10)
        finally:
            client.stop()
        auditor = restored.add_admin("auditor", role="auditor")
        stored = auditor.get("/api/v1/events", params={"device_id": credentials.device_id}).json()
    assert sorted(e["seq"] for e in stored) == [1, 2, 3, 4]  # the lost ones sent again, once
    assert all(a.version < b.version for a, b in zip(applied, applied[1:]))  # never backwards


def test_an_unusable_ca_file_is_one_named_error_and_the_loops_keep_trying(site, tmp_path) -> None:
    """A CA file that is not PEM used to raise an ssl error out of the loop's first line: the
    loop thread died, and the watchdog restarted the daemon over and over."""
    server, admin, site_id, zone_id = site
    _, code = new_door(admin, site_id, zone_id)
    credentials = pair(request(server, code))
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate\n")
    with pytest.raises(CaBundleError, match=r"the CA file .*ca\.pem cannot be used"):
        ServerConnection(server.url, ca_file=str(bad))
    client = sync_client(credentials, DoorJournal(tmp_path, credentials.device_id), [],
                         ca_file=str(bad))
    client.start()
    try:
        wait_until(lambda: len(client.status().failing) == 3, timeout_s=5)
        assert all("ca.pem cannot be used" in text for _, text in client.status().failing)
        failures = len(client.status().failing)
        time.sleep(0.5)  # a second round of attempts: the loops are alive and backing off
        assert len(client.status().failing) == failures
        assert client.problems(time.monotonic()) == []  # no loop died (the watchdog's view)
    finally:
        client.stop()

"""The bundle poller (issue 12, items 4, 6 and 7): an ETag is adopted only for an envelope
applied, already stored or refused; what failed locally is fetched again with back-off; a
refused or instantly repeated answer is not polled in a tight loop; every poll sends a
nonce and hands the server's signed freshness statement on.

Against the reference server on loopback, and against a hostile stand-in (a plain HTTP
server on loopback that answers every poll at once, as a network attacker would)."""

from __future__ import annotations

import base64
import http.server
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from doorward.daemon.codec import bundle
from doorward.daemon.storage.credentials import Credentials
from doorward.daemon.config.module import ServerConfig
from doorward.daemon.sync.pairing import PairingRequest, pair
from doorward.daemon.sync.client import ApplyOutcome, SyncClient
from tests.support.server import R307, running_server, wait_until
from tests.integration.test_sync_client import new_door

CONFIG = ServerConfig(credential="", ca_file=None, request_deadline_s=2.0,
                      max_response_bytes=8 * 1024 * 1024, long_poll_s=5.0)


class NoEvents:
    """A journal feed with nothing to upload: these tests watch the bundle poller only."""

    journal_id = "j-bundles-test"

    def unacknowledged(self, limit: int) -> list:
        return []

    def acknowledge(self, up_to_seq: int) -> None:
        raise AssertionError("nothing was sent, so nothing can be acknowledged")

    def pending_losses(self) -> list:
        return []

    def resolve_gap(self, expected_seq: int) -> bool:
        return False


def client_for(credentials: Credentials, apply, on_fresh=None) -> SyncClient:  # noqa: ANN001
    return SyncClient(credentials, CONFIG, apply_bundle=apply,
                      journal=NoEvents(), heartbeat=lambda: {},
                      sync_interval_s=lambda: 30.0, backoff_initial_s=0.1, on_fresh=on_fresh)


@pytest.fixture
def paired(tmp_path: Path) -> Iterator[tuple[Credentials, object]]:
    with running_server(tmp_path) as server:
        admin = server.add_admin("root")
        site_id = admin.post("/api/v1/sites", json={"name": "HQ", "time_zone": "UTC"}).json()["id"]
        zone_id = admin.post("/api/v1/zones", json={"site_id": site_id, "name": "Z"}).json()["id"]
        _, code = new_door(admin, site_id, zone_id)
        credentials = pair(PairingRequest(server.url, code, server.keys.fingerprint, R307,
                                          deadline_s=5.0))
        yield credentials, admin


def version_of(credentials: Credentials, envelope: bytes) -> int:
    return bundle.verify_bundle(envelope, credentials.trusted_keys(),
                                door_id=credentials.device_id).version


def test_an_apply_that_failed_locally_is_fetched_again_until_it_applies(paired) -> None:
    credentials, _ = paired
    seen: list[int] = []

    def apply(envelope: bytes) -> ApplyOutcome:
        seen.append(version_of(credentials, envelope))
        return ApplyOutcome.RETRY if len(seen) <= 3 else ApplyOutcome.APPLIED

    client = client_for(credentials, apply)
    client.start()
    try:
        wait_until(lambda: len(seen) >= 4, timeout_s=8)
        wait_until(lambda: client.status().etag is not None, timeout_s=3)
    finally:
        client.stop()
    assert len(set(seen)) == 1 and len(seen) == 4  # the same version, until it applied
    assert client.status().etag == f'"{seen[0]}"' and client.status().online


def test_a_retry_keeps_the_etag_it_held(paired) -> None:
    """A door with version N in force that fails to apply N+1 keeps asking with N's ETag."""
    credentials, admin = paired
    seen: list[int] = []
    held_etags: list[str | None] = []
    client: SyncClient

    def apply(envelope: bytes) -> ApplyOutcome:
        seen.append(version_of(credentials, envelope))
        held_etags.append(client.status().etag)
        return ApplyOutcome.APPLIED if len(seen) in (1, 4) else ApplyOutcome.RETRY

    client = client_for(credentials, apply)
    client.start()
    try:
        wait_until(lambda: client.status().etag is not None, timeout_s=5)
        first = client.status().etag
        answer = admin.patch(f"/api/v1/doors/{credentials.device_id}", json={"lockdown": True})
        assert answer.status_code == 200, answer.text
        wait_until(lambda: len(seen) >= 4, timeout_s=8)
    finally:
        client.stop()
    assert seen[1] == seen[2] == seen[3] > seen[0]
    assert held_etags[1:4] == [first, first, first]
    assert client.status().etag == f'"{seen[3]}"'


def test_every_poll_sends_a_new_nonce_and_the_statement_answers_it(paired) -> None:
    credentials, _ = paired
    applied: list[int] = []
    statements: list[bundle.FreshnessStatement] = []

    def on_fresh(header: str, nonce: str, sent_mono: float) -> None:
        assert sent_mono <= time.monotonic()
        statements.append(bundle.verify_freshness(header, credentials.trusted_keys(),
                                                  door_id=credentials.device_id, nonce=nonce))

    def apply(envelope: bytes) -> ApplyOutcome:
        applied.append(version_of(credentials, envelope))
        return ApplyOutcome.APPLIED

    client = client_for(credentials, apply, on_fresh)
    client.start()
    try:
        wait_until(lambda: statements, timeout_s=5)
        client.sync_now()  # the held poll ends with a 304 and a new poll starts
        wait_until(lambda: len(statements) >= 2, timeout_s=8)
    finally:
        client.stop()
    assert {s.version for s in statements} == {applied[0]}
    assert len({s.nonce for s in statements}) == len(statements)


class Hostile(http.server.BaseHTTPRequestHandler):
    """Answers every bundle poll at once: ``mode`` "garbage" (200, a new refused envelope and
    ETag each time) or "unchanged" (304); everything else 200 with an empty JSON object."""

    mode = "garbage"
    polls = 0
    lock = threading.Lock()

    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        with Hostile.lock:
            Hostile.polls += 1
            n = Hostile.polls
        if Hostile.mode == "unchanged":
            self.send_response(304)
            self.send_header("ETag", '"1"')
            self.end_headers()
            return
        body = b'{"not": "a bundle %d"}' % n
        self.send_response(200)
        self.send_header("ETag", f'"{n}"')
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def hostile() -> Iterator[Credentials]:
    Hostile.polls = 0
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hostile)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    key = bundle.generate_signing_key()
    public = bundle.raw_public(key.public_key())
    yield Credentials(
        device_id="door-hostile", kind="door",
        server_url=f"http://127.0.0.1:{server.server_address[1]}",
        server_key_id=bundle.public_key_id(key.public_key()),
        server_public_key=base64.b64encode(public).decode(),
        server_key_fingerprint=bundle.key_fingerprint(key.public_key()), token="t" * 43,
        door_private_key=base64.b64encode(bytes(32)).decode(), module_password=1,
        binding_token="00" * 16, cache_key=base64.b64encode(bytes(32)).decode())
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("mode", ["garbage", "unchanged"])
def test_an_answer_to_every_poll_is_not_polled_in_a_tight_loop(hostile: Credentials, mode: str) -> None:
    Hostile.mode = mode
    refused = []
    client = client_for(hostile, lambda envelope: refused.append(envelope) or ApplyOutcome.REFUSED)
    client.start()
    try:
        wait_until(lambda: Hostile.polls >= 2, timeout_s=5)
        time.sleep(3.0)  # the measured window: polls in it are counted, nothing is waited on
        polls = Hostile.polls
    finally:
        client.stop()
    # Back-off from 0.1 s doubling: at most ~7 polls in 3 s; a tight loop makes hundreds.
    assert 2 <= polls <= 12, polls
    assert client.status().online  # the answers came: it is the content that was refused

"""Promise 1 on the door's real parts: a week with the server down, then every event exactly once.

The door pairs with the reference server and applies its signed bundle into the encrypted
cache; then the server goes away. For a simulated week the controller core (the controller
thread's work, driven here without a thread) decides a scan every 10 minutes for two people
from the cached snapshot, journalling to the real hash-chained journal, across the bundle's
`expires_at`, the grace period, schedule edges and the end of daylight saving time. The
decisions are compared with a table written from the rules, not from the code. Then the
server comes back and the sync client uploads the week: every event arrives exactly once,
and no door was released by the loss or the return of the link.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import secrets
from pathlib import Path
from zoneinfo import ZoneInfo

from doorward.daemon.sync.apply import apply_bundle
from doorward.daemon.storage.cache import PermissionCache
from doorward.daemon.access.claim import Claim, SlotState
from doorward.daemon.controller.core import ControllerCore
from doorward.daemon.controller.events import FingerLifted, ModuleClaim
from doorward.daemon.sync.http import ServerConnection
from doorward.daemon.journal.store import EventJournal
from doorward.daemon.config.module import ServerConfig
from doorward.daemon.sync.pairing import PairingRequest, pair
from doorward.daemon.codec.policy import Policy
from doorward.daemon.controller.clock import FakeClock
from doorward.daemon.controller.sinks import MemoryAlarms
from doorward.daemon.sync.client import SyncClient
from doorward.drivers.gpio.door import DoorHardware
from doorward.server.clock import ManualClock
from tests.support.server import R307, enrol, running_server, wait_until
from tests.unit.test_controller import RELAY, MemoryGpio, wired_door

SITE_TZ = ZoneInfo("Europe/Berlin")
START = dt.datetime(2026, 10, 21, tzinfo=dt.timezone.utc).timestamp()  # a Wednesday
VALIDITY_S = 3 * 86400  # the bundle expires on Saturday 24 October, 00:00 UTC
GRACE_S = 86400
STEP_S = 600
OFFICE = {day: [["07:00", "19:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}


class JournalAdapter:
    """The controller's journal sink on the real journal, as the service wires it."""

    def __init__(self, journal: EventJournal, clock: ManualWallClock) -> None:
        self.journal, self.clock, self.boot_id = journal, clock, secrets.token_hex(8)
        self.mono = 0.0

    def append(self, kind: str, detail: dict) -> None:
        self.journal.append(kind, detail, wall_now=self.clock.wall_now(), wall_trusted=True,
                            mono_now=self.mono, boot_id=self.boot_id)  # fmt: skip


def expected(person: str, wall: float, expires_at: float) -> tuple[bool, str]:
    """From the rules: the office worker only in office hours (local time), the allow-listed
    office worker also after the grace period, the other nobody after it."""
    past_s = wall - expires_at
    phase = "fresh" if past_s < 0 else "grace" if past_s < GRACE_S else "after"
    local = dt.datetime.fromtimestamp(wall, SITE_TZ)
    in_hours = local.weekday() < 5 and 7 <= local.hour < 19
    if person == "office" and not in_hours:
        return False, "outside_schedule"
    if phase == "after":
        return (True, "snapshot_expired_allow_list") if person == "office" else (
            False, "snapshot_expired_not_listed")
    return True, "granted" if phase == "fresh" else "snapshot_expired_grace"


def build_site(server, admin) -> dict:  # noqa: ANN001
    site = admin.post("/api/v1/sites", json={"name": "HQ", "time_zone": "Europe/Berlin"}).json()["id"]
    zone = admin.post("/api/v1/zones", json={"site_id": site, "name": "Lab"}).json()["id"]
    schedule = admin.post("/api/v1/schedules", json={"site_id": site, "name": "Office",
                                                      "weekly": OFFICE}).json()["id"]  # fmt: skip
    staff, office = enrol(admin, "Staff", start=0), enrol(admin, "Office", start=10)
    admin.post("/api/v1/grants", json={"person_id": staff["person_id"], "zone_id": zone})
    admin.post("/api/v1/grants", json={"person_id": office["person_id"], "zone_id": zone,
                                       "schedule_id": schedule})  # fmt: skip
    policy = {"offline": {"grace_s": GRACE_S, "then": "allow_list",
                          "allow_list": [office["person_id"]]}}  # fmt: skip
    door = admin.post("/api/v1/doors", json={"name": "Lab door", "site_id": site, "zone_id": zone,
                                             "module_identity": R307, "capacity": 1000,
                                             "policy": policy}).json()["id"]  # fmt: skip
    code = admin.post(f"/api/v1/doors/{door}/pairing-codes").json()["code"]
    credentials = pair(PairingRequest(server.url, code, server.keys.fingerprint, R307))
    return {"credentials": credentials, "fingers": {
        "staff": staff["finger_ids"][0], "office": office["finger_ids"][0]}}


def fetch_and_apply(server, credentials, cache: PermissionCache):  # noqa: ANN001
    connection = ServerConnection(server.url, token=credentials.token, deadline_s=5)
    envelope = connection.request("GET", "/api/v1/device/bundle", params={"wait": 0}).body
    connection.close()
    return apply_bundle(envelope, cache=cache, trusted_keys=credentials.trusted_keys(),
                        door_id=credentials.device_id, module_identity=R307, capacity=1000,
                        wall_now=START, clock_trusted=True, max_clock_skew_s=300)  # fmt: skip


def live_week(core: ControllerCore, adapter: JournalAdapter, wall: ManualWallClock,
              gpio: MemoryGpio, pages: dict[str, tuple[int, str]]) -> list[tuple[float, str]]:
    scans = []
    for step in range(7 * 24 * 3600 // STEP_S):
        for person, (page, finger_id) in pages.items():
            wall.wall_s = START + step * STEP_S
            adapter.mono = 10.0 + step * STEP_S + (0 if person == "staff" else 60)
            claim = Claim.hit(page, 200, SlotState.ACTIVE, finger_id, True, R307)
            core.handle(ModuleClaim(claim), adapter.mono)
            core.handle(FingerLifted(adapter.mono + 1), adapter.mono + 1)
            core.fire_due(adapter.mono + 30)  # the unlock ends, the door relocks
            assert gpio.levels.get(RELAY, 0) == 0, f"relay left energised at step {step}"
            scans.append((wall.wall_s, person))
    return scans


def test_a_week_offline_decides_by_the_rules_and_every_event_arrives_once(tmp_path: Path) -> None:
    clock = ManualClock(START)
    with running_server(tmp_path / "server", clock=clock, bundle_validity_s=VALIDITY_S) as server:
        admin = server.add_admin("root")
        site = build_site(server, admin)
        credentials, keys = site["credentials"], server.keys
        cache = PermissionCache(tmp_path / "cache.db", credentials.cache_key_bytes())
        snapshot = fetch_and_apply(server, credentials, cache).snapshot
    # ---- the server is gone: a week on the cache alone ----
    journal = EventJournal(tmp_path / "journal.db", credentials.device_id)
    wall = FakeClock(START)
    adapter = JournalAdapter(journal, wall)
    gpio = MemoryGpio(lambda: adapter.mono)
    core = ControllerCore(DoorHardware(gpio, wired_door().door_pins()), adapter, MemoryAlarms(lambda: 0.0),
                          wall, Policy(), snapshot, lambda: adapter.mono)  # fmt: skip
    core.begin(0.0)
    fingers = site["fingers"]
    pages = {"staff": (0, fingers["staff"]), "office": (1, fingers["office"])}
    scans = live_week(core, adapter, wall, gpio, pages)
    decisions = [e for e in journal.events() if e.kind in ("access_granted", "access_denied")]
    got = [(e.kind == "access_granted", e.detail["reason"]) for e in decisions]
    want = [expected(person, at, snapshot.expires_at) for at, person in scans]
    assert got == want
    assert {reason for _, reason in got} == {"granted", "snapshot_expired_grace", "outside_schedule",
                                             "snapshot_expired_allow_list", "snapshot_expired_not_listed"}
    # ---- the server is back: the week is uploaded, each event once ----
    with running_server(tmp_path / "server", clock=clock, keys=keys) as server:
        # Same database and keys; a test server gets a fresh loopback port.
        credentials = dataclasses.replace(credentials, server_url=server.url)
        config = ServerConfig(credential="", ca_file=None, request_deadline_s=5.0,
                              max_response_bytes=8 * 1024 * 1024, long_poll_s=1.0)
        client = SyncClient(credentials, config, apply_bundle=lambda body: None, journal=journal,
                            heartbeat=lambda: {}, sync_interval_s=lambda: 1.0, backoff_initial_s=0.1)
        client.start()
        try:
            wait_until(lambda: journal.backlog() == 0, timeout_s=60)
        finally:
            client.stop()
        admin = server.add_admin("auditor-2", role="auditor")
        uploaded = admin.get("/api/v1/events", params={"device_id": credentials.device_id,
                                                        "limit": 10000}).json()  # fmt: skip
    seqs = sorted(event["seq"] for event in uploaded)
    assert seqs == [event.seq for event in journal.events()]  # all, in order, none twice
    assert all(event["chain_ok"] for event in uploaded)

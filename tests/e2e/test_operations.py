"""The operations path end to end (docs/operations.md): pair, enrol, grant, revoke, alarms,
a grant that would overflow a door, erasure. Every part is its own process; the admin works
through ``doorward server ...`` and the HTTP API, doors are watched through their status
file, the hubs and the alarm webhook. The server expects a heartbeat every second, so a
door that stops reporting raises ``door_offline`` after three missed ones.
"""

from __future__ import annotations

import time

import pytest

from doorward.sim.rig.processes import DemoError, doorward_argv, free_port, run_doorward, wait_until
from doorward.sim.rig.site import DURESS_FINGER, ENROLLER, PEOPLE, DemoSite
from tests.support.e2e import site_fixture

pytestmark = pytest.mark.serial_timing
built_site = site_fixture(heartbeat_interval_s=1.0)
WITHIN_S = 5.0
FIRST_REPORT_WAIT_S = 45.0  # generous, so one late first heartbeat fails one test, not all


@pytest.fixture(scope="module")
def site(built_site: DemoSite) -> DemoSite:
    """The site with the kiosk serving, once the server shows every door's first report."""
    start_kiosk(built_site)
    started = time.monotonic()
    for door in built_site.doors:
        wait_until(lambda door=door: server_sees_in_sync(built_site, door), FIRST_REPORT_WAIT_S,
                 f"the server seeing {door.name} in sync", 0.1)  # fmt: skip
    built_site.first_report_s = time.monotonic() - started
    return built_site


def server_sees_in_sync(site: DemoSite, door) -> bool:  # noqa: ANN001 - a SimulatedDoor
    record = site.door_record(door)
    return record["online"] and record["reconciled_version"] == record["bundle_version"]


def finger(person: str) -> str:
    return PEOPLE[person][1]


def wait_locked_then_scan(door, who: str) -> dict:  # noqa: ANN001 - a SimulatedDoor
    door.wait_locked()
    return door.scan(who)


def removals_confirmed(site: DemoSite, path: str, person_id: str) -> list[dict]:
    rows = [r for r in site.admin().get(path).json() if r["user_id"] == person_id]
    done = rows and all(r["cache_confirmed_at"] and r["module_confirmed_at"] for r in rows)
    return rows if done else []


def test_doors_report_their_first_bundle_to_the_server_within_5_s(site: DemoSite) -> None:
    """The heartbeat carries applied and reconciled versions (the server's confirmations of
    removal); the doors' policy asks for one every second."""
    assert site.first_report_s < WITHIN_S


def test_pairing_checks_the_server_key_fingerprint(site: DemoSite) -> None:
    refused = site.timeline.find("pair_refused")
    assert "fingerprint" in refused["stderr"]
    for door in site.doors:
        record = site.door_record(door)
        assert record["paired"] and record["x25519_fingerprint"]
        assert record["reported_module_identity"] == site.identity
        assert not record["module_mismatch"]


def test_enrolment_at_the_kiosk_by_a_signed_in_enroller(site: DemoSite) -> None:
    person = site.admin().get(f"/api/v1/people/{site.ids['bob']}").json()
    assert person["consent_reference"] == "consent form bob" and person["consent_at"]
    [only] = person["fingers"]
    assert only["module_identity"] == site.identity and not only["duress"]
    audit = site.admin().get("/api/v1/audit", params={"limit": 10000}).json()
    # The enroller's own records of this enrolment, by actor and action: another record that
    # merely names the enroller (the admin's "admin.create" of her account) does not count.
    actor = f"{ENROLLER.role}:{ENROLLER.name}"
    by_enroller = {(a["action"], a["target"]) for a in audit if a["actor"] == actor}
    assert ("person.consent", site.ids["bob"]) in by_enroller, by_enroller
    assert ("finger.add", only["id"]) in by_enroller, by_enroller


def test_a_grant_reaches_the_door(site: DemoSite) -> None:
    took = site.change_and_sync((site.tent,), lambda: site.server.cli(
        "grant", site.ids["carol"], site.ids["tent"]))  # fmt: skip
    assert took[site.tent.name] < WITHIN_S
    first = wait_locked_then_scan(site.tent, finger("carol"))
    assert first["reason"] == "waiting_second_person"  # her template is at the tent now
    second = site.tent.scan(finger("alice"))
    assert (second["kind"], second["reason"]) == ("access_granted", "granted")


def test_a_revocation_is_confirmed_per_door_within_5_s(site: DemoSite) -> None:
    grant = site.grants[("carol", "lobby")]
    started = time.monotonic()
    site.server.cli("revoke", grant)
    path = f"/api/v1/doors/{site.lobby.door_id}/removals"
    rows = wait_until(lambda: removals_confirmed(site, path, site.ids["carol"]), WITHIN_S,
                    "the lobby door confirming removal from cache and module", 0.1)  # fmt: skip
    assert time.monotonic() - started < WITHIN_S
    assert len(rows) == 1
    denied = wait_locked_then_scan(site.lobby, finger("carol"))
    assert denied["kind"] == "access_denied"


def test_forced_and_duress_alarms_reach_the_webhook_within_5_s(site: DemoSite) -> None:
    started = time.monotonic()
    granted = wait_locked_then_scan(site.lobby, DURESS_FINGER)
    assert granted["reason"] == "granted_duress"
    duress = site.webhook.wait_for("duress", site.lobby.door_id, started, WITHIN_S)
    assert duress is not None and duress.received_mono - started < WITHIN_S
    site.lobby.wait_locked()
    started = time.monotonic()
    site.lobby.open_contact()
    try:
        forced = site.webhook.wait_for("forced", site.lobby.door_id, started, WITHIN_S)
    finally:
        site.lobby.close_contact()
    assert forced is not None and forced.received_mono - started < WITHIN_S


def test_reader_offline_alarm_within_5_s_and_recovery(site: DemoSite) -> None:
    started = time.monotonic()
    site.tent.module({"fault": {"kind": "silence"}})
    try:
        alarm = site.webhook.wait_for("reader_offline", site.tent.door_id, started, 2 + WITHIN_S)
    finally:
        site.tent.module({"fault": None})
    assert alarm is not None, [a.kind for a in site.webhook.alarms]
    assert alarm.received_mono - started < 2 + WITHIN_S  # 2 s to notice, 5 s to deliver
    site.tent.wait_ready(30)


def test_door_offline_alarm_after_3_missed_heartbeats(site: DemoSite) -> None:
    site.tent.stop_daemon()
    stopped = time.monotonic()
    try:
        alarm = site.webhook.wait_for("door_offline", site.tent.door_id, stopped, 3 + WITHIN_S)
    finally:
        site.tent.start_daemon()
    assert alarm is not None, [a.kind for a in site.webhook.alarms]
    assert 2.0 < alarm.received_mono - stopped < 3 + WITHIN_S
    site.tent.wait_ready(30)


def test_a_grant_that_would_overflow_a_door_is_refused_with_its_numbers(site: DemoSite) -> None:
    zone = site.server.cli_id("zone", "add", "Store", "--site", site.ids["site"])
    door = site.server.cli_id("door", "add", "Store door", "--site", site.ids["site"], "--zone", zone,
                              "--module-identity", site.identity, "--capacity", "1")
    answer = site.admin().post("/api/v1/grants", json={"person_id": site.ids["alice"], "zone_id": zone})
    assert answer.status_code == 409, answer.text
    body = answer.json()
    assert (body["templates_needed"], body["capacity"], body["door_id"]) == (2, 1, door)
    cli = run_doorward("server", "grant", site.ids["alice"], zone, "--config",
                       str(site.server.config_path))  # fmt: skip
    assert cli.returncode == 1 and "would need 2 templates" in cli.stderr
    person = site.admin().get(f"/api/v1/people/{site.ids['alice']}").json()
    assert zone not in {g["zone_id"] for g in person["grants"]}  # nothing was stored


def test_erasure_is_confirmed_by_every_door(site: DemoSite) -> None:
    carol = site.ids["carol"]  # at the lobby (revoked above), the tent and the kiosk's station
    every_device = {site.lobby.door_id, site.tent.door_id, site.ids["kiosk"]}
    answer = site.admin().delete(f"/api/v1/people/{carol}")
    assert answer.status_code == 202, answer.text

    def confirmed_everywhere() -> list[dict]:
        rows = removals_confirmed(site, f"/api/v1/people/{carol}/removals", carol)
        return rows if {r["device_id"] for r in rows} >= every_device else []

    try:
        rows = wait_until(confirmed_everywhere, FIRST_REPORT_WAIT_S,
                        "every device confirming the erasure", 0.2)  # fmt: skip
    except DemoError:
        raise AssertionError(site.admin().get(f"/api/v1/people/{carol}/removals").json()) from None
    assert {r["device_id"] for r in rows} == every_device
    assert site.admin().get(f"/api/v1/people/{carol}").status_code == 404
    denied = wait_locked_then_scan(site.tent, finger("carol"))
    assert denied["kind"] == "access_denied"


def start_kiosk(site: DemoSite) -> None:
    """``doorward kiosk serve``: the station keeps its library in sync while it runs."""
    answer = site.admin().patch(f"/api/v1/stations/{site.ids['kiosk']}",
                                json={"policy": {"sync_interval_s": 1.0}})
    assert answer.status_code == 200, answer.text
    port = free_port()
    site.processes.start("kiosk-serve", doorward_argv(
        "kiosk", "serve", "--port", str(port), "--config", str(site.kiosk.config_path)))
    wait_until(lambda: "kiosk ready" in site.processes.tail("kiosk-serve", 200)
             or site.processes.check_alive("kiosk-serve"), 30, "the kiosk serving")

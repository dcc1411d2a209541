"""The demo's site with the MQTT bridge on (issue 19's "done when"): a subscriber on a real
Mosquitto sees every door's discovery and state messages, an access event within 2 s of a
scan, a forced-open alarm within 2 s, and a forced-open alarm raised while the broker was
down, published once after it returns. Every part is its own process."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import pytest

from doorward.sim.rig.site import PEOPLE, DemoSite
from tests.support.e2e import build_site, close_site
from tests.support.mqtt import Mosquitto, Subscriber

pytestmark = pytest.mark.serial_timing
WITHIN_S = 2.0


@pytest.fixture(scope="module")
def broker():
    directory = Path(tempfile.mkdtemp(prefix="dw-mqtt-", dir="/tmp"))
    mosquitto = Mosquitto(directory)
    mosquitto.start()
    yield mosquitto
    mosquitto.processes.stop_all()
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="module")
def subscriber(broker):
    watcher = Subscriber(broker, ("doorward/#", "homeassistant/#"))
    yield watcher
    watcher.close()


@pytest.fixture(scope="module")
def site(broker, subscriber):
    built = build_site(heartbeat_interval_s=1.0, mqtt_url=broker.url)
    yield built
    close_site(built)


def state_seen(subscriber: Subscriber, door_id: str, **wanted) -> dict:
    """The first state of the door with ``wanted`` values and a bundle applied."""
    return subscriber.wait_for(lambda m: m.topic == f"doorward/{door_id}/state" and m.payload
                               and wanted.items() <= m.json().items()
                               and m.json()["bundle_version"] is not None, timeout_s=30).json()


def alarms_of(subscriber: Subscriber, door_id: str, kind: str) -> list[int]:
    return [m.json()["alarm_id"] for m in subscriber.on(f"doorward/{door_id}/alarm")
            if m.json()["kind"] == kind]


def forced_open(door) -> None:  # noqa: ANN001 - a SimulatedDoor
    door.wait_locked()
    door.open_contact()
    time.sleep(0.3)  # the contact's debounce, then closed again (the alarm is already raised)
    door.close_contact()


def test_every_door_is_discovered_and_reports_its_state(site: DemoSite, subscriber: Subscriber) -> None:
    for door in site.doors:
        state = state_seen(subscriber, door.door_id, online="ON", reader="ready")
        assert state["bundle_version"] >= 1 and state["lockdown"] == "OFF"
        configs = [m for m in subscriber.messages
                   if m.topic.startswith("homeassistant/") and f"/{door.door_id}/" in m.topic]
        assert {m.topic.split("/")[1] for m in configs} == {"lock", "binary_sensor", "sensor", "event"}
        assert all(m.json()["device"]["name"] == door.name for m in configs)


def test_a_scan_is_an_access_event_within_2_s(site: DemoSite, subscriber: Subscriber) -> None:
    site.lobby.wait_ready()
    site.lobby.wait_locked()
    started = time.monotonic()
    decision = site.lobby.scan(PEOPLE["alice"][1])  # granted, or denied if the module missed
    event = subscriber.wait_for(lambda m: m.topic == f"doorward/{site.lobby.door_id}/access",
                                timeout_s=10, after_mono=started)
    expected = {"access_granted": "granted", "access_denied": "denied"}[decision["kind"]]
    assert (event.json()["event_type"], event.json()["reason"]) == (expected, decision["reason"])
    if expected == "granted":
        assert event.json()["person"] == site.ids["alice"]  # the opaque id, not the name
    assert event.received_mono - started < WITHIN_S


def test_a_forced_door_is_an_alarm_within_2_s(site: DemoSite, subscriber: Subscriber) -> None:
    door = site.tent
    door.wait_locked()
    started = time.monotonic()
    door.open_contact()
    try:
        alarm = subscriber.wait_for(lambda m: m.topic == f"doorward/{door.door_id}/alarm"
                                    and m.json()["kind"] == "forced", timeout_s=10, after_mono=started)
    finally:
        door.close_contact()
    assert alarm.received_mono - started < WITHIN_S


def test_an_alarm_raised_while_the_broker_is_down_arrives_once_after_it_returns(
        site: DemoSite, broker: Mosquitto, subscriber: Subscriber) -> None:
    door = site.lobby
    before = set(alarms_of(subscriber, door.door_id, "forced"))
    broker.stop()
    try:
        forced_open(door)
        record = lambda: [a for a in site.admin().get("/api/v1/alarms").json()  # noqa: E731
                          if a["kind"] == "forced" and a["device_id"] == door.door_id
                          and a["id"] not in before]
        from doorward.sim.rig.processes import wait_until

        raised = wait_until(record, 15, "the server storing the forced alarm")[0]
    finally:
        broker.start()
    subscriber.wait_for(lambda m: m.topic == f"doorward/{door.door_id}/alarm"
                        and m.json()["alarm_id"] == raised["id"], timeout_s=20)
    forced_open(site.tent)  # a later alarm: by the time it is seen, a repeat would have been too
    subscriber.wait_for(lambda m: m.topic == f"doorward/{site.tent.door_id}/alarm"
                        and m.json()["alarm_id"] > raised["id"], timeout_s=20)
    assert alarms_of(subscriber, door.door_id, "forced").count(raised["id"]) == 1

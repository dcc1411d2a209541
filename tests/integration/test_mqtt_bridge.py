"""The MQTT bridge against a real Mosquitto (Debian's, started here on a loopback port): Home
Assistant discovery for every door, checked against the keys Home Assistant documents for each
entity kind; retained state; access decisions and alarms within 2 s; the broker stopped and
started again with an alarm raised while it was away, published after it returns, once, in
order; the bridge's availability goes offline when it stops."""

from __future__ import annotations

import json
import time
import pytest

from doorward.server.config import MqttConfig, ServerConfigError, config_from_mapping
from doorward.server.integrations.discovery import ALARM_TYPES
from tests.support.mqtt import Mosquitto, Subscriber
from tests.support.server import make_site, running_server, wait_until


# Home Assistant's documented MQTT discovery schema (home-assistant.io/integrations/mqtt/ and
# the pages lock.mqtt, binary_sensor.mqtt, sensor.mqtt, event.mqtt): the keys every entity may
# carry, and per kind the keys it requires and the further keys it may carry.
COMMON_KEYS = {"availability", "availability_mode", "availability_template", "availability_topic",
               "device", "enabled_by_default", "encoding", "entity_category", "entity_picture", "icon",
               "json_attributes_template", "json_attributes_topic", "name", "origin", "qos",
               "unique_id", "default_entity_id"}
KINDS = {
    "lock": ({"command_topic"}, {"command_template", "code_format", "optimistic", "payload_lock",
                                 "payload_unlock", "payload_open", "payload_reset", "retain",
                                 "state_jammed", "state_locked", "state_locking", "state_topic",
                                 "state_unlocked", "state_unlocking", "state_open", "state_opening",
                                 "value_template"}),
    "binary_sensor": ({"state_topic"}, {"device_class", "expire_after", "force_update", "off_delay",
                                        "payload_off", "payload_on", "value_template"}),
    "sensor": ({"state_topic"}, {"device_class", "expire_after", "force_update",
                                 "last_reset_value_template", "options", "suggested_display_precision",
                                 "state_class", "unit_of_measurement", "value_template"}),
    "event": ({"state_topic", "event_types"}, {"device_class", "value_template"}),
}
DEVICE_KEYS = {"identifiers", "connections", "name", "manufacturer", "model", "model_id",
               "sw_version", "hw_version", "serial_number", "suggested_area", "via_device",
               "configuration_url"}
ORIGIN_KEYS = {"name", "sw_version", "support_url"}
BINARY_SENSOR_CLASSES = {"battery", "battery_charging", "carbon_monoxide", "cold", "connectivity",
                         "door", "garage_door", "gas", "heat", "light", "lock", "moisture", "motion",
                         "moving", "occupancy", "opening", "plug", "power", "presence", "problem",
                         "running", "safety", "smoke", "sound", "tamper", "update", "vibration", "window"}
EXPECTED_ENTITIES = {("lock", "lock"), ("binary_sensor", "contact"), ("binary_sensor", "online"),
                     ("binary_sensor", "tamper"), ("binary_sensor", "lockdown"),
                     ("binary_sensor", "reader"), ("sensor", "reader_state"),
                     ("sensor", "bundle_version"), ("sensor", "backlog"), ("event", "access"),
                     ("event", "alarm")}
WITHIN_S = 2.0


def schema_problems(kind: str, config: dict) -> list[str]:
    required, optional = KINDS[kind]
    problems = [f"missing {key}" for key in sorted(required - set(config))]
    problems += [f"undocumented key {key}" for key in sorted(set(config) - required - optional - COMMON_KEYS)]
    problems += [f"device.{key}" for key in sorted(set(config.get("device", {})) - DEVICE_KEYS)]
    problems += [f"origin.{key}" for key in sorted(set(config.get("origin", {})) - ORIGIN_KEYS)]
    if kind == "binary_sensor" and config.get("device_class") not in BINARY_SENSOR_CLASSES | {None}:
        problems.append(f"device_class {config['device_class']}")
    if kind == "event" and config.get("device_class") not in {None, "button", "doorbell", "motion"}:
        problems.append(f"device_class {config['device_class']}")
    if config.get("entity_category") not in {None, "config", "diagnostic"}:
        problems.append(f"entity_category {config['entity_category']}")
    if kind == "sensor" and config.get("state_class") not in {None, "measurement", "total",
                                                             "total_increasing", "measurement_angle"}:
        problems.append(f"state_class {config['state_class']}")
    return problems


@pytest.fixture
def broker(tmp_path):
    mosquitto = Mosquitto(tmp_path / "broker")
    mosquitto.start()
    yield mosquitto
    mosquitto.processes.stop_all()


@pytest.fixture
def subscriber(broker):
    watcher = Subscriber(broker, ("doorward/#", "homeassistant/#"))
    yield watcher
    watcher.close()


def door_alarm(name: str) -> tuple[str, dict]:
    from doorward.daemon.codec.alarms import Alarm, AlarmKind

    return Alarm(AlarmKind(name), "test").record()


def alarms_seen(subscriber: Subscriber, door_id: str) -> list[int]:
    return [m.json()["alarm_id"] for m in subscriber.on(f"doorward/{door_id}/alarm")]


def state_of(subscriber: Subscriber, door_id: str, **wanted) -> dict:
    message = subscriber.wait_for(lambda m: m.topic == f"doorward/{door_id}/state" and m.payload
                                  and wanted.items() <= m.json().items(), timeout_s=10)
    return message.json()


def test_discovery_state_access_and_alarms_reach_the_broker(tmp_path, broker, subscriber) -> None:
    mqtt = MqttConfig(url=broker.url, reconnect_max_s=1)
    with running_server(tmp_path, mqtt=mqtt) as server:
        site = make_site(server)
        door = site.door
        door.heartbeat(applied_version=1, reconciled_version=1, backlog=0, reader_state="ready")
        subscriber.wait_for(lambda m: m.topic == "doorward/bridge/availability" and m.payload == b"online")
        prefix = "homeassistant/"
        wait_until(lambda: len([m for m in subscriber.messages if m.topic.startswith(prefix)
                                and f"/{site.door_id}/" in m.topic]) >= len(EXPECTED_ENTITIES), timeout_s=10)
        state_of(subscriber, site.door_id, online="ON", reader="ready")
        late = Subscriber(broker, ("doorward/#", "homeassistant/#"), "late-subscriber", persistent=False)
        try:
            wait_until(lambda: len(late.messages) >= len(EXPECTED_ENTITIES) + 2, timeout_s=10)
        finally:
            late.close()
        retained = {m.topic for m in late.messages if m.retain}
        assert {"doorward/bridge/availability", f"doorward/{site.door_id}/state"} <= retained
        configs = {tuple(m.topic.split("/")[1:4:2]): (m.json(), m.topic in retained) for m in late.messages
                   if m.topic.startswith(prefix) and f"/{site.door_id}/" in m.topic}
        assert set(configs) == EXPECTED_ENTITIES
        for (kind, object_id), (config, was_retained) in configs.items():
            assert was_retained and schema_problems(kind, config) == [], (kind, object_id)
            assert config["device"]["identifiers"] == [f"doorward_{site.door_id}"]
            assert config["device"]["name"] == "Lab door"
            assert config["availability"][0]["topic"] == "doorward/bridge/availability"
        assert configs[("event", "alarm")][0]["event_types"] == list(ALARM_TYPES)
        assert configs[("event", "access")][0]["event_types"] == ["granted", "denied"]
        state = state_of(subscriber, site.door_id, online="ON", reader="ready")
        assert (state["bundle_version"], state["backlog"], state["lockdown"]) == (1, 0, "OFF")

        started = time.monotonic()
        door.post_events([door.event("access_granted", {"reason": "granted", "user": "u_1"}),
                          door.event("unlocked", {"detail": "grant"}),
                          door.event("door_opened", {"detail": "authorised"})])
        access = subscriber.wait_for(lambda m: m.topic == f"doorward/{site.door_id}/access",
                                     timeout_s=WITHIN_S, after_mono=started)
        assert access.json()["event_type"] == "granted" and access.json()["person"] == "u_1"
        assert access.received_mono - started < WITHIN_S and not access.retain
        state = state_of(subscriber, site.door_id, lock="UNLOCKED", contact="ON")
        assert state["last_access"]["decision"] == "granted"

        started = time.monotonic()
        door.post_events([door.event(*door_alarm("forced_open"))])
        alarm = subscriber.wait_for(lambda m: m.topic == f"doorward/{site.door_id}/alarm",
                                    timeout_s=WITHIN_S, after_mono=started)
        assert alarm.json()["event_type"] == "forced" and alarm.received_mono - started < WITHIN_S

        site.admin.patch(f"/api/v1/doors/{site.door_id}", json={"lockdown": True})
        state_of(subscriber, site.door_id, lockdown="ON")
    subscriber.wait_for(lambda m: m.topic == "doorward/bridge/availability" and m.payload == b"offline")
    late = Subscriber(broker, ("doorward/bridge/availability",), "late-subscriber", persistent=False)
    try:
        retained = late.wait_for(lambda m: m.topic == "doorward/bridge/availability")
    finally:
        late.close()
    assert (retained.payload, retained.retain) == (b"offline", True)


def test_an_alarm_raised_while_the_broker_is_down_is_published_once_when_it_returns(
        tmp_path, broker, subscriber) -> None:
    mqtt = MqttConfig(url=broker.url, reconnect_max_s=1)
    with running_server(tmp_path, mqtt=mqtt) as server:
        site = make_site(server)
        door, bridge = site.door, server.app.state.bridge
        door.post_events([door.event(*door_alarm("forced_open"))])
        wait_until(lambda: len(alarms_seen(subscriber, site.door_id)) == 1, timeout_s=10)

        broker.stop()
        wait_until(lambda: not bridge.link.connected, timeout_s=10)
        door.post_events([door.event(*door_alarm("duress")), door.event(*door_alarm("tamper"))])
        ids = [a["id"] for a in site.admin.get("/api/v1/alarms").json()]
        assert len(ids) == 3
        broker.start()
        wait_until(lambda: len(alarms_seen(subscriber, site.door_id)) >= 3, timeout_s=20)
        door.post_events([door.event(*door_alarm("held_open"))])  # a marker after the rest
        wait_until(lambda: len(alarms_seen(subscriber, site.door_id)) >= 4, timeout_s=10)
        cursor = lambda: server.ctx.read().execute(  # noqa: E731
            "SELECT position FROM integration_cursors WHERE name = 'mqtt.alarms'").fetchone()[0]
        wait_until(lambda: cursor() == max(ids) + 1, timeout_s=10)  # moved once the broker acknowledged
    seen = alarms_seen(subscriber, site.door_id)
    assert seen == sorted(ids) + [max(ids) + 1]  # each once, in order
    assert [m.json()["kind"] for m in subscriber.on(f"doorward/{site.door_id}/alarm")] == \
        ["forced", "duress", "tamper", "held"]


def test_alarms_stored_before_the_bridge_was_enabled_are_not_replayed(tmp_path, broker,
                                                                        subscriber) -> None:
    with running_server(tmp_path) as server:
        site = make_site(server)
        site.door.post_events([site.door.event(*door_alarm("forced_open"))])
        keys = server.keys
    mqtt = MqttConfig(url=broker.url, reconnect_max_s=1)
    with running_server(tmp_path, keys=keys, mqtt=mqtt) as server:
        site.door.server = server
        subscriber.wait_for(lambda m: m.topic == f"doorward/{site.door_id}/state")
        site.door.post_events([site.door.event(*door_alarm("duress"))])
        wait_until(lambda: alarms_seen(subscriber, site.door_id), timeout_s=10)
    assert [m.json()["kind"] for m in subscriber.on(f"doorward/{site.door_id}/alarm")] == ["duress"]


def test_names_are_published_only_when_the_config_allows(tmp_path, broker, subscriber) -> None:
    from tests.support.server import enrol

    mqtt = MqttConfig(url=broker.url, reconnect_max_s=1, publish_names=True)
    with running_server(tmp_path, mqtt=mqtt) as server:
        site = make_site(server)
        person = enrol(site.admin, "Ada Lovelace")
        user_id = person["person_id"]
        site.door.post_events([site.door.event("access_denied", {"reason": "no_grant", "user": user_id})])
        access = subscriber.wait_for(lambda m: m.topic == f"doorward/{site.door_id}/access")
    assert access.json()["person"] == "Ada Lovelace"
    assert json.loads(subscriber.on(f"doorward/{site.door_id}/state")[-1].payload)["last_access"][
        "person"] == "Ada Lovelace"


@pytest.mark.parametrize("mqtt, named", [
    ({"url": "http://broker:1883"}, "mqtt.url: 'http://broker:1883' is not mqtt://"),
    ({"url": "mqtt://broker", "password_file": "pw"}, "mqtt.password_file: set mqtt.username"),
    ({"url": "mqtt://broker", "topic_prefix": "door/#"}, "mqtt.topic_prefix"),
    ({"url": "mqtt://broker", "port": 1883}, "mqtt.port: unknown key"),
])
def test_a_wrong_mqtt_setting_is_refused_naming_it(tmp_path, mqtt, named) -> None:
    document = {"server": {"database": "db", "keys_dir": "keys"}, "mqtt": mqtt}
    with pytest.raises(ServerConfigError, match=named.replace("/", "/")):
        config_from_mapping(document, base=tmp_path)


def test_the_bridge_logs_in_with_the_password_from_its_file(tmp_path) -> None:
    broker = Mosquitto(tmp_path / "broker", users={"doorward": "bridge secret 1", "watcher": "w 2"})
    broker.start()
    watcher = Subscriber(broker, ("doorward/#",), "watcher", persistent=False, login=("watcher", "w 2"))
    (tmp_path / "mqtt.password").write_text("bridge secret 1\n")
    try:
        mqtt = MqttConfig(url=broker.url, username="doorward", password_file=str(tmp_path / "mqtt.password"))
        with running_server(tmp_path, mqtt=mqtt):
            watcher.wait_for(lambda m: m.topic == "doorward/bridge/availability" and m.payload == b"online")
    finally:
        watcher.close()
        broker.processes.stop_all()


def test_a_missing_password_file_stops_the_start_naming_it(tmp_path) -> None:
    mqtt = MqttConfig(url="mqtt://127.0.0.1:9", username="doorward", password_file=str(tmp_path / "nope"))
    with pytest.raises(ServerConfigError, match=f"mqtt.password_file: {tmp_path}/nope: No such file"):
        with running_server(tmp_path, mqtt=mqtt):
            pass

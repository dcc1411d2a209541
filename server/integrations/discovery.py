"""What the MQTT bridge publishes, as pure functions: topic names, Home Assistant discovery
messages, and the door's state, access and alarm payloads. No IO, no clock: values in, dicts out.

Home Assistant's MQTT discovery (home-assistant.io/integrations/mqtt/): a retained JSON config
at ``<discovery_prefix>/<component>/<node_id>/<object_id>/config`` per entity, here with the
door's id as node id. Every entity of a door reads the one retained state topic through a
``value_template``, names the door as its ``device``, and is available while the bridge is
(its last will marks it offline). The lock is state only: Home Assistant's MQTT lock needs a
``command_topic``, so one is named, but nothing subscribes to it (remote commands are not
built).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from doorward.daemon.codec.alarms import INCIDENT_NAMES, AlarmKind
from doorward.server.integrations.door_figures import DoorFigures

ONLINE, OFFLINE = "online", "offline"
ACCESS_TYPES = ("granted", "denied")
SERVER_ALARM_KINDS = ("chain_break", "journal_loss", "door_offline", "server_clock", "door_storage")
OTHER_ALARM = "other"  # a door alarm this release has no name for
ALARM_TYPES = tuple(sorted({INCIDENT_NAMES.get(kind.value, kind.value) for kind in AlarmKind}
                           | set(SERVER_ALARM_KINDS))) + (OTHER_ALARM,)


@dataclass(frozen=True)
class Topics:
    prefix: str
    discovery_prefix: str

    @property
    def availability(self) -> str:
        return f"{self.prefix}/bridge/availability"

    def door(self, door_id: str, leaf: str) -> str:
        """``state`` (retained JSON), ``access`` and ``alarm`` (events), ``lock/set`` (unused)."""
        return f"{self.prefix}/{door_id}/{leaf}"

    def server_alarm(self) -> str:
        return f"{self.prefix}/server/alarm"

    def config(self, component: str, door_id: str, object_id: str) -> str:
        return f"{self.discovery_prefix}/{component}/{door_id}/{object_id}/config"


@dataclass(frozen=True)
class DoorLive:
    """What the bridge learnt from the door's records: None until a record says."""
    contact: str | None = None  # "open" or "closed"
    locked: bool | None = None  # from the relay: unlocked and relocked records
    tamper: bool | None = None


def _on_off(value: bool | None) -> str | None:
    return None if value is None else ("ON" if value else "OFF")


def state_payload(door: DoorFigures, live: DoorLive, last_access: dict[str, Any] | None) -> dict[str, Any]:
    """The retained state of one door; ``null`` where nothing is known yet."""
    return {
        "online": _on_off(door.online), "lockdown": _on_off(door.lockdown),
        "lock": None if live.locked is None else ("LOCKED" if live.locked else "UNLOCKED"),
        "contact": None if live.contact is None else _on_off(live.contact == "open"),
        "tamper": _on_off(live.tamper), "reader": door.reader_state,
        "reader_online": None if door.reader_state is None else _on_off(door.reader_online),
        "bundle_version": door.applied_version, "issued_version": door.bundle_version,
        "reconciled_version": door.reconciled_version, "backlog": door.backlog,
        "last_access": last_access,
    }


def access_payload(decision: str, detail: dict[str, Any], at: str, person: str | None) -> dict[str, Any]:
    """An access decision for the event entity: ``person`` is the opaque user id unless the
    config lets the bridge name people."""
    return {"event_type": decision, "reason": detail.get("reason"), "person": person, "at": at}


def alarm_payload(alarm: dict[str, Any]) -> dict[str, Any]:
    kind = alarm["kind"] if alarm["kind"] in ALARM_TYPES else OTHER_ALARM
    return {"event_type": kind, "kind": alarm["kind"], "alarm_id": alarm["id"],
            "door": alarm["device_id"], "raised_at": alarm["raised_at"], "detail": alarm["detail"]}


def _device(door: DoorFigures, version: str) -> dict[str, Any]:
    return {"identifiers": [f"doorward_{door.door_id}"], "name": door.name, "manufacturer": "doorward",
            "model": "fingerprint door controller", "sw_version": version}


def _entity(topics: Topics, door: DoorFigures, version: str, object_id: str, name: str,
            field: str | None, **keys: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "name": name, "unique_id": f"doorward_{door.door_id}_{object_id}",
        "availability": [{"topic": topics.availability, "payload_available": ONLINE,
                          "payload_not_available": OFFLINE}],
        "device": _device(door, version), "origin": {"name": "doorward", "sw_version": version},
        "state_topic": topics.door(door.door_id, "state"),
    }
    if field is not None:
        config["value_template"] = f"{{{{ value_json.{field} }}}}"
    config.update(keys)
    return config


def discovery_messages(topics: Topics, door: DoorFigures, version: str) -> dict[str, dict[str, Any]]:
    """Every discovery config of one door, by its config topic."""
    entity = lambda *args, **keys: _entity(topics, door, version, *args, **keys)  # noqa: E731
    entities = {
        ("lock", "lock"): entity("lock", "Lock", "lock", command_topic=topics.door(door.door_id, "lock/set"),
                                 state_locked="LOCKED", state_unlocked="UNLOCKED", optimistic=False),
        ("binary_sensor", "contact"): entity("contact", "Door", "contact", device_class="door"),
        ("binary_sensor", "online"): entity("online", "Online", "online", device_class="connectivity",
                                            entity_category="diagnostic"),
        ("binary_sensor", "tamper"): entity("tamper", "Tamper", "tamper", device_class="tamper"),
        ("binary_sensor", "lockdown"): entity("lockdown", "Lockdown", "lockdown", icon="mdi:lock-alert"),
        ("binary_sensor", "reader"): entity("reader", "Reader", "reader_online", device_class="connectivity",
                                            entity_category="diagnostic"),
        ("sensor", "reader_state"): entity("reader_state", "Reader state", "reader",
                                           entity_category="diagnostic"),
        ("sensor", "bundle_version"): entity("bundle_version", "Bundle version", "bundle_version",
                                             entity_category="diagnostic"),
        ("sensor", "backlog"): entity("backlog", "Backlog", "backlog", state_class="measurement",
                                      unit_of_measurement="events", entity_category="diagnostic"),
        ("event", "access"): entity("access", "Access", None, event_types=list(ACCESS_TYPES),
                                    state_topic=topics.door(door.door_id, "access")),
        ("event", "alarm"): entity("alarm", "Alarm", None, event_types=list(ALARM_TYPES),
                                   state_topic=topics.door(door.door_id, "alarm")),
    }
    return {topics.config(component, door.door_id, object_id): config
            for (component, object_id), config in entities.items()}

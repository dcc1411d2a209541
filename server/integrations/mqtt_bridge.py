"""The MQTT bridge: each door's state, access decisions and alarms on the broker, and Home
Assistant discovery messages so the doors appear there as devices.

Owns ``MqttBridge.run``, an async loop like the other duties, woken whenever a write commits
(and every 0.5 s). The door's contact, relay and tamper come from its records as they are
uploaded (``door_records``, called by the events route after the commit), seeded at start from
the newest stored ones; everything else from the store (``door_figures``). Retained: discovery
and state, republished on each new connection. Not retained: access decisions and alarms.

Alarms are never lost while the broker is away: the cursor ``mqtt.alarms`` in the database
(``integration_cursors``) is the highest alarm id the broker acknowledged (QoS 1); every later
alarm is handed to the link once, in id order, and the cursor moves over each contiguous run
of acknowledged ones. When the bridge is first enabled it starts after the newest stored alarm.
Remote commands are not built: nothing is subscribed.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import threading
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from doorward.daemon.codec import bundle
from doorward.server.context import ServerContext, wait_either
from doorward.server.integrations.discovery import (DoorLive, Topics, access_payload, alarm_payload,
                                                     discovery_messages, state_payload)
from doorward.server.integrations.door_figures import DoorFigures, door_figures
from doorward.server.integrations.mqtt_link import MqttLink

log = logging.getLogger(__name__)
CYCLE_S = 0.5
CURSOR = "mqtt.alarms"
MAX_RECORDS = 10_000  # records waiting for the next cycle; older ones are dropped (state is kept)
CONTACT = {"door_opened": "open", "forced_open": "open", "door_closed": "closed"}
RELAY = {"unlocked": False, "relocked": True}
DECISIONS = {"access_granted": "granted", "access_denied": "denied"}
LIVE_KINDS = (*CONTACT, *RELAY, "tamper")


def _version() -> str:
    try:
        return version("doorward")
    except PackageNotFoundError:
        return "unknown"


class MqttBridge:
    def __init__(self, ctx: ServerContext, link: MqttLink | None = None) -> None:
        self.ctx, self.config = ctx, ctx.config.mqtt
        self.topics = Topics(self.config.topic_prefix, self.config.discovery_prefix)
        self.link = link or MqttLink(self.config, self.topics.availability)
        self.version = _version()
        self._records: collections.deque = collections.deque(maxlen=MAX_RECORDS)
        self._records_lock = threading.Lock()
        self.live: dict[str, DoorLive] = {}
        self.last_access: dict[str, dict[str, Any]] = {}
        self._published_state: dict[str, str] = {}
        self._discovered: dict[str, str] = {}  # door id -> its name when announced
        self._pending: dict[int, Any] = {}  # alarm id -> paho's message info
        self._seeded = False

    def door_records(self, door_id: str, records: list[bundle.Event]) -> None:
        """Told by the events route, from any thread, after the records were stored."""
        with self._records_lock:
            self._records.extend((door_id, record) for record in records)
        self.ctx.signals.records()

    async def run(self, stopping: asyncio.Event) -> None:
        await asyncio.to_thread(self.link.start)
        try:
            while not stopping.is_set():
                self.ctx.signals.publish.clear()
                try:
                    await asyncio.to_thread(self.cycle)
                except Exception:  # the broker or a record: logged, never the end of the loop
                    log.exception("MQTT bridge cycle failed")
                await wait_either(self.ctx.signals.publish, stopping, CYCLE_S)
        finally:
            await asyncio.to_thread(self.link.stop)

    def cycle(self) -> None:
        if not self._seeded:
            self._seed()
        with self._records_lock:
            records, self._records = list(self._records), collections.deque(maxlen=MAX_RECORDS)
        decisions = [self._apply(door_id, record) for door_id, record in records]
        if not self.link.connected:
            return
        if self.link.take_new_session():
            self._published_state.clear()
            self._discovered.clear()
        config = self.ctx.config
        doors = door_figures(self.ctx.read(), self.ctx.clock.now(),
                             config.heartbeat_interval_s * config.missed_heartbeats)
        self._announce(doors)
        for door_id, decision in filter(None, decisions):
            self.link.publish(self.topics.door(door_id, "access"), json.dumps(decision), qos=1)
        self._publish_states(doors)
        self._publish_alarms()

    # --- what the doors' records say
    def _seed(self) -> None:
        conn = self.ctx.read()
        cursor = conn.execute("SELECT position FROM integration_cursors WHERE name = ?", (CURSOR,)).fetchone()
        if cursor is None:
            newest = conn.execute("SELECT IFNULL(MAX(id), 0) FROM alarms").fetchone()[0]
            with self.ctx.db.transaction() as write:
                write.execute("INSERT OR IGNORE INTO integration_cursors VALUES (?, ?, ?)",
                              (CURSOR, newest, self.ctx.clock.now()))
        doors = conn.execute("SELECT id FROM devices WHERE kind = 'door'").fetchall()
        for (door_id,) in doors:
            for kinds in (tuple(CONTACT), tuple(RELAY), ("tamper",), tuple(DECISIONS)):
                row = conn.execute(
                    f"SELECT kind, detail, at FROM events WHERE device_id = ? AND kind IN"
                    f" ({', '.join('?' * len(kinds))}) ORDER BY received_at DESC, seq DESC LIMIT 1",
                    (door_id, *kinds)).fetchone()
                if row is not None:
                    self._note(door_id, row["kind"], json.loads(row["detail"]), row["at"])
        self._seeded = True

    def _apply(self, door_id: str, record: bundle.Event) -> tuple[str, dict] | None:
        """Note a record; the access decision to publish, if it is one."""
        return self._note(door_id, record.kind, record.detail, record.at)

    def _note(self, door_id: str, kind: str, detail: dict[str, Any], at: str) -> tuple[str, dict] | None:
        live = self.live.get(door_id, DoorLive())
        if kind in CONTACT:
            live = DoorLive(CONTACT[kind], live.locked, live.tamper)
        elif kind in RELAY:
            live = DoorLive(live.contact, RELAY[kind], live.tamper)
        elif kind == "tamper" and detail.get("detail") in ("on", "off"):
            live = DoorLive(live.contact, live.locked, detail["detail"] == "on")
        self.live[door_id] = live
        if kind not in DECISIONS:
            return None
        decision = access_payload(DECISIONS[kind], detail, at, self._person(detail.get("user")))
        self.last_access[door_id] = {key: value for key, value in decision.items() if key != "event_type"} \
            | {"decision": decision["event_type"]}
        return door_id, decision

    def _person(self, user_id: Any) -> str | None:
        if not isinstance(user_id, str):
            return None
        if not self.config.publish_names:
            return user_id
        row = self.ctx.read().execute("SELECT name FROM users WHERE id = ?", (user_id,)).fetchone()
        return row[0] if row else user_id

    # --- publishing
    def _announce(self, doors: list[DoorFigures]) -> None:
        current = {door.door_id: door for door in doors}
        for door_id in [d for d in self._discovered if d not in current]:  # unpaired or deleted
            for topic in discovery_messages(self.topics, _gone(door_id), self.version):
                self.link.publish(topic, "", retain=True, qos=1)
            self.link.publish(self.topics.door(door_id, "state"), "", retain=True, qos=1)
            del self._discovered[door_id]
        for door in doors:
            if self._discovered.get(door.door_id) != door.name:
                for topic, config in discovery_messages(self.topics, door, self.version).items():
                    self.link.publish(topic, json.dumps(config, sort_keys=True), retain=True, qos=1)
                self._discovered[door.door_id] = door.name

    def _publish_states(self, doors: list[DoorFigures]) -> None:
        for door in doors:
            state = json.dumps(state_payload(door, self.live.get(door.door_id, DoorLive()),
                                             self.last_access.get(door.door_id)), sort_keys=True)
            if self._published_state.get(door.door_id) != state:
                self.link.publish(self.topics.door(door.door_id, "state"), state, retain=True, qos=1)
                self._published_state[door.door_id] = state

    def _publish_alarms(self) -> None:
        conn = self.ctx.read()
        position = conn.execute("SELECT position FROM integration_cursors WHERE name = ?",
                                (CURSOR,)).fetchone()[0]
        rows = conn.execute("SELECT * FROM alarms WHERE id > ? ORDER BY id LIMIT 100", (position,))
        for row in rows.fetchall():
            if row["id"] not in self._pending:
                alarm = {**dict(row), "detail": json.loads(row["detail"])}
                topic = (self.topics.door(row["device_id"], "alarm") if row["device_id"]
                         else self.topics.server_alarm())
                self._pending[row["id"]] = self.link.publish(topic, json.dumps(alarm_payload(alarm)), qos=1)
        acknowledged = position
        for ident in sorted(self._pending):
            if not self.link.acknowledged(self._pending[ident]):
                break
            acknowledged = ident
            del self._pending[ident]
        if acknowledged > position:
            with self.ctx.db.transaction() as write:
                write.execute("UPDATE integration_cursors SET position = ?, updated_at = ? WHERE name = ?",
                              (acknowledged, self.ctx.clock.now(), CURSOR))


def _gone(door_id: str) -> DoorFigures:
    """A door that is no more: only its id matters, to name the topics to clear."""
    return DoorFigures(door_id, "", False, None, False, None, None, None, None, None)

"""The one connection to the MQTT broker, on paho-mqtt 2.x (the only importer of paho).

Owns ``MqttLink``: connects in the background and reconnects with back-off (1 s doubling up to
``reconnect_max_s``, paho's own), with a retained last will marking the bridge ``offline`` on
its availability topic, TLS for ``mqtts://``, and the password read from a file. It reports
connections (``take_new_session``) and the broker's acknowledgements of QoS 1 messages
(``acknowledged``) so the bridge marks an alarm sent only once the broker has it. paho keeps
an unacknowledged QoS 1 message and sends it again after a reconnection by itself: the bridge
hands each alarm to it once.
"""

from __future__ import annotations

import logging
import ssl
import threading
from pathlib import Path
from urllib.parse import urlsplit

import paho.mqtt.client as paho

from doorward.server.config import MqttConfig, ServerConfigError
from doorward.server.integrations.discovery import OFFLINE, ONLINE

log = logging.getLogger(__name__)
DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}


def broker_address(url: str) -> tuple[str, int, bool]:
    """(host, port, tls) of an ``mqtt://`` or ``mqtts://`` URL (checked by the config)."""
    parts = urlsplit(url)
    return parts.hostname or "", parts.port or DEFAULT_PORTS[parts.scheme], parts.scheme == "mqtts"


def read_password(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError as error:
        raise ServerConfigError(f"mqtt.password_file: {path}: {error.strerror}") from None


class MqttLink:
    def __init__(self, config: MqttConfig, availability_topic: str) -> None:
        self.config, self.availability_topic = config, availability_topic
        self.host, self.port, tls = broker_address(config.url)
        self._lock = threading.Lock()
        self._new_session = False
        self._stopping = False
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=config.client_id,
                                  protocol=paho.MQTTv311, clean_session=True)
        if config.username:
            password = read_password(config.password_file) if config.password_file else None
            self.client.username_pw_set(config.username, password)
        if tls:
            self.client.tls_set_context(ssl.create_default_context(cafile=config.tls_ca_file or None))
        self.client.will_set(availability_topic, OFFLINE, qos=1, retain=True)
        self.client.reconnect_delay_set(1, max(1, int(config.reconnect_max_s)))
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect

    def start(self) -> None:
        self.client.connect_async(self.host, self.port, keepalive=self.config.keepalive_s)
        self.client.loop_start()

    def stop(self) -> None:
        """Say ``offline`` (retained) while still connected, then leave."""
        self._stopping = True
        if self.connected:
            self.client.publish(self.availability_topic, OFFLINE, qos=1, retain=True).wait_for_publish(2)
        self.client.disconnect()
        self.client.loop_stop()

    @property
    def connected(self) -> bool:
        return self.client.is_connected()

    def take_new_session(self) -> bool:
        """True once after each connection: the bridge publishes everything again."""
        with self._lock:
            new, self._new_session = self._new_session, False
            return new

    def publish(self, topic: str, payload: str, retain: bool = False, qos: int = 0) -> paho.MQTTMessageInfo:
        return self.client.publish(topic, payload, qos=qos, retain=retain)

    @staticmethod
    def acknowledged(info: paho.MQTTMessageInfo) -> bool:
        """The broker has it (QoS 1: its PUBACK came). A message handed over while the link
        dropped stays with paho, which sends it on reconnection, but paho then no longer
        reports it: it is never handed over again by this process."""
        if info.rc not in (paho.MQTT_ERR_SUCCESS, paho.MQTT_ERR_AGAIN):
            return False
        return info.is_published()

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.warning("MQTT broker %s:%s refused the bridge: %s", self.host, self.port, reason_code)
            return
        log.info("MQTT bridge connected to %s:%s", self.host, self.port)
        client.publish(self.availability_topic, ONLINE, qos=1, retain=True)
        with self._lock:
            self._new_session = True

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        if self._stopping:
            return
        log.warning("MQTT bridge lost the broker %s:%s (%s); reconnecting", self.host, self.port, reason_code)

"""A real Mosquitto broker (Debian's ``/usr/sbin/mosquitto``) for the MQTT bridge tests, and a
subscriber that records what it sees.

``Mosquitto`` listens on 127.0.0.1 only, on a free port kept across ``stop()`` and ``start()``
(the bridge reconnects to the same address), anonymous, with persistence in the test's own
directory so a persistent subscriber's queued messages survive a restart. ``Subscriber`` is a
paho client with a fixed id and a persistent session (QoS 1), so what is published while it
reconnects after a restart is queued for it, not lost. A subscriber that comes late
(``persistent=False``) sees what is retained, with the retain flag set.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import paho.mqtt.client as paho

from doorward.sim.rig.processes import ProcessGroup, free_port
from tests.support.server import wait_until

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
MOSQUITTO_PASSWD = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"


class Mosquitto:
    """``users``: name -> password, written with ``mosquitto_passwd``; then no anonymous login."""

    def __init__(self, directory: Path, users: dict[str, str] | None = None) -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.processes = ProcessGroup(directory)
        self.config = directory / "mosquitto.conf"
        access = "allow_anonymous true\n"
        if users:
            passwords = directory / "passwords"
            for n, (user, password) in enumerate(users.items()):
                create = ["-c"] if n == 0 else []
                subprocess.run([MOSQUITTO_PASSWD, *create, "-b", str(passwords), user, password],
                               check=True, capture_output=True)
            access = f"allow_anonymous false\npassword_file {passwords}\n"
        self.config.write_text(
            f"listener {self.port} 127.0.0.1\n{access}"
            f"persistence true\npersistence_location {directory}/\n"
            "autosave_interval 1\nuser root\nlog_dest stderr\n")

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        if not Path(MOSQUITTO).exists():
            raise AssertionError(f"{MOSQUITTO} is missing: apt-get install mosquitto (.ci/run does)")
        self.processes.start("mosquitto", [MOSQUITTO, "-c", str(self.config)])
        wait_until(self._listening, timeout_s=10)

    def stop(self) -> None:
        self.processes.stop("mosquitto")  # waits for the process to end

    def _listening(self) -> bool:
        if not self.processes.alive("mosquitto"):
            raise AssertionError(f"mosquitto exited:\n{self.processes.tail('mosquitto')}")
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
            return True
        except OSError:
            return False


@dataclass(frozen=True)
class Message:
    topic: str
    payload: bytes
    retain: bool
    received_mono: float

    def json(self) -> Any:
        return json.loads(self.payload)


class Subscriber:
    def __init__(self, broker: Mosquitto, topics: tuple[str, ...] = ("#",),
                 client_id: str = "doorward-test-subscriber", persistent: bool = True,
                 login: tuple[str, str] | None = None) -> None:
        self.messages: list[Message] = []
        self._changed = threading.Condition()
        self.topics = topics
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id,
                                  clean_session=not persistent)
        if login:
            self.client.username_pw_set(*login)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(1, 1)
        self.client.connect("127.0.0.1", broker.port)
        self.client.loop_start()
        wait_until(self.client.is_connected, timeout_s=10)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        client.subscribe([(topic, 1) for topic in self.topics])

    def _on_message(self, client, userdata, message) -> None:
        with self._changed:
            self.messages.append(Message(message.topic, message.payload, bool(message.retain),
                                         time.monotonic()))
            self._changed.notify_all()

    def on(self, topic: str) -> list[Message]:
        with self._changed:
            return [m for m in self.messages if m.topic == topic]

    def wait_for(self, matches: Callable[[Message], bool], timeout_s: float = 10.0,
                 after_mono: float = 0.0) -> Message:
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while True:
                found = [m for m in self.messages if m.received_mono >= after_mono and matches(m)]
                if found:
                    return found[0]
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = sorted({m.topic for m in self.messages})
                    raise AssertionError(f"no matching message within {timeout_s} s; topics seen: {seen}")
                self._changed.wait(remaining)

"""The reference server of the demo: its own process on 127.0.0.1, set up through its CLI.

Owns ``DemoServer``: writes ``server.toml`` (lab clock, fast monitor, the webhook, an MQTT
broker when given), runs
``doorward server init`` (keys, database, the key fingerprint), starts and stops
``doorward server run`` on a fixed loopback port (so doors find it again after a restart),
runs the other ``doorward server ...`` commands, backs up and restores, and signs accounts in
over the HTTP API. Everything an admin would type; nothing reaches into the server's code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import httpx

from doorward.sim.rig.processes import DemoError, ProcessGroup, checked, doorward_argv, free_port, \
    run_doorward, wait_until  # fmt: skip

SERVER_TOML = """\
# The demo's server: see docs/server.md. Lab settings: never in production.
[server]
database = "{data}/server.db"
keys_dir = "{keys}"
host = "127.0.0.1"
port = {port}

[clock]
assume_synchronised = true     # labs and CI only: the sandbox's kernel may not say

[bundles]
rebuild_interval_s = 0.2       # CLI changes reach the doors within a fraction of a second
max_wait_s = 30

[doors]
heartbeat_interval_s = {heartbeat_interval_s}
missed_heartbeats = 3
monitor_interval_s = 0.25

[alarms]
webhook_url = "{webhook_url}"
webhook_secret_file = "{keys}/webhook.secret"
retry_max_s = 5
"""
FINGERPRINT = re.compile(r"fingerprint[^\n]*\n\s*([0-9a-f:]+)")
START_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class Account:
    name: str
    role: str
    password: str


class DemoServer:
    """``doorward server`` in ``directory``; ``url`` is http://127.0.0.1:PORT."""

    def __init__(self, directory: Path, processes: ProcessGroup,
                 heartbeat_interval_s: float = 5.0, mqtt_url: str = "") -> None:  # fmt: skip
        self.directory, self.processes = directory, processes
        self.mqtt_url = mqtt_url  # a broker for the MQTT bridge, or none
        self.config_path = directory / "server.toml"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.heartbeat_interval_s = heartbeat_interval_s
        self.fingerprint = ""

    @property
    def webhook_secret_file(self) -> Path:
        return self.directory / "server-keys" / "webhook.secret"

    def init(self, webhook_url: str) -> str:
        """Write the config, create keys and database; returns the key fingerprint."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(SERVER_TOML.format(
            data=self.directory / "data", keys=self.directory / "server-keys", port=self.port,
            heartbeat_interval_s=self.heartbeat_interval_s, webhook_url=webhook_url)
            + (f'\n[mqtt]\nurl = "{self.mqtt_url}"\nreconnect_max_s = 1\n' if self.mqtt_url else ""))
        (self.directory / "data").mkdir(mode=0o700, exist_ok=True)
        match = FINGERPRINT.search(self.cli("init"))
        if match is None:
            raise DemoError("`doorward server init` printed no fingerprint")
        self.fingerprint = match.group(1)
        return self.fingerprint

    def start(self) -> None:
        argv = doorward_argv("server", "run", "--config", str(self.config_path),
                             "--host", "127.0.0.1", "--port", str(self.port))
        self.processes.start("server", argv)
        wait_until(self._healthy, START_TIMEOUT_S, "the server answering /health")

    def stop(self) -> None:
        self.processes.stop("server")

    def running(self) -> bool:
        return self.processes.alive("server")

    def _healthy(self) -> bool:
        self.processes.check_alive("server")
        try:
            return httpx.get(f"{self.url}/api/v1/health", timeout=1, trust_env=False).is_success
        except httpx.HTTPError:
            return False

    def cli(self, *args: str, stdin: str | None = None) -> str:
        """``doorward server ARGS --config server.toml``; its stdout, or DemoError."""
        return checked(run_doorward("server", *args, "--config", str(self.config_path),
                                    stdin=stdin))  # fmt: skip

    def cli_id(self, *args: str) -> str:
        """A ``... add`` command's printed id."""
        return self.cli(*args).strip().splitlines()[-1]

    def add_account(self, account: Account) -> None:
        self.cli("add-admin", account.name, "--role", account.role, "--password-stdin",
                 stdin=account.password + "\n")

    def session(self, account: Account) -> httpx.Client:
        """An API client signed in as ``account`` (the caller closes it)."""
        with httpx.Client(base_url=self.url, timeout=30, trust_env=False) as anonymous:
            answer = anonymous.post("/api/v1/sessions",
                                    json={"name": account.name, "password": account.password})
        if answer.status_code != 201:
            raise DemoError(f"sign-in of {account.name} refused: {answer.text}")
        token = answer.json()["token"]
        return httpx.Client(base_url=self.url, timeout=40, trust_env=False,
                            headers={"Authorization": f"Bearer {token}"})  # fmt: skip

    def backup(self, destination: Path) -> str:
        return self.cli("backup", str(destination))

    def restore(self, source: Path) -> str:
        return self.cli("restore", str(source))

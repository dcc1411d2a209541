"""A whole simulated door for the daemon tests: hub, module on a pty, server, ``doorward run``.

- ``door_factory`` (pytest fixture): ``door = door_factory(mode="strict")`` starts a hub
  (the relay held safe from boot with ``gpio=17=op,dl``, the module's supply on with
  ``gpio=16=op,dh``, every input at its quiet level), a simulated R503 in its own process
  on a pty wired to the hub (touch line 5, power 16), and writes a config; everything is
  stopped at teardown.
- ``SimulatedDoor``: ``pair(server)`` pairs the door with a running server (the daemon's
  own ``doorward.daemon.sync.pairing.pair``, with the simulated module's identity), writes the credential
  and binds the module as ``doorward pair`` does with the port free (``bind=False``: not); ``enrol(name)`` enrols a virtual finger through the server's API with a
  template made on a scratch module of the same profile, so it matches live captures;
  ``start()`` runs ``doorward run`` as a subprocess; ``status()`` reads its status file.
- Module control: ``place``, ``lift``, ``module(request)``.

Timed assertions use the hub's own timeline timestamps and the status file's
``updated_mono`` (CLOCK_MONOTONIC is system-wide), never test sleeps.
"""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from doorward.sim.rig import config as rig_config
from doorward.sim.rig.config import write_toml
from doorward.sim.rig.processes import wait_until  # noqa: F401 (re-exported for the tests)
from doorward.daemon.storage.credentials import write_credentials
from doorward.daemon.commands.pair import bind_and_record
from doorward.daemon.sync.pairing import PairingRequest, pair
from doorward.daemon.storage.status_file import read_status, StatusUnavailable
from doorward.drivers.gpio.hubwire import HubConnection
from doorward.drivers.r30x.sensor import R30xSensor
from doorward.sim.module.link import MemoryLink
from doorward.sim.module.r30x import SimulatedR30x
from tests.support.hub import REPO, ProcessJar, RunningHub, start_hub
from tests.unit.test_reader_rig import enrolled_template, sim_finger

RELAY, TOUCH, POWER, LED, BUZZER = 17, 5, 16, 12, 13
CONTACT, EXIT, FIRE = 27, 22, 23
QUIET_INPUTS = {CONTACT: 0, EXIT: 1, FIRE: 0}  # door shut, button up, no fire alarm
FIRMWARE = ("gpio=17=op,dl", "gpio=16=op,dh")
UNLOCK_S = 1.5



def module_identity(model: str = "r503") -> str:
    """What the driver reads from a simulated module of ``model`` (seed and flash aside)."""
    module = SimulatedR30x(model, seed=11)
    with MemoryLink(module) as link:
        sensor = R30xSensor(link.host, timeout_s=0.5)
        sensor.open()
        return sensor.module_identity()


def start_module(jar: ProcessJar, directory: Path, hub: RunningHub, realtime: bool = False
                 ) -> tuple[Path, str]:
    link, control = directory / "tty", str(directory / "module.sock")
    process = subprocess.Popen(
        [sys.executable, "-m", "doorward.sim.module.r30x", "--model", "r503", "--link", str(link),
         "--control", control, "--hub", hub.socket_path, "--touch-pin", str(TOUCH),
         "--power-pin", str(POWER), "--seed", "5", *(["--realtime"] if realtime else [])],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    jar.helpers.append(process)
    wait_until(lambda: link.exists() and Path(control).exists(), 10, "the module simulator")
    return link, control


@dataclass
class SimulatedDoor:
    jar: ProcessJar
    directory: Path
    hub: RunningHub
    link: Path
    control_path: str
    config_path: Path
    state_dir: Path
    credential: Path
    process: subprocess.Popen | None = None
    door_id: str | None = None
    zone_id: str | None = None
    admin: Any = None
    logs: list[Path] = field(default_factory=list)

    # ---- module ----

    def module(self, request: dict) -> dict:
        connection = HubConnection(self.control_path, "control", "tests", timeout_s=5.0)
        try:
            return connection.request(request)
        finally:
            connection.close()

    def place(self, finger_id: str) -> None:
        self.module({"place": sim_finger(finger_id)})

    def lift(self) -> None:
        self.module({"lift": True})

    # ---- server ----

    def pairing_code(self, server: Any, unlock_s: float = UNLOCK_S) -> str:
        """The door created on the server (site, zone, door) and a one-time pairing code."""
        self.admin = admin = server.add_admin("root")
        site = admin.post("/api/v1/sites", json={"name": "HQ", "time_zone": "UTC"}).json()["id"]
        self.zone_id = admin.post("/api/v1/zones", json={"site_id": site, "name": "Lab"}).json()["id"]
        self.door_id = admin.post("/api/v1/doors", json={
            "name": "Lab door", "site_id": site, "zone_id": self.zone_id,
            "module_identity": module_identity(), "capacity": 200,
            "policy": {"unlock_s": unlock_s}}).json()["id"]
        return admin.post(f"/api/v1/doors/{self.door_id}/pairing-codes").json()["code"]

    def pair(self, server: Any, unlock_s: float = UNLOCK_S, bind: bool = True) -> None:
        code = self.pairing_code(server, unlock_s)
        credentials = pair(PairingRequest(server.url, code, server.keys.fingerprint,
                                          module_identity(), deadline_s=5.0))  # fmt: skip
        write_credentials(credentials, self.credential)
        if bind:  # as `doorward pair` does with the port free: bind, record the identity
            sensor = R30xSensor.from_url(str(self.link), timeout_s=1.0)
            try:
                bind_and_record(sensor, credentials, self.state_dir)
            finally:
                sensor.close()

    def enrol(self, finger_id: str, grant: bool = True) -> None:
        template = enrolled_template("r503", finger_id)
        body = {"person": {"name": finger_id}, "consent": {"reference": f"form-{finger_id}"},
                "fingers": [{"name": "right index", "module_identity": module_identity(),
                             "template": base64.b64encode(template).decode()}]}
        answer = self.admin.post("/api/v1/enrolments", json=body)
        assert answer.status_code == 201, answer.text
        if grant:
            person = answer.json()["person_id"]
            granted = self.admin.post("/api/v1/grants",
                                      json={"person_id": person, "zone_id": self.zone_id})
            assert granted.status_code == 201, granted.text

    # ---- the daemon ----

    def start(self, env: dict[str, str] | None = None) -> subprocess.Popen:
        log = self.directory / f"daemon-{len(self.logs)}.log"
        self.logs.append(log)
        with open(log, "wb") as output:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "doorward.daemon.cli", "run", "--config", str(self.config_path)],
                cwd=REPO, stdout=output, stderr=subprocess.STDOUT,
                env={**os.environ, **(env or {})})
        self.jar.helpers.append(self.process)
        return self.process

    def status(self) -> dict | None:
        try:
            return read_status(self.state_dir / "status.json")
        except StatusUnavailable:
            return None

    def wait_status(self, predicate: Callable[[dict], Any], timeout_s: float = 10.0,
                    what: str = "status") -> dict:
        def check() -> dict | None:
            self.check_alive()
            status = self.status()
            return status if status and status.get("state") == "running" and predicate(status) \
                else None
        return wait_until(check, timeout_s, f"{what} (log: {self.log_text()[-3000:]})")

    def wait_ready(self, timeout_s: float = 20.0) -> dict:
        """Running, the bundle applied and the module reconciled to it: scans are answered."""
        return self.wait_status(
            lambda s: s["reader"].get("biometric_ready") and not s["reader"].get("reconciling")
            and s["versions"]["applied"] is not None
            and s["versions"]["reconciled"] == s["versions"]["applied"], timeout_s, "ready")

    def check_alive(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            raise AssertionError(f"doorward run exited {self.process.returncode}:\n"
                                 f"{self.log_text()[-3000:]}")

    def signal(self, signum: int) -> None:
        assert self.process is not None
        self.process.send_signal(signum)

    def log_text(self) -> str:
        return "\n".join(path.read_text(errors="replace") for path in self.logs if path.exists())

    def doorward(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "doorward.daemon.cli", *args,
                               "--config", str(self.config_path)],
                              cwd=REPO, capture_output=True, text=True, timeout=30)

    def relay_levels(self) -> list[int]:
        return self.hub.control.levels(RELAY)


def make_door(jar: ProcessJar, mode: str = "strict", power_cycle_after_s: float = 30.0,
              realtime: bool = False) -> SimulatedDoor:
    directory = Path(tempfile.mkdtemp(prefix="dw-door-"))  # short: AF_UNIX paths <= 107 bytes
    jar.dirs.append(directory)
    hub = start_hub(directory, mode, FIRMWARE)
    jar.hubs.append(hub)
    for pin, level in QUIET_INPUTS.items():
        hub.control.drive(pin, level)
    link, control = start_module(jar, directory, hub, realtime)
    state, credential = directory / "state", directory / "credential.json"
    config = directory / "doorward.toml"
    write_toml(config, rig_config.door(
        hub.socket_path, link, credential, state, hub_timeout_s=1.0, module_timeout_s=1.0,
        long_poll_s=5.0, power_cycle_after_s=power_cycle_after_s,
        outputs=("status_led", "buzzer", "module_power")))
    return SimulatedDoor(jar, directory, hub, link, control, config, state, credential)


def stop_daemon(door: SimulatedDoor, timeout_s: float = 5.0) -> None:
    if door.process is not None and door.process.poll() is None:
        door.process.send_signal(signal.SIGTERM)
        try:
            door.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            door.process.kill()
            door.process.wait()


@pytest.fixture
def door_factory() -> Iterator[Callable[..., SimulatedDoor]]:
    jar, doors = ProcessJar(), []

    def factory(**kwargs: Any) -> SimulatedDoor:
        doors.append(make_door(jar, **kwargs))
        return doors[-1]

    yield factory
    for door in doors:
        stop_daemon(door)
    jar.close()



"""One simulated door: a Pi's hub, an R503 on a pty, and ``doorward run``; the one door of
the demo, the tests and the benchmarks.

Owns ``SimulatedDoor``. Its hardware is two processes: the simulated Pi's GPIO hub (strict line
release, the relay held de-energised from boot by ``gpio=17=op,dl``, the module's supply on
by ``gpio=16=op,dh``) and the module simulator on a pty, its touch line wired to the hub.
The door itself is ``doorward run --config doorward.toml``, a file of the schema a Pi uses.
It pairs with ``doorward pair``; it is watched only through what an installer has: the
status file (``doorward status``), ``doorward sync``, the hub's relay timeline, and the
module's control socket (a finger on the glass).
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any, Callable

from doorward.daemon.storage.status_file import StatusUnavailable, read_status
from doorward.drivers.gpio.hubwire import HubConnection
from doorward.sim.rig import config
from doorward.sim.rig.config import write_toml
import base64
import tempfile

from doorward.daemon.commands.pair import bind_and_record
from doorward.daemon.storage.credentials import write_credentials
from doorward.daemon.sync.pairing import PairingRequest, pair
from doorward.drivers.r30x.sensor import R30xSensor
from doorward.sim.module.link import MemoryLink
from doorward.sim.module.r30x import SimulatedR30x
from doorward.sim.module.templates import enrolled_template, sim_finger
from doorward.sim.rig.hub import RunningHub, start_hub
from doorward.sim.rig.processes import DemoError, ProcessGroup, doorward_argv, run_doorward, wait_until

RELAY, CONTACT, EXIT, FIRE, TOUCH, POWER = 17, 27, 22, 23, 5, 16
QUIET_INPUTS = {CONTACT: 0, EXIT: 1, FIRE: 0}  # door shut, button up, no fire alarm
FIRMWARE_LINES = ("gpio=17=op,dl", "gpio=16=op,dh")
LIFT_SETTLE_S = 0.4
UNLOCK_S = 1.5  # a lab door's unlock time: short, so tests and benchmarks move on  # the reader polls the touch line while it waits for the lift



class SimulatedDoor:
    """A door named ``name`` whose files live in ``directory`` (kept short: AF_UNIX paths).

    ``key`` names its children in ``processes`` (``KEY-module``, ``KEY-door``; the hub is
    ``hub-DIRECTORY``); ``config_options`` go to ``doorward.sim.rig.config.door``."""

    def __init__(self, name: str, directory: Path, processes: ProcessGroup, seed: int = 5, *,
                 key: str | None = None, mode: str = "strict", realtime: bool = False,
                 config_options: dict[str, Any] | None = None) -> None:  # fmt: skip
        self.name, self.directory, self.processes, self.seed = name, directory, processes, seed
        self.key = key or name.lower().split()[0]
        self.mode, self.realtime, self.config_options = mode, realtime, config_options or {}
        self.hub_socket = str(directory / "hub.sock")
        self.link, self.control_socket = directory / "tty", str(directory / "module.sock")
        self.config_path = directory / "doorward.toml"
        self.state_dir, self.credential = directory / "state", directory / "credential.json"
        self.door_id = ""
        self.hub: RunningHub | None = None
        self.process: subprocess.Popen | None = None  # the last `doorward run` started
        self.zone_id: str | None = None  # set by pair_in_process
        self.admin: Any = None  # an admin client of the server, set by pair_in_process

    # ---- the hardware: hub and module ----

    def start_hardware(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.hub = start_hub(self.processes, self.directory, self.mode, FIRMWARE_LINES)
        for pin, level in QUIET_INPUTS.items():
            self.hub.control.drive(pin, level)
        start_module(self.processes, self.directory, self.hub_socket, self.seed, self.realtime,
                     name=f"{self.key}-module")
        self.write_config()

    def reboot_pi(self) -> None:
        """A power cycle of the Pi: firmware lines again; the shut door still reads shut."""
        self.hub.control.reboot()
        for pin, level in QUIET_INPUTS.items():
            self.hub.control.drive(pin, level)

    def write_config(self) -> None:
        write_toml(self.config_path, config.door(self.hub_socket, self.link, self.credential,
                                                 self.state_dir, **self.config_options),
                   f"{self.name}: the same schema as /etc/doorward/doorward.toml on a Pi "
                   "(docs/configuration.md)")

    def module(self, request: dict) -> dict:
        return _one_request(self.control_socket, request)

    def place(self, finger_id: str) -> None:
        """The finger behind ``finger_id`` (``f-alice``) on the glass, until ``lift``."""
        self.module({"place": sim_finger(finger_id)})

    def lift(self) -> None:
        self.module({"lift": True})

    def relay_levels(self) -> list[int]:
        """The relay's levels in the hub's own timeline (across daemon restarts)."""
        return self.hub.control.levels(RELAY)

    def relay_openings(self) -> int:
        """Energisations of the relay in the hub's own timeline (across daemon restarts)."""
        levels = self.relay_levels()
        return sum(1 for before, after in zip(levels, levels[1:]) if (before, after) == (0, 1))

    def relay_energised(self) -> bool:
        return self.hub.control.level(RELAY) == 1

    def wait_locked(self, timeout_s: float = 5.0) -> None:
        """Until the relay is back at rest: the next person comes after the door closed."""
        wait_until(lambda: not self.relay_energised(), timeout_s, f"{self.name}: relay at rest")

    # ---- pairing and the daemon ----

    def pair(self, server_url: str, code: str, fingerprint: str,
             *extra: str) -> subprocess.CompletedProcess:  # fmt: skip
        return run_doorward("pair", "--server", server_url, "--code", code,
                            "--fingerprint", fingerprint, "--config", str(self.config_path), *extra)

    def start_daemon(self, env: dict[str, str] | None = None) -> subprocess.Popen:
        self.process = self.processes.start(
            f"{self.key}-door", doorward_argv("run", "--config", str(self.config_path)), env=env)
        return self.process

    def stop_daemon(self) -> int | None:
        return self.processes.stop(f"{self.key}-door")

    def check_alive(self) -> None:
        self.processes.check_alive(f"{self.key}-door")

    def log_text(self) -> str:
        """Everything ``doorward run`` wrote, over every start."""
        log = self.processes.logs.get(f"{self.key}-door")
        return log.read_text(errors="replace") if log and log.exists() else ""

    def doorward(self, *args: str) -> subprocess.CompletedProcess:
        return run_doorward(*args, "--config", str(self.config_path))

    def status(self) -> dict[str, Any] | None:
        try:
            return read_status(self.state_dir / "status.json")
        except StatusUnavailable:
            return None

    def wait_status(self, predicate: Callable[[dict], Any], timeout_s: float = 10.0,
                    what: str = "status") -> dict:
        def check() -> dict | None:
            self.check_alive()
            status = self.status()
            running = status is not None and status.get("state") == "running"
            return status if running and predicate(status) else None
        return wait_until(check, timeout_s, f"{self.name}: {what}")

    def wait_ready(self, timeout_s: float = 30.0) -> dict:
        """Running, a bundle applied and the module reconciled to it: scans are answered."""
        return self.wait_status(_ready, timeout_s, "ready (bundle applied, module reconciled)")

    def wait_applied_above(self, version: int, timeout_s: float = 10.0) -> dict:
        return self.wait_status(lambda s: _ready(s) and s["versions"]["reconciled"] > version,
                                timeout_s, f"a bundle newer than {version}")  # fmt: skip

    def versions(self) -> dict:
        status = self.status()
        return status["versions"] if status else {}

    # ---- the server side in this process (tests, benchmarks: a running_server) ----

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

    def pair_in_process(self, server: Any, unlock_s: float = UNLOCK_S, bind: bool = True) -> None:
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
        if answer.status_code != 201:
            raise DemoError(f"enrolling {finger_id}: {answer.status_code} {answer.text}")
        if grant:
            person = answer.json()["person_id"]
            granted = self.admin.post("/api/v1/grants",
                                      json={"person_id": person, "zone_id": self.zone_id})
            if granted.status_code != 201:
                raise DemoError(f"granting {finger_id}: {granted.status_code} {granted.text}")

    # ---- a person at the glass ----

    def scan(self, finger: str, timeout_s: float = 10.0) -> dict:
        """Place the virtual ``finger`` (``alice/right-index``), wait for the door's decision,
        lift; the decision (kind, reason)."""
        before = (self.status() or {}).get("last_decisions", [])  # the last ten, oldest first
        self.module({"place": finger})
        try:
            status = self.wait_status(lambda s: s.get("last_decisions", []) != before,
                                      timeout_s, f"a decision for {finger}")  # fmt: skip
        finally:
            self.module({"lift": True})
        time.sleep(LIFT_SETTLE_S)
        return status["last_decisions"][-1]

    def open_contact(self) -> None:
        self.hub.control.drive(CONTACT, 1)

    def close_contact(self) -> None:
        self.hub.control.drive(CONTACT, 0)


def _ready(status: dict) -> bool:
    reader, versions = status.get("reader", {}), status.get("versions", {})
    return bool(reader.get("biometric_ready") and not reader.get("reconciling")
                and versions.get("applied") is not None
                and versions.get("reconciled") == versions.get("applied"))


def module_identity(model: str = "r503") -> str:
    """What the driver reads from a simulated module of ``model`` (seed and flash aside)."""
    module = SimulatedR30x(model, seed=11)
    with MemoryLink(module) as link:
        sensor = R30xSensor(link.host, timeout_s=0.5)
        sensor.open()
        return sensor.module_identity()


def lab_door(processes: ProcessGroup, mode: str = "strict", power_cycle_after_s: float = 30.0,
              realtime: bool = False) -> SimulatedDoor:
    """A door for the tests and benchmarks: short timeouts, indicators fitted, its hardware
    started; its directory goes with ``processes``."""
    directory = processes.remove_at_close(Path(tempfile.mkdtemp(prefix="dw-door-")))  # short paths
    door = SimulatedDoor("Lab door", directory, processes, seed=5, key=directory.name, mode=mode,
                   realtime=realtime, config_options={
                       "hub_timeout_s": 1.0, "module_timeout_s": 1.0, "long_poll_s": 5.0,
                       "power_cycle_after_s": power_cycle_after_s,
                       "outputs": ("status_led", "buzzer", "module_power")})
    door.start_hardware()
    return door


def start_module(processes: ProcessGroup, directory: Path, hub_socket: str, seed: int = 5,
                 realtime: bool = False, name: str | None = None) -> tuple[Path, str]:  # fmt: skip
    """A simulated R503 on ``directory/tty`` with its control socket ``directory/module.sock``,
    its touch and power lines on the hub; returns once both exist."""
    link, control = directory / "tty", str(directory / "module.sock")
    processes.start(name or f"module-{directory.name}", doorward_argv(
        "sim", "module", "--model", "r503", "--link", str(link), "--control", control,
        "--hub", hub_socket, "--touch-pin", str(TOUCH), "--power-pin", str(POWER),
        "--seed", str(seed), *(["--realtime"] if realtime else [])))  # fmt: skip
    wait_until(lambda: link.exists() and Path(control).exists(), 10, f"the module simulator in {directory}")
    return link, control


def _one_request(socket_path: str, request: dict) -> dict:
    connection = HubConnection(socket_path, "control", "demo", timeout_s=5.0)
    try:
        return connection.request(request)
    finally:
        connection.close()

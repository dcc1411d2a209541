"""One simulated door of the demo: a Pi's hub, an R503 on a pty, and ``doorward run``.

Owns ``DemoDoor``. Its hardware is two processes: the simulated Pi's GPIO hub (strict line
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
from doorward.sim.rig.processes import ProcessGroup, doorward_argv, run_doorward, wait_until

RELAY, CONTACT, EXIT, FIRE, TOUCH, POWER = 17, 27, 22, 23, 5, 16
QUIET_INPUTS = {CONTACT: 0, EXIT: 1, FIRE: 0}  # door shut, button up, no fire alarm
FIRMWARE_LINES = ("gpio=17=op,dl", "gpio=16=op,dh")
LIFT_SETTLE_S = 0.4  # the reader polls the touch line while it waits for the lift



class DemoDoor:
    """A door named ``name`` whose files live in ``directory`` (kept short: AF_UNIX paths)."""

    def __init__(self, name: str, directory: Path, processes: ProcessGroup, seed: int) -> None:
        self.name, self.directory, self.processes, self.seed = name, directory, processes, seed
        self.key = name.lower().split()[0]
        self.hub_socket = str(directory / "hub.sock")
        self.link, self.control_socket = directory / "tty", str(directory / "module.sock")
        self.config_path = directory / "doorward.toml"
        self.state_dir, self.credential = directory / "state", directory / "credential.json"
        self.door_id = ""

    # ---- the hardware: hub and module ----

    def start_hardware(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        hub = doorward_argv("sim", "hub", "--socket", self.hub_socket, "--mode", "strict")
        for line in FIRMWARE_LINES:
            hub += ["--firmware-line", line]
        self.processes.start(f"{self.key}-hub", hub)
        wait_until(lambda: Path(self.hub_socket).exists(), 10, f"{self.name}: the hub")
        for pin, level in QUIET_INPUTS.items():
            self.hub({"drive": {"pin": pin, "value": level}})
        self.processes.start(f"{self.key}-module", doorward_argv(
            "sim", "module", "--model", "r503", "--link", str(self.link), "--control",
            self.control_socket, "--hub", self.hub_socket, "--touch-pin", str(TOUCH),
            "--power-pin", str(POWER), "--seed", str(self.seed)))  # fmt: skip
        wait_until(lambda: self.link.exists() and Path(self.control_socket).exists(), 10,
                 f"{self.name}: the module simulator")  # fmt: skip
        self.write_config()

    def reboot_pi(self) -> None:
        """A power cycle of the Pi: firmware lines again; the shut door still reads shut."""
        self.hub({"reboot": True})
        for pin, level in QUIET_INPUTS.items():
            self.hub({"drive": {"pin": pin, "value": level}})

    def write_config(self) -> None:
        write_toml(self.config_path, config.door(self.hub_socket, self.link, self.credential, self.state_dir),
                   f"{self.name}: the same schema as /etc/doorward/doorward.toml on a Pi "
                   "(docs/configuration.md)")

    def hub(self, request: dict) -> dict:
        return _one_request(self.hub_socket, request)

    def module(self, request: dict) -> dict:
        return _one_request(self.control_socket, request)

    def relay_openings(self) -> int:
        """Energisations of the relay in the hub's own timeline (across daemon restarts)."""
        levels = [level for _, level in self.hub({"timeline": {"pin": RELAY}})["timeline"]]
        return sum(1 for before, after in zip(levels, levels[1:]) if (before, after) == (0, 1))

    def relay_energised(self) -> bool:
        return self.hub({"level": {"pin": RELAY}})["value"] == 1

    def wait_locked(self, timeout_s: float = 5.0) -> None:
        """Until the relay is back at rest: the next person comes after the door closed."""
        wait_until(lambda: not self.relay_energised(), timeout_s, f"{self.name}: relay at rest")

    # ---- pairing and the daemon ----

    def pair(self, server_url: str, code: str, fingerprint: str,
             *extra: str) -> subprocess.CompletedProcess:  # fmt: skip
        return run_doorward("pair", "--server", server_url, "--code", code,
                            "--fingerprint", fingerprint, "--config", str(self.config_path), *extra)

    def start_daemon(self) -> None:
        self.processes.start(f"{self.key}-door", doorward_argv("run", "--config",
                                                               str(self.config_path)))

    def stop_daemon(self) -> int | None:
        return self.processes.stop(f"{self.key}-door")

    def doorward(self, *args: str) -> subprocess.CompletedProcess:
        return run_doorward(*args, "--config", str(self.config_path))

    def status(self) -> dict[str, Any] | None:
        try:
            return read_status(self.state_dir / "status.json")
        except StatusUnavailable:
            return None

    def wait_status(self, predicate: Callable[[dict], Any], timeout_s: float, what: str) -> dict:
        def check() -> dict | None:
            self.processes.check_alive(f"{self.key}-door")
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

    # ---- a person at the glass ----

    def scan(self, finger: str, timeout_s: float = 10.0) -> dict:
        """Place ``finger``, wait for the door's decision, lift; the decision (kind, reason)."""
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
        self.hub({"drive": {"pin": CONTACT, "value": 1}})

    def close_contact(self) -> None:
        self.hub({"drive": {"pin": CONTACT, "value": 0}})


def _ready(status: dict) -> bool:
    reader, versions = status.get("reader", {}), status.get("versions", {})
    return bool(reader.get("biometric_ready") and not reader.get("reconciling")
                and versions.get("applied") is not None
                and versions.get("reconciled") == versions.get("applied"))


def _one_request(socket_path: str, request: dict) -> dict:
    connection = HubConnection(socket_path, "control", "demo", timeout_s=5.0)
    try:
        return connection.request(request)
    finally:
        connection.close()

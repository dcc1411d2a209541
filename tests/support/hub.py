"""Run ``sim/pi/hub.py`` as a real subprocess and drive it, for tests (and whoever else needs it).

- ``hub_factory`` (pytest fixture): ``hub = hub_factory(mode="strict",
  firmware_lines=["gpio=17=op,dl"])`` starts a hub on a fresh socket and returns a
  ``RunningHub`` (``.socket_path``, ``.control`` a ``HubControl``); every hub and helper
  process started through the fixture is stopped at teardown.
- ``HubControl``: the control-role messages as methods (drive, undrive, level, timeline,
  reboot, fault, state) and ``wait_until`` to poll the hub with a deadline.
- ``write_config``: a valid door config pointing at a hub; ``spawn_relay_holder``: a separate
  process that energises the relay through the ``sim`` backend and waits to be killed;
  ``run_doorward``: the real CLI as a subprocess.

Timed assertions belong on the hub's own timestamps (``timeline``), never on test sleeps.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import pytest

from doorward.sim.rig import config as rig_config
from doorward.sim.rig.config import write_toml
from doorward.sim.rig.processes import wait_until
from doorward.drivers.gpio.errors import HubUnavailable
from doorward.drivers.gpio.hubwire import HubConnection

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 10.0


class HubControl:
    """A ``control`` connection: what tests, the demo and the module simulator send."""

    def __init__(self, socket_path: str, client: str = "tests") -> None:
        self.connection = HubConnection(socket_path, "control", client, timeout_s=5.0)

    def request(self, message: dict) -> dict:
        return self.connection.request(message)

    def drive(self, pin: int, value: int) -> None:
        self.request({"drive": {"pin": pin, "value": value}})

    def undrive(self, pin: int) -> None:
        self.request({"undrive": {"pin": pin}})

    def level(self, pin: int) -> int:
        return self.request({"level": {"pin": pin}})["value"]

    def timeline(self, pin: int) -> list[tuple[float, int]]:
        return [(t, level) for t, level in self.request({"timeline": {"pin": pin}})["timeline"]]

    def levels(self, pin: int) -> list[int]:
        return [level for _, level in self.timeline(pin)]

    def reboot(self) -> None:
        self.request({"reboot": True})

    def fault(self, name: str | None) -> None:
        self.request({"fault": name})

    def state(self) -> dict:
        return self.request({"state": True})

    def pin_state(self, pin: int) -> dict:
        return self.state()["pins"][str(pin)]

    def wait_until(self, predicate: Callable[[], bool], timeout_s: float = 5.0) -> None:
        wait_until(predicate, timeout_s, "the hub's expected state", interval_s=0.01)

    def close(self) -> None:
        self.connection.close()


@dataclass
class RunningHub:
    process: subprocess.Popen
    socket_path: str
    control: HubControl

    def stop(self) -> None:
        self.control.close()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_hub(socket_dir: Path, mode: str = "strict", firmware_lines: tuple[str, ...] = ()
              ) -> RunningHub:
    socket_path = str(socket_dir / "hub.sock")
    command = [sys.executable, "-m", "doorward.sim.pi.hub", "--socket", socket_path, "--mode", mode]
    for line in firmware_lines:
        command += ["--firmware-line", line]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    return RunningHub(process, socket_path, _connect_when_ready(process, socket_path))


def _connect_when_ready(process: subprocess.Popen, socket_path: str) -> HubControl:
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"hub exited at start: {process.stderr.read().decode()}")
        try:
            return HubControl(socket_path)
        except HubUnavailable:
            if time.monotonic() > deadline:
                process.kill()
                raise
            time.sleep(0.02)


@dataclass
class ProcessJar:
    """Everything a test started, stopped at teardown."""

    hubs: list[RunningHub] = field(default_factory=list)
    helpers: list[subprocess.Popen] = field(default_factory=list)
    dirs: list[Path] = field(default_factory=list)

    def close(self) -> None:
        for helper in self.helpers:
            if helper.poll() is None:
                helper.kill()
            helper.wait()
        for hub in self.hubs:
            hub.stop()
        for directory in self.dirs:
            shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def process_jar() -> Iterator[ProcessJar]:
    jar = ProcessJar()
    yield jar
    jar.close()


@pytest.fixture
def hub_factory(process_jar: ProcessJar) -> Callable[..., RunningHub]:
    def factory(mode: str = "strict", firmware_lines: tuple[str, ...] = ()) -> RunningHub:
        # A short path of our own: AF_UNIX paths are capped at 107 bytes.
        socket_dir = Path(tempfile.mkdtemp(prefix="dw-hub-"))
        process_jar.dirs.append(socket_dir)
        hub = start_hub(socket_dir, mode, tuple(firmware_lines))
        process_jar.hubs.append(hub)
        return hub

    return factory




def write_config(path: Path, socket_path: str, relay_pin: int = 17,
                 timeout_s: float = 2.0, active_low_relay: bool = False) -> Path:
    return write_toml(path, {"hardware": rig_config.hardware(
        socket_path, hub_timeout_s=timeout_s, debounce_ms=50, relay_pin=relay_pin,
        relay_active_low=active_low_relay, outputs=())})


_HOLDER = textwrap.dedent("""
    import sys, time
    from doorward.daemon.config.loader import load_config
    from doorward.drivers.gpio import DoorHardware, open_gpio
    hardware = load_config(sys.argv[1]).hardware
    door = DoorHardware(open_gpio(hardware.backend(), client="relay-holder"), hardware.door_pins())
    door.setup()
    door.set_relay(True)
    print("energised", flush=True)
    time.sleep(600)
""")


def spawn_relay_holder(jar: ProcessJar, config_path: Path) -> subprocess.Popen:
    """A process that energises the relay through the sim backend and waits to be killed;
    returns once the relay is energised."""
    helper = subprocess.Popen([sys.executable, "-c", _HOLDER, str(config_path)], cwd=REPO,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    jar.helpers.append(helper)
    line = helper.stdout.readline()
    if line.strip() != "energised":
        raise RuntimeError(f"relay holder failed: {line}{helper.stderr.read()}")
    return helper


def run_doorward(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """The real ``doorward`` CLI in its own process."""
    return subprocess.run([sys.executable, "-m", "doorward.daemon.cli", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=30,
                          env={**os.environ, **(env or {})})

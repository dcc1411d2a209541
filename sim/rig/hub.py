"""The simulated Pi's GPIO hub as a child process, and its control connection: what the demo,
the tests and the benchmarks drive a door's pins with.

Owns ``HubControl`` (the control-role messages as methods: drive, undrive, level, timeline,
reboot, fault, state, and ``wait_until`` on the hub's state), ``RunningHub`` (a hub child and
its control connection) and ``start_hub``, which starts ``doorward sim hub`` in a
``ProcessGroup`` and returns once the hub answers. Timed assertions belong on the hub's own
timestamps (``timeline``), never on the caller's sleeps.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from doorward.drivers.gpio.errors import HubUnavailable
from doorward.drivers.gpio.hubwire import HubConnection
from doorward.sim.rig.processes import DemoError, ProcessGroup, doorward_argv, wait_until

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
    name: str
    processes: ProcessGroup

    def stop(self) -> None:
        self.control.close()
        self.processes.stop(self.name)


def start_hub(processes: ProcessGroup, socket_dir: Path, mode: str = "strict",
              firmware_lines: tuple[str, ...] = ()) -> RunningHub:  # fmt: skip
    """A hub on ``socket_dir/hub.sock`` (keep the directory short: AF_UNIX paths <= 107 bytes)."""
    socket_path = str(socket_dir / "hub.sock")
    argv = doorward_argv("sim", "hub", "--socket", socket_path, "--mode", mode)
    for line in firmware_lines:
        argv += ["--firmware-line", line]
    name = f"hub-{socket_dir.name}"
    process = processes.start(name, argv)
    hub = RunningHub(process, socket_path, _connect_when_ready(processes, name, socket_path),
                     name, processes)
    processes.on_close(hub.stop)
    return hub


def _connect_when_ready(processes: ProcessGroup, name: str, socket_path: str) -> HubControl:
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        processes.check_alive(name)
        try:
            return HubControl(socket_path)
        except HubUnavailable:
            if time.monotonic() > deadline:
                processes.stop(name)
                raise DemoError(f"the hub on {socket_path} did not answer in {START_TIMEOUT_S} s")
            time.sleep(0.02)

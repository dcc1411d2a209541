"""Run ``sim/pi/hub.py`` as a real subprocess and drive it, for tests (and whoever else needs it).

- ``hub_factory`` (pytest fixture): ``hub = hub_factory(mode="strict",
  firmware_lines=["gpio=17=op,dl"])`` starts a hub on a fresh socket and returns a
  ``RunningHub`` (``.socket_path``, ``.control`` a ``HubControl``); every hub and helper
  process started through the fixture is stopped at teardown.
- ``HubControl``, ``RunningHub``, ``start_hub``: the harness's own (``doorward.sim.rig.hub``),
  named here for the tests that import them from this module.
- ``write_config``: a valid door config pointing at a hub; ``spawn_relay_holder``: a separate
  process that energises the relay through the ``sim`` backend and waits to be killed;
  ``run_doorward``: the real CLI as a subprocess.

Timed assertions belong on the hub's own timestamps (``timeline``), never on test sleeps.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Callable, Iterator

import pytest

from doorward.sim.rig import config as rig_config
from doorward.sim.rig.config import write_toml
from doorward.sim.rig.hub import HubControl, RunningHub, start_hub  # noqa: F401 (re-exported)
from doorward.sim.rig.processes import ProcessGroup

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 10.0


@pytest.fixture
def process_jar() -> Iterator[ProcessGroup]:
    jar = ProcessGroup()
    yield jar
    jar.close()


@pytest.fixture
def hub_factory(process_jar: ProcessGroup) -> Callable[..., RunningHub]:
    def factory(mode: str = "strict", firmware_lines: tuple[str, ...] = ()) -> RunningHub:
        # A short path of our own: AF_UNIX paths are capped at 107 bytes.
        socket_dir = Path(tempfile.mkdtemp(prefix="dw-hub-"))
        process_jar.remove_at_close(socket_dir)
        return start_hub(process_jar, socket_dir, mode, tuple(firmware_lines))

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


def spawn_relay_holder(jar: ProcessGroup, config_path: Path) -> subprocess.Popen:
    """A process that energises the relay through the sim backend and waits to be killed;
    returns once the relay is energised."""
    helper = subprocess.Popen([sys.executable, "-c", _HOLDER, str(config_path)], cwd=REPO,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    jar.adopt(helper)
    line = helper.stdout.readline()
    if line.strip() != "energised":
        raise RuntimeError(f"relay holder failed: {line}{helper.stderr.read()}")
    return helper


def run_doorward(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """The real ``doorward`` CLI in its own process."""
    return subprocess.run([sys.executable, "-m", "doorward.daemon.cli", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=30,
                          env={**os.environ, **(env or {})})

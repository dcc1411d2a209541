"""``doorward identity`` (and ``pair``) on the simulated Pi: the module's identity before
pairing, as the server's door record takes it, with the module's supply switched on by the
command itself (a stopped daemon leaves module_power released, so the module is off: issue
14)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from doorward.sim.rig import config as rig_config
from doorward.sim.rig.config import write_toml
from tests.support.daemon import POWER, module_identity, start_module
from doorward.sim.rig.hub import RunningHub, start_hub
from doorward.sim.rig.processes import ProcessGroup
from tests.support.hub import run_doorward

RELAY_SAFE_FROM_BOOT = ("gpio=17=op,dl",)  # and no line for the module's supply: it is off


def unpowered_door(jar: ProcessGroup, directory: Path) -> tuple[Path, dict, RunningHub]:
    hub = start_hub(jar, directory, "strict", RELAY_SAFE_FROM_BOOT)
    link, _ = start_module(jar, directory, hub.socket_path)
    settings = rig_config.door(hub.socket_path, link, directory / "credential.json",
                               directory / "state", hub_timeout_s=1.0, module_timeout_s=1.0)
    config = write_toml(directory / "doorward.toml", settings)
    assert hub.control.level(POWER) == 0
    jar.remove_at_close(directory)
    return config, settings, hub


def test_identity_powers_the_module_and_prints_what_the_server_expects() -> None:
    jar = ProcessGroup()
    try:
        config, settings, hub = unpowered_door(jar, Path(tempfile.mkdtemp(prefix="dw-id-")))
        done = run_doorward("identity", "--config", str(config))
        assert done.returncode == 0, done.stdout + done.stderr
        assert done.stdout.strip() == module_identity("r503")  # the string pairing sends
        assert hub.control.level(POWER) == 0  # released again, as the daemon's stop does

        del settings["hardware"]["module_power"]
        write_toml(config, settings)  # nothing tells it how to power the module
        silent = run_doorward("identity", "--config", str(config))
        assert silent.returncode == 2 and silent.stderr.startswith("doorward identity: ")
        assert "Traceback" not in silent.stderr
    finally:
        jar.close()


def test_pair_powers_the_module_too_and_names_a_missing_ca_file() -> None:
    jar = ProcessGroup()
    try:
        config, settings, _ = unpowered_door(jar, Path(tempfile.mkdtemp(prefix="dw-pair-")))
        settings["server"]["ca_file"] = "/nonexistent/ca.pem"
        write_toml(config, settings)
        done = run_doorward("pair", "--server", "http://127.0.0.1:9", "--code", "AAAA",
                            "--fingerprint", "0000", "--config", str(config))
        # the module answered (its identity was read, so it was powered); then the CA check
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
        assert "the CA file /nonexistent/ca.pem does not exist" in done.stderr
    finally:
        jar.close()

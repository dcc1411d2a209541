"""``doorward identity`` (and ``pair``) on the simulated Pi: the module's identity before
pairing, as the server's door record takes it, with the module's supply switched on by the
command itself (a stopped daemon leaves module_power released, so the module is off: issue
14)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from tests.support.daemon import CONFIG, POWER, module_identity, start_module
from tests.support.hub import ProcessJar, run_doorward, start_hub

RELAY_SAFE_FROM_BOOT = ("gpio=17=op,dl",)  # and no line for the module's supply: it is off


def unpowered_door(jar: ProcessJar, directory: Path) -> Path:
    hub = start_hub(directory, "strict", RELAY_SAFE_FROM_BOOT)
    jar.hubs.append(hub)
    link, _ = start_module(jar, directory, hub)
    config = directory / "doorward.toml"
    config.write_text(CONFIG.format(hub=hub.socket_path, link=link, state=directory / "state",
                                    credential=directory / "credential.json",
                                    power_cycle_after_s=30.0))
    assert hub.control.level(POWER) == 0
    jar.dirs.append(directory)
    return config


def test_identity_powers_the_module_and_prints_what_the_server_expects() -> None:
    jar = ProcessJar()
    try:
        config = unpowered_door(jar, Path(tempfile.mkdtemp(prefix="dw-id-")))
        done = run_doorward("identity", "--config", str(config))
        assert done.returncode == 0, done.stdout + done.stderr
        assert done.stdout.strip() == module_identity("r503")  # the string pairing sends
        assert jar.hubs[0].control.level(POWER) == 0  # released again, as the daemon's stop does

        unswitched = config.read_text().replace("[hardware.module_power]\npin = 16\n", "")
        config.write_text(unswitched)  # nothing tells it how to power the module
        silent = run_doorward("identity", "--config", str(config))
        assert silent.returncode == 2 and silent.stderr.startswith("doorward identity: ")
        assert "Traceback" not in silent.stderr
    finally:
        jar.close()


def test_pair_powers_the_module_too_and_names_a_missing_ca_file() -> None:
    jar = ProcessJar()
    try:
        config = unpowered_door(jar, Path(tempfile.mkdtemp(prefix="dw-pair-")))
        config.write_text(config.read_text().replace(
            "[server]\n", '[server]\nca_file = "/nonexistent/ca.pem"\n'))
        done = run_doorward("pair", "--server", "http://127.0.0.1:9", "--code", "AAAA",
                            "--fingerprint", "0000", "--config", str(config))
        # the module answered (its identity was read, so it was powered); then the CA check
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
        assert "the CA file /nonexistent/ca.pem does not exist" in done.stderr
    finally:
        jar.close()

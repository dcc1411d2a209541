"""``doorward identity``: the fingerprint module's identity, exactly as the server expects it
in the door's (or station's) record, before pairing.

    doorward identity [--config PATH]

Prints the one line ``doorward server door add --module-identity`` takes (the string pairing
sends, ``R30xSensor.module_identity()``). Opens the port exclusively and powers the module
through ``[hardware.module_power]`` when it is wired (daemon/commands/module_power.py), so
run it with the daemon stopped. Exit codes: 0 printed, 2 the module or the configuration
could not be read.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from doorward.daemon.commands.module_power import hardware_of, module_supply
from doorward.daemon.commands.pair import identity_of, open_module
from doorward.daemon.config.loader import CONFIG_PATH_ENV, default_config_path, load_config
from doorward.daemon.errors import DoorwardError
from doorward.drivers.r30x.errors import SensorError


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="doorward identity",
                                description="Print the fingerprint module's identity, as the "
                                            "server's door record takes it.")
    p.add_argument("--config", type=Path, default=None,
                   help=f"configuration file (default: ${CONFIG_PATH_ENV}, "
                        "else /etc/doorward/doorward.toml)")
    return p


def read_identity(config_path: Path) -> str:
    config = load_config(config_path, sections=("module",))
    sensor = open_module(config)
    if sensor is None:
        raise DoorwardError(f"{config.module.url} is held by another program (the daemon or "
                            "the kiosk): stop it (`sudo systemctl stop doorward`) and run this "
                            "again")
    try:
        with module_supply(hardware_of(config_path)):
            return identity_of(sensor)
    finally:
        sensor.close()


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    try:
        print(read_identity(args.config or default_config_path()))
    except (DoorwardError, SensorError, OSError) as error:
        print(f"doorward identity: {error}", file=sys.stderr)
        return 2
    return 0

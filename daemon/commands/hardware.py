"""``doorward relay-safe`` and ``doorward check-config``: the hardware commands.

``relay-safe`` is the systemd unit's stop hook (and a tool for the tests): it reads only the
``[hardware]`` section, drives the relay line to its de-energised level and exits, leaving
the line to the kernel's release rule, never calling ``cleanup()``, so nothing re-energises
it. ``check-config`` validates the whole file and prints every problem at once.
Exit codes: 0 done, 1 the GPIO failed, 2 bad usage or configuration.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from doorward.daemon.config.loader import CONFIG_PATH_ENV, default_config_path, load_config
from doorward.daemon.errors import ConfigError
from doorward.daemon.config.hardware import HardwareConfig

EXIT_OK, EXIT_GPIO_FAILED, EXIT_BAD_CONFIG = 0, 1, 2


def _parse_args(prog: str, description: str, argv: list[str]) -> Path:
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--config", type=Path, default=None,
                        help=f"configuration file (default: ${CONFIG_PATH_ENV}, "
                             "else /etc/doorward/doorward.toml)")
    args = parser.parse_args(argv)
    return args.config or default_config_path()


def relay_safe(argv: list[str]) -> int:
    path = _parse_args("doorward relay-safe",
                       "Drive the lock relay to its de-energised level and exit.", argv)
    try:
        hardware = load_config(path, sections=("hardware",)).hardware
    except ConfigError as error:
        print(f"doorward relay-safe: {error}", file=sys.stderr)
        return EXIT_BAD_CONFIG
    return _drive_relay_safe(hardware)


def _drive_relay_safe(hardware: HardwareConfig) -> int:
    from doorward.drivers.gpio import GpioError, open_gpio  # GPIO only once the config is good

    relay = hardware.relay
    try:
        gpio = open_gpio(hardware.backend(), client="doorward-relay-safe")
        try:
            gpio.setup_output(relay.pin, relay.safe_level)
        finally:
            gpio.close()  # no cleanup(): the line stays safe under either kernel rule
    except GpioError as error:
        print(f"doorward relay-safe: relay pin {relay.pin} NOT made safe: {error}",
              file=sys.stderr)
        return EXIT_GPIO_FAILED
    print(f"relay pin {relay.pin} de-energised (level {relay.safe_level})")
    return EXIT_OK


def check_config(argv: list[str]) -> int:
    path = _parse_args("doorward check-config", "Validate the configuration file.", argv)
    try:
        load_config(path)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return EXIT_BAD_CONFIG
    print(f"config OK: {path}")
    return EXIT_OK

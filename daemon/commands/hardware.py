"""``doorward relay-safe`` and ``doorward check-config``: the hardware commands.

``relay-safe`` is the systemd unit's stop hook (and a tool for the tests): it reads only the
``[hardware]`` section, drives the relay line to its de-energised level and exits, leaving
the line to the kernel's release rule, never calling ``cleanup()``, so nothing re-energises
it. ``check-config`` validates the file and prints every problem at once, for one role
(``--role``; default: the installed role in ``/opt/doorward/role``, else ``door``): a door's
every section; a kiosk's ``[module]``, ``[server]`` and ``[storage]`` (docs/kiosk.md); the
server's ``/etc/doorward/server.toml``.
Exit codes: 0 done, 1 the GPIO failed, 2 bad usage or configuration.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import tomllib
from pathlib import Path

from doorward.daemon.config.loader import (
    CONFIG_PATH_ENV, SECTIONS, default_config_path, load_config,
)  # fmt: skip
from doorward.daemon.relocation import relocated_path
from doorward.daemon.errors import ConfigError
from doorward.daemon.config.hardware import HardwareConfig

EXIT_OK, EXIT_GPIO_FAILED, EXIT_BAD_CONFIG = 0, 1, 2


ROLES = ("door", "kiosk", "server")
ROLE_FILE = Path("/opt/doorward/role")  # systemd/install.sh writes the machine's role there
KIOSK_SECTIONS = ("module", "server", "storage")  # what `doorward kiosk serve` reads
SERVER_CONFIG, SERVER_CONFIG_ENV = Path("/etc/doorward/server.toml"), "DOORWARD_SERVER_CONFIG"
# Loaded by name, as the CLI loads its groups: the door's code never imports the server's.
SERVER_CONFIG_MODULE = "doorward.server.config"


def _parser(prog: str, description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--config", type=Path, default=None,
                        help=f"configuration file (default: ${CONFIG_PATH_ENV}, "
                             "else /etc/doorward/doorward.toml)")
    return parser


def _parse_args(prog: str, description: str, argv: list[str]) -> Path:
    args = _parser(prog, description).parse_args(argv)
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


def installed_role() -> str:
    """The role install.sh recorded on this machine, else ``door``."""
    try:
        role = relocated_path(ROLE_FILE).read_text(encoding="utf-8").strip()
    except OSError:
        return "door"
    return role if role in ROLES else "door"


def check_config(argv: list[str]) -> int:
    parser = _parser("doorward check-config", "Validate the configuration file for a role.")
    parser.add_argument("--role", choices=ROLES, default=None,
                        help="whose sections to check (default: the installed role in "
                             f"{ROLE_FILE}, else door); the server's file is server.toml")
    args = parser.parse_args(argv)
    role = args.role or installed_role()
    path = args.config or (_server_config_path() if role == "server" else default_config_path())
    problems = _problems(role, path)
    if problems:
        print(problems, file=sys.stderr)
        return EXIT_BAD_CONFIG
    print(f"config OK: {path} (as a {role})")
    return EXIT_OK


def _server_config_path() -> Path:
    return Path(os.environ.get(SERVER_CONFIG_ENV) or relocated_path(SERVER_CONFIG))


def _problems(role: str, path: Path) -> str | None:
    if role == "server":
        server_config = importlib.import_module(SERVER_CONFIG_MODULE)
        try:
            server_config.load_config(path)
        except server_config.ServerConfigError as error:
            return str(error)
        return None
    try:
        load_config(path, sections=KIOSK_SECTIONS if role == "kiosk" else None)
    except ConfigError as error:
        return str(error)
    return _unknown_sections(path) if role == "kiosk" else None


def _unknown_sections(path: Path) -> str | None:
    """A kiosk's file may hold a door's sections (ignored), but no section no role knows:
    a misspelt ``[modul]`` would otherwise leave the module at its defaults unnoticed."""
    document = tomllib.loads(path.read_text(encoding="utf-8"))  # parsed once already: valid
    unknown = sorted(set(document) - set(SECTIONS))
    return "\n".join(f"{path}: {name}: unknown section" for name in unknown) or None

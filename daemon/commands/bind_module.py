"""``doorward bind-module``: make a replaced fingerprint module this door's (explicit recovery).

    sudo doorward bind-module [--module-identity 'model=R503;...'] [--config PATH]

The door never binds a module because it is factory-fresh: a module swapped in while the Pi
was off would otherwise learn the door's password and token and receive every template. So a
new module at the door is a tamper alarm until an operator says, here, that the module with
this identity is the door's. The command writes a one-shot bind request into the state
directory (``daemon/storage/module_record.py``); the door binds that module at its next module check
(within seconds while the tamper hold is on, or at its next start), records the identity,
removes the request and reconciles the templates into it. A request is honoured for an hour.

The identity is the one the tamper alarm names (``doorward status`` shows it). Without
``--module-identity`` the command reads it from the module itself, which needs the port free
(``sudo systemctl stop doorward``) and a factory-fresh module.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from doorward.daemon.config.loader import Config, default_config_path, load_config
from doorward.daemon.errors import DoorwardError
from doorward.daemon.storage.module_record import write_bind_request
from doorward.daemon.storage.status_file import StatusUnavailable, is_live, read_status
from doorward.drivers.r30x.errors import SensorError
from doorward.daemon.commands.arguments import parser_for

EXIT_OK, EXIT_FAILED = 0, 2


def parser() -> argparse.ArgumentParser:
    p = parser_for("doorward bind-module", __doc__)
    p.add_argument("--module-identity", default=None,
                   help="the new module's identity, as `doorward status` shows it in the alarm")
    p.add_argument("--config", type=Path, default=None, help="the door's TOML configuration")
    return p


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    try:
        config = load_config(args.config or default_config_path(),
                             sections=("module", "storage", "daemon"))
        identity = args.module_identity or identity_of_fresh_module(config)
        path = write_bind_request(config.storage.state_dir, identity, "doorward bind-module",
                                  time.time())
    except (DoorwardError, SensorError, OSError) as error:
        print(f"doorward bind-module: {error}", file=sys.stderr)
        return EXIT_FAILED
    print(f"bind request for {identity!r} written to {path}")
    print(when_honoured(config))
    return EXIT_OK


def identity_of_fresh_module(config: Config) -> str:
    """The identity a factory-fresh module reports; the port must be free."""
    from doorward.daemon.commands.pair import identity_of, open_module

    sensor = open_module(config)
    if sensor is None:
        raise DoorwardError(f"{config.module.url} is held by the running door: pass "
                            "--module-identity (the tamper alarm in `doorward status` names it)")
    try:
        return identity_of(sensor)
    except DoorwardError as error:
        raise DoorwardError("the module does not take the factory password, so it is bound "
                            "already (to this door: nothing to do; to another: factory-reset "
                            "it); or pass --module-identity") from error
    finally:
        sensor.close()


def when_honoured(config: Config) -> str:
    try:
        running = is_live(read_status(config.daemon.status_path(config.storage.state_dir)))
    except StatusUnavailable:
        running = False
    if running:
        return "the running door binds it at its next module check (within seconds while " \
               "it holds a tamper alarm); `doorward status` then shows the reader ready"
    return "the door binds it when it starts: sudo systemctl start doorward"

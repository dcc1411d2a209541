"""``doorward pair``: pair this door (or kiosk station) with the server, and bind its module.

    doorward pair --server https://doors.example.org --code ABCD-EFGH-JKLM-NPQR \\
                  --fingerprint 5647:5aa7:... [--config PATH] [--systemd-creds] [--recover-module]

Opens the module's port exclusively to read its ``module_identity()`` and, after pairing,
to bind it; a door also records the bound module's identity in its state directory, which
the daemon then expects at every start (``daemon/storage/module_record.py``). When the daemon holds
the port, pairing needs ``--module-identity`` (from ``doorward status``) and writes a
one-shot bind request for that identity instead: the daemon, restarted to load the new
credential, binds that module once. Nothing else ever binds a door's module: a fresh module
found at start without a request is a tamper alarm (``doorward bind-module`` is the
recovery). A kiosk whose port is held binds at the station's next start.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path

from doorward.daemon.commands.module_power import hardware_of, module_supply
from doorward.daemon.reader.binding import BindingStatus, bind_module
from doorward.daemon.config.loader import default_config_path, load_config
from doorward.daemon.storage.credentials import Credentials, write_credentials, write_systemd_credential
from doorward.daemon.errors import DoorwardError
from doorward.daemon.storage.module_record import record_bound, write_bind_request
from doorward.daemon.sync.pairing import PairingRequest, pair
from doorward.drivers.r30x.errors import ModuleRejected, PortLost, SensorError
from doorward.drivers.r30x.protocol import Confirmation
from doorward.drivers.r30x.sensor import R30xSensor
from doorward.daemon.commands.arguments import parser_for


def parser() -> argparse.ArgumentParser:
    p = parser_for("doorward pair", __doc__)
    p.add_argument("--server", required=True, help="the server's URL (https, or http to loopback)")
    p.add_argument("--code", required=True, help="the one-time pairing code from the admin")
    p.add_argument("--fingerprint", required=True, help="the server key's fingerprint from the admin")
    p.add_argument("--config", type=Path, default=None, help="the door's TOML configuration")
    p.add_argument("--systemd-creds", action="store_true",
                   help="store the credential encrypted with systemd-creds (on a Pi)")
    p.add_argument("--recover-module", action="store_true",
                   help="after an SD-card replacement: fetch the escrowed module password")
    p.add_argument("--module-identity", default=None,
                   help="the module's identity when another process holds its port")
    p.add_argument("--ca-file", default=None, help="CA bundle for the server's certificate")
    return p


def open_module(config) -> R30xSensor | None:  # noqa: ANN001
    """The module, opened exclusively; None when another process holds the port."""
    try:
        sensor = R30xSensor.from_url(config.module.url, baud=config.module.baud,
                                     timeout_s=config.module.timeout_s)  # fmt: skip
    except PortLost as error:
        if "lock" in str(error).lower() or "busy" in str(error).lower():
            return None
        raise
    return sensor


def bind_and_record(sensor: R30xSensor, credentials: Credentials, state_dir: Path) -> str:
    """Bind the module on the open port and record the identity the bound module reports
    (in ``state_dir``: a door's or a station's). Returns what to tell the operator."""
    status = bind_module(sensor, credentials.module_password, credentials.binding_token_bytes())
    if status is not BindingStatus.BOUND:
        return f"module: {status.value}"
    sensor.params = sensor.read_parameters()
    identity = sensor.module_identity()
    record_bound(state_dir, identity, time.time())
    return f"module: {status.value} ({identity})"


def request_bind(credentials: Credentials, identity: str, state_dir: Path) -> str:
    """The port is held: a one-shot bind request, honoured when the port's owner restarts."""
    write_bind_request(state_dir, identity, "doorward pair", time.time())
    unit = "doorward" if credentials.kind == "door" else "doorward-kiosk"
    return (f"bind request for {identity!r} written: the {credentials.kind} binds that module "
            f"when it restarts with the new credential: sudo systemctl restart {unit}")


def run(args: argparse.Namespace) -> int:
    # Only what pairing needs: a kiosk station has no door hardware to describe.
    path = args.config or default_config_path()
    config = load_config(path, sections=("module", "server", "storage"))
    sensor = open_module(config)
    # With the port ours, the module is ours to power (a stopped daemon left it off).
    supply = module_supply(hardware_of(path)) if sensor is not None else contextlib.nullcontext()
    try:
        with supply:
            if sensor is not None:
                sensor.settle()  # a module just switched on greets with 0x55: not a reset
            return _pair(args, config, sensor)
    finally:
        if sensor is not None:
            sensor.close()


def _pair(args: argparse.Namespace, config, sensor: R30xSensor | None) -> int:  # noqa: ANN001
    if sensor is not None:
        identity = args.module_identity or identity_of(sensor)
    elif args.module_identity:
        identity = args.module_identity
    else:
        raise DoorwardError(
            f"{config.module.url} is held by another process (the daemon or the kiosk): "
            "pass --module-identity (shown by `doorward status`), or stop it first"
        )
    ca_file = args.ca_file or config.server.ca_file
    if ca_file and not Path(ca_file).is_file():
        raise DoorwardError(f"the CA file {ca_file} does not exist: put the server's CA "
                            "certificate there, or leave [server] ca_file out to use the "
                            "system's store")
    request = PairingRequest(args.server, args.code, args.fingerprint, identity,
                             args.recover_module, ca_file)  # fmt: skip
    credentials = pair(request)
    where = _store(credentials, args, Path(config.server.credential))
    print(f"paired as {credentials.kind} {credentials.device_id}; credential in {where}")
    if sensor is None:
        print(request_bind(credentials, identity, config.storage.state_dir))
    else:
        print(bind_and_record(sensor, credentials, config.storage.state_dir))
    return 0


def identity_of(sensor: R30xSensor) -> str:
    try:
        sensor.open()  # the factory password: a module that was never bound
    except ModuleRejected as error:
        if error.code != Confirmation.WRONG_PASSWORD:
            raise
        raise DoorwardError(
            "the module is already bound to a password this door does not know: after an "
            "SD-card replacement use --recover-module with --module-identity (the door's "
            "record on the server shows it)"
        ) from error
    return sensor.module_identity()


def _store(credentials: Credentials, args: argparse.Namespace, plain: Path) -> Path:
    if args.systemd_creds:
        return write_systemd_credential(credentials)
    return write_credentials(credentials, plain)


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    try:
        return run(args)
    except (DoorwardError, SensorError) as error:
        print(f"doorward pair: {error}", file=sys.stderr)
        return 2

"""Where the station's module and credential come from, for ``doorward kiosk`` and ``enrol``.

Owns ``add_station_arguments`` and ``open_station``. By default both commands read the
door configuration (``/etc/doorward/doorward.toml`` or ``$DOORWARD_CONFIG``: the
``[module]``, ``[server]`` and optional ``[storage]`` sections) and the credential that
``doorward pair`` wrote for the station; ``--module`` and ``--credential`` override them (a
simulated module on a pty, a credential in a scratch folder), and the module record then
lives beside the credential unless ``--state-dir`` names another folder. The credential must be a station's: a door's token
would get a door's bundle, whose library covers one zone, not the site.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator
from pathlib import Path

from doorward.daemon.config.loader import default_config_path, load_config
from doorward.daemon.storage.credentials import load_credentials
from doorward.daemon.errors import DoorwardError
from doorward.daemon.storage.module_record import ModuleRecordStore
from doorward.enrol.station import Station, open_module


def add_station_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, default=None,
                        help="the TOML configuration (default /etc/doorward/doorward.toml)")
    parser.add_argument("--module", default=None, help="the module's serial URL (overrides the config)")
    parser.add_argument("--credential", type=Path, default=None,
                        help="the station credential from `doorward pair` (overrides the config)")
    parser.add_argument("--state-dir", type=Path, default=None,
                        help="where the module record lives (overrides [storage] state_dir)")
    parser.add_argument("--ready-timeout", type=float, default=30.0,
                        help="seconds to wait for the module to be bound and its library loaded")


def _settings(args: argparse.Namespace) -> tuple[str, int, float, Path, str | None, Path]:
    state_dir = getattr(args, "state_dir", None)
    if args.module and args.credential:
        return (args.module, 57_600, 1.0, args.credential, None,
                state_dir or Path(args.credential).parent)
    config = load_config(args.config or default_config_path(),
                         sections=("module", "server", "storage"))
    return (args.module or config.module.url, config.module.baud, config.module.timeout_s,
            args.credential or Path(config.server.credential), config.server.ca_file,
            state_dir or config.storage.state_dir)


@contextlib.contextmanager
def open_station(args: argparse.Namespace) -> Iterator[Station]:
    """The station started and ready (module bound, library reconciled), stopped on exit."""
    url, baud, timeout_s, credential_path, ca_file, state_dir = _settings(args)
    credentials = load_credentials(credential_path)
    if credentials.kind != "station":
        raise DoorwardError(f"{credential_path} belongs to a {credentials.kind}, not a station: "
                            "pair this kiosk with a code for a station record")
    station = Station(open_module(url, baud, timeout_s), credentials, ca_file=ca_file,
                      binding_store=ModuleRecordStore(state_dir))
    station.start()
    try:
        status = station.wait_ready(args.ready_timeout)
        if not status.biometric_ready:
            raise DoorwardError(f"the station's module is not ready: {status.detail}")
        yield station
    finally:
        station.stop()


def server_of(args: argparse.Namespace) -> tuple[str, str | None]:
    """The server URL and CA file from the station's credential, without opening the module."""
    if args.credential:
        return load_credentials(args.credential).server_url, None
    _, _, _, credential_path, ca_file, _ = _settings(args)
    return load_credentials(credential_path).server_url, ca_file

"""`doorward kiosk ...`: serve the enrolment page on 127.0.0.1. Loaded only when invoked.

    doorward kiosk serve [--port 8765] [--config PATH | --module URL --credential PATH]

The page is for the kiosk's own browser (Chromium in kiosk mode, docs/kiosk.md): the server
binds 127.0.0.1 only, and the page answers only to ``Host: 127.0.0.1:PORT`` or
``localhost:PORT``.
"""

from __future__ import annotations

import argparse
import sys

import doorward.daemon.dispatch as dispatch
from doorward.daemon.errors import DoorwardError
from doorward.drivers.r30x.errors import SensorError
from doorward.enrol.station_setup import add_station_arguments, open_station

COMMANDS: dict[str, tuple[str, str]] = {
    "serve": ("doorward.enrol.kiosk.cli", "serve the enrolment kiosk page on 127.0.0.1 until stopped"),
}
LOOPBACK = "127.0.0.1"  # never any other address: the page drives a biometric module


def usage(prog: str) -> str:
    return dispatch.usage(prog, [("commands:", COMMANDS)])


def serve(argv: list[str], prog: str) -> int:
    parser = argparse.ArgumentParser(prog=prog, description=COMMANDS["serve"][1])
    parser.add_argument("--port", type=int, default=8765, help="the loopback port (default 8765)")
    add_station_arguments(parser)
    args = parser.parse_args(argv)
    import uvicorn  # the `kiosk` extra

    from doorward.enrol.kiosk.app import KioskSettings, create_app

    with open_station(args) as station:
        creds = station.credentials
        settings = KioskSettings(args.port, creds.server_url, creds.device_id, station.ca_file)
        app = create_app(station, settings)
        print(f"kiosk ready: http://{LOOPBACK}:{args.port}/", flush=True)
        uvicorn.run(app, host=LOOPBACK, port=args.port, log_level="warning")
    return 0


def main(argv: list[str], prog: str = "doorward kiosk") -> int:
    chosen = dispatch.choose(argv, prog, COMMANDS, usage(prog))
    if isinstance(chosen, int):
        return chosen
    command, rest = chosen
    try:
        return serve(rest, f"{prog} {command}")
    except (DoorwardError, SensorError) as error:
        print(f"{prog}: {error}", file=sys.stderr)
        return 2

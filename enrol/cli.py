"""`doorward enrol ...`: enrolment on the terminal. Loaded only when the group is invoked.

    doorward enrol finger --operator NAME (--person-id ID | --name NAME) --consent REF \\
                          --finger right-index [--finger left-index ...]
    doorward enrol show --operator NAME --person-id ID
    doorward enrol unable --operator NAME (--person-id ID | --name NAME)
    doorward enrol delete-finger --operator NAME --finger-id ID

Every command takes ``--config PATH`` or ``--module URL --credential PATH`` (see
``enrol/station_setup.py``); only ``finger`` opens the module.
"""

from __future__ import annotations

import argparse
import sys

from doorward.daemon.errors import DoorwardError
from doorward.drivers.r30x.errors import SensorError
import doorward.daemon.dispatch as dispatch
from doorward.enrol import terminal
from doorward.enrol.server_api import ApiError
from doorward.enrol.station_setup import add_station_arguments, open_station, server_of
from doorward.enrol.strings import FINGERS, say

COMMANDS: dict[str, tuple[str, str]] = {
    "finger": ("doorward.enrol.cli", "capture fingers and send them in one atomic enrolment"),
    "show": ("doorward.enrol.cli", "show a person's enrolled fingers and zones"),
    "unable": ("doorward.enrol.cli", "record that a person cannot be enrolled (fallback applies)"),
    "delete-finger": ("doorward.enrol.cli", "delete one enrolled finger"),
}


def usage(prog: str) -> str:
    return dispatch.usage(prog, [("commands:", COMMANDS)])


def parser(prog: str, command: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=f"{prog} {command}", description=COMMANDS[command][1])
    p.add_argument("--operator", required=True, help="your admin or enroller name on the server")
    add_station_arguments(p)
    if command in ("finger", "unable"):
        who = p.add_mutually_exclusive_group(required=True)
        who.add_argument("--person-id", help="an existing person")
        who.add_argument("--name", help="a new person's full name")
    if command == "show":
        p.add_argument("--person-id", required=True)
    if command == "finger":
        p.add_argument("--consent", required=True, help="the signed consent form's reference")
        p.add_argument("--finger", action="append", required=True, choices=sorted(FINGERS))
        p.add_argument("--duress", choices=sorted(FINGERS), default=None,
                       help="one of the --finger fingers: it opens the door and silently "
                            "raises a duress alarm")  # fmt: skip
    if command == "delete-finger":
        p.add_argument("--finger-id", required=True)
    return p


def run(command: str, args: argparse.Namespace) -> int:
    person = {"id": args.person_id} if getattr(args, "person_id", None) else {"name": getattr(args, "name", None)}
    if command == "finger":
        with open_station(args) as station:
            creds = station.credentials
            with terminal.operator_api(creds.server_url, args.operator, station.ca_file) as api:
                if args.duress is not None and args.duress not in args.finger:
                    raise SystemExit("--duress must name one of the --finger fingers")
                return terminal.enrol_fingers(station, creds.device_id, api, person, args.consent,
                                              args.finger, sys.stdout, duress=args.duress)  # fmt: skip
    server_url, ca_file = server_of(args)
    with terminal.operator_api(server_url, args.operator, ca_file) as api:
        if command == "show":
            return terminal.show_person(api, args.person_id, sys.stdout)
        if command == "unable":
            return terminal.record_unable(api, person, sys.stdout)
        return terminal.delete_finger(api, args.finger_id, sys.stdout)


def main(argv: list[str], prog: str = "doorward enrol") -> int:
    chosen = dispatch.choose(argv, prog, COMMANDS, usage(prog))
    if isinstance(chosen, int):
        return chosen
    command, rest = chosen
    args = parser(prog, command).parse_args(rest)
    try:
        return run(command, args)
    except ApiError as error:
        print(f"{prog}: {say(error.key, detail=error.detail)}", file=sys.stderr)
        return 1
    except (DoorwardError, SensorError) as error:
        print(f"{prog}: {error}", file=sys.stderr)
        return 2

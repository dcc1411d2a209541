"""`doorward server ...`: run and administer the central server from a shell.

Loaded only when the group is invoked. Each subcommand module has ``main(argv, prog)``.
Commands other than ``run`` work on the database directly (as ``cli:<unix user>`` in the
audit log); a running server picks their changes up within ``rebuild_interval_s``.
Lists and shows print tables for people and take ``--json`` for machines.
"""

from __future__ import annotations

import importlib
import sys

import doorward.daemon.dispatch as dispatch

COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("doorward.server.cli.setup", "create the keys (0600) and database; print the key fingerprint"),
    "run": ("doorward.server.cli.setup", "serve the API and the door sync"),
    "backup": ("doorward.server.cli.setup", "copy the database (SQLite online backup)"),
    "restore": ("doorward.server.cli.setup", "replace the database with a backup, re-applying the removal ledger (server stopped)"),
    "add-admin": ("doorward.server.cli.setup", "create an admin, security, enroller or auditor account"),
    "site": ("doorward.server.cli.directory", "add, list or change sites (time zone)"),
    "zone": ("doorward.server.cli.directory", "add, list or change zones; lockdown"),
    "door": ("doorward.server.cli.directory", "add, list, show or change doors and stations"),
    "pairing-code": ("doorward.server.cli.directory", "make a one-time pairing code for a door or station"),
    "person": ("doorward.server.cli.people", "add, list, show or delete people; record consent"),
    "grant": ("doorward.server.cli.people", "grant a person a zone (optionally on a schedule)"),
    "revoke": ("doorward.server.cli.people", "revoke a grant"),
    "alarms": ("doorward.server.cli.people", "list, acknowledge or clear alarms"),
    "events": ("doorward.server.cli.events", "list the events doors sent, by time, door and person (table, JSON or CSV)"),
}


def usage(prog: str) -> str:
    return dispatch.usage(prog, [("commands:", COMMANDS)],
                          footer=[f"{prog} COMMAND --help shows a command's options."])


def main(argv: list[str], prog: str = "doorward server") -> int:
    return dispatch.quiet_on_closed_pipe(lambda: _dispatch(argv, prog))


def _dispatch(argv: list[str], prog: str) -> int:
    chosen = dispatch.choose(argv, prog, COMMANDS, usage(prog))
    if isinstance(chosen, int):
        return chosen
    name, rest = chosen
    module = importlib.import_module(COMMANDS[name][0])
    return int(module.main([name, *rest], prog=prog) or 0)


if __name__ == "__main__":  # `python -m server.cli ...`, the same as `doorward server ...`
    sys.exit(main(sys.argv[1:]))

"""`doorward server ...`: run and administer the central server from a shell.

Loaded only when the group is invoked. Each subcommand module has ``main(argv, prog)``.
Commands other than ``run`` work on the database directly (as ``cli:<unix user>`` in the
audit log); a running server picks their changes up within ``rebuild_interval_s``.
Lists and shows print tables for people and take ``--json`` for machines.
"""

from __future__ import annotations

import importlib
import os
import sys

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
    lines = [f"usage: {prog} COMMAND [ARGS...]", "", "commands:"]
    lines += [f"  {name:<13} {help_text}" for name, (_, help_text) in COMMANDS.items()]
    lines += ["", f"{prog} COMMAND --help shows a command's options."]
    return "\n".join(lines)


def main(argv: list[str], prog: str = "doorward server") -> int:
    try:
        code = _dispatch(argv, prog)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (`... | head`): what it wanted it has. Point stdout at
        # /dev/null so that the interpreter's last flush at exit cannot fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return code


def _dispatch(argv: list[str], prog: str) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(usage(prog))
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"{prog}: unknown command {name!r}\n\n{usage(prog)}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[name][0])
    return int(module.main([name, *rest], prog=prog) or 0)


if __name__ == "__main__":  # `python -m server.cli ...`, the same as `doorward server ...`
    sys.exit(main(sys.argv[1:]))

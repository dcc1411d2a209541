"""The `doorward` command.

Door subcommands live here; the other groups (`sim`, and later `server`, `kiosk`, `enrol`)
are loaded only when invoked, so running the door never imports the server or the simulator.
Each group module exposes ``COMMANDS`` (name -> one-line help) and ``main(argv, prog)``.
Only this module configures logging.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

# group name -> (module, one-line help). Loaded lazily by name.
GROUPS: dict[str, tuple[str, str]] = {
    "sim": ("doorward.sim.cli", "simulated hardware: an R30x module on a pty, a simulated Pi"),
    "server": ("doorward.server.cli.main", "the central server: admin API, pairing, bundles, events, alarms"),
    "kiosk": ("doorward.enrol.kiosk.cli", "the enrolment kiosk's local page (127.0.0.1 only)"),
    "enrol": ("doorward.enrol.cli", "enrol fingerprints on the terminal: the kiosk's workflow"),
}

# door subcommand -> (module:function taking argv, one-line help). Also loaded lazily.
DOOR_COMMANDS: dict[str, tuple[str, str]] = {
    "relay-safe": ("doorward.daemon.commands.hardware:relay_safe",
                   "drive the lock relay to its de-energised level and exit (stop hook)"),
    "check-config": ("doorward.daemon.commands.hardware:check_config", "validate the configuration file"),
    "pair": ("doorward.daemon.commands.pair:main", "pair this door with the server and bind its module"),
    "identity": ("doorward.daemon.commands.identity:main",
                 "print the fingerprint module's identity as the server takes it (before pairing)"),
    "bind-module": ("doorward.daemon.commands.bind_module:main",
                    "let the door bind a replaced fingerprint module, once (recovery)"),
    "doctor": ("doorward.daemon.commands.doctor.main:doctor", "check the installation and hardware; print the fixes"),
    "run": ("doorward.daemon.commands.run:main", "run the door daemon in the foreground (the systemd unit)"),
    "status": ("doorward.daemon.commands.running:status", "show the running door's status"),
    "sync": ("doorward.daemon.commands.running:sync", "ask the running door for an immediate sync"),
    "events": ("doorward.daemon.commands.running:events",
               "print the event journal and verify its hash chain"),
    "demo": ("doorward.sim.demo.main:main", "the whole site on simulated hardware: a scripted day in a minute"),
    "migrate": ("doorward.daemon.commands.migrate:main",
                "migrate the state databases; exit 3 if they are newer than this release"),
}


def _usage() -> str:
    lines = ["usage: doorward COMMAND [ARGS...]", "", "commands:"]
    for name, (_, help_text) in sorted(DOOR_COMMANDS.items()):
        lines.append(f"  {name:<14} {help_text}")
    lines += ["", "groups (doorward GROUP --help):"]
    for name, (_, help_text) in sorted(GROUPS.items()):
        lines.append(f"  {name:<14} {help_text}")
    return "\n".join(lines)


def installed_version() -> str:
    """The version of the installed distribution: what pip put on this machine."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("doorward")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0+unknown"


def _configure_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    verbose = "-v" in args[:1] or "--verbose" in args[:1]
    if verbose:
        args = args[1:]
    if args[:1] in (["--version"], ["-V"]):
        print(f"doorward {installed_version()}")
        return 0
    if not args or args[0] in ("-h", "--help", "help"):
        print(_usage())
        return 0 if args else 2
    _configure_logging(verbose)
    name, rest = args[0], args[1:]
    if name in GROUPS:
        module = importlib.import_module(GROUPS[name][0])
        return int(module.main(rest, prog=f"doorward {name}") or 0)
    if name in DOOR_COMMANDS:
        target, _ = DOOR_COMMANDS[name]
        module_name, function = target.split(":")
        return int(getattr(importlib.import_module(module_name), function)(rest) or 0)
    print(f"doorward: unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
    return 2


def parser_for(prog: str, description: str) -> argparse.ArgumentParser:
    """A parser with doorward's conventions, for subcommands to share."""
    return argparse.ArgumentParser(prog=prog, description=description)


if __name__ == "__main__":
    sys.exit(main())

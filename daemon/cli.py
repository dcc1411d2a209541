"""The `doorward` command.

Door subcommands live here; the other groups (`sim`, and later `server`, `kiosk`, `enrol`)
are loaded only when invoked, so running the door never imports the server or the simulator.
Each group module exposes ``COMMANDS`` (name -> one-line help) and ``main(argv, prog)``.
Only this module configures logging.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
from collections.abc import Mapping

import doorward.daemon.dispatch as dispatch

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
    return dispatch.usage("doorward", [("commands:", dict(sorted(DOOR_COMMANDS.items()))),
                                       ("groups (doorward GROUP --help):", dict(sorted(GROUPS.items())))],
                          synopsis="[-v] COMMAND [ARGS...]",
                          preamble=["", "  -v, --verbose  (anywhere) debug logging, HTTP traffic included"])


def installed_version() -> str:
    """The version of the installed distribution: what pip put on this machine."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("doorward")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0+unknown"


# Libraries whose INFO lines are traffic, not events: one per request, long-poll and heartbeat.
# They log at WARNING unless -v asks for everything.
CHATTY_LOGGERS = ("httpx", "httpcore", "uvicorn.access")
VERBOSE_FLAGS = ("-v", "--verbose")

# syslog priorities by logging level: journald reads a "<N>" line prefix as the priority.
_PRIORITIES = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3,
               logging.CRITICAL: 2}


class JournaldFormatter(logging.Formatter):
    """A line for journald, which stamps its own time: the priority prefix, the logger, the text."""

    def __init__(self) -> None:
        super().__init__("%(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        priority = _PRIORITIES.get(record.levelno, 6 if record.levelno < logging.WARNING else 3)
        return "\n".join(f"<{priority}>{line}" for line in super().format(record).splitlines())


def log_formatter(environ: Mapping[str, str]) -> logging.Formatter:
    """Under systemd (JOURNAL_STREAM set) journald adds the time: none of our own."""
    if environ.get("JOURNAL_STREAM"):
        return JournaldFormatter()
    return logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")


def configure_logging(verbose: bool, environ: Mapping[str, str] = os.environ) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(log_formatter(environ))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET if verbose else logging.WARNING)


def split_verbose(args: list[str]) -> tuple[bool, list[str]]:
    """``-v``/``--verbose`` anywhere before a ``--``, and the arguments without it."""
    end = args.index("--") if "--" in args else len(args)
    kept = [arg for arg in args[:end] if arg not in VERBOSE_FLAGS] + args[end:]
    return len(kept) != len(args), kept


def main(argv: list[str] | None = None) -> int:
    return dispatch.quiet_on_closed_pipe(lambda: _dispatch(list(sys.argv[1:] if argv is None else argv)))


def _dispatch(argv: list[str]) -> int:
    verbose, args = split_verbose(argv)
    if args[:1] in (["--version"], ["-V"]):
        print(f"doorward {installed_version()}")
        return 0
    chosen = dispatch.choose(args, "doorward", {**DOOR_COMMANDS, **GROUPS}, _usage())
    if isinstance(chosen, int):
        return chosen
    configure_logging(verbose)
    name, rest = chosen
    if name in GROUPS:
        module = importlib.import_module(GROUPS[name][0])
        return int(module.main(rest, prog=f"doorward {name}") or 0)
    module_name, function = DOOR_COMMANDS[name][0].split(":")
    return int(getattr(importlib.import_module(module_name), function)(rest) or 0)

if __name__ == "__main__":
    sys.exit(main())

"""``doorward status``, ``doorward sync`` and ``doorward events``: the running door, from outside.

The daemon opens no listener, so these commands read its files and send it a signal:

- ``status``: prints the status file (``[daemon] status_file``); exit 0 while a live daemon
  writes it, 1 when it is stale or missing (the daemon is not running), 2 bad configuration;
- ``sync``: sends SIGUSR1 to the pid in a live status file (after checking that the pid is
  a ``doorward run``), which makes the daemon poll, upload and beat at once;
- ``events``: prints the journal oldest first and verifies its hash chain (and that the
  sequence has no gaps); ``--follow`` keeps tailing. Exit 1 when the chain is broken.

The journal is opened read-only (SQLite ``mode=ro``): a reader never takes the writer's lock.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path

from doorward.daemon.config.loader import Config, default_config_path, load_config
from doorward.daemon.errors import ConfigError
from doorward.daemon.commands.events import JournalTail, format_event
from doorward.daemon.commands.status_view import render_status
from doorward.daemon.storage.status_file import StatusUnavailable, is_live, read_status, status_age_s

EXIT_OK, EXIT_NOT_RUNNING, EXIT_BAD_CONFIG = 0, 1, 2
FOLLOW_POLL_S = 0.5


def _parser(name: str, description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"doorward {name}", description=description)
    parser.add_argument("--config", type=Path, default=None, help="the door's TOML configuration")
    return parser


def _config(path: Path | None) -> Config:
    return load_config(path or default_config_path(), sections=("storage", "daemon"))


def _status_document(config_path: Path | None, command: str) -> tuple[dict | None, int]:
    """The running door's status file, or why not with the command's exit code."""
    try:
        config = _config(config_path)
        return read_status(config.daemon.status_path(config.storage.state_dir)), EXIT_OK
    except ConfigError as error:
        print(error, file=sys.stderr)
        return None, EXIT_BAD_CONFIG
    except StatusUnavailable as error:
        print(f"doorward {command}: {error}", file=sys.stderr)
        return None, EXIT_NOT_RUNNING


def status(argv: list[str]) -> int:
    parser = _parser("status", "Show the running door's status.")
    parser.add_argument("--json", action="store_true", help="print the status file as JSON")
    args = parser.parse_args(argv)
    document, code = _status_document(args.config, "status")
    if document is None:
        return code
    live = is_live(document)
    print(json.dumps(document, indent=1, sort_keys=True) if args.json
          else render_status(document, live, status_age_s(document)))
    return EXIT_OK if live else EXIT_NOT_RUNNING


def sync(argv: list[str]) -> int:
    args = _parser("sync", "Ask the running door for an immediate sync (SIGUSR1).").parse_args(argv)
    document, code = _status_document(args.config, "sync")
    if document is None:
        return code
    pid = document.get("pid")
    if not is_live(document) or not _is_doorward_run(pid):
        print("doorward sync: the daemon is not running (stale status file)", file=sys.stderr)
        return EXIT_NOT_RUNNING
    os.kill(pid, signal.SIGUSR1)
    print(f"sync requested from doorward run (pid {pid})")
    return EXIT_OK


def _is_doorward_run(pid: int) -> bool:
    """A pid from a file may have been reused: signal only a ``doorward ... run`` process."""
    try:
        arguments = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"run" in arguments and any(b"doorward" in a or b"doorward.daemon.cli" in a for a in arguments)


def events(argv: list[str]) -> int:
    parser = _parser("events", "Print the event journal and verify its hash chain.")
    parser.add_argument("--follow", action="store_true", help="keep printing new events")
    parser.add_argument("--json", action="store_true", help="one JSON event per line")
    parser.add_argument("--quiet", action="store_true", help="only verify; print the summary")
    args = parser.parse_args(argv)
    try:
        tail = JournalTail.for_state_dir(_config(args.config).storage.state_dir)
    except (ConfigError, FileNotFoundError) as error:
        print(f"doorward events: {error}", file=sys.stderr)
        return EXIT_BAD_CONFIG
    return _print_events(tail, args)


def _print_events(tail: JournalTail, args: argparse.Namespace) -> int:
    with tail:
        try:
            while True:
                for event in tail.read_new():
                    if not args.quiet:
                        print(json.dumps(event.to_dict(), sort_keys=True) if args.json
                              else format_event(event), flush=True)
                if tail.broken is not None or not args.follow:
                    break
                time.sleep(FOLLOW_POLL_S)
        except KeyboardInterrupt:
            pass  # --follow ends with Ctrl-C
    print(tail.summary(), file=sys.stderr if not args.quiet else sys.stdout)
    return EXIT_OK if tail.broken is None else EXIT_NOT_RUNNING

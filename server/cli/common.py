"""What the server's subcommands share: the ``--config`` and ``--json`` options, opening the
context, running a write as the CLI actor, printing a table or its ``--json`` form, and
printing errors without tracebacks."""

from __future__ import annotations

import argparse
import getpass
import os
import sqlite3
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from doorward.server.cli.table import to_json
from doorward.server.clock import SystemClock
from doorward.server.config import ServerConfig, ServerConfigError, load_config
from doorward.server.context import ServerContext
from doorward.server.store.db import Database
from doorward.server.errors import ServiceError
from doorward.server.store.keys import load_keys

DEFAULT_CONFIG = Path("/etc/doorward/server.toml")


def config_path_default() -> Path:
    return Path(os.environ.get("DOORWARD_SERVER_CONFIG", DEFAULT_CONFIG))


def add_config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, default=config_path_default(),
                        help="server TOML (default: $DOORWARD_SERVER_CONFIG or /etc/doorward/server.toml)")


def add_action(actions: argparse._SubParsersAction, name: str, help_text: str | None = None,
               listing: bool = False) -> argparse.ArgumentParser:
    """A sub-action that also takes ``--config`` after its own arguments; a listing (list,
    show) also takes ``--json``."""
    late = argparse.ArgumentParser(add_help=False)
    late.add_argument("--config", type=Path, default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    action = actions.add_parser(name, parents=[late], help=help_text, description=help_text)
    if listing:
        add_json_option(action)
    return action


def add_json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true",
                        help="JSON for machines: booleans true/false, times ISO 8601 UTC")


def actor() -> str:
    return f"cli:{getpass.getuser()}"


def open_context(config: ServerConfig) -> ServerContext:
    db = Database(config.database)
    db.migrate()
    return ServerContext(config=config, clock=SystemClock(config.assume_synchronised), db=db,
                         keys=load_keys(config.signing_key_path, config.data_key_path))


@contextmanager
def guarded(prog: str, database: Path | None = None) -> Iterator[None]:
    """Print a service, configuration or database error as one line and exit 1. A closed
    pipe is no error of ours: it goes up to ``doorward.server.cli.main.main``, which ends quietly."""
    try:
        yield
    except BrokenPipeError:
        raise
    except (ServiceError, ServerConfigError, OSError, ValueError, RuntimeError) as error:
        print(f"{prog}: {error}", file=sys.stderr)
        raise SystemExit(1) from None
    except sqlite3.IntegrityError as error:  # a reference to something missing or in use
        print(f"{prog}: conflicts with stored data: {error}", file=sys.stderr)
        raise SystemExit(1) from None
    except sqlite3.Error as error:  # the file itself (missing directory, not a database)
        print(f"{prog}: {database or 'the database'}: {error}", file=sys.stderr)
        raise SystemExit(1) from None


def load(args: argparse.Namespace, prog: str) -> ServerConfig:
    with guarded(prog):
        return load_config(args.config)


def show(args: argparse.Namespace, value: Any, lines: Callable[[Any], list[str]]) -> None:
    """``--json``: the machine form of ``value``; otherwise the lines made for people."""
    print(to_json(value) if getattr(args, "json", False) else "\n".join(lines(value)))


def run_handler(argv: list[str], prog: str, parser: Any, handlers: dict[str, Any]) -> int:
    """Parse ``argv`` (the subcommand first), open the server's database, run the handler."""
    name, rest = argv[0], argv[1:]
    args = parser(name, prog).parse_args(rest)
    config = load(args, f"{prog} {name}")
    with guarded(f"{prog} {name}", config.database):
        ctx = open_context(config)
        try:
            handlers[name](args, ctx)
        finally:
            ctx.db.close()
    return 0

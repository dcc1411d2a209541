"""`doorward server init | run | backup | restore | add-admin`."""

from __future__ import annotations

import argparse
import getpass
import logging
import secrets
import sys
from pathlib import Path

from doorward.server.domain import auth
from doorward.server.store import backup
from doorward.server.cli.common import actor, add_config_option, guarded, load, open_context
from doorward.server.config import plain_http_refusal
from doorward.server.context import audit
from doorward.server.integrations.webhooks import new_standard_secret
from doorward.server.store.keys import ServerKeys, create_keys, load_keys
from doorward.server.store.ledger import RemovalLedger

log = logging.getLogger(__name__)

CONFIG_TEMPLATE = """\
# doorward central server: see docs/server.md
[server]
database = "{database}"
keys_dir = "{keys_dir}"       # keep apart from database backups
host = "127.0.0.1"            # another address needs tls_certfile/tls_keyfile, or behind_tls_proxy
port = 8443
behind_tls_proxy = false      # true only when a TLS proxy in front terminates every connection
trusted_proxies = []          # proxies whose X-Forwarded-For names the client, e.g. ["127.0.0.1"]

[clock]
assume_synchronised = false   # true only in labs and CI: UNSAFE in production

[alarms]
webhook_url = ""
webhook_secret_file = "{keys_dir}/webhook.secret"
webhook_format = "standard"   # Standard Webhooks; "doorward-hmac" for receivers of the old format
syslog_host = ""
syslog_port = 514
syslog_transport = "udp"

# [metrics] (Prometheus) and [mqtt] (Home Assistant): see docs/integrations.md
"""


def init(args: argparse.Namespace, prog: str) -> int:
    """Safe to run again: a config, key or secret that exists is kept, never replaced."""
    if not args.config.exists():
        data_dir = args.data_dir.resolve()
        keys_dir = args.config.resolve().parent / "server-keys"
        args.config.parent.mkdir(parents=True, exist_ok=True)
        args.config.write_text(CONFIG_TEMPLATE.format(database=data_dir / "doorward.server.store.db", keys_dir=keys_dir))
        print(f"wrote {args.config}")
    config = load(args, prog)
    with guarded(prog, config.database):
        config.database.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        keys, made = _keys(config)
        secret = config.keys_dir / "webhook.secret"
        if not secret.exists():
            secret.touch(mode=0o600)
            secret.write_text(new_standard_secret(secrets.token_bytes(32)) + "\n")
        ctx = open_context(config)
        ctx.ledger.create()
        ctx.db.close()
    print(f"signing key:  {config.signing_key_path} ({made})\ndata key:     {config.data_key_path} ({made})")
    print(f"database:     {config.database}")
    print(f"server key fingerprint (read this to each door at pairing):\n  {keys.fingerprint}")
    return 0


def _keys(config) -> tuple[ServerKeys, str]:
    """Both keys made now, or both kept; one without the other is refused (restore the
    missing one from the offline copy of keys_dir: a new one would not match)."""
    paths = (config.signing_key_path, config.data_key_path)
    present = [path for path in paths if path.exists()]
    if not present:
        return create_keys(*paths), "created"
    if len(present) == 1:
        missing = next(path for path in paths if not path.exists())
        raise RuntimeError(f"{present[0]} exists but {missing} does not: restore it from the"
                           " offline copy of keys_dir (init never makes one key of a pair)")
    return load_keys(*paths), "kept: it existed"


def run(args: argparse.Namespace, prog: str) -> int:
    from doorward.server.api.app import create_app  # only the run command needs FastAPI and uvicorn
    from doorward.server.clock import SystemClock
    from doorward.server.api.embedded import make_server

    config = load(args, prog)
    host = args.host or config.host
    refusal = plain_http_refusal(config, host, args.behind_tls_proxy)
    if refusal:
        print(f"{prog}: {refusal}", file=sys.stderr)
        return 1
    lock = backup.ServerLock(config.database)
    if not lock.acquire():
        print(f"{prog}: another server holds {lock.path}", file=sys.stderr)
        return 1
    clock = SystemClock(config.assume_synchronised)
    if config.assume_synchronised:
        log.warning("[clock] assume_synchronised is set: UNSAFE outside labs and CI")
    with guarded(prog):
        app = create_app(config, clock)
    tls = {}
    if config.tls_certfile:
        tls = {"ssl_certfile": config.tls_certfile, "ssl_keyfile": config.tls_keyfile}
    port = config.port if args.port is None else args.port
    try:
        # One line per request only under -v (the root logger at DEBUG): at INFO the log is
        # the site's events, not its traffic.
        access_log = logging.getLogger().isEnabledFor(logging.DEBUG)
        make_server(app, host, port, log_level="info", access_log=access_log, **tls).run()
    finally:
        lock.release()
    return 0


def do_backup(args: argparse.Namespace, prog: str) -> int:
    config = load(args, prog)
    with guarded(prog):
        backup.backup(config.database, args.destination)
    print(f"backed up {config.database} to {args.destination} (keys not included)")
    return 0


def do_restore(args: argparse.Namespace, prog: str) -> int:
    config = load(args, prog)
    ledger = RemovalLedger(config.removal_ledger_path)
    with guarded(prog):
        report = backup.restore(args.source, config.database, ledger)
    print(f"restored {args.source} into {config.database} (schema {report.schema_version});"
          " bundle versions continue above every version issued")
    print(f"removal ledger {ledger.path}: {report.ledger_entries} entries,"
          f" {len(report.reapplied)} re-applied (the others were already in the backup)")
    for entry in report.reapplied:
        print(f"  re-applied: {entry.describe()}")
    print(f"admin sessions ended: {report.sessions_ended}; unused pairing codes voided:"
          f" {report.pairing_codes_voided}; every door gets a new bundle when the server starts")
    return 0


def add_admin(args: argparse.Namespace, prog: str) -> int:
    config = load(args, prog)
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else getpass.getpass("password: ")
    with guarded(prog):
        ctx = open_context(config)
        now = ctx.clock.now()
        with ctx.db.transaction() as conn:
            ident = auth.create_admin(conn, ctx.passwords, args.name, args.role, password, now)
            audit(conn, now, actor(), "admin.create", ident, name=args.name, role=args.role)
    print(f"admin {args.name!r} ({args.role}) created: {ident}")
    return 0


def parser(name: str, prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=f"{prog} {name}")
    add_config_option(p)
    if name == "init":
        p.add_argument("--data-dir", type=Path, default=Path("/var/lib/doorward-server"),
                       help="where a new config puts the database")
    elif name == "run":
        p.add_argument("--host", help="override [server] host")
        p.add_argument("--port", type=int, help="override [server] port (0: any free port)")
        p.add_argument("--behind-tls-proxy", action="store_true",
                       help="TLS terminates in a proxy in front: allow plain HTTP on a non-loopback host")
    elif name == "backup":
        p.add_argument("destination", type=Path)
    elif name == "restore":
        p.add_argument("source", type=Path)
    elif name == "add-admin":
        p.add_argument("name")
        p.add_argument("--role", choices=auth.ADMIN_ROLES, default="admin")
        p.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    return p


HANDLERS = {"init": init, "run": run, "backup": do_backup, "restore": do_restore, "add-admin": add_admin}


def main(argv: list[str], prog: str = "doorward server") -> int:
    name, rest = argv[0], argv[1:]
    return HANDLERS[name](parser(name, prog).parse_args(rest), f"{prog} {name}")

"""``doorward run``: the door daemon in the foreground (systemd's ``Type=notify`` service).

    doorward run [--config PATH]

Loads the configuration (refusing every problem by key path, so an unsafe relay setting
never starts), builds the door (``daemon/runtime/service.py``), installs the signal handlers and
runs until SIGTERM or SIGINT, which stop it within a second with the relay de-energised.
SIGUSR1 asks for an immediate sync (what ``doorward sync`` sends). Exit codes: 0 stopped by
a signal; 1 the door could not start (the GPIO or the journal failed; the unit's stop hook
makes the relay safe and systemd restarts it); 2 bad configuration or usage.
"""

from __future__ import annotations

import logging
import signal
import sys
from pathlib import Path

from doorward.daemon.config.loader import CONFIG_PATH_ENV, default_config_path, load_config
from doorward.daemon.errors import ConfigError
from doorward.daemon.commands.arguments import parser_for

log = logging.getLogger(__name__)

EXIT_OK, EXIT_START_FAILED, EXIT_BAD_CONFIG = 0, 1, 2


def parse_args(argv: list[str]) -> Path:
    parser = parser_for("doorward run", __doc__)
    parser.add_argument("--config", type=Path, default=None,
                        help=f"configuration file (default: ${CONFIG_PATH_ENV}, "
                             "else /etc/doorward/doorward.toml)")
    return parser.parse_args(argv).config or default_config_path()


def main(argv: list[str]) -> int:
    path = parse_args(argv)
    try:
        config = load_config(path)
    except ConfigError as error:
        print(f"doorward run: refusing to start:\n{error}", file=sys.stderr)
        return EXIT_BAD_CONFIG
    from doorward.daemon.runtime.service import DoorService  # after the config: a bad file loads nothing

    service = DoorService(config)
    _install_signals(service)
    try:
        service.start()
    except Exception:
        log.exception("doorward run could not start")
        service.abort()
        return EXIT_START_FAILED
    try:
        service.run()
    finally:
        service.stop()
    log.info("stopped")
    return EXIT_OK


def _install_signals(service) -> None:  # noqa: ANN001 - DoorService, imported lazily
    def stop(signum: int, _frame: object) -> None:
        log.info("%s: stopping", signal.Signals(signum).name)
        service.request_stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGUSR1, lambda _signum, _frame: service.request_sync())

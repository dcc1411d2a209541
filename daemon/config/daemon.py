"""The ``[daemon]`` section: how ``doorward run`` reports, supervises the module and pings.

``status_file``: where the daemon writes its status every ``status_interval_s`` (atomically;
``doorward status`` and ``doorward sync`` read it; the door opens no listener, so this file
is the only window into a running daemon). Left out, it is ``<storage.state_dir>/status.json``.
``health_interval_s`` and ``health_deadline_s``: the module health check queued on the
reader. ``power_cycle_after_s`` and ``power_off_s``: how long the module may stay silent
before its supply is switched off and on (only when ``hardware.module_power`` is wired).
``watchdog_stale_s``: a loop whose last sign of life is older than this stops the systemd
watchdog pings. ``ring_led``: drive the R503's ring LED (idle, granted, denied, waiting).
The section may be left out. Every key is documented in ``docs/configuration.md``. Imports
no IO library.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from doorward.daemon.config.loader import TableReader


@dataclass(frozen=True)
class DaemonConfig:
    status_file: Path | None = None  # None: <storage.state_dir>/status.json
    status_interval_s: float = 1.0
    health_interval_s: float = 1.0
    health_deadline_s: float = 0.5
    power_cycle_after_s: float = 5.0
    power_off_s: float = 1.0
    watchdog_stale_s: float = 3.0
    ring_led: bool = True

    def status_path(self, state_dir: Path) -> Path:
        return self.status_file or state_dir / "status.json"


def _between(low: float, high: float):  # noqa: ANN202
    def check(value: float) -> str | None:
        return None if low <= value <= high else f"{value} is not between {low:g} and {high:g}"
    return check


def _status_file(table: TableReader) -> Path | None:
    text = table.value("status_file", str, None,
                       check=lambda t: None if t.strip() else "must not be empty")
    return None if text is None else (table.base_dir / text).resolve()


def read_daemon(table: TableReader) -> DaemonConfig:
    config = DaemonConfig(
        status_file=_status_file(table),
        status_interval_s=table.value("status_interval_s", float, 1.0, check=_between(0.2, 10)),
        health_interval_s=table.value("health_interval_s", float, 1.0, check=_between(0.2, 10)),
        health_deadline_s=table.value("health_deadline_s", float, 0.5, check=_between(0.1, 5)),
        power_cycle_after_s=table.value("power_cycle_after_s", float, 5.0,
                                        check=_between(1, 600)),
        power_off_s=table.value("power_off_s", float, 1.0, check=_between(0.1, 10)),
        watchdog_stale_s=table.value("watchdog_stale_s", float, 3.0, check=_between(1, 60)),
        ring_led=table.value("ring_led", bool, True),
    )
    deadline, interval = config.health_deadline_s, config.health_interval_s
    if deadline is not None and interval is not None and deadline >= interval:
        table.problem("health_deadline_s", f"{deadline} must be shorter than "
                                           f"health_interval_s ({interval})")
    return config

"""The ``[storage]`` section: where the cache and the journal live, and the journal's limits.

The cache (``cache.db`` and its ``cache.db.version`` backstop) and the journal
(``journal.db``) live in ``state_dir``; the cache's key lives in the door's credential. A
relative path is relative to the configuration file. The journal's retention and row cap
may be raised but never set below the promise's floors (120 h; 500,000 acknowledged rows).
The section may be left out. Every key is documented in ``docs/configuration.md``. Imports
no IO library.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from doorward.daemon.config.loader import TableReader

STATE_DIR_DEFAULT = "/var/lib/doorward"
RETENTION_H_MIN = 120
ACKNOWLEDGED_ROWS_MIN = 500_000


@dataclass(frozen=True)
class StorageConfig:
    state_dir: Path = Path(STATE_DIR_DEFAULT)
    journal_retention_h: float = float(RETENTION_H_MIN)
    journal_max_acknowledged_rows: int = ACKNOWLEDGED_ROWS_MIN
    journal_min_free_mb: int = 64
    journal_max_pending: int = 10_000

    @property
    def cache_path(self) -> Path:
        return self.state_dir / "cache.db"

    @property
    def journal_path(self) -> Path:
        return self.state_dir / "journal.db"

    @property
    def journal_retention_s(self) -> float:
        return self.journal_retention_h * 3600

    @property
    def journal_min_free_bytes(self) -> int:
        return self.journal_min_free_mb * 1024 * 1024


def read_storage(table: TableReader) -> StorageConfig:
    state_dir = _path(table, "state_dir", STATE_DIR_DEFAULT)
    return StorageConfig(
        state_dir=state_dir,
        journal_retention_h=table.value("journal_retention_h", float, float(RETENTION_H_MIN),
                                        check=_at_least(RETENTION_H_MIN, "hours")),
        journal_max_acknowledged_rows=table.value(
            "journal_max_acknowledged_rows", int, ACKNOWLEDGED_ROWS_MIN,
            check=_at_least(ACKNOWLEDGED_ROWS_MIN, "rows")),
        journal_min_free_mb=table.value("journal_min_free_mb", int, 64, check=_at_least(1, "MiB")),
        journal_max_pending=table.value("journal_max_pending", int, 10_000,
                                        check=_at_least(100, "records")),
    )


def _path(table: TableReader, name: str, default: str | None) -> Path | None:
    text = table.value(name, str, default, check=_non_empty)
    return None if text is None else (table.base_dir / text).resolve()


def _at_least(floor: float, unit: str):
    def check(value: float) -> str | None:
        return None if value >= floor else f"{value} is below the floor of {floor} {unit}"
    return check


def _non_empty(text: str) -> str | None:
    return None if text.strip() else "must not be empty"

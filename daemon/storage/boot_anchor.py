"""The anchor file: what a restart, or the next boot, needs to know about time.

Owns ``AnchorStore`` and the file ``<state_dir>/clock-anchor.json``. A restart within one
boot (same kernel boot id, so the same monotonic clock) reads back the newest trusted
(wall, monotonic) pair, the monotonic time the snapshot in force was applied or last
confirmed by the server, and the first start in this boot (the boot grace never starts
again on a restart). Another boot's monotonic times mean nothing, so after a reboot only
``wall_floor`` survives: a lower bound on the wall time, kept at every write as the
newest trusted time plus the monotonic time since. ``knowledge`` is what the controller
starts from (``decision_state.BootKnowledge``; the rules are in docs/reasons.md, "Boot").

Writes are atomic (temporary file, fsync, rename) and rare: at once for what matters (the
first trusted reading in a boot, a new snapshot version, the first write of a run),
otherwise at most every ``WRITE_EVERY_S``, and at stop. A stale anchor only errs on the safe
side: an older trusted pair extrapolates to the same time, an older freshness anchor
expires sooner. A missing or unreadable file is logged and means "nothing known"; a
failed write is logged and tried again at the next tick. Anyone who can write the state
directory can forge it, as they can replace the cache (docs/threat-model.md).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from doorward.daemon.access.state import BootKnowledge

log = logging.getLogger(__name__)

ANCHOR_FILE = "clock-anchor.json"
FORMAT = "doorward-anchor/1"
WRITE_EVERY_S = 300.0


@dataclass(frozen=True)
class Anchors:
    boot_id: str
    started_mono: float
    wall_floor: float | None = None  # at started_mono
    last_trusted: tuple[float, float] | None = None  # (wall, mono), this boot
    fresh: tuple[int, float] | None = None  # (version, mono), this boot

    def floor_at(self, mono_now: float) -> float | None:
        """The best lower bound on the wall time at ``mono_now``."""
        floors = [] if self.wall_floor is None else [self.wall_floor + mono_now - self.started_mono]
        if self.last_trusted is not None:
            floors.append(self.last_trusted[0] + mono_now - self.last_trusted[1])
        return max(floors) if floors else None

    def to_json(self, mono_now: float) -> dict[str, Any]:
        return {"format": FORMAT, "boot_id": self.boot_id, "started_mono": self.started_mono,
                "written_mono": mono_now, "wall_floor": self.floor_at(mono_now),
                "last_trusted": list(self.last_trusted) if self.last_trusted else None,
                "fresh": list(self.fresh) if self.fresh else None}


def read_anchors(path: Path) -> dict[str, Any] | None:
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        log.warning("%s: unreadable, starting without time anchors: %s", path, error)
        return None
    if not isinstance(stored, dict) or stored.get("format") != FORMAT:
        log.warning("%s: not a %s file, starting without time anchors", path, FORMAT)
        return None
    return stored


def anchors_at_start(stored: dict[str, Any] | None, boot_id: str, mono_now: float) -> Anchors:
    """This run's anchors: all of the file's within its boot, only its floor after a reboot."""
    if stored is None:
        return Anchors(boot_id, mono_now)
    try:
        floor = _number(stored["wall_floor"])  # the floor at written_mono
        if stored["boot_id"] != boot_id or boot_id == "unknown":
            return Anchors(boot_id, mono_now, floor)  # the wall time now is later still
        started = float(stored["started_mono"])
        if floor is not None:
            floor -= float(stored["written_mono"]) - started
        return Anchors(boot_id, started, floor, _pair(stored["last_trusted"], float),
                       _pair(stored["fresh"], int))
    except (KeyError, TypeError, ValueError) as error:
        log.warning("clock anchor file malformed (%r): starting without time anchors", error)
        return Anchors(boot_id, mono_now)


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def _pair(value: Any, first: type) -> tuple[Any, float] | None:
    if value is None:
        return None
    if not isinstance(value, list) or len(value) != 2:
        raise ValueError(f"expected a pair, got {value!r}")
    return first(value[0]), float(value[1])


class AnchorStore:
    """Keeps the anchors and writes them; every method may be called from any thread."""

    def __init__(self, path: Path, boot_id: str, mono_now: float) -> None:
        self.path = path
        self._anchors = anchors_at_start(read_anchors(path), boot_id, mono_now)
        self.knowledge = BootKnowledge(self._anchors.started_mono, self._anchors.wall_floor,
                                       self._anchors.last_trusted, self._anchors.fresh)
        self._written_mono: float | None = None
        self._urgent = True
        self._lock = threading.Lock()

    def trusted(self, wall_now: float, mono_now: float) -> None:
        with self._lock:
            self._urgent |= self._anchors.last_trusted is None
            self._anchors = replace(self._anchors, last_trusted=(wall_now, mono_now))

    def fresh(self, version: int, mono_now: float) -> None:
        with self._lock:
            held = self._anchors.fresh
            if held is not None and held[0] == version and held[1] >= mono_now:
                return
            self._urgent |= held is None or held[0] != version
            self._anchors = replace(self._anchors, fresh=(version, mono_now))

    def status(self) -> dict[str, Any]:
        """For the status file: this boot's first start and the snapshot's freshness anchor."""
        with self._lock:
            fresh = self._anchors.fresh
            return {"boot_started_mono": self._anchors.started_mono,
                    "fresh_version": fresh[0] if fresh else None,
                    "fresh_mono": fresh[1] if fresh else None}

    def observe(self, trusted: bool, wall_now: float, mono_now: float) -> None:
        """The supervision loop's clock reading, every second: anchor it, write if due."""
        if trusted:
            self.trusted(wall_now, mono_now)
        self.tick(mono_now)

    def tick(self, mono_now: float) -> None:
        """Write if something matters now, or the last write is ``WRITE_EVERY_S`` old."""
        with self._lock:
            due = self._written_mono is None or mono_now - self._written_mono >= WRITE_EVERY_S
            if self._urgent or due:
                self._write(mono_now)

    def flush(self, mono_now: float) -> None:
        with self._lock:
            self._write(mono_now)

    def _write(self, mono_now: float) -> None:
        try:
            _write_atomically(self.path, self._anchors.to_json(mono_now))
        except OSError as error:
            log.warning("%s: cannot write the time anchors: %s", self.path, error)
            return
        self._written_mono, self._urgent = mono_now, False


def _write_atomically(path: Path, value: dict[str, Any]) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        os.write(descriptor, json.dumps(value, sort_keys=True).encode())
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    os.replace(temporary, path)

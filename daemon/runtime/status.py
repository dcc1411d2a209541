"""The daemon's status: what the status file holds, and whether the watchdog may be pinged.

Owns ``Liveness`` (the last sign of life of each loop: controller, reader, supervision, the
GPIO and the sync loops) and ``status_document``, a plain dict for ``daemon/storage/status_file.py``.
The watchdog is pinged only while every loop that should run has shown life within
``stale_s``: the controller's own ``alive_at_mono``, the reader's pulse (only while a reader
exists: a door without its module is degraded, not hung), the supervision loop, a GPIO read
that returned, and, while the door is paired, every sync loop alive and none stuck in one
step past its deadlines (``SyncClient.problems``: a loop waiting out a back-off is alive).
A stalled GPIO or a dead upload loop therefore stops the pings, and systemd restarts the
daemon while the relay line falls back to its safe level. Reads only in-memory views and
the clock.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from typing import Any

from doorward.daemon.codec.alarms import Alarm
from doorward.daemon.controller.clock import TimeTrust
from doorward.daemon.controller.thread import Controller
from doorward.daemon.journal.resilient import JournalStatus
from doorward.daemon.runtime.link import ModuleLink
from doorward.daemon.runtime.sinks import RecentDecisions, ServiceAlarms
from doorward.daemon.runtime.supervision import ModuleSupervisor
from doorward.daemon.storage.boot_anchor import AnchorStore
from doorward.daemon.storage.cache import PermissionCache
from doorward.daemon.sync.client import SyncClient
from doorward.drivers.gpio.door import DoorHardware

log = logging.getLogger(__name__)

STATUS_FORMAT = 1


@dataclass
class Liveness:
    supervision_mono: float | None = None
    gpio_ok_mono: float | None = None
    gpio_error: str | None = None
    relay_read_energised: bool | None = None  # the relay line as last read back

    def supervised(self, mono_now: float) -> None:
        """The supervision loop's pass: its sign of life."""
        self.supervision_mono = mono_now

    def probe_gpio(self, hardware: DoorHardware) -> None:
        """Read the relay line back: the GPIO's proof of life, and what the status shows."""
        try:
            self.relay_read_energised = hardware.relay_energised()
        except Exception as error:  # a stalled hub or a dead GPIO chip: no watchdog pings
            text = f"{type(error).__name__}: {error}"
            if text != self.gpio_error:
                log.error("the relay line cannot be read back: %s", text)
            self.gpio_error = text
            return
        self.gpio_ok_mono, self.gpio_error = time.monotonic(), None

    def problems(self, mono_now: float, stale_s: float, controller: Controller,
                 link: ModuleLink, reader_pulse_mono: float,
                 sync: SyncClient | None = None) -> list[str]:
        """Empty when every loop is alive; otherwise what is not."""
        found = []
        alive = controller.status().alive_at_mono
        if alive is None or mono_now - alive > stale_s:
            found.append("controller loop not alive")
        if link.reader is not None and mono_now - reader_pulse_mono > stale_s:
            found.append("reader loop not alive")
        if self.supervision_mono is None or mono_now - self.supervision_mono > stale_s:
            found.append("supervision loop not alive")
        if self.gpio_ok_mono is None or mono_now - self.gpio_ok_mono > stale_s:
            found.append(f"GPIO not answering ({self.gpio_error or 'no reply yet'})")
        if sync is not None:
            found += sync.problems(mono_now)
        return found


def _age_s(mono_now: float, then: float | None) -> float | None:
    return None if then is None else round(mono_now - then, 3)


def door_section(controller: Controller, liveness: Liveness) -> dict[str, Any]:
    status = controller.status()
    return {"state": status.door, "relay_energised": status.relay_energised,
            "relay_read_energised": liveness.relay_read_energised,
            "contact_open": status.contact_open, "lockdown": status.lockdown,
            "forced": status.forced, "held": status.held, "tamper": status.tamper,
            "last_reason": status.last_reason, "queue_depth": status.queue_depth,
            "faults": status.faults, "running": status.running}


def reader_section(link: ModuleLink, offline_since_mono: float | None,
                   mono_now: float) -> dict[str, Any]:
    status = link.status()
    section: dict[str, Any] = {"state": link.state_name(),
                               "offline_for_s": _age_s(mono_now, offline_since_mono)}
    if status is None:
        return section | {"online": False, "detail": link.absent_why, "biometric_ready": False}
    return section | {"online": status.online, "detail": status.detail,
                      "biometric_ready": status.biometric_ready,
                      "binding": status.binding.value if status.binding else None,
                      "module_identity": status.module_identity,
                      "reconciling": status.reconciling}


def sync_section(sync: SyncClient | None, mono_now: float, why_disabled: str) -> dict[str, Any]:
    if sync is None:
        return {"enabled": False, "why": why_disabled}
    status = sync.status()
    return {"enabled": True, "online": status.online, "last_error": status.last_error,
            "last_success_age_s": _age_s(mono_now, status.last_success_mono),
            "events_acknowledged": status.events_acknowledged}


def status_sections(mono_now: float, *, controller: Controller, liveness: Liveness,
                    link: ModuleLink, supervisor: ModuleSupervisor, sync: SyncClient | None,
                    cache: PermissionCache | None, trust: TimeTrust, anchors: AnchorStore,
                    journal: JournalStatus, decisions: RecentDecisions, alarms: ServiceAlarms,
                    problems: list[Alarm]) -> dict[str, Any]:
    """Every section of the status file, from the parts' in-memory views."""
    reading = trust.read()
    disabled = "; ".join(alarm.detail for alarm in problems) or "not paired"
    return {
        "door": door_section(controller, liveness),
        "reader": reader_section(link, supervisor.state.offline_since_mono, mono_now),
        "sync": sync_section(sync, mono_now, disabled),
        "versions": {"applied": cache.applied_version() if cache else None,
                     "reconciled": cache.reconciled_version() if cache else None,
                     "in_force": controller.status().snapshot_version},
        "clock": {"trusted": reading.trusted, "reason": reading.untrusted_reason,
                  **anchors.status()},
        "journal": {"backlog": journal.backlog, "pending": journal.pending,
                    "failing": journal.failing, "disk_low": journal.disk_low},
        "last_decisions": decisions.items(),
        "recent_alarms": alarms.recent(),
        "problems": [alarm.detail for alarm in problems],
    }


def status_document(*, state: str, sections: dict[str, Any], problems: list[str],
                    mono_now: float) -> dict[str, Any]:
    return {"format": STATUS_FORMAT, "pid": os.getpid(), "state": state,
            "updated_at": time.time(), "updated_mono": mono_now,
            "watchdog": {"healthy": not problems, "problems": problems}, **sections}

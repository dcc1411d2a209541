"""Periodic duties: door-offline alarms, template retention, and rebuilding dirty bundles.

Owns ``Monitor`` (offline doors after ``missed_heartbeats`` missed heartbeats; templates unused
for the retention period warned about, then deleted) and ``Rebuilder`` (issues new bundles
for dirty devices as soon as a write commits, or within ``rebuild_interval_s`` when the write
came from another process, and wakes their held long-polls).
"""

from __future__ import annotations

import asyncio
import logging

from doorward.server.domain import alarms
from doorward.server.bundles.issue import BundleService
from doorward.server.context import ServerContext, audit, mark_devices_dirty, wait_either
from doorward.server.errors import ServiceError
from doorward.server.store.ledger import LedgerError
from doorward.server.bundles.notifier import BundleNotifier

log = logging.getLogger(__name__)
DAY_S = 86400.0


class Monitor:
    def __init__(self, ctx: ServerContext) -> None:
        self.ctx = ctx
        self._ledger_problem = ""  # log a ledger failure once, not every tick

    async def run(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            await asyncio.to_thread(self.tick)
            await wait_either(asyncio.Event(), stopping, self.ctx.config.monitor_interval_s)

    def tick(self) -> None:
        now = self.ctx.clock.now()
        with self.ctx.write() as conn:
            self.raise_offline(conn, now)
        try:
            with self.ctx.write() as conn:
                self.sweep_retention(conn, now)
        except LedgerError as error:  # retention waits for the ledger; offline alarms do not
            if str(error) != self._ledger_problem:
                log.error("retention sweep postponed: %s", error)
            self._ledger_problem = str(error)

    def raise_offline(self, conn, now: float) -> None:
        config = self.ctx.config
        limit = now - config.heartbeat_interval_s * config.missed_heartbeats
        rows = conn.execute(
            "SELECT id, name, IFNULL(last_heartbeat_at, paired_at) AS seen FROM devices WHERE"
            " token_sha256 IS NOT NULL AND offline_alarmed = 0 AND IFNULL(last_heartbeat_at, paired_at) < ?",
            (limit,)).fetchall()
        for row in rows:
            alarms.raise_alarm(conn, now, alarms.sinks_of(config.alarms), "door_offline", row["id"],
                               {"last_seen": row["seen"], "missed_heartbeats": config.missed_heartbeats})
            conn.execute("UPDATE devices SET offline_alarmed = 1 WHERE id = ?", (row["id"],))

    def sweep_retention(self, conn, now: float) -> None:
        """Warn about templates unused for (retention - warning) days; delete those unused for
        the whole period once the warning has stood for the warning period."""
        config = self.ctx.config
        retention_s, warning_s = config.retention_days * DAY_S, config.retention_warning_days * DAY_S
        conn.execute("UPDATE fingers SET retention_warned_at = ? WHERE retention_warned_at IS NULL AND"
                     " IFNULL(last_used_at, enrolled_at) < ?", (now, now - retention_s + warning_s))
        conn.execute("UPDATE fingers SET retention_warned_at = NULL WHERE retention_warned_at IS NOT NULL"
                     " AND IFNULL(last_used_at, enrolled_at) >= ?", (now - retention_s + warning_s,))
        doomed = conn.execute(
            "SELECT id, user_id, module_identity FROM fingers WHERE IFNULL(last_used_at, enrolled_at) < ?"
            " AND retention_warned_at <= ?", (now - retention_s, now - warning_s)).fetchall()
        for finger in doomed:
            mark_devices_dirty(conn, "kind = 'station' AND module_identity = ?", (finger["module_identity"],))
            mark_devices_dirty(conn, "zone_id IN (SELECT zone_id FROM grants WHERE user_id = ?)",
                               (finger["user_id"],))
            conn.execute("DELETE FROM fingers WHERE id = ?", (finger["id"],))
            self.ctx.ledger.record("finger.deleted", finger["id"], now, "server:retention")
            audit(conn, now, "server:retention", "finger.delete", finger["id"], user_id=finger["user_id"],
                  reason="unused for the retention period")


class Rebuilder:
    def __init__(self, ctx: ServerContext, bundles: BundleService, notifier: BundleNotifier) -> None:
        self.ctx, self.bundles, self.notifier = ctx, bundles, notifier
        self._last_problem: dict[str, str] = {}  # log a device's problem once, not every pass

    async def run(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            self.ctx.signals.rebuild.clear()
            for device_id in await asyncio.to_thread(self.bundles.dirty_devices):
                await self._rebuild(device_id)
            await wait_either(self.ctx.signals.rebuild, stopping, self.ctx.config.rebuild_interval_s)

    async def _rebuild(self, device_id: str) -> None:
        try:
            await asyncio.to_thread(self.bundles.ensure_current, device_id)
            self._last_problem.pop(device_id, None)
        except ServiceError as error:
            if self._last_problem.get(device_id) != str(error):
                log.warning("bundle for %s not issued: %s", device_id, error)
            self._last_problem[device_id] = str(error)
        except Exception:  # one bad device must not stop the others' bundles
            log.exception("bundle for %s failed", device_id)
        self.notifier.notify(device_id)

"""Prometheus metrics of the server: ``ServerMetrics`` holds one registry per app (two apps
in one process share nothing) with what the server measures as it runs, and a collector that
reads the store at scrape time for what the doors last reported.

Measured as it runs: bundle build durations, the duration of door polls (held ones
included) and heartbeats, polls held right now. Read at scrape time (``StoreCollector``):
per door online, heartbeat age, backlog, lockdown, reader online, applied, reconciled and
issued bundle versions; alarms by kind and state; access decisions by door, outcome and
reason; the database file's size, its write-ahead log's and the connections open (SQLite
keeps one per thread, there is no pool).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Iterator

from prometheus_client import CollectorRegistry, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from doorward.server.context import ServerContext
from doorward.server.integrations.door_figures import alarm_counts, decision_counts, door_figures

# Polls are held up to bundles.max_wait_s (at most 60 s): the buckets reach past it.
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
BUILD_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
TIMED_PATHS = {"/api/v1/device/bundle": "poll", "/api/v1/device/heartbeat": "heartbeat"}
DOOR_LABELS = ("door", "name")


class ServerMetrics:
    def __init__(self, ctx: ServerContext) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.bundle_build_seconds = Histogram(
            "doorward_bundle_build_seconds", "Time to build, sign and store one door's bundle",
            buckets=BUILD_BUCKETS, registry=self.registry)
        self.request_seconds = Histogram(
            "doorward_device_request_seconds", "Door requests by endpoint (poll: held time included)",
            ["endpoint"], buckets=REQUEST_BUCKETS, registry=self.registry)
        self.held_polls = Gauge("doorward_held_polls", "Bundle long-polls held now",
                                registry=self.registry)
        self.registry.register(StoreCollector(ctx))


class StoreCollector(Collector):
    """Reads the store at each scrape, so the figures are the stored truth, not a copy."""

    def __init__(self, ctx: ServerContext) -> None:
        self.ctx = ctx

    def describe(self) -> list:
        return []  # figures appear as doors do: no fixed description to check at register

    def collect(self) -> Iterator[Any]:
        conn, now, config = self.ctx.read(), self.ctx.clock.now(), self.ctx.config
        doors = door_figures(conn, now, config.heartbeat_interval_s * config.missed_heartbeats)
        yield from _door_families(doors, now)
        yield from _alarm_families(alarm_counts(conn))
        decisions = CounterMetricFamily("doorward_access_decisions", "Access decisions uploaded by"
                                        " doors, by outcome and reason code",
                                        labels=("door", "decision", "reason"))
        for door, decision, reason, count in decision_counts(conn):
            decisions.add_metric((door, decision, reason), count)
        yield decisions
        yield from _database_families(self.ctx)


def _door_gauge(name: str, text: str, doors: list, value: Callable[[Any], float | None]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, text, labels=DOOR_LABELS)
    for door in doors:
        figure = value(door)
        if figure is not None:
            family.add_metric((door.door_id, door.name), float(figure))
    return family


def _door_families(doors: list, now: float) -> Iterator[GaugeMetricFamily]:
    yield _door_gauge("doorward_door_online", "1 while the door's heartbeats arrive", doors,
                      lambda d: d.online)
    yield _door_gauge("doorward_door_last_heartbeat_age_seconds", "Since the door's last heartbeat",
                      doors, lambda d: None if d.last_heartbeat_at is None else now - d.last_heartbeat_at)
    yield _door_gauge("doorward_door_backlog_events", "Journal records the door has not uploaded yet",
                      doors, lambda d: d.backlog)
    yield _door_gauge("doorward_door_lockdown", "1 while the door or its zone is in lockdown",
                      doors, lambda d: d.lockdown)
    yield _door_gauge("doorward_door_reader_online", "1 while the door reports its reader answering",
                      doors, lambda d: None if d.reader_state is None else d.reader_online)
    yield _door_gauge("doorward_door_applied_version", "Bundle version the door applied", doors,
                      lambda d: d.applied_version)
    yield _door_gauge("doorward_door_reconciled_version", "Bundle version the door's module matches",
                      doors, lambda d: d.reconciled_version)
    yield _door_gauge("doorward_door_bundle_version", "Bundle version the server issued last",
                      doors, lambda d: d.bundle_version)


def _alarm_families(counts: list[tuple[str, str, int]]) -> Iterator[Any]:
    raised = CounterMetricFamily("doorward_alarms_raised", "Alarms stored, by kind", labels=("kind",))
    by_state = GaugeMetricFamily("doorward_alarms", "Alarms stored, by kind and state",
                                 labels=("kind", "state"))
    totals: dict[str, int] = {}
    for kind, state, count in counts:
        by_state.add_metric((kind, state), count)
        totals[kind] = totals.get(kind, 0) + count
    for kind, count in totals.items():
        raised.add_metric((kind,), count)
    yield raised
    yield by_state


def _database_families(ctx: ServerContext) -> Iterator[GaugeMetricFamily]:
    path = Path(ctx.db.path)
    wal = path.with_name(path.name + "-wal")
    yield GaugeMetricFamily("doorward_database_size_bytes", "The SQLite file", value=_size(path))
    yield GaugeMetricFamily("doorward_database_wal_size_bytes", "Its write-ahead log", value=_size(wal))
    yield GaugeMetricFamily("doorward_database_connections", "SQLite connections open (one per"
                            " thread that used the database)", value=ctx.db.open_connections)


def _size(path: Path) -> float:
    try:
        return float(path.stat().st_size)
    except FileNotFoundError:
        return 0.0


class RequestTimer:
    """ASGI middleware timing the door's poll and heartbeat requests, whatever their answer."""

    def __init__(self, app: Any, metrics: ServerMetrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        endpoint = TIMED_PATHS.get(scope.get("path", "")) if scope["type"] == "http" else None
        if endpoint is None:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send)
        finally:
            self.metrics.request_seconds.labels(endpoint).observe(time.perf_counter() - started)

"""The event upload against the reference server when records are lost (promise 2): a
deleted or unreadable record stops nothing and raises one alarm at door and server; a gap
the door cannot resolve shows in the status and backs off; no failure kills a sync loop,
and the watchdog sees a loop that died or hangs. The door runs its default 30 s sync
interval: events leave because they were journalled, not because a short interval polls."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from doorward.daemon.sync import http
from doorward.daemon.sync import client as sync
from doorward.daemon.journal.loss import MISSING, UNREADABLE
from doorward.daemon.sync.pairing import pair
from doorward.daemon.runtime.status import Liveness
from tests.support.server import wait_until
from tests.integration.test_sync_client import DoorJournal, new_door, request, site, sync_client  # noqa: F401

INTERVAL_S = 30.0  # the policy's default sync_interval_s
WITHIN_S = 5.0  # far inside one interval


@pytest.fixture
def door(site, tmp_path):  # noqa: F811 (the fixture imported above)
    server, admin, site_id, zone_id = site
    _, code = new_door(admin, site_id, zone_id)
    credentials = pair(request(server, code))
    return server, admin, credentials, DoorJournal(tmp_path, credentials.device_id)


@pytest.fixture
def posts(monkeypatch) -> list[float]:
    """The monotonic time of every event upload the door makes."""
    times: list[float] = []
    real = http.ServerConnection.call_json

    def counting(self, method, path, **kwargs):  # noqa: ANN001
        if path == "/api/v1/device/events":
            times.append(time.monotonic())
        return real(self, method, path, **kwargs)

    monkeypatch.setattr(http.ServerConnection, "call_json", counting)
    return times


def raw(journal: DoorJournal, sql: str) -> None:
    with sqlite3.connect(journal.events.path) as conn:
        conn.execute(sql)


def server_events(admin, door_id: str) -> list[dict]:  # noqa: ANN001
    return admin.get("/api/v1/events", params={"device_id": door_id, "limit": 1000}).json()


def alarms_of(admin, kind: str) -> list[dict]:  # noqa: ANN001
    return [a for a in admin.get("/api/v1/alarms").json() if a["kind"] == kind]


@pytest.mark.parametrize("damage,reason", [
    ("DELETE FROM events WHERE seq = 2", MISSING),
    ("UPDATE events SET record = '{\"door_id\": trunc' WHERE seq = 2", UNREADABLE),
])
def test_a_lost_record_stops_nothing_and_raises_one_alarm(door, posts, damage, reason) -> None:
    server, admin, credentials, journal = door
    for n in range(3):
        journal.append("access_denied", {"reason": "unknown_finger", "n": n})
    raw(journal, damage)
    client = sync_client(credentials, journal, [], interval_s=INTERVAL_S)
    client.start()
    try:
        journal.append("alarm", {"alarm": "forced_open", "detail": "opened while locked"})
        client.events_journalled()
        started = time.monotonic()
        wait_until(lambda: alarms_of(admin, "forced"), timeout_s=WITHIN_S)
        wait_until(lambda: journal.events.backlog() == 0, timeout_s=WITHIN_S)
        assert time.monotonic() - started < WITHIN_S
        status = client.status()
        assert status.online and status.last_error is None
        assert len(posts) <= 4  # the batch, the declaration; never a post every 250 ms
    finally:
        client.stop()
    [loss] = alarms_of(admin, "journal_loss")
    detail = loss["detail"]
    assert (detail["journal_id"], detail["from_seq"], detail["to_seq"], detail["reason"]) == \
        (journal.journal_id, 2, 2, reason)
    assert [lost.from_seq for lost in journal.losses_told] == [2]  # the door's own alarm
    stored = sorted(e["seq"] for e in server_events(admin, credentials.device_id))
    assert stored == [1, 3, 4, 5]  # 5: the declaration itself, in the chain
    assert [a["kind"] for a in admin.get("/api/v1/alarms").json()].count("chain_break") == 0


class Unresolvable:
    """A feed whose records start after a gap it cannot explain."""

    def __init__(self, journal: DoorJournal) -> None:
        self.inner, self.journal_id = journal.feed, journal.journal_id

    def unacknowledged(self, limit: int):  # noqa: ANN201
        return [e for e in self.inner.unacknowledged(limit) if e.seq > 1]

    def acknowledge(self, up_to_seq: int) -> None:
        self.inner.acknowledge(up_to_seq)

    def pending_losses(self) -> list:
        return []

    def resolve_gap(self, expected_seq: int) -> bool:
        return False


def test_a_gap_the_door_cannot_resolve_is_a_failure_that_backs_off(door, posts) -> None:
    server, admin, credentials, journal = door
    journal.append("daemon_started", {})
    journal.append("alarm", {"alarm": "tamper", "detail": "x"})
    client = sync_client(credentials, Unresolvable(journal), [], interval_s=INTERVAL_S,
                         backoff_initial_s=1.0)
    client.start()
    try:
        wait_until(lambda: client.status().last_error, timeout_s=WITHIN_S)
        time.sleep(3.0)
        status = client.status()
    finally:
        client.stop()
    assert not status.online and "sync-events" in status.last_error
    assert "expects seq 1" in status.last_error
    assert len(posts) <= 4, posts  # 1 s, 2 s, 4 s back-off: not 12+ posts in 3 s
    assert journal.acked == 0


class Flaky:
    """The real feed, but its first reads fail as a corrupt row made the old journal fail."""

    def __init__(self, journal: DoorJournal, failures: int, error: BaseException) -> None:
        self.inner, self.journal_id = journal.feed, journal.journal_id
        self.failures, self.error = failures, error
        self.release = threading.Event()

    def unacknowledged(self, limit: int):  # noqa: ANN201
        if self.failures > 0:
            self.failures -= 1
            raise self.error
        return self.inner.unacknowledged(limit)

    def __getattr__(self, name: str):  # noqa: ANN204
        return getattr(self.inner, name)


def test_an_unexpected_exception_never_kills_the_upload_loop(door) -> None:
    server, admin, credentials, journal = door
    journal.append("daemon_started", {})
    feed = Flaky(journal, 2, ValueError("Expecting ',' delimiter: line 1 column 9"))
    client = sync_client(credentials, feed, [], interval_s=INTERVAL_S)
    client.start()
    try:
        wait_until(lambda: "ValueError" in (client.status().last_error or "")
                   or "delimiter" in (client.status().last_error or ""), timeout_s=WITHIN_S)
        wait_until(lambda: journal.acked == 1, timeout_s=WITHIN_S)
        wait_until(lambda: client.status().online, timeout_s=WITHIN_S)
        assert client.problems(time.monotonic()) == []
    finally:
        client.stop()


class Died(BaseException):
    """Something no loop may catch (as SystemExit would be)."""


class Hanging:
    def __init__(self, journal: DoorJournal) -> None:
        self.inner, self.journal_id = journal.feed, journal.journal_id
        self.release = threading.Event()

    def unacknowledged(self, limit: int):  # noqa: ANN201
        self.release.wait(10)
        return []

    def __getattr__(self, name: str):  # noqa: ANN204
        return getattr(self.inner, name)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_the_watchdog_sees_a_dead_or_a_stuck_sync_loop(door, monkeypatch) -> None:
    server, admin, credentials, journal = door
    monkeypatch.setattr(sync, "STEP_GRACE_S", 0.0)
    dead = sync_client(credentials, Flaky(journal, 1, Died()), [], request_deadline_s=0.5,
                       long_poll_s=0.5)
    dead.start()
    try:
        found = wait_until(lambda: dead.problems(time.monotonic()), timeout_s=WITHIN_S)
        assert found == ["sync-events loop died"]
    finally:
        dead.stop()
    hanging = Hanging(journal)
    stuck = sync_client(credentials, hanging, [], request_deadline_s=0.5, long_poll_s=0.5)
    stuck.start()
    try:
        found = wait_until(lambda: stuck.problems(time.monotonic()), timeout_s=WITHIN_S)
        assert len(found) == 1 and found[0].startswith("sync-events loop stuck in one step")
        liveness = Liveness(supervision_mono=time.monotonic(), gpio_ok_mono=time.monotonic())
        controller = SimpleNamespace(status=lambda: SimpleNamespace(alive_at_mono=time.monotonic()))
        link = SimpleNamespace(reader=None)
        assert liveness.problems(time.monotonic(), 3.0, controller, link, 0.0, stuck) == found
    finally:
        hanging.release.set()
        stuck.stop()

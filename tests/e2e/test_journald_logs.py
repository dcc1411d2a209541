"""What ``journalctl -u doorward`` shows: the door's stderr under systemd (JOURNAL_STREAM set)
has one line per access decision and per alarm, naming the door, with journald's priority
prefix and no time of its own, and no HTTP request lines from the sync loops."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from doorward.server.clock import ManualClock
from tests.support.daemon import CONTACT, door_factory, wait_until  # noqa: F401
from tests.support.server import running_server

pytestmark = pytest.mark.serial_timing


@pytest.fixture
def site(tmp_path: Path):
    with running_server(tmp_path, clock=ManualClock(time.time() - 5)) as server:
        yield server


def lines(text: str, pattern: str) -> list[str]:
    return [line for line in text.splitlines() if re.search(pattern, line)]


def test_the_journal_shows_each_decision_and_alarm_and_no_http_traffic(door_factory, site) -> None:  # noqa: F811
    door = door_factory(mode="strict")
    door.pair_in_process(site)
    door.enrol("f-alice")
    door.start_daemon(env={"JOURNAL_STREAM": "8:4242"})
    door.wait_ready(30)
    label = f"Lab door \\({door.door_id}\\)"
    door.place("f-alice")
    wait_until(lambda: lines(door.log_text(), "granted user="), 5, "the granted line")
    door.lift()
    door.place("f-stranger")
    wait_until(lambda: lines(door.log_text(), "denied user="), 5, "the denied line")
    door.lift()
    time.sleep(2.0)  # the unlock ends: the next opening is forced
    door.hub.control.drive(CONTACT, 1)
    wait_until(lambda: lines(door.log_text(), "alarm forced_open"), 5, "the alarm line")
    door.hub.control.drive(CONTACT, 0)
    door.stop_daemon()
    text = door.log_text()

    granted = lines(text, "granted user=")
    assert len(granted) == 1, text
    assert re.fullmatch(rf"<6>doorward\.\S+: door {label}: granted user=u_\S+ reason=granted",
                        granted[0]), granted
    denied = lines(text, "denied user=")
    assert len(denied) == 1 and re.fullmatch(
        rf"<6>doorward\.\S+: door {label}: denied user=- reason=\S+", denied[0]), denied
    forced = lines(text, "alarm forced_open")
    assert len(forced) == 1 and re.match(rf"<4>doorward\.\S+: alarm forced_open at door {label}: ",
                                         forced[0]), forced
    assert not lines(text, r"HTTP Request|HTTP/1\.1"), "HTTP traffic in the journal"
    assert not lines(text, r"^\d{4}-\d\d-\d\d"), "a time of our own under journald"
    assert all(line.startswith("<") for line in text.splitlines() if line.strip()), text

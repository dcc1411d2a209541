"""The demo's day end to end: every process separate, every step asserted event by event.

One site per module (``tests/support/e2e.py``) plays ``doorward.sim.demo.day.play_day``; the tests read
its timeline records. ``make demo`` itself runs once as a subprocess (``--json``), and once
interrupted with Ctrl-C, and neither may leave a process behind.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from doorward.sim.demo.day import play_day
from doorward.sim.rig.site import DemoSite
from tests.support.e2e import site_fixture, wait_gone
from tests.support.hub import REPO

pytestmark = pytest.mark.serial_timing
site = site_fixture()

DAY = [  # step, decision kind, reason, relay openings
    ("lobby_granted", "access_granted", "granted", 1),
    ("tent_denied", "access_denied", "unknown_finger", 0),
    ("tent_waiting", "access_denied", "waiting_second_person", 0),
    ("tent_two_person", "access_granted", "granted", 1),
    ("duress_granted", "access_granted", "granted_duress", 1),
    ("offline_granted", "access_granted", "granted", 1),
    ("revoked_denied", "access_denied", "unknown_finger", 0),
]


@pytest.fixture(scope="module")
def day(site: DemoSite) -> list[dict]:
    play_day(site)
    return site.timeline.records


def test_setup_pairs_with_the_fingerprint_check_and_enrols_at_the_kiosk(day: list[dict]) -> None:
    steps = [r["step"] for r in day]
    setup = steps[:steps.index("lobby_granted")]
    assert setup == ["server_init", "server_up", "site_created", "pair_refused", "paired",
                     "paired", "doors_running", "enrolled", "enrolled", "enrolled",
                     "duress_finger", "granted", "granted", "granted"]
    assert "fingerprint" in next(r for r in day if r["step"] == "pair_refused")["stderr"]


def test_the_day_event_by_event(day: list[dict]) -> None:
    decisions = [(r["step"], r["kind"], r["reason"], r["relay_openings"])
                 for r in day if "reason" in r]
    assert decisions == DAY


def test_the_days_steps_in_order(day: list[dict]) -> None:
    steps = [r["step"] for r in day]
    start = steps.index("lobby_granted")
    assert steps[start:] == [
        "lobby_granted", "tent_denied", "tent_waiting", "tent_two_person", "duress_granted",
        "duress_alarm", "server_stopped", "offline_granted", "events_uploaded", "revoked",
        "removal_confirmed", "revoked_denied", "forced_alarm", "summary"]


def test_alarms_reach_the_webhook_within_5_s(day: list[dict], site: DemoSite) -> None:
    for step in ("duress_alarm", "forced_alarm"):
        record = next(r for r in day if r["step"] == step)
        assert record["after_s"] < 5.0, record
    assert site.webhook.refused == 0


def test_offline_entry_queued_then_uploaded(day: list[dict]) -> None:
    offline = next(r for r in day if r["step"] == "offline_granted")
    assert offline["backlog"] >= 1
    assert next(r for r in day if r["step"] == "events_uploaded")["lobby_grants"] == 3


def test_revocation_reaches_the_door_within_5_s(day: list[dict]) -> None:
    assert next(r for r in day if r["step"] == "revoked")["seconds"] < 5.0
    assert next(r for r in day if r["step"] == "removal_confirmed")["removals"] == 1


def test_relay_openings_come_from_the_hub_timeline(day: list[dict]) -> None:
    summary = next(r for r in day if r["step"] == "summary")
    assert summary["openings"] == {"Lobby door": 3, "Tent door": 1}
    assert {"duress", "forced"} <= set(summary["alarms"])


def short_work_dir(prefix: str) -> Path:
    """A fresh directory of this run's own, short enough for the demo's unix sockets (a fixed
    name collided when two runs shared a machine)."""
    return Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))


def test_make_demo_exits_0_with_a_json_timeline_and_leaves_nothing() -> None:
    work = short_work_dir("dw-demo-")
    result = subprocess.run([sys.executable, "-m", "doorward.sim.demo.main", "--json", "--keep", str(work)],
                            cwd=REPO, capture_output=True, text=True, timeout=180)
    try:
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        records = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
        assert [r["step"] for r in records][-2:] == ["summary", "done"]
        assert wait_gone(work) == []
    finally:
        subprocess.run(["rm", "-rf", str(work)], check=False)


def test_ctrl_c_stops_every_process() -> None:
    work = short_work_dir("dw-demo-int-")
    demo = subprocess.Popen([sys.executable, "-m", "doorward.sim.demo.main", "--json", "--keep", str(work)],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        for line in demo.stdout:
            if '"doors_running"' in line:
                break
        demo.send_signal(signal.SIGINT)
        assert demo.wait(30) == 130
        assert wait_gone(work) == []
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
        demo.stdout.close()
        subprocess.run(["rm", "-rf", str(work)], check=False)

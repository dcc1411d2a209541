"""The operations path's recoveries end to end (docs/operations.md): the server backed up and
restored while doors keep syncing (no rollback alarm), and a door's SD card replaced
(re-paired with ``--recover-module``: the module keeps its password, no event lost or
duplicated). Every part is its own process, as on real machines.
"""

from __future__ import annotations

import shutil
import time
from collections import Counter

import pytest

from doorward.sim.rig.processes import checked
from doorward.sim.rig.site import PEOPLE, DemoSite
from tests.support.e2e import site_fixture

pytestmark = pytest.mark.serial_timing
site = site_fixture()


def server_events(site: DemoSite, door_id: str) -> list[dict]:
    answer = site.admin().get("/api/v1/events", params={"device_id": door_id, "limit": 10000})
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_backup_and_restore_with_doors_syncing_and_no_rollback(site: DemoSite, tmp_path) -> None:
    backup = tmp_path / "server-backup.db"
    site.server.backup(backup)  # online, while doors sync
    site.change_and_sync((site.tent,), lambda: site.server.cli(
        "grant", site.ids["carol"], site.ids["tent"]))  # a change the backup does not hold
    version_before = site.tent.versions()["applied"]
    site.server.stop()
    assert "restored" in site.server.restore(backup)
    started = time.monotonic()
    site.server.start()
    site.sign_in_again()  # sessions live in the database; log in as an admin would
    for door in site.doors:
        door.doorward("sync")
    time.sleep(2)  # long enough for a stale bundle to be served and refused
    rollbacks = [a.kind for a in site.webhook.alarms
                 if "rollback" in a.kind and a.received_mono >= started]
    assert rollbacks == [], "the restored server served a bundle older than the doors hold"
    site.tent.wait_applied_above(version_before, 20)  # Carol's grant is gone, version went up
    assert site.tent.versions()["applied"] > version_before
    for door in site.doors:
        alarms = str((door.status() or {}).get("recent_alarms", []))
        assert "rollback" not in alarms, alarms
    decision = wait_locked(site).scan(PEOPLE["alice"][1])
    assert decision["kind"] == "access_granted"


def wait_locked(site: DemoSite):  # noqa: ANN201 - the lobby door, its relay at rest
    site.lobby.wait_locked()
    return site.lobby


def test_replacing_a_doors_sd_card_loses_and_duplicates_no_event(site: DemoSite) -> None:
    lobby = site.lobby
    wait_locked(site).scan(PEOPLE["alice"][1])
    lobby.wait_status(lambda s: s["journal"]["backlog"] == 0, 10, "every event uploaded")
    lobby.stop_daemon()  # the old card's last events (daemon_stopped) are still queued
    lobby_events = server_events(site, lobby.door_id)
    shutil.rmtree(lobby.state_dir)  # a new SD card: no cache, no journal, no credential
    lobby.credential.unlink()
    # The card is swapped with the Pi off: at boot the firmware lines power the module again
    # (the stopped daemon released its supply pin, which strict release leaves low).
    lobby.reboot_pi()
    code = site.pairing_code(lobby.door_id)
    without_recovery = lobby.pair(site.server.url, code, site.server.fingerprint)
    assert without_recovery.returncode != 0 and "--recover-module" in without_recovery.stderr
    code = site.pairing_code(lobby.door_id)
    checked(lobby.pair(site.server.url, code, site.server.fingerprint, "--recover-module",
                       "--module-identity", site.identity))  # fmt: skip
    lobby.start_daemon()
    lobby.wait_ready(30)
    granted = wait_locked(site).scan(PEOPLE["alice"][1])
    assert (granted["kind"], granted["reason"]) == ("access_granted", "granted")
    lobby.wait_status(lambda s: s["journal"]["backlog"] == 0, 10, "the new card's events uploaded")
    after = server_events(site, lobby.door_id)
    keys = Counter((e["journal_id"], e["seq"]) for e in after)
    assert [k for k, n in keys.items() if n > 1] == []  # nothing duplicated
    assert {(e["journal_id"], e["seq"]) for e in lobby_events} <= set(keys)  # nothing lost
    new_journal = {e["journal_id"] for e in after} - {e["journal_id"] for e in lobby_events}
    assert len(new_journal) == 1
    assert all(e["chain_ok"] for e in after)
    assert [a.kind for a in site.webhook.alarms if a.device_id == lobby.door_id
            and "tamper" in a.kind] == []

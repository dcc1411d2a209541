"""The server's half of items 4, 5 and 7 (issue 12): a signed freshness statement on every
bundle poll that sends a nonce, and one ``door_storage`` alarm per full-disk incident,
raised and cleared from the heartbeat (which a full disk cannot stop)."""

from __future__ import annotations

import httpx
import pytest

from doorward.daemon.codec import bundle
from tests.support.server import make_site, running_server


@pytest.fixture
def site(tmp_path):
    with running_server(tmp_path) as server:
        yield make_site(server)


def poll(site, nonce: str | None, etag: str | None = None, wait: float = 0) -> httpx.Response:  # noqa: ANN001
    headers = ({"Doorward-Nonce": nonce} if nonce else {}) | ({"If-None-Match": etag} if etag else {})
    with site.door.client() as client:
        return client.get("/api/v1/device/bundle", params={"wait": wait}, headers=headers)


def statement_of(site, answer: httpx.Response, nonce: str) -> bundle.FreshnessStatement:  # noqa: ANN001
    return bundle.verify_freshness(answer.headers["Doorward-Freshness"], site.door.pinned,
                                   door_id=site.door_id, nonce=nonce)


def test_a_200_and_a_304_carry_a_statement_for_this_nonce_and_the_current_version(site) -> None:
    first_nonce, second_nonce = bundle.new_nonce(), bundle.new_nonce()
    first = poll(site, first_nonce)
    assert first.status_code == 200
    version = bundle.verify_bundle(first.content, site.door.pinned, door_id=site.door_id).version
    assert statement_of(site, first, first_nonce).version == version
    unchanged = poll(site, second_nonce, etag=first.headers["ETag"], wait=0.2)
    assert unchanged.status_code == 304
    assert statement_of(site, unchanged, second_nonce).version == version
    with pytest.raises(bundle.FreshnessError, match="another door or another poll"):
        statement_of(site, unchanged, first_nonce)  # a replayed answer does not verify


def test_a_door_that_sends_no_nonce_gets_no_statement(site) -> None:
    answer = poll(site, None)
    assert answer.status_code == 200 and "Doorward-Freshness" not in answer.headers


def test_a_malformed_nonce_is_refused_naming_the_header(site) -> None:
    answer = poll(site, "not-a-nonce")
    assert answer.status_code == 422 and "Doorward-Nonce" in answer.text


def storage(failing: bool, disk_low: bool = False) -> dict:
    return {"journal_failing": failing, "disk_low": disk_low, "pending": 3 if failing else 0,
            "dropped": 0, "error": "disk I/O error" if failing else None}


def storage_alarms(site) -> list[dict]:  # noqa: ANN001
    answer = site.admin.get("/api/v1/alarms")
    assert answer.status_code == 200, answer.text
    return [a for a in answer.json() if a["kind"] == "door_storage" and a["device_id"] == site.door_id]


def test_a_full_disk_is_one_alarm_cleared_when_it_clears(site) -> None:
    for _ in range(5):
        assert site.door.heartbeat(applied_version=1, storage=storage(True)).status_code == 200
    assert [a["state"] for a in storage_alarms(site)] == ["open"]
    assert storage_alarms(site)[0]["detail"]["storage"]["error"] == "disk I/O error"
    assert site.door.heartbeat(storage=storage(False)).status_code == 200
    assert site.door.heartbeat(storage=storage(False)).status_code == 200
    assert [a["state"] for a in storage_alarms(site)] == ["cleared"]
    assert site.door.heartbeat(storage=storage(False, disk_low=True)).status_code == 200
    assert sorted(a["state"] for a in storage_alarms(site)) == ["cleared", "open"]


def test_a_door_that_reports_no_storage_changes_nothing(site) -> None:
    assert site.door.heartbeat(storage=storage(True)).status_code == 200
    assert site.door.heartbeat(applied_version=2).status_code == 200  # an older door's report
    assert [a["state"] for a in storage_alarms(site)] == ["open"]

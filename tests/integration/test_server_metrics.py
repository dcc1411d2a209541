"""``/metrics``: scraped over HTTP on loopback and parsed with prometheus-client's own
parser; every figure is there with its labels and the values the doors reported; only an
allowed address or the bearer token may scrape, and nothing is served when it is off."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from doorward.server.config import MetricsConfig, ServerConfigError, config_from_mapping
from tests.support.server import make_site, running_server

TOKEN = "scrape-token-0123456789abcdef"
DOOR_GAUGES = ("doorward_door_online", "doorward_door_last_heartbeat_age_seconds",
               "doorward_door_backlog_events", "doorward_door_lockdown", "doorward_door_reader_online",
               "doorward_door_applied_version", "doorward_door_reconciled_version",
               "doorward_door_bundle_version")


def scrape(url: str, **headers: str) -> httpx.Response:
    return httpx.get(f"{url}/metrics", headers=headers, trust_env=False, timeout=10)


def families(text: str) -> dict:
    return {family.name: family for family in text_string_to_metric_families(text)}


def samples(family, suffix: str = "") -> list[tuple[dict, float]]:
    return [(sample.labels, sample.value) for sample in family.samples
            if sample.name == family.name + suffix]


def test_every_figure_is_scraped_with_its_labels(tmp_path) -> None:
    metrics = MetricsConfig(enabled=True, allow=("127.0.0.1",))
    with running_server(tmp_path, metrics=metrics) as server:
        site = make_site(server)
        door = site.door
        door.fetch()  # builds and issues the first bundle: one build, one poll
        door.heartbeat(applied_version=1, reconciled_version=1, backlog=7, reader_state="offline")
        server.clock.advance(4.5)
        door.post_events([door.event("access_granted", {"reason": "granted", "user": "u_1"}),
                          door.event("access_denied", {"reason": "outside_schedule", "user": "u_1"}),
                          door.event("access_denied", {"reason": "outside_schedule", "user": "u_2"}),
                          door.event("alarm", {"alarm": "forced_open", "detail": "x"})])
        answer = scrape(server.url)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    found = families(answer.text)
    labels = {"door": site.door_id, "name": "Lab door"}
    for name in DOOR_GAUGES:
        assert found[name].type == "gauge" and [s[0] for s in samples(found[name])] == [labels], name
    value = {name: samples(found[name])[0][1] for name in DOOR_GAUGES}
    assert value["doorward_door_online"] == 1 and value["doorward_door_backlog_events"] == 7
    assert value["doorward_door_last_heartbeat_age_seconds"] == pytest.approx(4.5)
    assert value["doorward_door_reader_online"] == 0 and value["doorward_door_lockdown"] == 0
    assert value["doorward_door_applied_version"] == value["doorward_door_reconciled_version"] == 1
    assert value["doorward_door_bundle_version"] >= 1
    assert samples(found["doorward_alarms_raised"], "_total") == [({"kind": "forced"}, 1.0)]
    assert samples(found["doorward_alarms"]) == [({"kind": "forced", "state": "open"}, 1.0)]
    decisions = {(s[0]["decision"], s[0]["reason"]): s[1] for s in
                 samples(found["doorward_access_decisions"], "_total")}
    assert decisions == {("granted", "granted"): 1, ("denied", "outside_schedule"): 2}
    assert {s[0]["door"] for s in samples(found["doorward_access_decisions"], "_total")} == {site.door_id}
    builds = found["doorward_bundle_build_seconds"]
    assert builds.type == "histogram" and samples(builds, "_count")[0][1] >= 1
    requests = {s[0]["endpoint"]: s[1] for s in samples(found["doorward_device_request_seconds"], "_count")}
    assert requests == {"poll": 1, "heartbeat": 1}
    assert samples(found["doorward_held_polls"]) == [({}, 0.0)]
    assert samples(found["doorward_database_size_bytes"])[0][1] > 0
    assert "doorward_database_wal_size_bytes" in found
    assert samples(found["doorward_database_connections"])[0][1] >= 1


def test_a_held_poll_is_counted_while_it_is_held(tmp_path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from tests.support.server import wait_until

    with running_server(tmp_path, metrics=MetricsConfig(enabled=True, allow=("127.0.0.1",))) as server:
        site = make_site(server)
        site.door.fetch()
        held = lambda: samples(families(scrape(server.url).text)["doorward_held_polls"])[0][1]  # noqa: E731
        with ThreadPoolExecutor(1) as pool:
            poll = pool.submit(site.door.poll, 20, site.door.etag)
            wait_until(lambda: held() == 1, timeout_s=10)
            site.admin.patch(f"/api/v1/doors/{site.door_id}", json={"lockdown": True})
            assert poll.result(timeout=30).status_code in (200, 304)
        wait_until(lambda: held() == 0, timeout_s=10)


@pytest.mark.parametrize("metrics, headers, status", [
    (MetricsConfig(enabled=True, allow=("10.0.0.0/8",)), {}, 403),
    (MetricsConfig(enabled=True, token_file="TOKEN"), {}, 401),
    (MetricsConfig(enabled=True, token_file="TOKEN"), {"Authorization": "Bearer wrong-token"}, 401),
    (MetricsConfig(enabled=True, allow=("127.0.0.1",), token_file="TOKEN"),
     {"Authorization": "Bearer wrong-token"}, 401),
    (MetricsConfig(enabled=True, token_file="TOKEN"), {"Authorization": f"Bearer {TOKEN}"}, 200),
    (MetricsConfig(), {}, 404),  # off by default: nothing to scrape
])
def test_only_an_allowed_address_or_the_token_may_scrape(tmp_path, metrics, headers, status) -> None:
    (tmp_path / "token").write_text(TOKEN + "\n")
    if metrics.token_file:
        metrics = MetricsConfig(metrics.enabled, metrics.allow, str(tmp_path / "token"))
    with running_server(tmp_path, metrics=metrics) as server:
        answer = scrape(server.url, **headers)
    assert answer.status_code == status, answer.text
    assert ("doorward_door_online" in answer.text) == (status == 200)


@pytest.mark.parametrize("metrics, named", [
    ({"enabled": True}, "metrics.enabled: set metrics.allow"),
    ({"enabled": True, "allow": ["10.0.0.300"]}, "metrics.allow: '10.0.0.300'"),
    ({"enable": True}, "metrics.enable: unknown key"),
])
def test_a_wrong_metrics_setting_is_refused_naming_it(tmp_path, metrics, named) -> None:
    document = {"server": {"database": "db", "keys_dir": "keys"}, "metrics": metrics}
    with pytest.raises(ServerConfigError, match=named):
        config_from_mapping(document, base=tmp_path)

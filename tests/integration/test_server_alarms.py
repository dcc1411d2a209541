"""Alarms reach a webhook and syslog on loopback within 5 s; retries; door offline after
missed heartbeats; operators acknowledge and clear. Webhooks are signed in the Standard
Webhooks format (verified by the ``standardwebhooks`` package) or, when configured, in
doorward's own HMAC format."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import standardwebhooks

from doorward.server.api.app import create_app
from doorward.server.clock import ManualClock
from doorward.server.config import AlarmSinks, ServerConfigError, config_from_mapping
from doorward.server.duties.delivery import syslog_message
from doorward.server.store.keys import create_keys
from tests.support.server import make_config, make_site, running_server, wait_until

SECRET = b"webhook-test-secret"
STANDARD_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # the Standard Webhooks spec's example


class WebhookReceiver:
    """An HTTP server on 127.0.0.1 recording each POST; ``failures`` first answers are 500."""

    def __init__(self, failures: int = 0) -> None:
        self.received: list[tuple[float, dict, dict]] = []
        self.attempts: list[dict] = []  # the headers of every POST, answered or failed
        self.failures = failures
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.attempts.append(dict(self.headers))
                if receiver.failures > 0:
                    receiver.failures -= 1
                    self.send_response(500)
                else:
                    receiver.received.append((time.monotonic(), dict(self.headers), body))
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.http = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}/alarms"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()


class SyslogReceiver:
    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.received: list[tuple[float, bytes]] = []
        self.stopping = threading.Event()
        threading.Thread(target=self._listen, daemon=True).start()

    def _listen(self) -> None:
        while not self.stopping.is_set():
            try:
                self.received.append((time.monotonic(), self.sock.recv(65536)))
            except (socket.timeout, OSError):
                continue

    def close(self) -> None:
        self.stopping.set()
        self.sock.close()


@pytest.fixture
def sinks(tmp_path):
    webhook, syslog = WebhookReceiver(), SyslogReceiver()
    (tmp_path / "webhook.secret").write_bytes(SECRET)
    config = AlarmSinks(webhook_url=webhook.url, webhook_secret_file=str(tmp_path / "webhook.secret"),
                        webhook_format="doorward-hmac", syslog_host="127.0.0.1", syslog_port=syslog.port)
    yield config, webhook, syslog
    webhook.close()
    syslog.close()


def door_alarm(name: str, detail: str = "x") -> tuple[str, dict]:
    """How the real door journals every alarm it raises (``Alarm.record``)."""
    from doorward.daemon.codec.alarms import Alarm, AlarmKind

    return Alarm(AlarmKind(name), detail).record()


@pytest.mark.parametrize("name,alarm", [("forced_open", "forced"), ("held_open", "held"),
                                        ("duress", "duress"), ("tamper", "tamper"),
                                        ("reader_offline", "reader_offline"),
                                        ("bundle_rollback", "bundle_rollback"),
                                        ("relay_unsafe", "relay_unsafe")])
def test_door_alarms_reach_webhook_and_syslog_within_5_s(tmp_path, sinks, name, alarm) -> None:
    config, webhook, syslog = sinks
    with running_server(tmp_path, alarms=config) as server:
        site = make_site(server)
        sent = time.monotonic()
        assert site.door.post_events([site.door.event(*door_alarm(name))]).status_code == 200
        wait_until(lambda: webhook.received and syslog.received, timeout_s=5)
    arrived, headers, body = webhook.received[0]
    assert arrived - sent < 5 and syslog.received[0][0] - sent < 5
    payload = json.loads(body)
    assert (payload["kind"], payload["device_id"]) == (alarm, site.door_id)
    stamp = headers["X-Doorward-Timestamp"]
    expected = "sha256=" + hmac.new(SECRET, stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["X-Doorward-Signature"], expected)
    message = syslog.received[0][1]
    severity = 3 if alarm == "reader_offline" else 2  # error, else critical
    assert message.startswith(f"<{16 * 8 + severity}>1 ".encode())  # facility local0
    assert f'kind="{alarm}"'.encode() in message and b"\xef\xbb\xbf" in message


def test_ordinary_events_raise_no_alarm(tmp_path, sinks) -> None:
    config, webhook, _ = sinks
    with running_server(tmp_path, alarms=config) as server:
        site = make_site(server)
        site.door.post_events([site.door.event("granted"), site.door.event("denied")])
        time.sleep(0.5)
        assert site.admin.get("/api/v1/alarms").json() == [] and webhook.received == []


def test_a_failing_webhook_is_retried_under_one_webhook_id(tmp_path) -> None:
    flaky = WebhookReceiver(failures=2)
    (tmp_path / "whsec").write_text(STANDARD_SECRET)
    try:
        sinks = AlarmSinks(webhook_url=flaky.url, webhook_secret_file=str(tmp_path / "whsec"))
        with running_server(tmp_path, alarms=sinks) as server:
            site = make_site(server)
            site.door.post_events([site.door.event(*door_alarm("forced_open"))])
            for _ in range(3):
                time.sleep(0.7)
                server.clock.advance(10)  # past the backoff
            wait_until(lambda: flaky.received, timeout_s=5)
            alarm = site.admin.get("/api/v1/alarms").json()[0]
            delivery = site.admin.get(f"/api/v1/alarms/{alarm['id']}").json()["delivery"]
            assert delivery[0]["attempts"] == 3 and delivery[0]["delivered_at"] is not None
        assert len({attempt["webhook-id"] for attempt in flaky.attempts}) == 1
        assert len({attempt["webhook-timestamp"] for attempt in flaky.attempts}) == 3  # re-signed
    finally:
        flaky.close()


def test_a_door_missing_three_heartbeats_raises_door_offline(tmp_path, sinks) -> None:
    config, webhook, _ = sinks
    with running_server(tmp_path, alarms=config) as server:
        site = make_site(server)
        site.door.heartbeat(applied_version=1)
        server.clock.advance(server.config.heartbeat_interval_s * 2)
        time.sleep(0.4)
        assert site.admin.get("/api/v1/alarms").json() == []
        server.clock.advance(server.config.heartbeat_interval_s * 1.5)
        wait_until(lambda: webhook.received, timeout_s=5)
        alarms = site.admin.get("/api/v1/alarms").json()
        assert [(a["kind"], a["device_id"]) for a in alarms] == [("door_offline", site.door_id)]
        time.sleep(0.3)
        assert len(site.admin.get("/api/v1/alarms").json()) == 1  # raised once
        assert site.admin.get(f"/api/v1/doors/{site.door_id}").json()["online"] is False


def test_operators_acknowledge_and_clear_alarms(tmp_path) -> None:
    with running_server(tmp_path) as server:
        site = make_site(server)
        site.door.post_events([site.door.event(*door_alarm("tamper"))])
        alarm = site.admin.get("/api/v1/alarms", params={"state": "open"}).json()[0]["id"]
        assert site.admin.post(f"/api/v1/alarms/{alarm}/acknowledge").status_code == 200
        assert site.admin.post(f"/api/v1/alarms/{alarm}/acknowledge").status_code == 409
        assert site.admin.post(f"/api/v1/alarms/{alarm}/clear").status_code == 200
        shown = site.admin.get(f"/api/v1/alarms/{alarm}").json()
        assert shown["state"] == "cleared" and shown["cleared_by"] == "admin:root"
        assert site.admin.post("/api/v1/alarms/999/clear").status_code == 404


def test_syslog_structured_data_is_escaped() -> None:
    alarm = {"id": 1, "kind": 'x"]\\', "device_id": None, "raised_at": 0.0, "detail": {}}
    message = syslog_message(alarm, 16, "host")
    assert b'kind="x\\"\\]\\\\"' in message


def test_syslog_over_tcp_uses_octet_counting(tmp_path) -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(5)
    port = listener.getsockname()[1]
    with running_server(tmp_path, alarms=AlarmSinks(syslog_host="127.0.0.1", syslog_port=port,
                                                     syslog_transport="tcp")) as server:
        site = make_site(server)
        site.door.post_events([site.door.event(*door_alarm("duress"))])
        connection, _ = listener.accept()
        with connection:
            connection.settimeout(5)
            data = b""
            while b" " not in data or len(data) < int(data.split(b" ", 1)[0]) + len(data.split(b" ", 1)[0]) + 1:
                data += connection.recv(4096)
    listener.close()
    length, message = data.split(b" ", 1)
    assert int(length) == len(message) and message.startswith(b"<130>1 ") and b'kind="duress"' in message


def door_records(steps: list) -> list[tuple[str, dict]]:
    """What the real door journals for ``steps``: its state machine's alarms and records,
    written the way ``doorward.daemon.controller.actions`` and ``doorward.daemon.runtime.sinks`` write them."""
    from doorward.daemon.door.machine import DoorState, transition
    from doorward.daemon.door.types import DoorConfig, Journal, RaiseAlarm
    from doorward.daemon.codec.alarms import Alarm

    config = DoorConfig(unlock_s=5, held_open_s=30, prealarm_s=10, relock_on_close=True,
                        exit_without_rex_is_forced=True)
    state, records = DoorState.initial(config), []
    for mono, event in steps:
        state, actions = transition(state, event, mono)
        for action in actions:
            if isinstance(action, RaiseAlarm):
                records.append(Alarm(action.kind, action.detail).record())
            elif isinstance(action, Journal):
                records.append((action.kind, {"detail": action.detail} if action.detail else {}))
    return records


def test_one_incident_raises_one_alarm_with_its_end_recorded(tmp_path, sinks) -> None:
    """A forced opening held past the limit, then a reader housing opened and closed: one
    forced, one held and one tamper alarm (not 2 forced and 3 tamper), each ended."""
    from doorward.daemon.door.types import ContactClosed, ContactOpened, TamperOff, TamperOn, Timer
    from doorward.daemon.door.types import TimerName

    config, webhook, _ = sinks
    records = door_records([(0, ContactOpened()), (30, Timer(TimerName.HELD_OPEN)),
                            (40, ContactClosed()), (50, TamperOn()), (60, TamperOff())])
    assert {"forced_open", "held_open", "tamper"} <= {kind for kind, _ in records}  # states too
    with running_server(tmp_path, alarms=config) as server:
        site = make_site(server)
        answer = site.door.post_events([site.door.event(kind, detail) for kind, detail in records])
        assert answer.status_code == 200, answer.text
        wait_until(lambda: len(webhook.received) >= 3, timeout_s=5)
        time.sleep(0.3)  # a fourth alarm would be delivered by now
        alarms = site.admin.get("/api/v1/alarms").json()
    assert sorted(a["kind"] for a in alarms) == ["forced", "held", "tamper"]
    assert len(webhook.received) == 3
    ends = {a["kind"]: a["end_event"]["event_kind"] for a in alarms if a["ended_at"] is not None}
    assert ends == {"forced": "forced_cleared", "held": "held_open_cleared", "tamper": "tamper"}


def test_a_housing_closing_ends_only_the_switch_alarm_not_a_sensor_line_tamper(tmp_path) -> None:
    with running_server(tmp_path) as server:
        site = make_site(server)
        door = site.door
        door.post_events([door.event(*door_alarm("tamper", "reader tamper switch")),
                          door.event("tamper", {"detail": "on"}),
                          door.event(*door_alarm("tamper", "hit on empty page 5")),
                          door.event("tamper", {"detail": "off"})])
        alarms = {a["detail"]["event"]["detail"]: a for a in site.admin.get("/api/v1/alarms").json()}
    assert alarms["reader tamper switch"]["ended_at"] is not None
    assert alarms["hit on empty page 5"]["ended_at"] is None


def test_duress_and_reader_offline_raise_one_alarm_each(tmp_path) -> None:
    with running_server(tmp_path) as server:
        site = make_site(server)
        door = site.door
        door.post_events([door.event("access_granted", {"reason": "granted_duress"}),
                          door.event(*door_alarm("duress", "user u-1")),
                          door.event(*door_alarm("reader_offline", "no reply")),
                          door.event("reader_online", {"offline_s": 3.0})])
        alarms = site.admin.get("/api/v1/alarms").json()
    assert sorted(a["kind"] for a in alarms) == ["duress", "reader_offline"]
    ended = {a["kind"]: a["ended_at"] is not None for a in alarms}
    assert ended == {"duress": False, "reader_offline": True}


def test_a_standard_webhook_delivery_verifies_with_the_standardwebhooks_package(tmp_path) -> None:
    """The default format, checked by the reference library a receiver would use (which
    also refuses timestamps more than 5 minutes from its own clock: the server's is real)."""
    webhook = WebhookReceiver()
    (tmp_path / "whsec").write_text(STANDARD_SECRET + "\n")
    sinks = AlarmSinks(webhook_url=webhook.url, webhook_secret_file=str(tmp_path / "whsec"))
    try:
        with running_server(tmp_path, clock=ManualClock(start=time.time()), alarms=sinks) as server:
            site = make_site(server)
            site.door.post_events([site.door.event(*door_alarm("forced_open"))])
            wait_until(lambda: webhook.received, timeout_s=5)
    finally:
        webhook.close()
    _, headers, body = webhook.received[0]
    payload = standardwebhooks.Webhook(STANDARD_SECRET).verify(body, headers)
    assert (payload["kind"], payload["device_id"]) == ("forced", site.door_id)
    assert headers["webhook-id"].startswith(f"alarm_{payload['id']}_")
    assert "X-Doorward-Signature" not in headers
    tampered = body.replace(b"forced", b"forcex")
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        standardwebhooks.Webhook(STANDARD_SECRET).verify(tampered, headers)


def test_an_unknown_webhook_format_is_refused_naming_it(tmp_path) -> None:
    document = {"server": {"database": "db", "keys_dir": "keys"}, "alarms": {"webhook_format": "svix"}}
    with pytest.raises(ServerConfigError, match="alarms.webhook_format: 'svix' is not one of standard,"
                                                " doorward-hmac"):
        config_from_mapping(document, base=tmp_path)


@pytest.mark.parametrize("secret, named", [
    ("0123456789abcdef" * 4, "expected whsec_<base64>"),  # a secret of the first format
    ("whsec_not base64!", "not base64"),
    ("whsec_c2hvcnQ=", "at least 24"),
])
def test_a_secret_unfit_for_standard_webhooks_stops_the_start_naming_the_file(tmp_path, secret,
                                                                                named) -> None:
    (tmp_path / "whsec").write_text(secret)
    sinks = AlarmSinks(webhook_url="http://127.0.0.1:9/", webhook_secret_file=str(tmp_path / "whsec"))
    with pytest.raises(ServerConfigError, match=f"alarms.webhook_secret_file: {tmp_path}/whsec: .*{named}"):
        config = make_config(tmp_path, alarms=sinks)
        create_app(config, ManualClock(), create_keys(config.signing_key_path, config.data_key_path))

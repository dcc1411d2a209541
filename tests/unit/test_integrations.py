"""The pure parts of the integrations: webhook signatures (the Standard Webhooks example
vector, and doorward's first format), and the MQTT payloads built without a broker."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from doorward.server.integrations import webhooks
from doorward.server.integrations.discovery import (ALARM_TYPES, OTHER_ALARM, DoorLive, Topics,
                                                     alarm_payload, discovery_messages, state_payload)
from doorward.server.integrations.door_figures import DoorFigures

EXAMPLE_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
DOOR = DoorFigures("d_1", "Lab door", True, 100.0, False, 3, 7, 7, 8, "ready")
TOPICS = Topics("doorward", "homeassistant")


def test_the_standard_webhooks_example_vector() -> None:
    key = webhooks.standard_key(EXAMPLE_SECRET)
    signature = webhooks.standard_signature(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330,
                                            b'{"test": 2432232314}')
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_a_retry_keeps_the_id_and_signs_its_own_whole_second() -> None:
    sign = webhooks.signer(webhooks.STANDARD, EXAMPLE_SECRET.encode())
    first, retry = sign(12, 1796000000.25, 1796000001.9, b"{}"), sign(12, 1796000000.25, 1796000009.1, b"{}")
    assert first["webhook-id"] == retry["webhook-id"] == "alarm_12_1796000000250"
    assert (first["webhook-timestamp"], retry["webhook-timestamp"]) == ("1796000001", "1796000009")


def test_the_first_format_is_kept_for_its_receivers() -> None:
    headers = webhooks.signer(webhooks.DOORWARD_HMAC, b"secret\n")(1, 0.0, 1796000000.5, b"{}")
    expected = hmac.new(b"secret", b"1796000000.500.{}", hashlib.sha256).hexdigest()
    assert headers == {"X-Doorward-Timestamp": "1796000000.500", "X-Doorward-Signature": f"sha256={expected}"}


@pytest.mark.parametrize("secret", ["abc", "whsec_***", "whsec_c2hvcnQ="])
def test_a_secret_unfit_for_the_standard_format_is_refused(secret: str) -> None:
    with pytest.raises(webhooks.WebhookSecretError):
        webhooks.signer(webhooks.STANDARD, secret.encode())


def test_every_discovery_message_of_a_door_is_its_own_entity_on_the_one_device() -> None:
    messages = discovery_messages(TOPICS, DOOR, "0.1.0")
    assert all(topic.startswith("homeassistant/") and topic.endswith("/config") for topic in messages)
    assert len({config["unique_id"] for config in messages.values()}) == len(messages)
    assert {config["device"]["identifiers"][0] for config in messages.values()} == {"doorward_d_1"}
    lock = messages["homeassistant/lock/d_1/lock/config"]
    assert lock["command_topic"] == "doorward/d_1/lock/set" and lock["optimistic"] is False


def test_the_state_says_null_for_what_no_record_told_yet() -> None:
    state = state_payload(DOOR, DoorLive(), None)
    assert (state["lock"], state["contact"], state["tamper"]) == (None, None, None)
    assert (state["online"], state["reader_online"], state["backlog"]) == ("ON", "ON", 3)
    opened = state_payload(DOOR, DoorLive(contact="open", locked=False, tamper=True), None)
    assert (opened["lock"], opened["contact"], opened["tamper"]) == ("UNLOCKED", "ON", "ON")


def test_an_alarm_of_a_kind_without_a_name_is_an_event_of_type_other() -> None:
    known = alarm_payload({"id": 1, "kind": "forced", "device_id": "d_1", "raised_at": 1.0, "detail": {}})
    unknown = alarm_payload({"id": 2, "kind": "new_kind", "device_id": "d_1", "raised_at": 1.0, "detail": {}})
    assert known["event_type"] == "forced" and "forced" in ALARM_TYPES
    assert (unknown["event_type"], unknown["kind"]) == (OTHER_ALARM, "new_kind")

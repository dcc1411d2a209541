"""Signing alarm webhooks: the Standard Webhooks format (the default) and doorward's own
HMAC format, kept for receivers written before it (``[alarms] webhook_format``).

Standard Webhooks (standardwebhooks.com): headers ``webhook-id`` (stable across retries of one
alarm), ``webhook-timestamp`` (whole epoch seconds of this attempt) and ``webhook-signature:
v1,<base64 HMAC-SHA256(key, id + "." + timestamp + "." + body)>``; the key is the base64 after
the ``whsec_`` prefix of the secret. doorward-hmac: ``X-Doorward-Timestamp`` (epoch seconds
with decimals) and ``X-Doorward-Signature: sha256=<hex HMAC-SHA256(file bytes, timestamp + "."
+ body)>``. Pure: no IO, time passed in.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import math

STANDARD, DOORWARD_HMAC = "standard", "doorward-hmac"
WEBHOOK_FORMATS = (STANDARD, DOORWARD_HMAC)
SECRET_PREFIX = "whsec_"


class WebhookSecretError(ValueError):
    """The secret file does not hold what the configured format needs."""


def standard_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_<base64>`` secret."""
    text = secret.strip()
    if not text.startswith(SECRET_PREFIX):
        raise WebhookSecretError(f"expected {SECRET_PREFIX}<base64> for webhook_format ="
                                 f" \"{STANDARD}\"; a receiver written for doorward's own"
                                 f" signature needs webhook_format = \"{DOORWARD_HMAC}\"")
    try:
        key = base64.b64decode(text[len(SECRET_PREFIX):], validate=True)
    except (binascii.Error, ValueError):
        raise WebhookSecretError(f"the text after {SECRET_PREFIX} is not base64") from None
    if len(key) < 24:
        raise WebhookSecretError(f"the key is {len(key)} bytes; at least 24 are needed")
    return key


def new_standard_secret(random_bytes: bytes) -> str:
    return SECRET_PREFIX + base64.b64encode(random_bytes).decode()


def message_id(alarm_id: int, raised_at: float) -> str:
    """One id per alarm, the same for every retry; the raise time keeps it unique after a
    restore from backup hands out an alarm number again."""
    return f"alarm_{alarm_id}_{math.floor(raised_at * 1000)}"


def standard_signature(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def standard_headers(key: bytes, msg_id: str, now: float, body: bytes) -> dict[str, str]:
    timestamp = math.floor(now)
    return {"webhook-id": msg_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": standard_signature(key, msg_id, timestamp, body)}


def doorward_signature(secret: bytes, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def doorward_headers(secret: bytes, now: float, body: bytes) -> dict[str, str]:
    stamp = f"{now:.3f}"
    return {"X-Doorward-Timestamp": stamp, "X-Doorward-Signature": doorward_signature(secret, stamp, body)}


def signer(webhook_format: str, secret_text: bytes):
    """``sign(alarm_id, raised_at, now, body) -> headers`` for the format; raises
    ``WebhookSecretError`` when the secret does not suit it."""
    if webhook_format == DOORWARD_HMAC:
        secret = secret_text.strip()
        return lambda alarm_id, raised_at, now, body: doorward_headers(secret, now, body)
    try:
        key = standard_key(secret_text.decode())
    except UnicodeDecodeError:
        raise WebhookSecretError("not text") from None
    return lambda alarm_id, raised_at, now, body: standard_headers(
        key, message_id(alarm_id, raised_at), now, body)

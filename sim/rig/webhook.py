"""A tiny alarm webhook receiver on 127.0.0.1, as a site's alarm desk would run one.

Owns ``WebhookReceiver``: it accepts the server's ``POST`` of each alarm, checks its
Standard Webhooks signature (constant-time) and the timestamp's age as docs/integrations.md
asks of any receiver, records the alarm with its arrival time (``time.monotonic()``), and answers
204, or 401 for a bad signature. ``wait_for(kind, device_id)`` returns the first matching
alarm that arrived after a given moment. Standard library only.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

MAX_AGE_S = 300  # older timestamps are replays
LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class ReceivedAlarm:
    kind: str
    device_id: str | None
    alarm_id: int
    detail: dict[str, Any]
    received_mono: float


def signature_ok(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """Standard Webhooks: ``v1,<base64 HMAC-SHA256(key, id.timestamp.body)>``, the key being
    the base64 after ``whsec_``; any of the space-separated signatures may match."""
    msg_id, timestamp = headers.get("webhook-id", ""), headers.get("webhook-timestamp", "")
    try:
        key = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
        fresh = abs(time.time() - int(timestamp)) < MAX_AGE_S  # whole epoch seconds
    except (binascii.Error, ValueError):
        return False
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    expected = "v1," + base64.b64encode(digest).decode()
    offered = headers.get("webhook-signature", "").split(" ")
    return fresh and any(hmac.compare_digest(expected, each) for each in offered)


class WebhookReceiver:
    """Serves on a thread until ``close()``; ``url`` is what the server's config names."""

    def __init__(self, secret_file: Path) -> None:
        self.secret_file = secret_file
        self.alarms: list[ReceivedAlarm] = []
        self.refused = 0
        self._changed = threading.Condition()
        self._server = ThreadingHTTPServer((LOOPBACK, 0), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, name="webhook",
                                        daemon=True)  # fmt: skip
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self._server.server_address[1]}/alarms"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def receive(self, body: bytes, headers: dict[str, str]) -> int:
        secret = self.secret_file.read_text().strip()  # read late: written by `server init`
        if not signature_ok(secret, headers, body):
            self.refused += 1
            return 401
        alarm = json.loads(body)
        with self._changed:
            self.alarms.append(ReceivedAlarm(alarm["kind"], alarm.get("device_id"), alarm["id"],
                                             alarm.get("detail") or {}, time.monotonic()))
            self._changed.notify_all()
        return 204

    def wait_for(self, kind: str, device_id: str | None = None, after_mono: float = 0.0,
                 timeout_s: float = 10.0) -> ReceivedAlarm | None:  # fmt: skip
        """The first ``kind`` alarm (of ``device_id``, when given) received after ``after_mono``."""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while True:
                found = self.matching(kind, device_id, after_mono)
                remaining = deadline - time.monotonic()
                if found or remaining <= 0:
                    return found[0] if found else None
                self._changed.wait(remaining)

    def matching(self, kind: str, device_id: str | None = None,
                 after_mono: float = 0.0) -> list[ReceivedAlarm]:  # fmt: skip
        return [a for a in list(self.alarms) if a.kind == kind and a.received_mono >= after_mono
                and (device_id is None or a.device_id == device_id)]

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server API
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {name.lower(): value for name, value in self.headers.items()}
                status = receiver.receive(body, headers)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                pass  # the demo prints its own timeline

        return Handler

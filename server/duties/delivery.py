"""Alarm delivery: the outbox sent to a webhook (signed) and to syslog (RFC 5424).

Owns ``AlarmDelivery.run``, an async loop woken whenever a write commits (and every 0.5 s
for retries). A failed send is retried with exponential backoff up to ``retry_max_s``.
Only the ``webhook`` and ``syslog`` rows of the outbox are its own (the MQTT bridge keeps
its own cursor).

Webhook: POST of the alarm as JSON, signed in the Standard Webhooks format or doorward's
own (``doorward.server.integrations.webhooks``), so the receiver can check origin and
freshness. Syslog: one RFC 5424 message per alarm over UDP, or TCP with octet counting
(RFC 6587).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import socket
from pathlib import Path
from typing import Any

import httpx

from doorward.server.config import AlarmSinks, ServerConfigError
from doorward.server.context import ServerContext, wait_either
from doorward.server.integrations import webhooks

log = logging.getLogger(__name__)
RETRY_POLL_S = 0.5
SEVERITY = {"door_offline": 4, "server_clock": 4, "reader_offline": 3}  # others: 2 (critical)
SD_ID = "doorward@32473"  # 32473: the example enterprise number of RFC 5612
SINKS = ("webhook", "syslog")


def webhook_signer(sinks: AlarmSinks):
    """The signing function of the configured format, its secret read now: a secret that does
    not suit the format stops the server at start, naming the file and the key."""
    if not sinks.webhook_url:
        return None
    path = sinks.webhook_secret_file
    if not path and sinks.webhook_format == webhooks.DOORWARD_HMAC:
        return webhooks.signer(webhooks.DOORWARD_HMAC, b"")
    if not path:
        raise ServerConfigError("alarms.webhook_secret_file: missing; webhook_format ="
                                f" \"{sinks.webhook_format}\" needs a secret")
    try:
        return webhooks.signer(sinks.webhook_format, Path(path).read_bytes())
    except OSError as error:
        raise ServerConfigError(f"alarms.webhook_secret_file: {path}: {error.strerror}") from None
    except webhooks.WebhookSecretError as error:
        raise ServerConfigError(f"alarms.webhook_secret_file: {path}: {error}") from None


def _sd_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def syslog_message(alarm: dict[str, Any], facility: int, hostname: str) -> bytes:
    """One RFC 5424 message: PRI, version 1, timestamp, host, app, -, msgid, SD, BOM + text."""
    priority = facility * 8 + SEVERITY.get(alarm["kind"], 2)
    stamp = dt.datetime.fromtimestamp(alarm["raised_at"], dt.timezone.utc).isoformat(timespec="microseconds")
    params = {"alarm": str(alarm["id"]), "kind": alarm["kind"], "device": alarm["device_id"] or "-"}
    data = "[" + SD_ID + "".join(f' {k}="{_sd_escape(v)}"' for k, v in params.items()) + "]"
    text = f"doorward alarm {alarm['kind']} on {alarm['device_id'] or 'server'}: " + \
           json.dumps(alarm["detail"], sort_keys=True)
    header = f"<{priority}>1 {stamp.replace('+00:00', 'Z')} {hostname or '-'} doorward-server - ALARM {data} "
    return header.encode() + b"\xef\xbb\xbf" + text.encode()


class AlarmDelivery:
    def __init__(self, ctx: ServerContext) -> None:
        self.ctx = ctx
        self.sinks = ctx.config.alarms
        self.sign = webhook_signer(self.sinks)
        self.hostname = socket.gethostname()

    async def run(self, stopping: asyncio.Event) -> None:
        async with httpx.AsyncClient(timeout=self.sinks.webhook_timeout_s, trust_env=False) as client:
            while not stopping.is_set():
                self.ctx.signals.deliver.clear()
                for row in await asyncio.to_thread(self._due):
                    await self._deliver(client, row)
                await wait_either(self.ctx.signals.deliver, stopping, RETRY_POLL_S)

    def _due(self) -> list[dict[str, Any]]:
        rows = self.ctx.read().execute(
            "SELECT o.id AS outbox_id, o.sink, o.attempts, a.* FROM outbox o JOIN alarms a"
            " ON a.id = o.alarm_id WHERE o.delivered_at IS NULL AND o.next_attempt_at <= ?"
            " AND o.sink IN (?, ?) ORDER BY o.id LIMIT 100", (self.ctx.clock.now(), *SINKS))
        return [{**dict(row), "detail": json.loads(row["detail"])} for row in rows]

    async def _deliver(self, client: httpx.AsyncClient, row: dict[str, Any]) -> None:
        try:
            if row["sink"] == "webhook":
                await self._post(client, row)
            else:
                await asyncio.to_thread(self._send_syslog, row)
        except Exception as error:  # any failure of a sink is retried, never fatal
            log.warning("alarm %s to %s failed: %s", row["id"], row["sink"], error)
            await asyncio.to_thread(self._record, row, str(error)[:500])
            return
        await asyncio.to_thread(self._record, row, None)

    async def _post(self, client: httpx.AsyncClient, row: dict[str, Any]) -> None:
        alarm = {k: row[k] for k in ("id", "kind", "device_id", "raised_at", "detail", "state")}
        body = json.dumps(alarm, sort_keys=True).encode()
        headers = {"Content-Type": "application/json",
                   **self.sign(row["id"], row["raised_at"], self.ctx.clock.now(), body)}
        response = await client.post(self.sinks.webhook_url, content=body, headers=headers)
        response.raise_for_status()

    def _send_syslog(self, row: dict[str, Any]) -> None:
        message = syslog_message(row, self.sinks.syslog_facility, self.hostname)
        address = (self.sinks.syslog_host, self.sinks.syslog_port)
        if self.sinks.syslog_transport == "udp":
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                sock.sendto(message, address)
            return
        with socket.create_connection(address, timeout=self.sinks.webhook_timeout_s) as sock:
            sock.sendall(str(len(message)).encode() + b" " + message)

    def _record(self, row: dict[str, Any], error: str | None) -> None:
        now = self.ctx.clock.now()
        with self.ctx.db.transaction() as conn:
            if error is None:
                conn.execute("UPDATE outbox SET delivered_at = ?, attempts = attempts + 1 WHERE id = ?",
                             (now, row["outbox_id"]))
                return
            delay = min(2.0 ** row["attempts"], self.sinks.retry_max_s)
            conn.execute("UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ?"
                         " WHERE id = ?", (now + delay, error, row["outbox_id"]))

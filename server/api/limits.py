"""Request body limits, enforced before a body is read: ``BodyLimit``, an ASGI middleware.

Owns the per-route limits. A body whose ``Content-Length`` is over the limit is answered 413
at once, without reading a byte of it; a body without a length (chunked) is counted as it
streams and cut off at the limit, so no route ever holds more than its limit in memory.
A request without a bearer token gets the small anonymous limit wherever it goes: FastAPI
reads the body before it checks the token, and only login and pairing are open.
"""

from __future__ import annotations

import json
from typing import Any, Awaitable, Callable

KIB = 1024
MIB = 1024 * KIB

# Login and pairing bodies are a few hundred bytes; the field limits (models.py) with every
# character JSON-escaped stay under 16 KiB.
ANONYMOUS_BYTES = 16 * KIB
DEFAULT_BYTES = 256 * KIB
# (method, path) -> limit. Events: up to 1000 per request (models.EventsBody), a door sends
# 500; enrolment: up to 10 templates of 12,000 base64 characters.
ROUTE_BYTES: dict[tuple[str, str], int] = {
    ("POST", "/api/v1/sessions"): ANONYMOUS_BYTES,
    ("POST", "/api/v1/pair"): ANONYMOUS_BYTES,
    ("POST", "/api/v1/device/heartbeat"): ANONYMOUS_BYTES,
    ("POST", "/api/v1/device/events"): 4 * MIB,
    ("POST", "/api/v1/enrolments"): 1 * MIB,
}

Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def limit_for(method: str, path: str, has_token: bool) -> int:
    limit = ROUTE_BYTES.get((method, path), DEFAULT_BYTES)
    return limit if has_token else min(limit, ANONYMOUS_BYTES)


def _header(scope: dict[str, Any], name: bytes) -> bytes | None:
    return next((value for key, value in scope["headers"] if key == name), None)


def _declared_length(scope: dict[str, Any]) -> int | None:
    raw = _header(scope, b"content-length")
    return int(raw) if raw is not None and raw.strip().isdigit() else None


class BodyLimit:
    def __init__(self, app: Callable[..., Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        has_token = (_header(scope, b"authorization") or b"").lower().startswith(b"bearer ")
        limit = limit_for(scope["method"], scope["path"], has_token)
        declared = _declared_length(scope)
        if declared is not None and declared > limit:
            return await _refuse(send, scope, limit)
        await _LimitedExchange(scope, receive, send, limit).run(self.app)


class _LimitedExchange:
    """One request whose body is counted as the app reads it. Past the limit the app is told
    the client went away (it stops reading), and whatever it answers is replaced by a 413."""

    def __init__(self, scope: dict[str, Any], receive: Receive, send: Send, limit: int) -> None:
        self.scope, self._receive, self._send, self.limit = scope, receive, send, limit
        self.seen = 0
        self.tripped = self.answered = self.refused = False

    async def run(self, app: Callable[..., Awaitable[None]]) -> None:
        try:
            await app(self.scope, self.receive, self.send)
        except Exception:
            if not self.tripped:
                raise  # a cut-off body may make the app fail; that failure is ours to answer
        if self.tripped and not self.refused:
            await self._refuse()

    async def receive(self) -> Message:
        if self.tripped:
            return {"type": "http.disconnect"}
        message = await self._receive()
        if message["type"] == "http.request":
            self.seen += len(message.get("body", b""))
            if self.seen > self.limit and not self.answered:
                self.tripped = True
                return {"type": "http.disconnect"}
        return message

    async def send(self, message: Message) -> None:
        if not self.tripped:
            self.answered = self.answered or message["type"] == "http.response.start"
            return await self._send(message)
        if message["type"] == "http.response.start" and not self.refused:
            await self._refuse()  # instead of the app's answer to a cut-off body

    async def _refuse(self) -> None:
        self.refused = True
        await _refuse(self._send, self.scope, self.limit)


async def _refuse(send: Send, scope: dict[str, Any], limit: int) -> None:
    body = json.dumps({"detail": f"request body over {limit} bytes, the limit of {scope['method']}"
                       f" {scope['path']}", "limit_bytes": limit}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()), (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})

"""An ASGI middleware that puts the console's security headers (``guard.HEADERS``) on every
answer under ``/console`` (pages, polls, exports, assets, errors, redirects) and keeps pages
out of caches. Answers outside the console are passed through untouched."""

from __future__ import annotations

from typing import Any

from doorward.server.console import guard

PREFIX = "/console"


class ConsoleHeaders:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not (path == PREFIX or path.startswith(PREFIX + "/")):
            await self.app(scope, receive, send)
            return
        extra = [(name.lower().encode(), value.encode()) for name, value in guard.HEADERS.items()]
        if not path.startswith(PREFIX + "/static/"):
            extra.append((b"cache-control", b"no-store"))

        async def send_with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                names = {name for name, _ in extra}
                kept = [(n, v) for n, v in message.get("headers", []) if n.lower() not in names]
                message = {**message, "headers": kept + extra}
            await send(message)

        await self.app(scope, receive, send_with_headers)

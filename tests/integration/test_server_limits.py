"""Request bodies are capped per route before they are read: a declared length over the limit
is refused at once, a streamed body is cut off at the limit, and the 413 names the limit."""

from __future__ import annotations

import asyncio
import json
import socket
from urllib.parse import urlparse

import pytest

from doorward.server.api.app import create_app
from doorward.server.clock import ManualClock
from doorward.server.store.keys import create_keys
from doorward.server.api.limits import ANONYMOUS_BYTES, DEFAULT_BYTES, ROUTE_BYTES
from tests.support.server import b64, make_config, make_site, running_server, template

CHUNK = 64 * 1024
HUGE = 64 * 1024 * 1024  # what the review sent


def scope_for(method: str, path: str, token: str | None = None) -> dict:
    headers = [(b"content-type", b"application/json")]
    if token:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
            "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
            "root_path": "", "headers": headers, "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8443), "state": {}}


class StreamedBody:
    """A chunked body of ``total`` bytes with no Content-Length; counts what the app pulled."""

    def __init__(self, total: int) -> None:
        self.total, self.pulled = total, 0

    async def receive(self) -> dict:
        chunk = min(CHUNK, self.total - self.pulled)
        self.pulled += chunk
        return {"type": "http.request", "body": b"x" * chunk, "more_body": self.pulled < self.total}


def exchange(app, scope: dict, body: StreamedBody) -> list[dict]:
    answer: list[dict] = []

    async def send(message: dict) -> None:
        answer.append(message)

    asyncio.run(asyncio.wait_for(app(scope, body.receive, send), 60))
    return answer


@pytest.fixture
def app(tmp_path):
    config = make_config(tmp_path)
    app = create_app(config, ManualClock(), create_keys(config.signing_key_path, config.data_key_path),
                     background=False)
    yield app
    app.state.ctx.db.close()


@pytest.mark.parametrize("method, path, token, limit", [
    ("POST", "/api/v1/sessions", None, ANONYMOUS_BYTES),
    ("POST", "/api/v1/pair", None, ANONYMOUS_BYTES),
    ("POST", "/api/v1/device/events", None, ANONYMOUS_BYTES),  # no token: the anonymous limit
    ("POST", "/api/v1/device/events", "t" * 43, ROUTE_BYTES[("POST", "/api/v1/device/events")]),
    ("PATCH", "/api/v1/people/u_1", "t" * 43, DEFAULT_BYTES),
])
def test_a_streamed_body_is_cut_off_at_the_routes_limit(app, method, path, token, limit) -> None:
    body = StreamedBody(HUGE)
    start, content = exchange(app, scope_for(method, path, token), body)
    assert start["type"] == "http.response.start" and start["status"] == 413
    assert limit < body.pulled <= limit + CHUNK  # read up to the limit, not the 64 MiB
    answer = json.loads(content["body"])
    assert answer["limit_bytes"] == limit and f"{limit} bytes" in answer["detail"] and path in answer["detail"]


def raw_request(url: str, head: str, timeout_s: float = 20.0) -> bytes:
    """Send only the request head; read the whole answer until the server closes."""
    address = urlparse(url)
    with socket.create_connection((address.hostname, address.port), timeout=timeout_s) as connection:
        connection.sendall(head.encode())
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    return answer


def test_a_declared_length_over_the_limit_is_refused_without_waiting_for_the_body(tmp_path) -> None:
    """The 64 MiB are never sent: a server that read before refusing would wait for them
    until the socket timed out."""
    with running_server(tmp_path) as server:
        for path in ("/api/v1/sessions", "/api/v1/pair"):
            answer = raw_request(server.url, f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                 f"Content-Type: application/json\r\nContent-Length: {HUGE}\r\n\r\n")
            head, _, body = answer.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 413"), answer[:200]
            assert json.loads(body)["limit_bytes"] == ANONYMOUS_BYTES


def test_bodies_within_the_limits_still_reach_their_routes(tmp_path) -> None:
    with running_server(tmp_path) as server:
        site = make_site(server)
        with server.client() as anonymous:
            padded = json.dumps({"name": "root", "password": "wrong"}).ljust(ANONYMOUS_BYTES)
            assert len(padded) == ANONYMOUS_BYTES
            headers = {"content-type": "application/json"}
            assert anonymous.post("/api/v1/sessions", content=padded, headers=headers).status_code == 401
            over = padded + " "
            assert anonymous.post("/api/v1/sessions", content=over, headers=headers).status_code == 413
        name = "x" * 200
        fingers = [{"name": name, "module_identity": "m" * 300, "template": b64(template(n, 9000))}
                   for n in range(10)]  # 12,000 base64 characters each, the field's limit
        body = {"person": {"name": name}, "consent": {"reference": "r" * 2000}, "fingers": fingers}
        assert site.admin.post("/api/v1/enrolments", json=body).status_code == 201  # the largest enrolment

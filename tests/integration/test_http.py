"""The door's HTTP edge against hostile loopback servers: silence, drips, floods, refusals."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from doorward.daemon.errors import ConfigError
from doorward.daemon.sync.http import (
    RequestTimedOut,
    ResponseTooLarge,
    ServerConnection,
    ServerRefused,
    ServerUnreachable,
    check_server_url,
)

Behaviour = Callable[[socket.socket], None]


class RawServer:
    """A loopback TCP server that treats every connection with ``behaviour``."""

    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        self.sock.settimeout(0.1)
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            conn.recv(65536)
            try:
                self.behaviour(conn)
            except OSError:
                pass  # the client hung up, as it should

    def close(self) -> None:
        self.stop.set()
        self.thread.join(2)
        self.sock.close()


@pytest.fixture
def serve() -> Iterator[Callable[[Behaviour], RawServer]]:
    servers: list[RawServer] = []

    def start(behaviour: Behaviour) -> RawServer:
        servers.append(RawServer(behaviour))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def answer(body: bytes, status: str = "200 OK") -> bytes:
    head = f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


def test_a_normal_answer(serve) -> None:
    server = serve(lambda conn: conn.sendall(answer(b'{"ok": true}')))
    connection = ServerConnection(server.url, token="t", deadline_s=2)
    assert connection.call_json("GET", "/x") == {"ok": True}


def test_an_error_status_is_refused_with_the_servers_detail(serve) -> None:
    server = serve(lambda conn: conn.sendall(answer(b'{"detail": "gap", "expected_seq": 4}', "409 Conflict")))
    with pytest.raises(ServerRefused) as info:
        ServerConnection(server.url, deadline_s=2).call_json("POST", "/events", json={})
    assert info.value.status == 409 and info.value.body["expected_seq"] == 4


def test_a_server_that_never_answers_is_cut_off_at_the_deadline(serve) -> None:
    stop = threading.Event()
    server = serve(lambda conn: stop.wait(10))
    start = time.monotonic()
    with pytest.raises(RequestTimedOut):
        ServerConnection(server.url, deadline_s=0.5).request("GET", "/bundle")
    assert time.monotonic() - start < 0.5 + 0.5
    stop.set()


@pytest.mark.parametrize("phase", ["headers", "body"])
def test_a_one_byte_a_second_drip_does_not_hold_the_door(serve, phase: str) -> None:
    payload = answer(b'{"x": "' + b"y" * 100 + b'"}')
    split = 20 if phase == "headers" else payload.index(b"\r\n\r\n") + 6
    stop = threading.Event()

    def drip(conn: socket.socket) -> None:
        conn.sendall(payload[:split])
        for byte in payload[split:]:
            if stop.wait(0.3):
                return
            conn.sendall(bytes((byte,)))

    server = serve(drip)
    start = time.monotonic()
    with pytest.raises(RequestTimedOut):
        ServerConnection(server.url, deadline_s=1.0).request("GET", "/bundle")
    assert time.monotonic() - start < 1.0 + 0.5
    stop.set()


def test_a_long_poll_gets_its_wait_on_top_of_the_deadline(serve) -> None:
    stop = threading.Event()

    def slow(conn: socket.socket) -> None:
        if not stop.wait(0.8):
            conn.sendall(answer(b"{}"))

    server = serve(slow)
    reply = ServerConnection(server.url, deadline_s=0.5).request("GET", "/b", extra_s=1.0)
    assert reply.status == 200
    stop.set()


def test_an_oversized_response_is_refused(serve) -> None:
    server = serve(lambda conn: conn.sendall(answer(b"[" + b"0," * 5000 + b"0]")))
    with pytest.raises(ResponseTooLarge):
        ServerConnection(server.url, deadline_s=2, max_response_bytes=1000).request("GET", "/b")


def test_an_oversized_stream_without_length_is_cut_off(serve) -> None:
    def flood(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for _ in range(100):
            conn.sendall(b"400\r\n" + b"x" * 0x400 + b"\r\n")

    server = serve(flood)
    with pytest.raises(ResponseTooLarge):
        ServerConnection(server.url, deadline_s=2, max_response_bytes=10_000).request("GET", "/b")


def test_a_closed_port_is_unreachable() -> None:
    sock = socket.create_server(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    with pytest.raises(ServerUnreachable):
        ServerConnection(f"http://127.0.0.1:{port}", deadline_s=1).request("GET", "/")


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://doors.example.org", True),
        ("http://127.0.0.1:8443", True),
        ("http://[::1]:80", True),
        ("http://localhost:9000/", True),
        ("http://doors.example.org", False),
        ("http://10.0.0.5", False),
        ("ftp://127.0.0.1", False),
        ("doors.example.org", False),
    ],
)
def test_plain_http_only_to_loopback(url: str, ok: bool) -> None:
    if ok:
        assert check_server_url(url) == url.rstrip("/")
    else:
        with pytest.raises(ConfigError, match="https"):
            check_server_url(url)

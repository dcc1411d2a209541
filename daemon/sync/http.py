"""The door's HTTP edge: one server connection with an overall deadline and a size cap.

A server that accepts and never answers, or drips one byte a second, must not hold a door's
sync thread: every socket read and write is bounded by the time left until the request's
overall deadline on ``time.monotonic()`` (httpx's own timeouts apply per read, which a drip
defeats). Responses larger than the cap are cut off and refused. Plain ``http://`` is allowed
only to loopback; anything else must be ``https://``, checked against the system store or a
configured CA file. Environment proxies are ignored: a door talks to its server only.

The only importer of ``httpx`` on the door. Errors are ``SyncError`` subclasses.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

from doorward.daemon.errors import ConfigError, DoorwardError

DEFAULT_MAX_RESPONSE_BYTES = 8 * 1024 * 1024


class SyncError(DoorwardError):
    """Talking to the server failed; the door keeps deciding from its cache."""


class ServerUnreachable(SyncError, ConnectionError):
    pass


class CaBundleError(SyncError):
    """``[server] ca_file`` cannot be used (missing, unreadable, not PEM certificates)."""


class RequestTimedOut(SyncError, TimeoutError):
    pass


class ResponseTooLarge(SyncError):
    pass


class ServerRefused(SyncError):
    """The server answered with an error status."""

    def __init__(self, status: int, detail: str, body: dict | None = None) -> None:
        super().__init__(f"server answered {status}: {detail}")
        self.status = status
        self.body = body or {}


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError as error:
            raise SyncError(f"server sent malformed JSON: {error}") from error


def check_server_url(url: str, where: str = "server.url") -> str:
    """https anywhere; http only to a loopback address (a lab or a test)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url.rstrip("/")
    if parts.scheme == "http" and parts.hostname and _is_loopback(parts.hostname):
        return url.rstrip("/")
    raise ConfigError(f"{where}: {url!r} must be https:// (plain http only to loopback)")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Deadline(threading.local):
    at: float | None = None

    def remaining(self) -> float | None:
        if self.at is None:
            return None
        left = self.at - time.monotonic()
        if left <= 0:
            raise httpcore.ReadTimeout("overall request deadline passed")
        return left


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream, deadline: _Deadline,
                 raw_socket: socket.socket | None = None) -> None:
        self._inner, self._deadline = inner, deadline
        # The TCP socket under any TLS layer: shutting it down wakes a blocked read.
        self._raw_socket = raw_socket or inner.get_extra_info("socket")

    def _bound(self, timeout: float | None) -> float | None:
        left = self._deadline.remaining()
        return left if timeout is None else (timeout if left is None else min(timeout, left))

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, self._bound(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, self._bound(timeout))

    def close(self) -> None:
        self._inner.close()

    def abort(self) -> None:
        """Unblock a read in another thread at once (shutdown, unlike close, does that)."""
        if self._raw_socket is not None:
            try:
                self._raw_socket.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed

    def start_tls(self, ssl_context, server_hostname=None, timeout=None):  # noqa: ANN001, ANN201
        inner = self._inner.start_tls(ssl_context, server_hostname, self._bound(timeout))
        return _DeadlineStream(inner, self._deadline, self._raw_socket)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.SyncBackend):
    def __init__(self, deadline: _Deadline) -> None:
        self._deadline = deadline
        self.current: _DeadlineStream | None = None  # the pool holds one connection

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):  # noqa: ANN001, ANN201
        left = self._deadline.remaining()
        bounded = left if timeout is None else min(timeout, left or timeout)
        stream = super().connect_tcp(host, port, bounded, local_address, socket_options)
        self.current = _DeadlineStream(stream, self._deadline)
        return self.current


class _DeadlineTransport(httpx.HTTPTransport):
    """httpx's transport with every socket operation bounded by the request deadline."""

    def __init__(self, verify: ssl.SSLContext | bool, deadline: _Deadline) -> None:
        super().__init__(verify=verify, trust_env=False, retries=0)
        self.backend = _DeadlineBackend(deadline)
        # httpx exposes no network backend option; its pool is rebuilt with the same SSL
        # context and our backend (tests/integration/test_http.py catches a change of httpx internals).
        ssl_context = self._pool._ssl_context  # noqa: SLF001
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context, max_connections=1, network_backend=self.backend
        )


class ServerConnection:
    """One connection to the server, for one thread (the bundle poll, events, heartbeats)."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        ca_file: str | None = None,
        deadline_s: float = 10.0,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        self.base_url = check_server_url(base_url)
        self.deadline_s = deadline_s
        self.max_response_bytes = max_response_bytes
        self._deadline = _Deadline()
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:  # our own context: httpx's verify=<path> is deprecated
            verify = ssl.create_default_context(cafile=ca_file) if ca_file else True
        except (OSError, ValueError) as error:  # ssl.SSLError is an OSError
            raise CaBundleError(f"the CA file {ca_file} cannot be used ({error}): put the "
                                "server's CA certificate there in PEM form, or leave "
                                "[server] ca_file out to use the system's store") from None
        self._transport = _DeadlineTransport(verify, self._deadline)
        self._client = httpx.Client(
            base_url=self.base_url,
            headers=headers,
            transport=self._transport,
            timeout=httpx.Timeout(deadline_s),
            trust_env=False,
        )

    def request(
        self, method: str, path: str, *, extra_s: float = 0.0, **kwargs: Any
    ) -> Reply:
        """One request bounded by ``deadline_s + extra_s`` (a long-poll adds its wait)."""
        total_s = self.deadline_s + extra_s
        self._deadline.at = time.monotonic() + total_s
        try:
            with self._client.stream(method, path, timeout=total_s, **kwargs) as response:
                body = self._read_capped(response)
                return Reply(response.status_code, dict(response.headers), body)
        except httpx.TimeoutException as error:
            raise RequestTimedOut(f"{method} {path}: no complete answer within {total_s:g} s") from error
        except httpx.TransportError as error:
            raise ServerUnreachable(f"{method} {path}: {error or type(error).__name__}") from error
        finally:
            self._deadline.at = None

    def _read_capped(self, response: httpx.Response) -> bytes:
        declared = int(response.headers.get("content-length") or 0)
        if declared > self.max_response_bytes:
            raise ResponseTooLarge(f"server announced {declared} bytes, cap {self.max_response_bytes}")
        chunks, size = [], 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > self.max_response_bytes:
                raise ResponseTooLarge(f"response exceeds {self.max_response_bytes} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    def call_json(self, method: str, path: str, **kwargs: Any) -> Any:
        """A JSON request whose answer must be 2xx JSON; other statuses raise ServerRefused."""
        reply = self.request(method, path, **kwargs)
        if reply.status >= 300:
            raise refusal(reply)
        return reply.json()

    def abort(self) -> None:
        """From another thread: end the request in flight now (used by ``stop()``)."""
        stream = self._transport.backend.current
        if stream is not None:
            stream.abort()

    def close(self) -> None:
        self._client.close()


def refusal(reply: Reply) -> ServerRefused:
    try:
        body = json.loads(reply.body)
    except ValueError:
        body = {}
    detail = body.get("detail") if isinstance(body, dict) else None
    return ServerRefused(reply.status, str(detail or reply.body[:200]), body if isinstance(body, dict) else None)

"""``GET /metrics`` on the server's own port, for Prometheus: only when ``[metrics] enabled``,
and then only for a client address in ``metrics.allow`` or a request carrying the bearer token
of ``metrics.token_file``. Without the token (or with a wrong one) the answer is 401 when a
token is configured, otherwise 403; an address outside the list is never told more.
"""

from __future__ import annotations

import hmac
import ipaddress
from pathlib import Path

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from doorward.server.config import MetricsConfig, ServerConfigError
from doorward.server.errors import Forbidden, Unauthorised
from doorward.server.integrations.metrics import ServerMetrics


class MetricsGate:
    """Who may scrape: decided from the peer address and the Authorization header."""

    def __init__(self, config: MetricsConfig) -> None:
        self.networks = [ipaddress.ip_network(each) for each in config.allow]
        self.token = _read_token(config.token_file) if config.token_file else None

    def check(self, address: str | None, authorization: str | None) -> None:
        if self.token is not None and authorization is not None:
            scheme, _, offered = authorization.partition(" ")
            if scheme.lower() == "bearer" and hmac.compare_digest(offered.strip().encode(), self.token):
                return
            raise Unauthorised("wrong metrics token")
        if address is not None and self._allowed(address):
            return
        if self.token is not None:
            raise Unauthorised("metrics need the bearer token of metrics.token_file")
        raise Forbidden("this address may not read metrics (metrics.allow)")

    def _allowed(self, address: str) -> bool:
        try:
            peer = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(peer in network for network in self.networks)


def _read_token(path: str) -> bytes:
    try:
        token = Path(path).read_bytes().strip()
    except OSError as error:
        raise ServerConfigError(f"metrics.token_file: {path}: {error.strerror}") from None
    if len(token) < 16:
        raise ServerConfigError(f"metrics.token_file: {path}: the token must be at least 16 characters")
    return token


def metrics_router(metrics: ServerMetrics, config: MetricsConfig) -> APIRouter:
    gate = MetricsGate(config)
    router = APIRouter(tags=["server"])

    @router.get("/metrics", response_class=Response, include_in_schema=False)
    def scrape(request: Request) -> Response:
        gate.check(request.client.host if request.client else None,
                   request.headers.get("authorization"))
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return router

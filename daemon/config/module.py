"""The ``[module]`` and ``[server]`` sections: where the fingerprint module and the server are.

``[module]``: the module's serial URL (a UART such as ``/dev/serial0``, a simulator's pty
link, or ``socket://``), its baud, its model profile and the scan cadence. ``[server]``:
where the door's credential lives, the CA file for the server's TLS certificate, and the
limits of every request. The server's URL and key come from pairing (the credential), not
from here, so a config file never disagrees with what the door was paired to. Every key is
documented in ``docs/configuration.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from doorward.daemon.config.loader import TableReader

MODELS = ("r307", "r503", "as608")
BAUDS = tuple(9600 * n for n in range(1, 13))


@dataclass(frozen=True)
class ModuleConfig:
    url: str
    baud: int
    model: str
    poll_interval_ms: int  # GenImg cadence when no touch line is wired
    timeout_s: float


@dataclass(frozen=True)
class ServerConfig:
    credential: str
    ca_file: str | None
    request_deadline_s: float
    max_response_bytes: int
    long_poll_s: float


def _positive(value: float) -> str | None:
    return None if value > 0 else "must be greater than 0"


def _between(low: float, high: float):  # noqa: ANN202
    def check(value: float) -> str | None:
        return None if low <= value <= high else f"must be between {low:g} and {high:g}"

    return check


def read_module(table: TableReader) -> ModuleConfig:
    return ModuleConfig(
        url=table.value("url", str, "/dev/serial0"),
        baud=table.value("baud", int, 57600, choices=BAUDS),
        model=table.value("model", str, "r503", choices=MODELS),
        poll_interval_ms=table.value("poll_interval_ms", int, 150, check=_between(20, 2000)),
        timeout_s=table.value("timeout_s", float, 1.0, check=_between(0.1, 10)),
    )


def read_server(table: TableReader) -> ServerConfig:
    return ServerConfig(
        credential=table.value("credential", str, "/etc/doorward/credential.json"),
        ca_file=table.value("ca_file", str, None),
        request_deadline_s=table.value("request_deadline_s", float, 10.0, check=_positive),
        max_response_bytes=table.value("max_response_bytes", int, 8 * 1024 * 1024,
                                       check=_between(64 * 1024, 64 * 1024 * 1024)),
        long_poll_s=table.value("long_poll_s", float, 25.0, check=_between(0, 30)),
    )

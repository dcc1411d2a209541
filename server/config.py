"""The server's TOML configuration: where its database and keys live, clock trust, timings,
alarm sinks. Owns ``ServerConfig`` and ``load_config``; every error names the key.

``plain_http_refusal`` decides whether ``doorward server run`` may listen on a host without TLS.
``[clock] assume_synchronised = true`` makes the server treat its clock as synchronised
whatever the kernel says: for labs and CI only, unsafe in production (a server with a wrong
clock would extend every door's bundle on a wrong time base).
"""

from __future__ import annotations

import ipaddress
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from doorward.daemon.codec.bundle import DoorwardError
from doorward.daemon.relocation import relocated_path
from doorward.server.integrations.webhooks import WEBHOOK_FORMATS


class ServerConfigError(DoorwardError, ValueError):
    """The server configuration is wrong; the message names the key."""


@dataclass(frozen=True)
class AlarmSinks:
    webhook_url: str = ""
    webhook_secret_file: str = ""
    webhook_timeout_s: float = 3.0
    webhook_format: str = "standard"  # or "doorward-hmac", for receivers of the first format
    syslog_host: str = ""
    syslog_port: int = 514
    syslog_transport: str = "udp"  # or "tcp" (RFC 6587 octet counting)
    syslog_facility: int = 16  # local0
    retry_max_s: float = 300.0


@dataclass(frozen=True)
class MetricsConfig:
    """``/metrics`` for Prometheus: off unless enabled, then only for the addresses in
    ``allow`` or a client sending the bearer token in ``token_file``."""
    enabled: bool = False
    allow: tuple[str, ...] = ()
    token_file: str = ""


@dataclass(frozen=True)
class MqttConfig:
    """The MQTT bridge: on when ``url`` names a broker (mqtt://host:port, mqtts:// for TLS)."""
    url: str = ""
    tls_ca_file: str = ""  # mqtts: the CA that signed the broker's certificate (else the system's)
    username: str = ""
    password_file: str = ""
    client_id: str = "doorward-server"
    topic_prefix: str = "doorward"
    discovery_prefix: str = "homeassistant"
    publish_names: bool = False  # last access names the person, not only the opaque user id
    keepalive_s: int = 30
    reconnect_max_s: float = 60.0

    @property
    def enabled(self) -> bool:
        return bool(self.url)


@dataclass(frozen=True)
class ServerConfig:
    database: Path
    keys_dir: Path
    host: str = "127.0.0.1"
    port: int = 8443
    tls_certfile: str = ""
    tls_keyfile: str = ""
    behind_tls_proxy: bool = False
    trusted_proxies: tuple[str, ...] = ()
    assume_synchronised: bool = False
    bundle_validity_s: float = 7 * 86400.0
    max_wait_s: float = 30.0
    heartbeat_interval_s: float = 30.0
    missed_heartbeats: int = 3
    monitor_interval_s: float = 5.0
    rebuild_interval_s: float = 0.5
    session_s: float = 12 * 3600.0
    console_idle_s: float = 900.0
    pairing_code_s: float = 900.0
    retention_days: float = 3 * 365.0
    retention_warning_days: float = 30.0
    alarms: AlarmSinks = field(default_factory=AlarmSinks)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    mqtt: MqttConfig = field(default_factory=MqttConfig)

    @property
    def signing_key_path(self) -> Path:
        return self.keys_dir / "signing.key"

    @property
    def data_key_path(self) -> Path:
        return self.keys_dir / "data.key"

    @property
    def removal_ledger_path(self) -> Path:
        """Beside the version floor: outside the database, so outside its backups."""
        return self.keys_dir / "removals.ledger"

    def with_changes(self, **changes: Any) -> ServerConfig:
        return replace(self, **changes)


# TOML table -> {toml key: (dataclass field, type)}
_LAYOUT: dict[str, dict[str, tuple[str, type]]] = {
    "server": {"database": ("database", Path), "keys_dir": ("keys_dir", Path), "host": ("host", str),
               "port": ("port", int), "tls_certfile": ("tls_certfile", str),
               "tls_keyfile": ("tls_keyfile", str), "behind_tls_proxy": ("behind_tls_proxy", bool),
               "trusted_proxies": ("trusted_proxies", tuple)},
    "clock": {"assume_synchronised": ("assume_synchronised", bool)},
    "bundles": {"validity_s": ("bundle_validity_s", float), "max_wait_s": ("max_wait_s", float),
                "rebuild_interval_s": ("rebuild_interval_s", float)},
    "doors": {"heartbeat_interval_s": ("heartbeat_interval_s", float),
              "missed_heartbeats": ("missed_heartbeats", int),
              "monitor_interval_s": ("monitor_interval_s", float)},
    "auth": {"session_s": ("session_s", float), "pairing_code_s": ("pairing_code_s", float),
             "console_idle_s": ("console_idle_s", float)},
    "retention": {"template_days": ("retention_days", float),
                  "warning_days": ("retention_warning_days", float)},
}
_ALARM_KEYS: dict[str, type] = {
    "webhook_url": str, "webhook_secret_file": str, "webhook_timeout_s": float,
    "webhook_format": str, "syslog_host": str, "syslog_port": int, "syslog_transport": str, "syslog_facility": int,
    "retry_max_s": float,
}
_METRICS_KEYS: dict[str, type] = {"enabled": bool, "allow": tuple, "token_file": str}
_MQTT_KEYS: dict[str, type] = {
    "url": str, "tls_ca_file": str, "username": str, "password_file": str, "client_id": str,
    "topic_prefix": str, "discovery_prefix": str, "publish_names": bool, "keepalive_s": int,
    "reconnect_max_s": float,
}
# TOML table -> (its dataclass, its keys): the sections that are a field of their own
_SECTIONS: dict[str, tuple[type, dict[str, type]]] = {
    "alarms": (AlarmSinks, _ALARM_KEYS), "metrics": (MetricsConfig, _METRICS_KEYS),
    "mqtt": (MqttConfig, _MQTT_KEYS),
}


def load_config(path: Path) -> ServerConfig:
    """Read and validate the server TOML; relative paths are relative to the file."""
    try:
        document = tomllib.loads(Path(path).read_text())
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ServerConfigError(f"{path}: {error}") from None
    return config_from_mapping(document, base=Path(path).parent, source=str(path))


def config_from_mapping(document: dict[str, Any], base: Path, source: str = "config") -> ServerConfig:
    unknown = sorted(set(document) - set(_LAYOUT) - set(_SECTIONS))
    if unknown:
        raise ServerConfigError(f"{source}: [{unknown[0]}]: unknown table")
    values: dict[str, Any] = {}
    for table, keys in _LAYOUT.items():
        values.update(_read_table(document.get(table, {}), table, keys, source))
    for name in ("database", "keys_dir"):
        if name not in values:
            raise ServerConfigError(f"{source}: server.{name}: missing")
        values[name] = relocated_path((base / values[name]).resolve())
    for table, (section, keys) in _SECTIONS.items():
        read = _read_table(document.get(table, {}), table,
                           {key: (key, kind) for key, kind in keys.items()}, source)
        values[table] = section(**read)
    config = ServerConfig(**values)
    _check(config, source)
    return config


def _read_table(table: Any, name: str, keys: dict[str, tuple[str, type]], source: str) -> dict:
    if not isinstance(table, dict):
        raise ServerConfigError(f"{source}: [{name}]: expected a table")
    values = {}
    for key, raw in table.items():
        if key not in keys:
            raise ServerConfigError(f"{source}: {name}.{key}: unknown key (known: {', '.join(keys)})")
        attribute, kind = keys[key]
        values[attribute] = _convert(raw, kind, f"{source}: {name}.{key}")
    return values


def _convert(raw: Any, kind: type, where: str) -> Any:
    if kind is bool and isinstance(raw, bool):
        return raw
    if kind in (int, float) and isinstance(raw, (int, float)) and not isinstance(raw, bool):
        if kind is int and not isinstance(raw, int):
            raise ServerConfigError(f"{where}: expected a whole number, got {raw!r}")
        return kind(raw)
    if kind in (str, Path) and isinstance(raw, str):
        return kind(raw)
    if kind is tuple and isinstance(raw, list) and all(isinstance(item, str) for item in raw):
        return tuple(raw)
    expected = "a list of strings" if kind is tuple else kind.__name__
    raise ServerConfigError(f"{where}: expected {expected}, got {raw!r}")


def _check(config: ServerConfig, source: str) -> None:
    positive = ("bundle_validity_s", "heartbeat_interval_s", "monitor_interval_s", "session_s", "console_idle_s",
                "pairing_code_s", "retention_days", "rebuild_interval_s")
    for name in positive:
        if getattr(config, name) <= 0:
            raise ServerConfigError(f"{source}: {name}: must be > 0")
    if not 0 <= config.max_wait_s <= 60:
        raise ServerConfigError(f"{source}: bundles.max_wait_s: must be within 0..60")
    if config.alarms.webhook_format not in WEBHOOK_FORMATS:
        raise ServerConfigError(f"{source}: alarms.webhook_format: {config.alarms.webhook_format!r}"
                                f" is not one of {', '.join(WEBHOOK_FORMATS)}")
    if config.alarms.syslog_transport not in ("udp", "tcp"):
        raise ServerConfigError(f"{source}: alarms.syslog_transport: expected udp or tcp")
    if bool(config.tls_certfile) != bool(config.tls_keyfile):
        raise ServerConfigError(f"{source}: server.tls_certfile, server.tls_keyfile: set both or neither")
    _check_networks(config.trusted_proxies, "server.trusted_proxies", source)
    _check_networks(config.metrics.allow, "metrics.allow", source)
    if config.metrics.enabled and not (config.metrics.allow or config.metrics.token_file):
        raise ServerConfigError(f"{source}: metrics.enabled: set metrics.allow (addresses) or"
                                " metrics.token_file (a bearer token), or nobody may scrape")
    _check_mqtt(config.mqtt, source)


def _check_networks(networks: tuple[str, ...], key: str, source: str) -> None:
    for network in networks:
        try:
            ipaddress.ip_network(network)
        except ValueError:
            raise ServerConfigError(f"{source}: {key}: {network!r} is not an IP address"
                                    " or network") from None


def _check_mqtt(mqtt: MqttConfig, source: str) -> None:
    if not mqtt.enabled:
        return
    scheme, _, rest = mqtt.url.partition("://")
    if scheme not in ("mqtt", "mqtts") or not rest or "/" in rest.rstrip("/"):
        raise ServerConfigError(f"{source}: mqtt.url: {mqtt.url!r} is not mqtt://HOST[:PORT]"
                                " or mqtts://HOST[:PORT]")
    if mqtt.password_file and not mqtt.username:
        raise ServerConfigError(f"{source}: mqtt.password_file: set mqtt.username too")
    for name in ("topic_prefix", "discovery_prefix", "client_id"):
        value = getattr(mqtt, name)
        if not value or any(char in value for char in "#+ ") or value.startswith("/"):
            raise ServerConfigError(f"{source}: mqtt.{name}: {value!r} must be non-empty, without"
                                    " spaces, '#', '+' or a leading '/'")
    if mqtt.keepalive_s < 5 or mqtt.reconnect_max_s <= 0:
        raise ServerConfigError(f"{source}: mqtt.keepalive_s, mqtt.reconnect_max_s: keepalive"
                                " at least 5 s, reconnect_max_s > 0")


def plain_http_refusal(config: ServerConfig, host: str, behind_tls_proxy: bool = False) -> str | None:
    """Why the server must not listen on ``host``, or None. Plain HTTP carries session and
    device tokens in the clear, so it is served only on loopback, unless the server has its
    own certificate or an operator says that TLS terminates in front of it."""
    if config.tls_certfile or behind_tls_proxy or config.behind_tls_proxy or _is_loopback(host):
        return None
    return (f"refusing to serve plain HTTP on {host!r}, which is not a loopback address: set"
            " [server] tls_certfile and tls_keyfile, or, when a TLS proxy terminates in front of"
            " the server, pass --behind-tls-proxy or set [server] behind_tls_proxy = true")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name could resolve to any address

"""The server's TOML: the new listening keys, errors that name the key, the plain-HTTP rule,
and every key documented in docs/server.md."""

from __future__ import annotations

from pathlib import Path

import pytest

from doorward.server import config as server_config
from doorward.server.config import ServerConfigError, config_from_mapping, plain_http_refusal

ROOT = Path(__file__).resolve().parents[2]
REQUIRED = {"database": "doorward.server.store.db", "keys_dir": "keys"}


def configured(tmp_path: Path, **server: object):
    return config_from_mapping({"server": {**REQUIRED, **server}}, base=tmp_path)


def test_plain_http_is_served_only_on_loopback(tmp_path) -> None:
    plain = configured(tmp_path)
    for host in ("127.0.0.1", "127.0.0.53", "::1", "[::1]", "localhost"):
        assert plain_http_refusal(plain, host) is None, host
    for host in ("0.0.0.0", "::", "192.0.2.1", "doorward.example.lan"):
        refusal = plain_http_refusal(plain, host)
        assert refusal and repr(host) in refusal and "behind_tls_proxy" in refusal, host


def test_tls_or_a_declared_tls_proxy_allows_any_address(tmp_path) -> None:
    with_tls = configured(tmp_path, tls_certfile="server.crt", tls_keyfile="server.key")
    behind = configured(tmp_path, behind_tls_proxy=True)
    assert plain_http_refusal(with_tls, "0.0.0.0") is None
    assert plain_http_refusal(behind, "0.0.0.0") is None
    assert plain_http_refusal(configured(tmp_path), "0.0.0.0", behind_tls_proxy=True) is None


@pytest.mark.parametrize("server, named", [
    ({"tls_certfile": "server.crt"}, "server.tls_certfile, server.tls_keyfile"),
    ({"trusted_proxies": ["10.0.0.0/8", "proxy.lan"]}, "server.trusted_proxies: 'proxy.lan'"),
    ({"trusted_proxies": "127.0.0.1"}, "server.trusted_proxies: expected a list of strings"),
    ({"behind_tls_proxy": "yes"}, "server.behind_tls_proxy: expected bool"),
])
def test_a_wrong_listening_setting_is_refused_naming_it(tmp_path, server, named) -> None:
    with pytest.raises(ServerConfigError, match=named.replace("(", r"\(")):
        configured(tmp_path, **server)


def test_trusted_proxies_are_addresses_or_networks(tmp_path) -> None:
    config = configured(tmp_path, trusted_proxies=["127.0.0.1", "10.1.0.0/16", "::1"])
    assert config.trusted_proxies == ("127.0.0.1", "10.1.0.0/16", "::1")
    assert configured(tmp_path).trusted_proxies == ()


def test_every_server_config_key_is_documented() -> None:
    guide = (ROOT / "docs" / "server.md").read_text()
    keys = [f"{table}.{key}" for table, layout in server_config._LAYOUT.items() for key in layout]
    keys += [f"{table}.{key}" for table, (_, layout) in server_config._SECTIONS.items() for key in layout]
    assert [key for key in keys if f"`{key}`" not in guide] == []

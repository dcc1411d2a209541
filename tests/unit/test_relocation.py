"""``DOORWARD_TEST_ROOT``: the role tests' relocation of a configuration's absolute paths
(daemon/relocation.py), for the door's and the server's configurations alike; unset,
nothing moves."""

from __future__ import annotations

from pathlib import Path

import pytest

from doorward.daemon.config.loader import default_config_path, load_config
from doorward.server.config import load_config as load_server_config

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "docs" / "doorward.example.toml"


def test_unset_nothing_moves(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOORWARD_TEST_ROOT", raising=False)
    monkeypatch.delenv("DOORWARD_CONFIG", raising=False)
    config = load_config(EXAMPLE)
    assert config.storage.state_dir == Path("/var/lib/doorward")
    assert config.module.url == "/dev/serial0"
    assert default_config_path() == Path("/etc/doorward/doorward.toml")


def test_every_absolute_path_of_the_door_moves_under_the_root(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DOORWARD_TEST_ROOT", str(tmp_path))
    monkeypatch.delenv("DOORWARD_CONFIG", raising=False)
    config = load_config(EXAMPLE)
    assert config.storage.state_dir == tmp_path / "var/lib/doorward"
    assert config.daemon.status_file == tmp_path / "var/lib/doorward/status.json"
    assert config.module.url == f"{tmp_path}/dev/serial0"
    assert config.server.credential == f"{tmp_path}/etc/doorward/credential.json"
    assert config.server.ca_file == f"{tmp_path}/etc/doorward/ca.pem"
    assert config.hardware.hub_socket == f"{tmp_path}/tmp/doorward-hub.sock"
    assert default_config_path() == tmp_path / "etc/doorward/doorward.toml"


def test_the_servers_database_and_keys_move_too(monkeypatch: pytest.MonkeyPatch,
                                                tmp_path: Path) -> None:
    toml = tmp_path / "server.toml"
    toml.write_text('[server]\ndatabase = "/var/lib/doorward/server.db"\n'
                    'keys_dir = "/etc/doorward/server-keys"\n')
    monkeypatch.setenv("DOORWARD_TEST_ROOT", str(tmp_path / "root"))
    config = load_server_config(toml)
    assert config.database == tmp_path / "root/var/lib/doorward/server.db"
    assert config.keys_dir == tmp_path / "root/etc/doorward/server-keys"

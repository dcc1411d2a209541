"""Configuration of ``doorward run``: every bad file is refused by key path before any GPIO is
touched, an unsafe relay never starts, and the ``[daemon]`` section's rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from doorward.daemon.config.loader import parse_config
from doorward.daemon.errors import ConfigError
from tests.support.hub import run_doorward

GOOD = """\
[hardware]
gpio_backend = "sim"
hub_socket = "/nonexistent/hub.sock"
lock_type = "fail_secure"

[hardware.relay]
pin = 17
"""

# (what is wrong, the text appended or substituted, the key path the error must name)
BAD = [
    ("relay on a pin pulled up at boot", ("pin = 17", "pin = 4"), "hardware.relay.pin"),
    ("active-low relay not declared", ("pin = 17", 'pin = 4\nactive = "low"'),
     "hardware.relay.active"),
    ("relay on the UART", ("pin = 17", "pin = 14"), "hardware.relay.pin"),
    ("no relay at all", ("[hardware.relay]\npin = 17\n", ""), "hardware.relay"),
    ("unknown lock type", ('"fail_secure"', '"magnetic"'), "hardware.lock_type"),
    ("fire loop that reads a cut wire as quiet",
     (None, '[hardware.fire_alarm]\npin = 23\npull = "up"\nactive = "low"\n'),
     "hardware.fire_alarm"),
    ("a typo", (None, "[module]\nbaudrate = 57600\n"), "module.baudrate"),
    ("a bad baud", (None, "[module]\nbaud = 12345\n"), "module.baud"),
    ("a health deadline longer than its interval",
     (None, "[daemon]\nhealth_interval_s = 1.0\nhealth_deadline_s = 2.0\n"),
     "daemon.health_deadline_s"),
    ("a status interval of zero", (None, "[daemon]\nstatus_interval_s = 0\n"),
     "daemon.status_interval_s"),
    ("an empty status file", (None, '[daemon]\nstatus_file = ""\n'), "daemon.status_file"),
    ("a journal kept too briefly", (None, "[storage]\njournal_retention_h = 24\n"),
     "storage.journal_retention_h"),
    ("an unknown section", (None, "[deamon]\n"), "deamon"),
]


def bad_config(change: tuple[str | None, str]) -> str:
    old, new = change
    return GOOD + new if old is None else GOOD.replace(old, new, 1)


@pytest.mark.parametrize("what, change, key", BAD, ids=[case[0] for case in BAD])
def test_every_bad_configuration_names_its_key(what: str, change, key: str) -> None:
    with pytest.raises(ConfigError) as refused:
        parse_config(bad_config(change), Path("/etc/doorward/doorward.toml"))
    assert f"{key}:" in str(refused.value) or f"{key}." in str(refused.value), what


@pytest.mark.parametrize("what, change, key", [BAD[0], BAD[1], BAD[8]],
                         ids=["pulled-up pin", "undeclared active-low", "daemon section"])
def test_the_daemon_refuses_to_start_and_touches_no_gpio(tmp_path: Path, what: str, change,
                                                          key: str) -> None:
    path = tmp_path / "doorward.toml"
    path.write_text(bad_config(change))
    result = run_doorward("run", "--config", str(path))
    assert result.returncode == 2, result.stdout + result.stderr
    assert key in result.stderr and "refusing to start" in result.stderr
    assert "hub" not in result.stderr.lower().replace("hub_socket", "")  # never got to GPIO


def test_the_daemon_section_defaults_and_the_status_path(tmp_path: Path) -> None:
    config = parse_config(GOOD + f'[storage]\nstate_dir = "{tmp_path}"\n', tmp_path / "x.toml")
    assert config.daemon.status_path(config.storage.state_dir) == tmp_path / "status.json"
    assert (config.daemon.health_interval_s, config.daemon.health_deadline_s) == (1.0, 0.5)
    chosen = parse_config(GOOD + '[daemon]\nstatus_file = "run/s.json"\n', tmp_path / "x.toml")
    assert chosen.daemon.status_path(Path("/var/lib/doorward")) == tmp_path / "run" / "s.json"

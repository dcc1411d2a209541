"""The [hardware] section and the config loader: valid files load, every mistake is named
with file, key and what is wrong, and `doorward check-config` reports them with exit code 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from doorward.daemon.config.loader import load_config
from doorward.daemon.errors import ConfigError
from doorward.daemon.commands.hardware import check_config, relay_safe
from tests.support.hub import run_doorward

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "docs" / "doorward.example.toml"

MINIMAL = """\
[hardware]
gpio_backend = "sim"
hub_socket = "/run/doorward/hub.sock"
lock_type = "fail_secure"

[hardware.relay]
pin = 17
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "doorward.toml"
    path.write_text(text)
    return path


def problems_of(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert all(line.startswith(f"{path}: ") for line in message.splitlines())
    return message


def test_the_example_config_loads_with_every_pin():
    hardware = load_config(EXAMPLE).hardware
    relay = hardware.relay
    assert (relay.pin, relay.active_level, relay.safe_level) == (17, 1, 0)
    assert hardware.door_contact.pull == "up" and hardware.door_contact.active_level == 1
    assert hardware.module_touch.active_level == 0  # R503: active-low
    assert sorted(hardware.inputs()) == sorted(["door_contact", "exit_button", "fire_alarm",
                                                "lockdown_key", "tamper", "module_touch"])
    assert list(hardware.outputs()) == ["relay", "status_led", "buzzer", "module_power"]


def test_defaults_fill_a_minimal_file(tmp_path):
    hardware = load_config(write(tmp_path, MINIMAL)).hardware
    assert (hardware.debounce_ms, hardware.hub_timeout_s, hardware.exit_without_rex_is_forced,
            hardware.relay.active_level, hardware.door_contact) == (50, 2.0, True, 1, None)


def test_a_relative_hub_socket_is_relative_to_the_config_file(tmp_path):
    text = MINIMAL.replace('"/run/doorward/hub.sock"', '"hub.sock"')
    assert load_config(write(tmp_path, text)).hardware.hub_socket == str(tmp_path / "hub.sock")


def test_malformed_toml_names_the_file_and_the_line(tmp_path):
    message = problems_of(tmp_path, "[hardware\npin = 1\n")
    assert "not valid TOML" in message and "line 1" in message


@pytest.mark.parametrize("extra, key, words", [
    ("colour = 'red'\n", "hardware.colour", "unknown key"),
    ("debounce_msec = 20\n", "hardware.debounce_msec", "unknown key (did you mean 'debounce_ms'?)"),
    ("[hardware.relay.extra]\nx = 1\n", "hardware.relay.extra", "unknown key"),
    ("[sever]\nurl = 'x'\n", "sever", "unknown section"),
    ("[server]\nurl = 'x'\n", "server.url", "unknown key"),
])
def test_unknown_keys_are_errors(tmp_path, extra, key, words):
    text = MINIMAL + extra if extra.startswith("[") else MINIMAL.replace(
        "[hardware.relay]", extra + "[hardware.relay]")
    assert f"{key}: {words}" in problems_of(tmp_path, text)


@pytest.mark.parametrize("pin, words", [
    ("28", "28 is not a BCM GPIO number (0-27)"),
    ("-1", "-1 is not a BCM GPIO number (0-27)"),
    ('"17"', "must be an integer, not '17'"),
    ("true", "must be an integer, not True"),
    ("14", "14 is the UART TXD pin"),
])
def test_bad_pin_numbers_are_named(tmp_path, pin, words):
    message = problems_of(tmp_path, MINIMAL.replace("pin = 17", f"pin = {pin}"))
    assert f"hardware.relay.pin: {words}" in message


def test_duplicate_pins_name_both_keys(tmp_path):
    text = MINIMAL + "[hardware.exit_button]\npin = 17\nactive = 'low'\n"
    assert ("hardware.exit_button.pin: pin 17 is already used by hardware.relay.pin"
            in problems_of(tmp_path, text))


def test_an_active_low_relay_must_be_declared(tmp_path):
    text = MINIMAL.replace("pin = 17", "pin = 4\nactive = 'low'")
    message = problems_of(tmp_path, text)
    assert "hardware.relay.active: 'low' needs active_low_declared = true" in message
    declared = text + "active_low_declared = true\n"
    assert load_config(write(tmp_path, declared)).hardware.relay.safe_level == 1


def test_an_active_low_relay_on_a_pulled_down_pin_is_refused(tmp_path):
    text = MINIMAL.replace("pin = 17", "pin = 17\nactive = 'low'\nactive_low_declared = true")
    assert ("hardware.relay.pin: 17 is pulled down at power-on (BCM 9-27)"
            in problems_of(tmp_path, text))


def test_an_active_high_relay_on_a_pulled_up_pin_is_refused(tmp_path):
    message = problems_of(tmp_path, MINIMAL.replace("pin = 17", "pin = 4"))
    assert "hardware.relay.pin: 4 is pulled up at power-on (BCM 0-8)" in message


def test_the_sim_backend_needs_a_hub_socket(tmp_path):
    text = MINIMAL.replace('hub_socket = "/run/doorward/hub.sock"\n', "")
    message = problems_of(tmp_path, text)
    assert "hardware.hub_socket: missing: required when gpio_backend = 'sim'" in message
    rpi = text.replace('"sim"', '"rpi"')
    assert load_config(write(tmp_path, rpi)).hardware.hub_socket is None


def test_a_fire_input_must_read_a_cut_wire_as_alarm(tmp_path):
    text = MINIMAL + "[hardware.fire_alarm]\npin = 23\npull = 'up'\nactive = 'low'\n"
    assert "hardware.fire_alarm.active: must be 'high' with pull = 'up'" in problems_of(
        tmp_path, text)


def test_every_problem_is_reported_at_once(tmp_path):
    text = MINIMAL.replace('lock_type = "fail_secure"', "lock_type = 'magnetic'\ndebounce_ms = -5")
    text = text.replace("pin = 17", "pin = 99")
    message = problems_of(tmp_path, text)
    assert "hardware.lock_type: 'magnetic' is not one of 'fail_secure', 'fail_safe'" in message
    assert "hardware.debounce_ms: -5 is not between 0 and 1000 ms" in message
    assert "hardware.relay.pin: 99 is not a BCM GPIO number" in message


def test_missing_sections_and_files_are_named(tmp_path):
    assert "hardware: missing table (required)" in problems_of(tmp_path, "")
    with pytest.raises(ConfigError, match="nowhere.toml: cannot read the file"):
        load_config(tmp_path / "nowhere.toml")


def test_check_config_prints_ok_or_the_errors_with_exit_code_2(tmp_path, capsys):
    good = write(tmp_path, MINIMAL)
    assert check_config(["--config", str(good)]) == 0
    assert capsys.readouterr().out == f"config OK: {good} (as a door)\n"
    bad = write(tmp_path, MINIMAL.replace("pin = 17", "pin = 40"))
    assert check_config(["--config", str(bad)]) == 2
    assert f"{bad}: hardware.relay.pin: 40 is not a BCM GPIO number" in capsys.readouterr().err


def test_check_config_reads_doorward_config_from_the_environment(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DOORWARD_CONFIG", str(write(tmp_path, MINIMAL)))
    assert check_config([]) == 0


def test_check_config_through_the_real_cli(tmp_path):
    bad = write(tmp_path, MINIMAL + "[hardware.tamper]\npin = 30\nactive = 'high'\n")
    result = run_doorward("check-config", "--config", str(bad))
    assert result.returncode == 2
    assert f"{bad}: hardware.tamper.pin: 30 is not a BCM GPIO number (0-27)" in result.stderr


def test_relay_safe_refuses_a_bad_hardware_section_with_exit_code_2(tmp_path, capsys):
    bad = write(tmp_path, MINIMAL.replace('"fail_secure"', '"open"'))
    assert relay_safe(["--config", str(bad)]) == 2
    assert f"{bad}: hardware.lock_type" in capsys.readouterr().err


def test_relay_safe_reads_only_the_hardware_section(tmp_path):
    # An unrelated mistake elsewhere must never stop the stop hook from making the door safe.
    path = write(tmp_path, MINIMAL + "[server]\nurl = 'x'\n")
    assert load_config(path, sections=("hardware",)).hardware.relay.pin == 17


KIOSK = """\
[module]
url = "/tmp/dw-r503"
model = "r503"

[server]
credential = "/tmp/dw/kiosk-credential.json"
"""


def test_check_config_knows_the_roles(tmp_path, capsys):
    kiosk = write(tmp_path, KIOSK)  # what docs/kiosk.md tells a kiosk to write
    assert check_config(["--config", str(kiosk), "--role", "door"]) == 2
    assert "hardware: missing table" in capsys.readouterr().err
    assert check_config(["--config", str(kiosk), "--role", "kiosk"]) == 0
    assert capsys.readouterr().out == f"config OK: {kiosk} (as a kiosk)\n"
    misspelt = write(tmp_path, KIOSK + "[modul]\nbaud = 9600\n")
    assert check_config(["--config", str(misspelt), "--role", "kiosk"]) == 2
    assert f"{misspelt}: modul: unknown section" in capsys.readouterr().err
    bad_kiosk = write(tmp_path, KIOSK.replace('"r503"', '"r999"'))
    assert check_config(["--config", str(bad_kiosk), "--role", "kiosk"]) == 2
    assert "module.model: 'r999' is not one of" in capsys.readouterr().err


def test_check_config_checks_the_servers_file_for_the_server_role(tmp_path, capsys):
    server = tmp_path / "server.toml"
    server.write_text('[server]\ndatabase = "db"\nkeys_dir = "keys"\n')
    assert check_config(["--config", str(server), "--role", "server"]) == 0
    server.write_text('[server]\ndatabase = "db"\n')
    assert check_config(["--config", str(server), "--role", "server"]) == 2
    assert "server.keys_dir: missing" in capsys.readouterr().err


def test_check_config_takes_the_installed_role_by_default(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DOORWARD_TEST_ROOT", str(tmp_path))
    monkeypatch.delenv("DOORWARD_CONFIG", raising=False)
    (tmp_path / "etc/doorward").mkdir(parents=True)
    (tmp_path / "etc/doorward/doorward.toml").write_text(KIOSK)
    assert check_config([]) == 2  # no role file: a door's sections
    capsys.readouterr()
    (tmp_path / "opt/doorward").mkdir(parents=True)
    (tmp_path / "opt/doorward/role").write_text("kiosk\n")  # as install.sh writes it
    assert check_config([]) == 0
    assert "(as a kiosk)" in capsys.readouterr().out

"""The units, checked statically (CI has no systemd as PID 1): the sandbox scores of promise
14 with ``systemd-analyze security --offline=true``, and the settings the door's safety and
the daemon's clock reading depend on."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNITS = {"doorward.service": 2.0, "doorward-server.service": 3.0, "doorward-kiosk.service": 3.0}
ANALYZE = shutil.which("systemd-analyze")
UART_DROPIN = "\n[Service]\nDeviceAllow=/dev/ttyAMA0 rw\n"


def settings(unit: str) -> list[tuple[str, str]]:
    pairs = []
    for line in (ROOT / "systemd" / unit).read_text().splitlines():
        if line and not line.startswith(("#", "[")) and "=" in line:
            key, _, value = line.partition("=")
            pairs.append((key, value))
    return pairs


def values(unit: str, key: str) -> list[str]:
    return [value for name, value in settings(unit) if name == key]


def exposure(path: Path) -> float:
    done = subprocess.run([ANALYZE, "security", "--offline=true", str(path)],
                          capture_output=True, text=True, timeout=30)
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", done.stdout + done.stderr)
    assert match, done.stdout + done.stderr
    return float(match.group(1))


@pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed on this machine")
@pytest.mark.parametrize(("unit", "limit"), UNITS.items())
def test_unit_scores_within_promise_14(unit: str, limit: float, tmp_path: Path) -> None:
    assert exposure(ROOT / "systemd" / unit) <= limit
    # and with the UART drop-in the installer writes, as systemd would merge it
    merged = tmp_path / unit
    merged.write_text((ROOT / "systemd" / unit).read_text() + UART_DROPIN)
    assert exposure(merged) <= limit


@pytest.mark.parametrize("unit", UNITS)
def test_device_paths_have_no_wildcards_and_devices_stay_visible(unit: str) -> None:
    for value in values(unit, "DeviceAllow"):
        assert not re.search(r"[*?\[]", value.split()[0]), value
    if unit != "doorward-server.service":  # the server needs no device at all
        assert "yes" not in values(unit, "PrivateDevices")
        assert values(unit, "DevicePolicy") == ["closed"]


def test_door_unit_allows_the_gpio_chips_by_class() -> None:
    assert "char-gpiochip rw" in values("doorward.service", "DeviceAllow")


@pytest.mark.parametrize("unit", UNITS)
def test_adjtimex_is_allowed_by_the_last_system_call_filter(unit: str) -> None:
    filters = values(unit, "SystemCallFilter")
    assert filters, "no system-call filter"
    last = filters[-1].split()
    assert not filters[-1].startswith("~") and "adjtimex" in last and "clock_adjtime" in last
    assert values(unit, "ProtectClock") == []
    assert values(unit, "CapabilityBoundingSet") == [""]  # no CAP_SYS_TIME: read, never set


@pytest.mark.parametrize("unit", ["doorward.service", "doorward-kiosk.service"])
def test_credential_is_loaded_by_bare_name(unit: str) -> None:
    assert values(unit, "LoadCredentialEncrypted") == ["doorward-door"]


def test_door_unit_is_supervised_and_its_stop_hook_makes_the_relay_safe() -> None:
    unit = "doorward.service"
    assert values(unit, "Type") == ["notify"] and values(unit, "Restart") == ["always"]
    assert values(unit, "WatchdogSec") and values(unit, "User") == ["doorward"]
    assert values(unit, "SupplementaryGroups") == ["dialout gpio"]
    hooks = values(unit, "ExecStopPost")
    assert hooks and hooks[-1].startswith("+") and re.search(r"/doorward relay-safe\b", hooks[-1])
    assert values(unit, "WorkingDirectory") == ["/var/lib/doorward"]
    assert values(unit, "StateDirectory") == ["doorward"]


def test_stop_hook_command_is_the_real_relay_safe_subcommand() -> None:
    from doorward.daemon import cli

    assert cli.DOOR_COMMANDS["relay-safe"][0] == "doorward.daemon.commands.hardware:relay_safe"
    hook = values("doorward.service", "ExecStopPost")[-1].lstrip("+").split()
    assert hook[1:3] == ["relay-safe", "--config"]


# Every unit's sandbox, directive by directive. The exposure score alone would not notice a
# single one dropped (NoNewPrivileges= off moves the door's 1.7 to 1.9, still under 2.0).
HARDENING = {
    "NoNewPrivileges": "yes", "CapabilityBoundingSet": "", "AmbientCapabilities": "",
    "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes", "PrivateUsers": "yes",
    "PrivateMounts": "yes", "ProtectHostname": "yes", "ProtectKernelTunables": "yes",
    "ProtectKernelModules": "yes", "ProtectKernelLogs": "yes", "ProtectControlGroups": "yes",
    "ProtectProc": "invisible", "LockPersonality": "yes", "MemoryDenyWriteExecute": "yes",
    "RestrictRealtime": "yes", "RestrictSUIDSGID": "yes", "RestrictNamespaces": "yes",
    "RemoveIPC": "yes", "KeyringMode": "private", "DevicePolicy": "closed", "UMask": "0077",
    "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6", "SystemCallArchitectures": "native",
    "SystemCallErrorNumber": "EPERM", "StateDirectoryMode": "0700",
}
SYSCALL_FILTERS = ["@system-service",
                   "~@privileged @resources @mount @debug @cpu-emulation @obsolete @raw-io "
                   "@reboot @swap @module"]  # fmt: skip
# Only the units without a device to reach hide /proc's other entries and every device.
EXTRA = {"doorward-server.service": {"ProcSubset": "pid", "PrivateDevices": "yes"},
         "doorward-kiosk.service": {"ProcSubset": "pid"}}  # fmt: skip


@pytest.mark.parametrize(("unit", "key", "value"), [
    (unit, key, value) for unit in UNITS
    for key, value in {**HARDENING, **EXTRA.get(unit, {})}.items()])  # fmt: skip
def test_each_hardening_directive_is_set(unit: str, key: str, value: str) -> None:
    assert values(unit, key) == [value], f"{unit}: {key}= must be {value!r}"


@pytest.mark.parametrize("unit", UNITS)
def test_the_system_call_filters_deny_the_privileged_groups(unit: str) -> None:
    assert values(unit, "SystemCallFilter")[:2] == SYSCALL_FILTERS


def test_the_server_unit_may_write_the_keys_dir_the_installer_configures() -> None:
    installer = (ROOT / "systemd" / "install.sh").read_text()
    [keys_dir] = re.findall(r'^keys_dir = "([^"]+)"', installer, re.MULTILINE)
    assert not keys_dir.startswith("/var/lib/doorward/")  # apart from the state backups copy
    assert values("doorward-server.service", "ReadWritePaths") == [keys_dir]


@pytest.mark.parametrize("unit", UNITS)
def test_every_unit_runs_as_the_installers_service_user(unit: str) -> None:
    installer = (ROOT / "systemd" / "install.sh").read_text()
    [user] = re.findall(r"^SERVICE_USER=(\w+)", installer, re.MULTILINE)
    assert values(unit, "User") == [user] and values(unit, "Group") == [user]

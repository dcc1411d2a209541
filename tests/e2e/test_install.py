"""``systemd/install.sh --root``: idempotent, the firmware lines once, upgrades that keep the
state and run the migration hook (and refuse a newer schema), uninstall that keeps the state.

The wheels are tiny fakes built here (a ``doorward`` script whose ``migrate`` records what it
did); pip runs with ``--no-index --no-deps``, so nothing reaches the network.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import stat
import subprocess
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
INSTALL = ROOT / "systemd" / "install.sh"
FAKE_CLI = '''
import sys
from pathlib import Path
SCHEMA = {schema}
def main():
    args = sys.argv[1:]
    if args[:1] != ["migrate"]:
        print("usage: doorward COMMAND\\n\\ncommands:\\n  migrate        migrate the state")
        return 0
    state = Path(args[args.index("--state-dir") + 1])
    stored = int((state / "schema").read_text()) if (state / "schema").exists() else 1
    if stored > SCHEMA:
        return 3
    (state / "schema").write_text(str(SCHEMA))
    with open(state / "migrations.log", "a") as log:
        log.write(f"{{stored}}->{{SCHEMA}}\\n")
    return 0
'''


def fake_wheel(folder: Path, version: str, schema: int) -> Path:
    info = f"doorward-{version}.dist-info"
    files = {
        "doorward_fake.py": FAKE_CLI.format(schema=schema),
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: doorward\nVersion: {version}\n"
                            "Provides-Extra: pi\nProvides-Extra: server\nProvides-Extra: kiosk\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        f"{info}/entry_points.txt": "[console_scripts]\ndoorward = doorward_fake:main\n",
    }
    record = [f"{path},sha256={_digest(text)},{len(text.encode())}" for path, text in files.items()]
    files[f"{info}/RECORD"] = "\n".join([*record, f"{info}/RECORD,,"]) + "\n"
    wheel = folder / f"doorward-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return wheel


def _digest(text: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()


def run_install(root: Path, *args: str, check: bool = True,
                pip_args: str = "") -> subprocess.CompletedProcess:
    env = {**os.environ, "DOORWARD_PIP_ARGS": f"--no-index --no-deps {pip_args}", "PIP_NO_INDEX": "1"}
    done = subprocess.run(["bash", str(INSTALL), "--root", str(root), *args], env=env,
                          capture_output=True, text=True, timeout=120)
    if check:
        assert done.returncode == 0, done.stdout + done.stderr
    return done


def manifest(root: Path) -> dict[str, str]:
    """Every file's hash and mode, and every link's target: what a rerun must not change."""
    entries = {}
    for path in sorted(root.rglob("*")):
        key = str(path.relative_to(root))
        if path.is_symlink():
            entries[key] = "-> " + os.readlink(path)
        elif path.is_file():
            entries[key] = f"{oct(path.stat().st_mode)} {hashlib.sha256(path.read_bytes()).hexdigest()}"
    return entries


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("wheels")
    return {"old": fake_wheel(folder, "0.1.0", 1), "new": fake_wheel(folder, "0.2.0", 2)}


def pi_root(root: Path) -> Path:
    (root / "dev").mkdir(parents=True)
    (root / "dev" / "ttyAMA0").touch()
    (root / "dev" / "serial0").symlink_to("ttyAMA0")  # as udev links it on a Pi
    (root / "boot" / "firmware").mkdir(parents=True)
    (root / "boot" / "firmware" / "config.txt").write_text("[pi4]\narm_boost=1\n")
    return root


@pytest.fixture(scope="module")
def door_root(tmp_path_factory: pytest.TempPathFactory, wheels: dict[str, Path]) -> Path:
    root = pi_root(tmp_path_factory.mktemp("door") / "root")
    run_install(root, "--role", "door", "--relay-pin", "17", "--wheel", str(wheels["old"]))
    return root


@pytest.fixture
def door_copy(door_root: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "root"
    shutil.copytree(door_root, copy, symlinks=True)
    return copy


def test_second_run_changes_nothing(door_copy: Path, wheels: dict[str, Path]) -> None:
    before = manifest(door_copy)
    run_install(door_copy, "--role", "door", "--relay-pin", "17", "--wheel", str(wheels["old"]))
    assert manifest(door_copy) == before
    run_install(door_copy, "--role", "door", "--wheel", str(wheels["old"]))  # pin from the config
    assert manifest(door_copy) == before


def test_the_relay_pin_comes_from_the_installer_never_from_the_example(
        tmp_path: Path, wheels: dict[str, Path]) -> None:
    root = pi_root(tmp_path / "root")
    refused = run_install(root, "--role", "door", "--wheel", str(wheels["old"]), check=False)
    assert refused.returncode != 0 and "--relay-pin N is required" in refused.stderr
    assert "doorward" not in (root / "boot/firmware/config.txt").read_text()
    assert not (root / "etc/doorward/doorward.toml").exists()
    run_install(root, "--role", "door", "--relay-pin", "21", "--wheel", str(wheels["old"]))
    lines = (root / "boot/firmware/config.txt").read_text().splitlines()
    assert "gpio=21=op,dl" in lines and not [line for line in lines if line.startswith("gpio=17")]
    config = tomllib.loads((root / "etc/doorward/doorward.toml").read_text())
    assert config["hardware"]["relay"]["pin"] == 21
    assert config["hardware"]["door_contact"]["pin"] == 27  # only the relay's pin changed
    other = run_install(root, "--role", "door", "--relay-pin", "18", "--wheel", str(wheels["old"]),
                        check=False)
    assert other.returncode != 0 and "wires the relay to pin 21, not 18" in other.stderr
    bad = run_install(tmp_path / "other", "--role", "door", "--relay-pin", "40", check=False)
    assert bad.returncode != 0 and "'40' is not a BCM GPIO number" in bad.stderr


def test_firmware_holds_the_relay_pin_once(door_copy: Path, wheels: dict[str, Path]) -> None:
    run_install(door_copy, "--role", "door", "--wheel", str(wheels["old"]))
    lines = (door_copy / "boot" / "firmware" / "config.txt").read_text().splitlines()
    assert lines.count("gpio=17=op,dl") == 1 and lines.count("dtparam=strict_gpiod") == 1
    assert lines.count("gpio=16=op,dh") == 1  # the module's supply on from power-on
    assert lines[:2] == ["[pi4]", "arm_boost=1"]  # the person's lines stay as they were
    assert lines.index("[all]") < lines.index("gpio=17=op,dl")  # not under the [pi4] filter


def test_a_changed_relay_pin_replaces_the_line(door_copy: Path, wheels: dict[str, Path]) -> None:
    config = door_copy / "etc" / "doorward" / "doorward.toml"
    config.write_text(config.read_text().replace("pin = 17", "pin = 18", 1))
    run_install(door_copy, "--role", "door", "--wheel", str(wheels["old"]))
    text = (door_copy / "boot" / "firmware" / "config.txt").read_text()
    assert "gpio=18=op,dl" in text and "gpio=17=" not in text


def test_door_install_layout(door_root: Path) -> None:
    assert os.readlink(door_root / "opt/doorward/venv") == "releases/doorward-0.1.0"
    dropin = (door_root / "etc/systemd/system/doorward.service.d/50-uart.conf").read_text()
    assert "DeviceAllow=/dev/ttyAMA0 rw" in dropin
    wants = door_root / "etc/systemd/system/multi-user.target.wants"
    assert [p.name for p in wants.iterdir()] == ["doorward.service"]
    assert os.readlink(wants / "doorward.service") == "/etc/systemd/system/doorward.service"
    config = (door_root / "etc/doorward/doorward.toml").read_text()
    assert 'gpio_backend = "rpi"' in config and "hub_socket" not in config
    assert "ca_file" not in tomllib.loads(config)["server"]  # the example's names no file yet
    script = (door_root / "opt/doorward/venv/bin/doorward").read_text().splitlines()[0]
    assert script == "#!/opt/doorward/releases/doorward-0.1.0/bin/python"  # as the Pi sees it
    assert os.readlink(door_root / "usr/local/bin/doorward") == "/opt/doorward/venv/bin/doorward"
    assert mode(door_root / "etc/doorward/doorward.toml") == 0o640
    assert mode(door_root / "var/lib/doorward") == 0o700


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def put_state(root: Path, schema: int) -> Path:
    state = root / "var/lib/doorward"
    state.mkdir(parents=True, exist_ok=True)
    (state / "cache.db").write_bytes(b"the cache")
    (state / "journal.db").write_bytes(b"the journal")
    (state / "schema").write_text(str(schema))
    return state


def test_upgrade_keeps_the_state_and_runs_the_migrations(door_copy: Path, wheels: dict[str, Path]) -> None:
    state = put_state(door_copy, schema=1)
    run_install(door_copy, "--upgrade", str(wheels["new"]))
    assert os.readlink(door_copy / "opt/doorward/venv") == "releases/doorward-0.2.0"
    assert (state / "migrations.log").read_text() == "1->2\n"
    assert (state / "journal.db").read_bytes() == b"the journal"
    [backup] = (state / "backups").iterdir()
    assert (backup / "cache.db").read_bytes() == b"the cache" and (backup / "schema").read_text() == "1"
    assert (door_copy / "opt/doorward/releases/doorward-0.1.0").is_dir()  # kept for rollback
    run_install(door_copy, "--upgrade", str(wheels["new"]))  # again: nothing to do
    assert (state / "migrations.log").read_text() == "1->2\n"


def test_upgrade_refuses_state_from_a_newer_schema(door_copy: Path, wheels: dict[str, Path]) -> None:
    state = put_state(door_copy, schema=7)
    done = run_install(door_copy, "--upgrade", str(wheels["new"]), check=False)
    assert done.returncode != 0 and "abandoned" in done.stderr
    assert os.readlink(door_copy / "opt/doorward/venv") == "releases/doorward-0.1.0"
    assert not (door_copy / "opt/doorward/releases/doorward-0.2.0").exists()
    assert (state / "schema").read_text() == "7" and (state / "cache.db").read_bytes() == b"the cache"


def test_uninstall_keeps_state_and_config_unless_purged(door_copy: Path) -> None:
    state = put_state(door_copy, schema=1)
    run_install(door_copy, "--uninstall")
    assert not (door_copy / "opt/doorward").exists()
    assert not (door_copy / "usr/local/bin/doorward").is_symlink()  # no dangling command
    assert not (door_copy / "etc/systemd/system/doorward.service").exists()
    assert not (door_copy / "etc/systemd/system/multi-user.target.wants/doorward.service").exists()
    assert (state / "cache.db").exists() and (door_copy / "etc/doorward/doorward.toml").exists()
    run_install(door_copy, "--uninstall", "--purge")
    assert not state.exists() and not (door_copy / "etc/doorward").exists()


def test_server_role_gets_its_unit_and_no_firmware_lines(tmp_path: Path, wheels: dict[str, Path]) -> None:
    root = pi_root(tmp_path / "root")
    run_install(root, "--role", "server", "--wheel", str(wheels["old"]))
    wants = root / "etc/systemd/system/multi-user.target.wants"
    assert [p.name for p in wants.iterdir()] == ["doorward-server.service"]
    assert "doorward" not in (root / "boot/firmware/config.txt").read_text()
    server_toml = root / "etc/doorward/server.toml"
    keys_dir = tomllib.loads(server_toml.read_text())["server"]["keys_dir"]
    assert keys_dir == "/etc/doorward/server-keys"  # apart from /var/lib/doorward's backups
    assert mode(server_toml) == 0o640 and mode(root / keys_dir.lstrip("/")) == 0o700
    assert mode(root / "var/lib/doorward") == 0o700  # for `server init`'s database
    assert not (root / "etc/doorward/doorward.toml").exists()


def test_each_role_installs_its_own_extra(tmp_path: Path, wheels: dict[str, Path]) -> None:
    for role, extra in (("door", "pi"), ("kiosk", "kiosk"), ("server", "server")):
        root = pi_root(tmp_path / role)
        report = tmp_path / f"{role}.json"
        run_install(root, "--role", role, "--relay-pin", "17", "--wheel", str(wheels["old"]),
                    pip_args=f"--report {report}")
        [installed] = json.loads(report.read_text())["install"]
        assert installed["requested_extras"] == [extra], role


def test_kiosk_role_writes_the_config_kiosk_md_describes(tmp_path: Path, wheels: dict[str, Path]) -> None:
    root = pi_root(tmp_path / "root")
    run_install(root, "--role", "kiosk", "--wheel", str(wheels["old"]))
    config = root / "etc/doorward/doorward.toml"
    assert set(tomllib.loads(config.read_text())) == {"module", "server", "storage"}
    assert mode(config) == 0o640 and mode(root / "var/lib/doorward") == 0o700
    assert "doorward" not in (root / "boot/firmware/config.txt").read_text()


def test_refuses_an_unknown_role(tmp_path: Path) -> None:
    done = run_install(tmp_path, "--role", "garage", check=False)
    assert done.returncode != 0 and "--role must be door, kiosk or server" in done.stderr


@pytest.mark.skipif(shutil.which("script") is None, reason="needs script(1) for a terminal")
def test_on_a_terminal_the_installer_asks_for_the_relay_pin(tmp_path: Path,
                                                            wheels: dict[str, Path]) -> None:
    root = pi_root(tmp_path / "root")
    command = " ".join(["bash", str(INSTALL), "--root", str(root), "--role", "door",
                        "--wheel", str(wheels["old"])])
    env = {**os.environ, "DOORWARD_PIP_ARGS": "--no-index --no-deps", "PIP_NO_INDEX": "1"}
    done = subprocess.run(["script", "-qec", command, "/dev/null"], input="21\n", env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "BCM GPIO pin of the lock relay driver" in done.stdout
    assert "gpio=21=op,dl" in (root / "boot/firmware/config.txt").read_text()


def test_help_prints_the_whole_header_and_no_code() -> None:
    done = subprocess.run(["bash", str(INSTALL), "--help"], capture_output=True, text=True,
                          timeout=10)
    assert "--relay-pin" in done.stdout and "DOORWARD_PIP_ARGS" in done.stdout
    assert "set -euo" not in done.stdout

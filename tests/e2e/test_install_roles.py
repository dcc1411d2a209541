"""Each role as installed: ``install.sh --role R --root DIR`` with the wheel built from this
checkout, then the installed ``DIR/opt/doorward/venv/bin/doorward`` run as the service user
against the installed configuration (issue 14).

``DOORWARD_TEST_ROOT=DIR`` (daemon/relocation.py; production never sets it) moves
the configuration's absolute paths under ``DIR``, so the files are the installer's own. Each
command runs through ``runuser -u doorward``, and prints ``id -un`` first: the proof that the
service user, not root, read the 0640 configuration and wrote the 0700 state.

The door passes ``check-config`` and ``doctor`` against the simulated module and hub (its
``gpio_backend`` switched to ``sim``, the one edit a person with a simulated Pi makes); the
kiosk pairs as a station and serves its page on loopback; the server runs ``init`` and
answers ``/health``. CI runs as root, which creating the user needs.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import REPO, clean_env
from doorward.sim.rig.processes import OutputLines
from tests.support.daemon import module_identity, start_module, wait_until
from doorward.sim.rig.hub import start_hub
from doorward.sim.rig.processes import ProcessGroup
from tests.support.kiosk import free_port
from tests.support.server import running_server

USER = "doorward"  # systemd/install.sh's SERVICE_USER and the units' User=
INSTALL = REPO / "systemd" / "install.sh"
MODULE_POWER_ON = "gpio=16=op,dh"  # the example's module_power pin, supplied from boot
START_TIMEOUT_S = 60.0
# The venv's interpreter as on Raspberry Pi OS: one the service user may execute (a python
# under root's 0700 home, as pyenv puts it, is not).
SYSTEM_PYTHON = "/usr/bin/python3"

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="creates the service user and runs as it: "
                                                 "needs root (CI runs as root)"),
    pytest.mark.skipif(not os.access(SYSTEM_PYTHON, os.X_OK),
                       reason=f"no {SYSTEM_PYTHON} for the installed venv (install python3-venv)"),
]


@pytest.fixture(scope="module")
def service_user() -> Iterator[str]:
    """The user the installer would create; removed again if this test created it."""
    try:
        pwd.getpwnam(USER)
        created = False
    except KeyError:
        subprocess.run(["useradd", "--system", "--user-group", "--no-create-home",
                        "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", USER],
                       check=True, capture_output=True)
        created = True
    # as install.sh's ensure_user does on a real system (under --root it creates no user)
    subprocess.run(["usermod", "-aG", "dialout", USER], check=True, capture_output=True)
    yield USER
    if created:
        subprocess.run(["userdel", USER], check=False, capture_output=True)


@pytest.fixture
def root() -> Iterator[Path]:
    """DIR, outside pytest's 0700 temporary tree so that the service user can reach it; short,
    for the AF_UNIX socket paths under it."""
    directory = Path(tempfile.mkdtemp(prefix="dw-role-"))
    directory.chmod(0o755)
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def jar() -> Iterator[ProcessGroup]:
    jar = ProcessGroup()
    yield jar
    jar.close()


def install(root: Path, wheel: Path, role: str, *args: str) -> None:
    done = subprocess.run(["bash", str(INSTALL), "--root", str(root), "--role", role,
                           "--wheel", str(wheel), *args], capture_output=True,
                          env={**clean_env(), "DOORWARD_PYTHON": SYSTEM_PYTHON},
                          text=True, timeout=900, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stdout + done.stderr


def as_user(root: Path, *args: str) -> list[str]:
    """The installed command, run as the service user, printing who it runs as first."""
    venv = root / "opt/doorward/venv/bin"
    return ["runuser", "-u", USER, "--", "env", f"DOORWARD_TEST_ROOT={root}", "sh", "-c",
            'id -un; exec "$@"', "sh", str(venv / "python"), str(venv / "doorward"), *args]


def run_as_user(root: Path, *args: str, timeout_s: float = 60) -> subprocess.CompletedProcess:
    done = subprocess.run(as_user(root, *args), capture_output=True, text=True,
                          timeout=timeout_s, cwd=root, env=clean_env())
    assert done.stdout.splitlines()[:1] == [USER], done.stdout + done.stderr
    return done


def owner(path: Path) -> str:
    info = path.stat()
    return f"{pwd.getpwuid(info.st_uid).pw_name} {stat.S_IMODE(info.st_mode):o}"


def serve(jar: ProcessGroup, root: Path, *args: str) -> tuple[subprocess.Popen, OutputLines]:
    process = subprocess.Popen(as_user(root, *args), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, cwd=root, env=clean_env())
    jar.adopt(process)
    return process, OutputLines(process.stdout)


def simulated_module(jar: ProcessGroup, root: Path, firmware_lines: tuple[str, ...]) -> Path:
    """The hub at /run/hub.sock and the module on /dev/serial0, both inside DIR, and
    reachable by the service user as udev and the gpio group make them on a Pi."""
    (root / "run").mkdir(exist_ok=True)
    hub = start_hub(jar, root / "run", firmware_lines=firmware_lines)
    os.chown(hub.socket_path, pwd.getpwnam(USER).pw_uid, -1)
    directory = root / "dev"
    directory.mkdir(exist_ok=True)
    link, _ = start_module(jar, directory, hub.socket_path)
    node = os.path.realpath(link)  # the pty, as udev makes the UART: crw-rw---- root:dialout
    os.chown(node, 0, grp.getgrnam("dialout").gr_gid)
    os.chmod(node, 0o660)
    (directory / "serial0").symlink_to(link)
    return Path(hub.socket_path)


def pair_as_root(root: Path, server, kind: str) -> None:  # noqa: ANN001
    """`sudo doorward pair`, as install.md and kiosk.md say, with a code for a new ``kind``."""
    admin = server.add_admin("root")
    site = admin.post("/api/v1/sites", json={"name": "HQ", "time_zone": "UTC"}).json()["id"]
    record = {"name": kind, "site_id": site, "module_identity": module_identity(), "capacity": 200}
    if kind == "doors":
        record["zone_id"] = admin.post("/api/v1/zones",
                                       json={"site_id": site, "name": "Lab"}).json()["id"]
    device = admin.post(f"/api/v1/{kind}", json=record).json()["id"]
    code = admin.post(f"/api/v1/{kind}/{device}/pairing-codes").json()["code"]
    venv = root / "opt/doorward/venv/bin"
    paired = subprocess.run(
        [str(venv / "python"), str(venv / "doorward"), "pair", "--server", server.url,
         "--code", code, "--fingerprint", server.keys.fingerprint],
        env={**clean_env(), "DOORWARD_TEST_ROOT": str(root)}, capture_output=True, text=True,
        timeout=60)
    assert paired.returncode == 0, paired.stdout + paired.stderr


def test_door_as_installed_passes_check_config_and_doctor(service_user: str, root: Path,
                                                          wheel: Path, jar: ProcessGroup,
                                                          tmp_path: Path) -> None:
    install(root, wheel, "door", "--relay-pin", "17")
    config = root / "etc/doorward/doorward.toml"
    assert owner(config) == "root 640" and owner(root / "var/lib/doorward") == "doorward 700"
    assert os.readlink(root / "usr/local/bin/doorward") == "/opt/doorward/venv/bin/doorward"
    firmware = (root / "boot/firmware/config.txt").read_text().splitlines()
    assert "gpio=17=op,dl" in firmware and MODULE_POWER_ON in firmware
    hub_socket = simulated_module(jar, root, tuple(line for line in firmware
                                                   if line.startswith("gpio=")))
    # What a lab with a simulated Pi edits: the backend, and a clock it trusts without NTP.
    config.write_text(config.read_text()
                      .replace('gpio_backend = "rpi"', 'gpio_backend = "sim"\n'
                               f'hub_socket = "/{hub_socket.relative_to(root)}"')
                      .replace("assume_synchronised = false", "assume_synchronised = true"))

    checked = run_as_user(root, "check-config")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    with running_server(tmp_path / "server") as server:
        pair_as_root(root, server, "doors")
        doctor = run_as_user(root, "doctor")
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert "[ ok ] fingerprint module answers" in doctor.stdout, doctor.stdout
    assert "[ ok ] module bound to this door" in doctor.stdout, doctor.stdout
    unreadable = subprocess.run(["runuser", "-u", "nobody", "--", "cat", str(config)],
                                capture_output=True, text=True, timeout=10)
    assert unreadable.returncode != 0  # 0640 root:doorward: no one else reads it


def test_kiosk_as_installed_serves_its_page(service_user: str, root: Path, wheel: Path,
                                            jar: ProcessGroup, tmp_path: Path) -> None:
    install(root, wheel, "kiosk")
    assert owner(root / "etc/doorward/doorward.toml") == "root 640"
    checked = run_as_user(root, "check-config")  # the kiosk's sections: the installed role
    assert checked.returncode == 0 and "(as a kiosk)" in checked.stdout, checked.stderr
    simulated_module(jar, root, (MODULE_POWER_ON,))
    with running_server(tmp_path / "server") as server:
        pair_as_root(root, server, "stations")
        port = free_port()
        process, lines = serve(jar, root, "kiosk", "serve", "--port", str(port))
        assert lines.wait_for_line("", 10).string == USER
        lines.wait_for_line("kiosk ready", START_TIMEOUT_S)
        page = httpx.get(f"http://127.0.0.1:{port}/", timeout=10, trust_env=False)
        assert page.status_code == 200 and "<html" in page.text.lower()
        process.terminate()
        process.wait(timeout=15)


def test_server_as_installed_inits_and_answers_health(service_user: str, root: Path,
                                                      wheel: Path, jar: ProcessGroup) -> None:
    install(root, wheel, "server")
    config = root / "etc/doorward/server.toml"
    assert owner(config) == "root 640"
    assert owner(root / "etc/doorward/server-keys") == "doorward 700"
    checked = run_as_user(root, "check-config")  # the installed role's file: server.toml
    assert checked.returncode == 0 and "(as a server)" in checked.stdout, checked.stderr
    init = run_as_user(root, "server", "init", "--config", str(config))
    assert init.returncode == 0, init.stdout + init.stderr
    # created by the service user (mode 0600 comes from the unit's UMask=0077, not set here)
    assert owner(root / "var/lib/doorward/server.db").startswith("doorward ")
    assert owner(root / "etc/doorward/server-keys/signing.key") == "doorward 600"
    port = free_port()
    process, lines = serve(jar, root, "server", "run", "--config", str(config), "--port", str(port))
    assert lines.wait_for_line("", 10).string == USER

    def healthy() -> dict | None:
        if process.poll() is not None:
            raise AssertionError("server run exited:\n" + "\n".join(lines.seen))
        try:
            return httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2,
                             trust_env=False).json()
        except httpx.HTTPError:
            return None

    health = wait_until(healthy, START_TIMEOUT_S, "the installed server's /health")
    assert health["status"] == "ok"
    assert health["server_key_fingerprint"] in init.stdout
    process.terminate()
    process.wait(timeout=15)

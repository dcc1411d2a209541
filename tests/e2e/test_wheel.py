"""The shipped artifact is what is tested: the wheel pip builds, installed into a fresh venv
outside the source tree, non-editable (issue 13).

One wheel (the ``wheel`` fixture of tests/e2e/conftest.py, which the role installs share) and
one venv per run: the wheel holds only ``doorward/`` and its dist-info at the
top, every module of the source folders and the files read at run time (the kiosk's page,
the API documentation's assets); from the installed venv, in a directory far from the
checkout, ``doorward --version`` answers, the kiosk serves its page, and the demo plays its
day to the end. Then ``python-daemon`` (which owns the top-level name ``daemon``) is installed
beside it and removed again, and doorward is unaffected both times.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.e2e.conftest import clean_env

ROOT = Path(__file__).resolve().parents[2]
SOURCE_FOLDERS = ("daemon", "drivers", "enrol", "sim", "server")
RUN_TIME_FILES = ("doorward/enrol/kiosk/web/index.html", "doorward/enrol/kiosk/web/kiosk.js",
                  "doorward/enrol/kiosk/web/kiosk.css",
                  "doorward/server/api/docs_assets/swagger-ui-bundle.js",
                  "doorward/server/api/docs_assets/redoc.standalone.js",
                  "doorward/server/console/templates/base.html", "doorward/server/console/templates/board.html",
                  "doorward/server/console/static/console.js", "doorward/server/console/static/console.css")
KIOSK_PAGE = """
from fastapi.testclient import TestClient
from doorward.enrol.kiosk.app import WEB, KioskSettings, create_app
assert "site-packages" in str(WEB), WEB
app = create_app(station=None, settings=KioskSettings(8765, "http://127.0.0.1:9", "st_x"))
with TestClient(app, base_url="http://127.0.0.1:8765") as client:
    page = client.get("/")
print(page.status_code, "<html" in page.text.lower(), page.headers["content-security-policy"][:20])
"""

CONSOLE_PAGE = """
import pathlib, tempfile
from fastapi.testclient import TestClient
from doorward.server.api.app import create_app
from doorward.server.clock import ManualClock
from doorward.server.config import ServerConfig
from doorward.server.store.keys import create_keys
import doorward.server.console.routes as routes
assert "site-packages" in routes.__file__, routes.__file__
tmp = pathlib.Path(tempfile.mkdtemp())
config = ServerConfig(database=tmp / "s.db", keys_dir=tmp / "keys")
(tmp / "keys").mkdir()
keys = create_keys(config.signing_key_path, config.data_key_path)
app = create_app(config, ManualClock(), keys, background=False)
with TestClient(app, base_url="http://127.0.0.1") as client:
    page, script = client.get("/console/login"), client.get("/console/static/console.js")
print(page.status_code, "Sign in" in page.text, script.status_code, page.headers["content-security-policy"][:20])
"""


def run(argv: list[str], cwd: Path, timeout_s: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(argv, cwd=cwd, env=clean_env(), capture_output=True, text=True,
                          timeout=timeout_s)


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("installed")
    assert ROOT not in home.parents
    made = run([sys.executable, "-m", "venv", str(home / "venv")], cwd=home)
    assert made.returncode == 0, made.stderr
    pip = [str(home / "venv" / "bin" / "python"), "-m", "pip", "install", "-q"]
    installed = run([*pip, f"{wheel}[server,kiosk]"], cwd=home, timeout_s=600)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    return home / "venv"


def test_the_wheel_holds_one_package_every_module_and_the_run_time_files(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert {name.split("/")[0] for name in names} == {"doorward", wheel.name.split("-py3")[0]
                                                       + ".dist-info"}
    modules = {f"doorward/{path.relative_to(ROOT)}" for folder in SOURCE_FOLDERS
               for path in (ROOT / folder).rglob("*.py")}
    assert sorted(modules - set(names)) == []
    # and nothing the source no longer has: a wheel built in the checkout's own build/ ships
    # every module deleted since that directory was made
    assert sorted({name for name in names if name.endswith(".py")} - modules) == []
    assert sorted(set(RUN_TIME_FILES) - set(names)) == []
    assert not [name for name in names if name.startswith("doorward/tests")]


def test_the_installed_command_answers_from_outside_the_source_tree(venv: Path,
                                                                    tmp_path: Path) -> None:
    version = run([str(venv / "bin" / "doorward"), "--version"], cwd=tmp_path)
    assert version.returncode == 0 and version.stdout.startswith("doorward "), version
    bare = run([str(venv / "bin" / "python"), "-c", "import daemon"], cwd=tmp_path)
    assert bare.returncode != 0 and "No module named 'daemon'" in bare.stderr


def test_the_installed_kiosk_serves_its_page(venv: Path, tmp_path: Path) -> None:
    served = run([str(venv / "bin" / "python"), "-c", KIOSK_PAGE], cwd=tmp_path)
    assert served.returncode == 0, served.stdout + served.stderr
    assert served.stdout.split()[:2] == ["200", "True"], served.stdout


def test_the_installed_console_serves_its_pages_and_assets(venv: Path, tmp_path: Path) -> None:
    shown = run([str(venv / "bin" / "python"), "-c", CONSOLE_PAGE], cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.split() == ["200", "True", "200", "default-src", "'self';"]


def test_the_installed_demo_plays_its_day_to_the_end(venv: Path, tmp_path: Path) -> None:
    demo = run([str(venv / "bin" / "doorward"), "demo", "--json"], cwd=tmp_path, timeout_s=300)
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    steps = [line for line in demo.stdout.splitlines() if line.startswith("{")]
    assert '"summary"' in steps[-2] and '"done"' in steps[-1]


def test_python_daemon_beside_it_changes_nothing(venv: Path, tmp_path: Path) -> None:
    python, doorward = str(venv / "bin" / "python"), str(venv / "bin" / "doorward")
    added = run([python, "-m", "pip", "install", "-q", "python-daemon"], cwd=tmp_path)
    assert added.returncode == 0, added.stdout + added.stderr
    both = run([python, "-c", "import daemon, doorward.daemon.cli as cli; "
                "print(daemon.__file__); print(cli.__file__)"], cwd=tmp_path)
    theirs, ours = both.stdout.split()
    assert "site-packages/daemon/" in theirs and "site-packages/doorward/daemon/" in ours
    assert run([doorward, "--version"], cwd=tmp_path).returncode == 0
    removed = run([python, "-m", "pip", "uninstall", "-y", "-q", "python-daemon"], cwd=tmp_path)
    assert removed.returncode == 0, removed.stderr
    still = run([doorward, "check-config", "--help"], cwd=tmp_path)
    assert still.returncode == 0 and (venv / "lib").exists(), still.stderr
    assert run([python, "-c", "import doorward.daemon.runtime.service"], cwd=tmp_path).returncode == 0

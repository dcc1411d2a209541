"""Every test under tests/e2e/ carries the ``e2e`` marker (``pytest -m e2e``); the wheel
built from this checkout, once per run, for the tests of the shipped artifact (test_wheel.py,
test_install_roles.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOM = Path(__file__).parent
REPO = ROOM.parents[1]


def clean_env() -> dict[str, str]:
    """No PYTHONPATH and no proxy: a venv sees only what it installed, and stays local."""
    return {k: v for k, v in os.environ.items()
            if k not in ("PYTHONPATH", "VIRTUAL_ENV") and "proxy" not in k.lower()}


def source_copy(destination: Path) -> Path:
    """The checkout's files (tracked, and new ones not ignored) copied to ``destination``. A
    wheel built in the checkout itself goes through its ``build/`` directory, where a module
    deleted from the source lingers and ships: a release is built from a clean tree."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=REPO, capture_output=True, check=True).stdout
    for name in filter(None, listed.decode().split("\0")):
        source = REPO / name
        if source.is_file():  # a file deleted but not yet committed is listed too
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    return destination


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel pip builds from a clean copy of this checkout, as a release would ship it."""
    out = tmp_path_factory.mktemp("wheel")
    source = source_copy(tmp_path_factory.mktemp("source"))
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                            str(out), str(source)], cwd=out, env=clean_env(), capture_output=True,
                           text=True, timeout=300)
    assert built.returncode == 0, built.stdout + built.stderr
    (found,) = out.glob("doorward-*.whl")
    return found


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if ROOM in item.path.parents:
            item.add_marker(pytest.mark.e2e)

"""Every test under tests/e2e/ carries the ``e2e`` marker (``pytest -m e2e``); the wheel
built from this checkout, once per run, for the tests of the shipped artifact (test_wheel.py,
test_install_roles.py)."""

from __future__ import annotations

import os
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


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel pip builds from this checkout, as a release would ship it."""
    out = tmp_path_factory.mktemp("wheel")
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                            str(out), str(REPO)], cwd=out, env=clean_env(), capture_output=True,
                           text=True, timeout=300)
    assert built.returncode == 0, built.stdout + built.stderr
    (found,) = out.glob("doorward-*.whl")
    return found


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if ROOM in item.path.parents:
            item.add_marker(pytest.mark.e2e)

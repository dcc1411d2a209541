"""Shared test settings: hypothesis profiles, the soak switch, and the tree guard.

The tree guard: a test run must leave the checkout as it found it (no tracked file rewritten,
no new file outside .gitignore). The session compares ``git status`` and the working tree's
diff before and after, and fails the run, naming the files, when they differ (except under
``make screenshots``, whose purpose is to rewrite the screenshots in docs/).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# `ci`: reproducible runs. Tests that do IO opt out of deadlines with @settings(deadline=None).
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None)
settings.register_profile(
    "soak", max_examples=5000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-soak", action="store_true", help="run the long soak suites")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "soak: long runs, only under `make soak`")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-soak"):
        return
    skip = pytest.mark.skip(reason="soak suite: run with `make soak`")
    for item in items:
        if "soak" in item.keywords:
            item.add_marker(skip)


REPO = Path(__file__).resolve().parents[1]


def tree_state(repo: Path = REPO) -> tuple[frozenset[str], str] | None:
    """(status lines, hash of the diff against HEAD), or None outside a git checkout."""
    def git(*args: str) -> bytes:
        return subprocess.run(["git", "-C", str(repo), *args], capture_output=True,
                              check=True, timeout=60).stdout
    try:
        status = git("status", "--porcelain=v1", "--untracked-files=all").decode()
        diff = git("diff", "HEAD", "--binary")
    except (OSError, subprocess.SubprocessError):
        return None
    return frozenset(status.splitlines()), hashlib.sha256(diff).hexdigest()


def pytest_sessionstart(session: pytest.Session) -> None:
    # `make screenshots` writes docs/ on purpose; every other run is guarded.
    guarded = not os.environ.get("DOORWARD_SCREENSHOTS_DIR")
    session.config.stash[_TREE_KEY] = tree_state() if guarded else None


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    before = session.config.stash.get(_TREE_KEY, None)
    after = tree_state() if before is not None else None
    if before is None or after is None or after == before:
        return
    changed = sorted(after[0] ^ before[0]) or ["(a file that was already modified changed again)"]
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line("the test run changed the checkout (tests must write only to their "
                            "own temporary directories):", red=True)
        for line in changed:
            reporter.write_line(f"    {line}", red=True)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


_TREE_KEY = pytest.StashKey[tuple[frozenset[str], str] | None]()

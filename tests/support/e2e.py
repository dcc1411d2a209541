"""End-to-end helpers: the demo's whole site, built once per test module, always stopped.

``site_fixture(heartbeat_interval_s)`` makes a module-scoped pytest fixture that builds a
``doorward.sim.rig.site.DemoSite`` (server, two doors, the kiosk's module, every one its own
process on 127.0.0.1 or a Unix socket) in a short temporary directory and stops every
process at teardown, also when a test failed. ``leftover_processes(directory)`` lists the
processes whose command line still names ``directory`` (there must be none after a close).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterator

import pytest

from doorward.sim.rig.site import DemoSite
from doorward.sim.demo.timeline import Timeline


def build_site(heartbeat_interval_s: float = 5.0, mqtt_url: str = "") -> DemoSite:
    # Short: the Unix sockets inside must stay under 107 bytes.
    directory = Path(tempfile.mkdtemp(prefix="dw-e2e-", dir="/tmp"))
    site = DemoSite(directory, Timeline(quiet=True), heartbeat_interval_s, mqtt_url)
    try:
        site.build()
    except BaseException:
        close_site(site)
        raise
    return site


def close_site(site: DemoSite) -> None:
    try:
        site.close()
    finally:
        shutil.rmtree(site.directory, ignore_errors=True)


def site_fixture(heartbeat_interval_s: float = 5.0) -> Callable[[], Iterator[DemoSite]]:
    @pytest.fixture(scope="module")
    def site() -> Iterator[DemoSite]:
        built = build_site(heartbeat_interval_s)
        yield built
        close_site(built)

    return site


def leftover_processes(directory: Path) -> list[str]:
    """Command lines of live processes that mention ``directory``."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(directory) in cmdline:
            found.append(cmdline)
    return found


def wait_gone(directory: Path, timeout_s: float = 5.0) -> list[str]:
    deadline = time.monotonic() + timeout_s
    while (left := leftover_processes(directory)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left

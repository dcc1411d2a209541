"""Shared test settings: hypothesis profiles and the soak switch."""

from __future__ import annotations

import os

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

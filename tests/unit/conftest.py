"""Every test under tests/unit/ carries the ``unit`` marker (``pytest -m unit``)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOM = Path(__file__).parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if ROOM in item.path.parents:
            item.add_marker(pytest.mark.unit)

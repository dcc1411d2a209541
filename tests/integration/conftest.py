"""Every test under tests/integration/ carries the ``integration`` marker (``pytest -m integration``)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOM = Path(__file__).parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if ROOM in item.path.parents:
            item.add_marker(pytest.mark.integration)

"""Config docs that cannot drift: every key the loader knows is in docs/configuration.md and
in the example file, and the example passes check-config."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from doorward.daemon.config.loader import parse_config

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "docs" / "doorward.example.toml"


def keys_the_loader_knows() -> set[str]:
    seen: set[str] = set()
    parse_config(EXAMPLE.read_text(), EXAMPLE, seen_keys=seen)
    return seen


@pytest.mark.parametrize("key", sorted(keys_the_loader_knows()))
def test_every_config_key_is_documented(key: str) -> None:
    assert f"`{key}`" in (ROOT / "docs" / "configuration.md").read_text()


def test_the_example_sets_every_key() -> None:
    example = EXAMPLE.read_text()
    leaves = {key.rsplit(".", 1)[-1] for key in keys_the_loader_knows()}
    missing = sorted(leaf for leaf in leaves if f"{leaf} =" not in example
                     and not re.search(rf"^\[([a-z_]+\.)*{leaf}\]", example, re.M))
    assert missing == []

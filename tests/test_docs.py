"""Docs that cannot drift: every CLI subcommand is documented (sqlite-utils' test_docs habit)."""

from __future__ import annotations

import importlib
import pathlib
import re
import subprocess
import sys

import pytest

from daemon import cli

ROOT = pathlib.Path(__file__).resolve().parents[1]


def documentation() -> str:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    return "\n".join(page.read_text() for page in pages)


def all_commands() -> list[str]:
    commands = [f"doorward {name}" for name in cli.DOOR_COMMANDS]
    for group, (module_name, _) in cli.GROUPS.items():
        module = importlib.import_module(module_name)
        commands += [f"doorward {group} {name}" for name in module.COMMANDS]
    return commands


@pytest.mark.parametrize("command", all_commands())
def test_every_cli_subcommand_is_documented(command: str) -> None:
    assert re.search(rf"`{re.escape(command)}[ `]", documentation()), (
        f"{command!r} is not documented in README.md or docs/*.md"
    )


def test_readme_starts_with_the_two_quick_start_commands() -> None:
    head = (ROOT / "README.md").read_text().splitlines()[:12]
    assert any(line.startswith("make demo") for line in head)
    assert any(line.startswith("make test") for line in head)


def test_the_door_cli_imports_no_server_or_simulator() -> None:
    code = (
        "import sys, daemon.cli; daemon.cli.main(['--help']);"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('server', 'sim', 'enrol'));"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr

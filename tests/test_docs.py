"""Docs that cannot drift: every CLI subcommand is documented (sqlite-utils' test_docs habit)."""

from __future__ import annotations

import argparse
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


def command_lines(page: str) -> list[str]:
    """Each line of a fenced code block, and each inline `code` span elsewhere."""
    blocks = re.split(r"^```.*$", page, flags=re.M)
    prose, code = blocks[0::2], blocks[1::2]
    return [line for block in code for line in block.splitlines()] + [
        span for text in prose for span in re.findall(r"`([^`\n]+)`", text)]


def server_parsers():
    """Every parser of `doorward server`, with its sub-actions' parsers."""
    from server.cli import COMMANDS

    def walk(parser):
        yield parser
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub in action.choices.values():
                    yield from walk(sub)

    for name, (module_name, _) in COMMANDS.items():
        yield from walk(importlib.import_module(module_name).parser(name, "doorward server"))


def server_options() -> list[tuple[str, str]]:
    found = {(parser.prog, option) for parser in server_parsers() for action in parser._actions
             for option in action.option_strings if option.startswith("--") and option != "--help"}
    return sorted(found)


@pytest.mark.parametrize("prog, option", server_options())
def test_every_server_cli_option_is_documented(prog: str, option: str) -> None:
    """Each option appears in a command line of docs/server.md that names the same command."""
    command = " ".join(prog.split()[:3])  # doorward server NAME
    spans = command_lines((ROOT / "docs" / "server.md").read_text())
    assert any(command in span and re.search(rf"{re.escape(option)}\b", span) for span in spans), (
        f"{prog} {option} is not in a `{command} ...` line of docs/server.md")

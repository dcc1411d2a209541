"""Docs that cannot drift: every CLI subcommand is documented (sqlite-utils' test_docs habit)."""

from __future__ import annotations

import argparse
import importlib
import pathlib
import re
import subprocess
import sys

import pytest

from doorward.daemon import cli

ROOT = pathlib.Path(__file__).resolve().parents[2]


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
        "import sys, doorward.daemon.cli; doorward.daemon.cli.main(['--help']);"
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
    from doorward.server.cli.main import COMMANDS

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


# A path of this repository named in the docs or in the code's own docstrings and comments
# (``daemon/runtime/service.py``, ``enrol/kiosk/web/``) must exist: a restructure that moves
# a file must move every mention of it too.
PATH_MENTION = re.compile(
    r"(?<![\w./-])((?:daemon|drivers|enrol|sim|server|tests|bench|systemd|docs)/[\w./*-]*"
    r"(?:\.(?:py|md|sh|service|toml|json)|/))")
EXTERNAL_PATHS = {  # other projects' files cited as sources in docs/r30x-protocol.md
    "drivers/sensor/grow_r502a/", "drivers/sensor/grow_r502a/grow_r502a.c",
}


def files_that_name_paths() -> list[pathlib.Path]:
    code = [p for folder in ("daemon", "drivers", "enrol", "sim", "server", "tests", "bench", "systemd")
            for p in (ROOT / folder).rglob("*.py")]
    return [ROOT / "README.md", ROOT / "Makefile", ROOT / "bench" / "README.md",
            *sorted((ROOT / "docs").rglob("*.md")), *sorted(code)]


def test_every_repository_path_named_in_docs_and_code_exists() -> None:
    missing = []
    for page in files_that_name_paths():
        for match in PATH_MENTION.finditer(page.read_text()):
            path = match.group(1)
            found = list(ROOT.glob(path)) if "*" in path else (ROOT / path).exists()
            if not found and path not in EXTERNAL_PATHS:
                missing.append(f"{page.relative_to(ROOT)}: {path}")
    assert missing == []


def test_every_alarm_kind_is_documented_once_in_the_daemon_guide() -> None:
    from doorward.daemon.codec.alarms import AlarmKind

    text = (ROOT / "docs" / "daemon.md").read_text()
    section = text[text.index("## The alarms a door raises"):]
    section = section[:section.index("\n## ", 4)]
    listed = re.findall(r"^\| `([a-z_]+)` \|", section, flags=re.MULTILINE)
    assert sorted(listed) == sorted(kind.value for kind in AlarmKind)

"""The ``doorward`` command's own conventions: version, help, unknown commands."""

from __future__ import annotations

from importlib.metadata import version

from doorward.daemon import cli


def test_version_names_the_installed_distribution(capsys) -> None:
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"doorward {version('doorward')}"


def test_an_unknown_command_exits_2_and_names_it(capsys) -> None:
    assert cli.main(["--frobnicate"]) == 2
    assert "'--frobnicate'" in capsys.readouterr().err

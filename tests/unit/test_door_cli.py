"""The ``doorward`` command's own conventions: version, help, unknown commands."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import re
from importlib.metadata import version

from doorward.daemon import cli
from doorward.daemon.commands.arguments import plain_help


def test_version_names_the_installed_distribution(capsys) -> None:
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"doorward {version('doorward')}"


def test_an_unknown_command_exits_2_and_names_it(capsys) -> None:
    assert cli.main(["--frobnicate"]) == 2
    assert "'--frobnicate'" in capsys.readouterr().err


def test_verbose_is_taken_anywhere_before_a_double_dash() -> None:
    assert cli.split_verbose(["status", "-v", "--config", "x"]) == (True, ["status", "--config", "x"])
    assert cli.split_verbose(["--verbose", "run"]) == (True, ["run"])
    assert cli.split_verbose(["run", "--", "-v"]) == (False, ["run", "--", "-v"])
    assert cli.split_verbose(["server", "person", "add", "--valid-until", "x"]) == (
        False, ["server", "person", "add", "--valid-until", "x"])


def _line(formatter: logging.Formatter, level: int, message: str) -> str:
    record = logging.LogRecord("doorward.x", level, __file__, 1, message, None, None)
    return formatter.format(record)


def test_under_journald_a_line_has_its_priority_and_no_time_of_our_own() -> None:
    formatter = cli.log_formatter({"JOURNAL_STREAM": "8:1234"})
    assert _line(formatter, logging.INFO, "door opened") == "<6>doorward.x: door opened"
    assert _line(formatter, logging.WARNING, "alarm") == "<4>doorward.x: alarm"
    assert _line(formatter, logging.ERROR, "a\nb") == "<3>doorward.x: a\n<3>b"


def test_on_a_terminal_a_line_has_its_time_and_level() -> None:
    line = _line(cli.log_formatter({}), logging.INFO, "door opened")
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO doorward.x: door opened", line)


def test_http_traffic_is_quiet_unless_verbose() -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        cli.configure_logging(False, {})
        assert not logging.getLogger("httpx").isEnabledFor(logging.INFO)
        assert not logging.getLogger("uvicorn.access").isEnabledFor(logging.INFO)
        assert logging.getLogger("doorward.daemon").isEnabledFor(logging.INFO)
        cli.configure_logging(True, {})
        assert logging.getLogger("httpx").isEnabledFor(logging.DEBUG)
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
        for name in cli.CHATTY_LOGGERS:
            logging.getLogger(name).setLevel(logging.NOTSET)


def _help_of(argv: list[str], capsys) -> str:  # noqa: ANN001
    try:
        cli.main(argv)
    except SystemExit:
        pass
    captured = capsys.readouterr()
    return captured.out + captured.err


def test_every_command_and_group_has_plain_text_help(capsys) -> None:
    """No reST markup (``x``) in any help text: help is read on a terminal, not rendered."""
    names = [[name, "--help"] for name in cli.DOOR_COMMANDS] + [[name, "--help"] for name in cli.GROUPS]
    names.append(["--help"])
    for argv in names:
        text = _help_of(argv, capsys)
        assert "usage:" in text, (argv, text)
        assert "``" not in text, (argv, text)


def test_plain_help_keeps_the_first_paragraph_and_drops_literal_marks() -> None:
    assert plain_help("``make demo`` runs it.\n\nMore.") == "make demo runs it."
    assert plain_help(None) == ""


def test_a_reader_that_goes_away_ends_the_command_quietly() -> None:
    """`doorward ... | head`: output to a closed pipe is no error, and no traceback."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    result = subprocess.run(
        [sys.executable, "-c", "import sys; from doorward.daemon import cli; "
         "sys.exit(cli.main(['--help']))"],
        stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=30)
    os.close(write_end)
    assert result.returncode == 0 and result.stderr == "", result.stderr

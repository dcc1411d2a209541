"""The ``doorward`` command's own conventions: version, help, unknown commands."""

from __future__ import annotations

import logging
import re
from importlib.metadata import version

from doorward.daemon import cli


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

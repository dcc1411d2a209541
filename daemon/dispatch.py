"""Subcommand dispatch, the one copy every ``doorward`` command group uses (the door's
commands, ``server``, ``sim``, ``kiosk``, ``enrol``): the help listing, the choice of a
command, and the error for one that does not exist.

A group keeps its table, ``COMMANDS: dict[name, (target, one-line help)]``, and its own way
of running a command (a module's ``main``, a function of its own). Imports nothing: every
room may use it (the server too, which otherwise imports only the codec).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping, Sequence

Table = Mapping[str, tuple[str, str]]  # name -> (what runs it, one-line help)
HELP_FLAGS = ("-h", "--help", "help")


def usage(prog: str, sections: Sequence[tuple[str, Table]], synopsis: str = "COMMAND [ARGS...]",
          preamble: Sequence[str] = (), footer: Sequence[str] = ()) -> str:
    """``usage: PROG COMMAND [ARGS...]`` and each section's commands, one line each."""
    width = max((len(name) for _, table in sections for name in table), default=0) + 2
    lines = [f"usage: {prog} {synopsis}", *preamble]
    for title, table in sections:
        lines += ["", title]
        lines += [f"  {name:<{width}}{help_text}" for name, (_, help_text) in table.items()]
    if footer:
        lines += ["", *footer]
    return "\n".join(lines)


def choose(argv: Sequence[str], prog: str, table: Table, help_text: str) -> tuple[str, list[str]] | int:
    """The command named first in ``argv`` and the arguments after it; or, having printed the
    help (exit 0 when asked for, 2 when nothing was given) or the unknown name (exit 2), the
    exit code."""
    if not argv or argv[0] in HELP_FLAGS:
        print(help_text)
        return 0 if argv else 2
    if argv[0] not in table:
        print(f"{prog}: unknown command {argv[0]!r}\n\n{help_text}", file=sys.stderr)
        return 2
    return argv[0], list(argv[1:])


def quiet_on_closed_pipe(run: Callable[[], int]) -> int:
    """``run()``'s exit code; 0 when the reader went away (``doorward events | head``): what it
    wanted it has. stdout then points at /dev/null, so the interpreter's last flush at exit
    cannot fail again."""
    try:
        code = run()
        sys.stdout.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return code

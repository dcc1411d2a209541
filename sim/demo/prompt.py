"""The interactive demo's command language: one typed line in, a ``Command`` or a clear refusal.

Owns ``Command``, ``BadCommand``, ``COMMANDS``, ``parse`` and ``help_text``. ``parse(line,
doors)`` is pure: it knows the door names it is given and nothing of the running site, and
every refusal says what it expected (``scan needs a door and a person: scan DOOR WHO``), so
the prompt never answers with a Python error. ``sim/demo/interactive.py`` runs the commands.

    scan DOOR WHO    place DOOR WHO    lift DOOR    open DOOR    close DOOR
    status           alarms            help         quit

Standard library only.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Collection
from dataclasses import dataclass

# verb -> (its arguments, what it does); the order is the order of `help`
COMMANDS: dict[str, tuple[tuple[str, ...], str]] = {
    "scan": (("DOOR", "WHO"), "place WHO's finger, wait for the door's decision, lift it"),
    "place": (("DOOR", "WHO"), "put WHO's finger on the glass and leave it there"),
    "lift": (("DOOR",), "lift the finger off the glass"),
    "open": (("DOOR",), "open the door's contact (without a grant: a forced-open alarm)"),
    "close": (("DOOR",), "close the door's contact again"),
    "status": ((), "each door's state, bundle version and last decision; the latest alarms"),
    "alarms": ((), "every alarm the webhook received, with the device that raised it"),
    "help": ((), "this list"),
    "quit": ((), "stop every process and leave (also: exit, end of input, Ctrl-C)"),
}
ALIASES = {"exit": "quit", "?": "help"}
WHO = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")  # one word: it names a virtual finger


@dataclass(frozen=True)
class Command:
    verb: str
    door: str | None = None
    who: str | None = None


class BadCommand(ValueError):
    """A line the prompt cannot run; the message says what was expected."""


def usage(verb: str) -> str:
    return " ".join([verb, *COMMANDS[verb][0]])


def parse(line: str, doors: Collection[str]) -> Command | None:
    """The command on ``line`` (None for an empty line); ``doors`` are the door names."""
    try:
        words = shlex.split(line.lower())
    except ValueError as error:  # an unclosed quote
        raise BadCommand(f"cannot read that line ({error}): type `help` for the commands") from None
    if not words:
        return None
    verb = ALIASES.get(words[0], words[0])
    if verb not in COMMANDS:
        raise BadCommand(f"unknown command {words[0]!r}: expected one of {', '.join(COMMANDS)}"
                         " (`help` explains each)")  # fmt: skip
    return _arguments(verb, words[1:], doors)


def _arguments(verb: str, given: list[str], doors: Collection[str]) -> Command:
    wanted = COMMANDS[verb][0]
    if len(given) != len(wanted):
        raise BadCommand(_count_problem(verb, given, doors))
    door = given[0] if wanted else None
    if door is not None and door not in doors:
        raise BadCommand(f"unknown door {door!r}: expected {_either(doors)} (`{usage(verb)}`)")
    who = given[1] if len(wanted) > 1 else None
    if who is not None and not WHO.match(who):
        raise BadCommand(f"{who!r} is not a person's name: expected one word of letters, digits,"
                         f" '-' or '_' (`{usage(verb)}`)")  # fmt: skip
    return Command(verb, door, who)


def _count_problem(verb: str, given: list[str], doors: Collection[str]) -> str:
    wanted = COMMANDS[verb][0]
    if len(given) > len(wanted):
        extra = " ".join(given[len(wanted):])
        return f"{verb} takes {_count(wanted)}, not {extra!r}: `{usage(verb)}`"
    missing = {"DOOR": "a door", "WHO": "a person"}
    names = [missing[arg] for arg in wanted[len(given):]]
    hint = f"DOOR is {_either(doors)}" if "DOOR" in wanted[len(given):] else "WHO is a name, e.g. alice"
    return f"{verb} needs {' and '.join(names)}: `{usage(verb)}` ({hint})"


def _count(wanted: tuple[str, ...]) -> str:
    return {0: "nothing", 1: "one word", 2: "two words"}[len(wanted)]


def _either(doors: Collection[str]) -> str:
    names = sorted(doors)
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def help_text(doors: Collection[str], people: Collection[str]) -> str:
    """The command list; ``people`` are the enrolled names (any other name is unknown)."""
    lines = [f"commands (DOOR is {_either(doors)}; WHO is {', '.join(people)}, "
             "or any other name for a finger nobody enrolled):"]
    lines += [f"  {usage(verb):<18} {text}" for verb, (_, text) in COMMANDS.items()]
    return "\n".join(lines)

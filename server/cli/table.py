"""Text that the server's command line prints: tables and records for people, the
``--json`` form for machines, and CSV cells.

Owns ``table`` (aligned columns under a header), ``record`` (one thing as ``label: value``
lines), ``machine`` (the ``--json`` value: booleans as true/false, every epoch time as an
ISO 8601 UTC string) and ``spreadsheet_safe``. Pure: takes values, returns text.

Names and event details come from admins, enrollers and doors; a control character in them
must not reach an admin's terminal as a command, so every cell is made printable.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

from doorward.server.cli.times import utc_text

# The schema names every epoch time `*_at`, or valid_from / valid_until (server.schema).
TIME_KEYS = frozenset({"valid_from", "valid_until"})
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # what a spreadsheet may run as a formula


@dataclass(frozen=True)
class Column:
    """A table column: its header and how a row's cell is made."""

    header: str
    cell: Callable[[dict[str, Any]], Any]


def yes_no(value: Any) -> str:
    return "-" if value is None else ("yes" if value else "no")


def printable(value: Any) -> str:
    """The text of one cell: control characters (escape sequences, newlines) shown escaped."""
    text = "-" if value is None else str(value)
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


def width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, size: int) -> str:
    return text + " " * (size - width(text))


def table(columns: Sequence[Column], rows: Iterable[dict[str, Any]], empty: str = "(none)") -> list[str]:
    """Aligned columns, two spaces apart; ``empty`` when there are no rows."""
    cells = [[printable(column.cell(row)) for column in columns] for row in rows]
    if not cells:
        return [empty]
    headers = [column.header for column in columns]
    sizes = [max(width(line[i]) for line in [headers, *cells]) for i in range(len(columns))]
    return ["  ".join(_pad(text, size) for text, size in zip(line, sizes)).rstrip()
            for line in [headers, *cells]]


def record(pairs: Sequence[tuple[str, Any]]) -> list[str]:
    """``label: value`` lines, the values aligned."""
    size = max(width(label) for label, _ in pairs) + 1
    return [f"{_pad(label + ':', size)} {printable(value)}" for label, value in pairs]


def named(name: Any, ident: Any) -> str:
    """``Lab (z_...)``; the id alone when the server no longer knows the name."""
    if ident is None:
        return "-"
    return f"{name} ({ident})" if name is not None else str(ident)


def compact(value: Any) -> str:
    """A nested value on one line for people: ``key=value`` pairs for an object (an inner
    one in braces), yes/no, '-' for nothing, text as it is, anything else as JSON."""
    if isinstance(value, dict):
        return " ".join(f"{key}={_inner(item)}" for key, item in value.items()) or "-"
    if isinstance(value, bool) or value is None:
        return yes_no(value)
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True)


def _inner(value: Any) -> str:
    return "{" + compact(value) + "}" if isinstance(value, dict) and value else compact(value)


def is_time_key(key: str) -> bool:
    return key.endswith("_at") or key in TIME_KEYS


def machine(value: Any, key: str = "") -> Any:
    """The ``--json`` form: epoch times (by the schema's names) as ISO 8601 UTC strings,
    recursively; everything else as it is (the views already give booleans as bool)."""
    if isinstance(value, dict):
        return {k: machine(item, k) for k, item in value.items()}
    if isinstance(value, list):
        return [machine(item) for item in value]
    if is_time_key(key) and isinstance(value, (int, float)) and not isinstance(value, bool):
        return utc_text(value)
    return value


def to_json(value: Any) -> str:
    return json.dumps(machine(value), indent=2, sort_keys=True)


def spreadsheet_safe(value: Any) -> str:
    """A CSV cell: text that a spreadsheet would run as a formula gets a leading quote."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text

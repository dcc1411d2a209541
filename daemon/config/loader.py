"""The door's TOML configuration: loading, the section registry, and precise errors.

Hardware facts come only from this file (``/etc/doorward/doorward.toml``, or the path in
``DOORWARD_CONFIG``). Each top-level table is one section with its own frozen dataclass and
reader (``[hardware]``: ``daemon/config/hardware.py``); later sections register in
``SECTIONS`` and add a field to ``Config``. Unknown keys are errors, and every error names the
file, the dotted key and what is wrong, all of them at once, so an installer fixes the file in
one pass. Imports no GPIO, serial or network library.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

from doorward.daemon.config.clock import ClockConfig, read_clock
from doorward.daemon.errors import ConfigError
from doorward.daemon.config.hardware import HardwareConfig, read_hardware
from doorward.daemon.config.module import ModuleConfig, ServerConfig, read_module, read_server
from doorward.daemon.codec.policy import Policy
from doorward.daemon.config.policy import read_policy
from doorward.daemon.config.daemon import DaemonConfig, read_daemon
from doorward.daemon.config.storage import StorageConfig, read_storage
from doorward.daemon.relocation import RELOCATION_ENV, relocated, relocated_path

DEFAULT_CONFIG_PATH = Path("/etc/doorward/doorward.toml")
CONFIG_PATH_ENV = "DOORWARD_CONFIG"
REQUIRED: Any = object()


class TableReader:
    """Reads one TOML table: typed values with defaults, problems collected, unknown keys found.

    ``seen_keys`` (optional) collects every dotted key asked for, which is how the docs test
    knows the full set of keys.
    """

    def __init__(self, table: dict, prefix: str, problems: list[str],
                 seen_keys: set[str] | None = None, base_dir: Path = Path(".")) -> None:
        self._table, self._prefix, self.problems = table, prefix, problems
        self._seen_keys, self._asked = seen_keys, set()
        self.seen_keys = seen_keys
        self.base_dir = base_dir

    def key(self, name: str) -> str:
        return f"{self._prefix}.{name}" if self._prefix else name

    def has(self, name: str) -> bool:
        return name in self._table

    def problem(self, name: str, message: str) -> None:
        self.problems.append(f"{self.key(name)}: {message}")

    def value(self, name: str, kind: type, default: Any = REQUIRED,
              choices: tuple = (), check: Callable[[Any], str | None] | None = None) -> Any:
        """The value of ``name`` if it has type ``kind`` (and is one of ``choices``, and
        ``check`` returns no complaint); otherwise a problem is recorded and None returned."""
        self._ask(name)
        if name not in self._table:
            if default is REQUIRED:
                self.problem(name, "missing (required)")
                return None
            return default
        raw = self._table[name]
        complaint = _type_complaint(raw, kind) or _choice_complaint(raw, choices)
        complaint = complaint or (check(raw) if check else None)
        if complaint:
            self.problem(name, complaint)
            return None
        return float(raw) if kind is float else raw

    def table(self, name: str, required: bool = False) -> TableReader | None:
        """A reader for the sub-table ``name``; None when it is absent (and not required)."""
        self._ask(name)
        if name not in self._table:
            if required:
                self.problem(name, "missing table (required)")
            return None
        if not isinstance(self._table[name], dict):
            self.problem(name, f"must be a table ([{self.key(name)}]), not a value")
            return None
        return TableReader(self._table[name], self.key(name), self.problems,
                           self._seen_keys, self.base_dir)

    def finish(self) -> None:
        """Report every key in the table that nothing asked for."""
        for name in sorted(self._table.keys() - self._asked):
            close = difflib.get_close_matches(name, sorted(self._asked), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            what = "section" if not self._prefix and isinstance(self._table[name], dict) else "key"
            self.problem(name, f"unknown {what}{hint}")

    def _ask(self, name: str) -> None:
        self._asked.add(name)
        if self._seen_keys is not None:
            self._seen_keys.add(self.key(name))


def _type_complaint(raw: Any, kind: type) -> str | None:
    if kind is float and isinstance(raw, int) and not isinstance(raw, bool):
        return None
    if isinstance(raw, bool) != (kind is bool) or not isinstance(raw, kind):
        return f"must be {_KIND_NAMES.get(kind, kind.__name__)}, not {raw!r}"
    return None


def _choice_complaint(raw: Any, choices: tuple) -> str | None:
    if choices and raw not in choices:
        return f"{raw!r} is not one of {', '.join(repr(c) for c in choices)}"
    return None


_KIND_NAMES = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}


@dataclass(frozen=True)
class Config:
    """The whole door configuration; one field per section."""

    path: Path
    hardware: HardwareConfig
    module: ModuleConfig
    server: ServerConfig
    clock: ClockConfig
    storage: StorageConfig
    daemon: DaemonConfig
    policy: Policy


# section name -> reader(TableReader) -> section dataclass. Later issues add theirs here.
SECTIONS: dict[str, Callable[[TableReader], Any]] = {
    "hardware": read_hardware,
    "module": read_module,
    "server": read_server,
    "clock": read_clock,
    "storage": read_storage,
    "daemon": read_daemon,
    "policy": read_policy,
}
# Sections that may be left out: every key has a default, read from an empty table.
OPTIONAL_SECTIONS = {"module", "server", "clock", "storage", "daemon", "policy"}


def default_config_path() -> Path:
    return Path(os.environ.get(CONFIG_PATH_ENV) or relocated_path(DEFAULT_CONFIG_PATH))


def load_config(path: Path | str, sections: tuple[str, ...] | None = None) -> Config:
    """Read and validate ``path``; raises ConfigError naming file, key and problem.

    ``sections`` limits the check to those sections (``doorward relay-safe`` reads only
    ``hardware``, so an unrelated mistake never stops it from making the door safe).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read the file: {error}") from error
    return parse_config(text, path, sections)


def parse_config(text: str, path: Path, sections: tuple[str, ...] | None = None,
                 seen_keys: set[str] | None = None) -> Config:
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from error
    problems: list[str] = []
    root = TableReader(document, "", problems, seen_keys, path.parent)
    values = {name: _read_section(root, name, reader, sections)
              for name, reader in SECTIONS.items()}
    if sections is None:
        root.finish()
    if problems:
        raise ConfigError("\n".join(f"{path}: {problem}" for problem in problems))
    return Config(path=path, **_relocated(values))


def _relocated(values: dict[str, Any]) -> dict[str, Any]:
    """Every absolute path under ``$DOORWARD_TEST_ROOT`` (tests only; see relocation.py)."""
    if not os.environ.get(RELOCATION_ENV):
        return values
    hardware, module, server = values["hardware"], values["module"], values["server"]
    storage, daemon = values["storage"], values["daemon"]
    if hardware is not None and hardware.hub_socket:
        values["hardware"] = replace(hardware, hub_socket=relocated(hardware.hub_socket))
    if module is not None:
        values["module"] = replace(module, url=relocated(module.url))
    if server is not None:
        values["server"] = replace(server, credential=relocated(server.credential),
                                   ca_file=server.ca_file and relocated(server.ca_file))
    if storage is not None:
        values["storage"] = replace(storage, state_dir=relocated_path(storage.state_dir))
    if daemon is not None and daemon.status_file is not None:
        values["daemon"] = replace(daemon, status_file=relocated_path(daemon.status_file))
    return values


def _read_section(root: TableReader, name: str, reader: Callable, sections) -> Any:
    if sections is not None and name not in sections:
        return None
    if name in OPTIONAL_SECTIONS and not root.has(name):
        root.table(name)  # marks the section as known
        table = TableReader({}, name, root.problems, root.seen_keys, root.base_dir)
    else:
        table = root.table(name, required=True)
        if table is None:
            return None
    section = reader(table)
    table.finish()
    return section

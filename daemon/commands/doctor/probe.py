"""What ``doorward doctor`` knows about the machine: results, and the edges it reads through.

``SystemProbe`` is the only way a check touches the system: files are read under ``root``
(``/`` on a Pi, a fixture tree in tests), symlinks are followed inside it, user and group
names come from its ``etc/passwd`` and ``etc/group``, and commands (``pinctrl``,
``vcgencmd``, ``systemctl``) go through ``runner``, which tests replace with canned output.
Imports no GPIO, serial or network library.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Callable

COMMAND_TIMEOUT_S = 5.0
MAX_LINK_HOPS = 16


class Status(str, Enum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"
    NOT_A_PI = "not-a-pi"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class CheckResult:
    """One line of the checklist; ``fix`` says what to do when the status is not ok."""

    name: str
    status: Status
    detail: str
    fix: str = ""


def ok(name: str, detail: str) -> CheckResult:
    return CheckResult(name, Status.OK, detail)


def fail(name: str, detail: str, fix: str) -> CheckResult:
    return CheckResult(name, Status.FAIL, detail, fix)


def warn(name: str, detail: str, fix: str) -> CheckResult:
    return CheckResult(name, Status.WARN, detail, fix)


def skipped(name: str, detail: str) -> CheckResult:
    return CheckResult(name, Status.SKIPPED, detail)


def not_a_pi(name: str) -> CheckResult:
    return CheckResult(name, Status.NOT_A_PI, "not a Pi: nothing to check here")


@dataclass(frozen=True)
class CommandResult:
    returncode: int
    stdout: str


@dataclass(frozen=True)
class FileInfo:
    mode: int  # permission bits
    owner: str
    group: str
    is_char_device: bool


def run_command(argv: list[str]) -> CommandResult | None:
    """The real command edge: None when the command is not installed."""
    if shutil.which(argv[0]) is None:
        return None
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as error:
        return CommandResult(-1, str(error))
    return CommandResult(done.returncode, done.stdout + done.stderr)


class SystemProbe:
    def __init__(self, root: Path = Path("/"),
                 runner: Callable[[list[str]], CommandResult | None] = run_command) -> None:
        self.root, self._runner = Path(root), runner

    def host_path(self, path: str) -> Path:
        return self.root / path.lstrip("/")

    def read(self, path: str) -> str | None:
        try:
            return self.host_path(path).read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None

    def exists(self, path: str) -> bool:
        return self.host_path(path).exists()

    def listdir(self, path: str) -> list[str]:
        try:
            return sorted(os.listdir(self.host_path(path)))
        except OSError:
            return []

    def resolve(self, path: str) -> str | None:
        """Follow symlinks inside the root (absolute targets too); None when it is absent."""
        for _ in range(MAX_LINK_HOPS):
            inside = self.host_path(path)
            if not inside.is_symlink():
                return os.path.normpath(path) if inside.exists() else None
            target = os.readlink(inside)
            path = target if target.startswith("/") else os.path.join(os.path.dirname(path), target)
        return None

    def info(self, path: str) -> FileInfo | None:
        try:
            found = self.host_path(path).stat()
        except OSError:
            return None
        return FileInfo(stat.S_IMODE(found.st_mode), self._name("etc/passwd", found.st_uid),
                        self._name("etc/group", found.st_gid), stat.S_ISCHR(found.st_mode))

    def group_members(self, group: str) -> set[str]:
        for fields in self._table("etc/group"):
            if fields[0] == group and len(fields) > 3:
                return {name for name in fields[3].split(",") if name}
        return set()

    def disk_usage(self, path: str) -> tuple[int, int] | None:
        """(total, free) bytes of the file system holding ``path``."""
        try:
            usage = shutil.disk_usage(self.host_path(path))
        except OSError:
            return None
        return usage.total, usage.free

    def run(self, *argv: str) -> CommandResult | None:
        return self._runner(list(argv))

    def _name(self, table: str, number: int) -> str:
        for fields in self._table(table):
            if len(fields) > 2 and fields[2] == str(number):
                return fields[0]
        return str(number)

    def _table(self, table: str) -> list[list[str]]:
        text = self.read(table) or ""
        return [line.split(":") for line in text.splitlines() if line and not line.startswith("#")]


def board_model(probe: SystemProbe) -> str | None:
    """The Raspberry Pi model from the device tree, or None on any other machine."""
    for path in ("proc/device-tree/model", "sys/firmware/devicetree/base/model"):
        model = (probe.read(path) or "").rstrip("\x00\n")
        if model.startswith("Raspberry Pi"):
            return model
    return None


def unit_lines(probe: SystemProbe, unit: str) -> list[tuple[str, str]] | None:
    """(key, value) for every setting of ``unit`` with its drop-ins, in the order systemd
    reads them; None when the unit is not installed."""
    for folder in ("etc/systemd/system", "lib/systemd/system", "usr/lib/systemd/system"):
        text = probe.read(f"{folder}/{unit}")
        if text is not None:
            dropins = [f"{folder}/{unit}.d/{name}"
                       for name in probe.listdir(f"{folder}/{unit}.d") if name.endswith(".conf")]
            texts = [text, *(probe.read(path) or "" for path in dropins)]
            return [pair for part in texts for pair in _settings(part)]
    return None


def _settings(text: str) -> list[tuple[str, str]]:
    pairs = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";", "[")) and "=" in line:
            key, _, value = line.partition("=")
            pairs.append((key.strip(), value.strip()))
    return pairs


def effective(settings: list[tuple[str, str]], key: str) -> list[str]:
    """A list setting's values after systemd's rule: an empty assignment resets the list."""
    values: list[str] = []
    for name, value in settings:
        if name == key:
            values = [] if value == "" else [*values, value]
    return values

"""Reason codes cannot drift: docs/reasons.md lists exactly the codes of ``Reason``, and the
access modules stay pure (no IO library, no clock)."""

from __future__ import annotations

import ast
import pathlib
import re
import subprocess
import sys

import pytest

from daemon.decision import Reason

ROOT = pathlib.Path(__file__).resolve().parents[1]
PURE_MODULES = ["claim", "decision", "decision_state", "door", "door_types", "policy",
                "schedule", "snapshot", "snapshot_payload"]
FORBIDDEN = {"serial", "RPi", "sqlite3", "sqlite_utils", "socket", "http", "urllib", "requests",
             "time", "threading", "subprocess", "os", "drivers", "sim", "server", "enrol"}


def documented_codes() -> list[str]:
    text = (ROOT / "docs" / "reasons.md").read_text()
    return re.findall(r"^\| `([a-z_]+)` \|", text, flags=re.MULTILINE)


def test_reasons_md_lists_every_code_once_and_nothing_else() -> None:
    codes = documented_codes()
    assert sorted(codes) == sorted(reason.value for reason in Reason)
    assert len(codes) == len(set(codes))


def test_codes_are_stable_lowercase_snake_strings() -> None:
    assert all(re.fullmatch(r"[a-z]+(_[a-z0-9]+)*", r.value) for r in Reason)
    assert Reason("granted") is Reason.GRANTED and Reason.GRANTED == "granted"


@pytest.mark.parametrize("name", PURE_MODULES)
def test_access_modules_import_no_io_and_no_clock(name: str) -> None:
    tree = ast.parse((ROOT / "daemon" / f"{name}.py").read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert imported & FORBIDDEN == set()


def test_importing_the_access_modules_loads_no_io_library() -> None:
    code = (
        "import sys\n"
        "before = set(sys.modules)\n"  # site start-up may load urllib for editable installs
        f"for name in {PURE_MODULES!r}: __import__('daemon.' + name)\n"
        "bad = sorted(m for m in set(sys.modules) - before if m.split('.')[0] in "
        "('serial', 'RPi', 'sqlite3', 'sqlite_utils', 'socket', 'http', 'urllib', 'cryptography'))\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr

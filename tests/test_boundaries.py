"""Architecture boundaries: pure modules stay pure; one importer per vendor library.

A pure module imports no serial, GPIO, SQLite or HTTP library and takes time as arguments
(DESIGN.md, "Module map"). Checked on the source (what each module imports, and that it never
reads a clock) and at run time (importing it in a fresh interpreter loads no IO library).
"""

from __future__ import annotations

import ast
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]

PURE = [
    "drivers/r30x/protocol.py",
    "drivers/r30x/results.py",
    "drivers/r30x/codes.py",
    "drivers/r30x/blocks.py",
    "daemon/bundle.py",
    "daemon/snapshot.py",
    "daemon/snapshot_payload.py",
    "daemon/policy.py",
    "daemon/schedule.py",
    "daemon/decision.py",
    "daemon/decision_state.py",
    "daemon/claim.py",
    "daemon/door.py",
    "daemon/door_types.py",
    "daemon/slotmap.py",
    "daemon/bundle_incidents.py",
    "daemon/library_plan.py",
    "daemon/timers.py",
    "daemon/debounce.py",
    "daemon/indicators.py",
]
ALLOWED_IN_PURE = {
    "__future__", "dataclasses", "enum", "struct", "typing", "collections", "functools",
    "datetime", "zoneinfo", "math", "re", "hashlib", "base64", "binascii", "json", "itertools",
    "heapq", "abc",
    "cryptography", "daemon", "drivers",
}  # fmt: skip
IO_MODULES = ("serial", "RPi", "sqlite3", "sqlite_utils", "http", "urllib", "socket",
              "fastapi", "httpx", "uvicorn", "select", "termios")  # fmt: skip
CLOCK_METHODS = {"now", "utcnow", "today"}  # datetime.now(), date.today()
TIME_FUNCTIONS = {"time", "monotonic", "perf_counter", "time_ns", "monotonic_ns"}
VENDOR_IMPORT = {
    "serial": re.compile(r"^\s*(import|from)\s+serial\b|import_module\(\s*[\"']serial", re.M),
    "RPi": re.compile(r"^\s*(import|from)\s+RPi\b|import_module\(\s*[\"']RPi", re.M),
}


def imported_modules(path: pathlib.Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            # `from daemon import bundle` imports the module daemon.bundle
            names |= {f"{node.module}.{alias.name}" for alias in node.names
                      if (ROOT / node.module.replace(".", "/") / f"{alias.name}.py").exists()}
    return names


@pytest.mark.parametrize("relative", PURE)
def test_pure_modules_import_only_pure_things(relative: str) -> None:
    modules = imported_modules(ROOT / relative)
    outside = {m for m in modules if m.split(".")[0] not in ALLOWED_IN_PURE}
    if relative == "daemon/bundle.py":
        outside -= {"os"}  # os.urandom for nonces, nothing else
    assert not outside, f"{relative} imports {sorted(outside)}"
    internal = {m for m in modules if m.split(".")[0] in ("daemon", "drivers")}
    impure = {m for m in internal if m.replace(".", "/") + ".py" not in PURE
              and m not in ("daemon.errors", "daemon", "drivers")}  # fmt: skip
    assert not impure, f"{relative} imports non-pure project modules {sorted(impure)}"


@pytest.mark.parametrize("relative", PURE)
def test_pure_modules_never_read_a_clock(relative: str) -> None:
    tree = ast.parse((ROOT / relative).read_text())
    reads = [
        ast.unparse(node.func)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
        and (node.func.attr in CLOCK_METHODS
             or (node.func.attr in TIME_FUNCTIONS and ast.unparse(node.func.value) == "time"))
    ]  # fmt: skip
    assert not reads, f"{relative} reads a clock: {reads}"


def test_importing_the_pure_modules_loads_no_io_library() -> None:
    modules = [p.removesuffix(".py").replace("/", ".") for p in PURE]
    code = (  # compared with what the interpreter had loaded before (site hooks load urllib)
        f"import sys\nbefore = set(sys.modules)\nfor m in {modules!r}: __import__(m)\n"
        f"bad = sorted(m for m in set(sys.modules) - before if m.split('.')[0] in {IO_MODULES!r})\n"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_server_imports_only_the_codec_from_the_daemon() -> None:
    for path in sorted((ROOT / "server").rglob("*.py")):
        daemon_modules = {
            m for m in imported_modules(path)
            if m.startswith("daemon.") and (ROOT / (m.replace(".", "/") + ".py")).exists()
        }  # fmt: skip
        assert daemon_modules <= {"daemon.bundle"}, f"{path.relative_to(ROOT)}: {daemon_modules}"


@pytest.mark.parametrize(
    ("library", "owner"),
    [("serial", "drivers/r30x/transport.py"), ("RPi", "drivers/gpio/rpi.py")],
)
def test_one_importer_per_vendor_library(library: str, owner: str) -> None:
    importers = []
    for folder in ("daemon", "drivers", "enrol", "sim", "server"):
        for path in (ROOT / folder).rglob("*.py"):
            if VENDOR_IMPORT[library].search(path.read_text()):
                importers.append(str(path.relative_to(ROOT)))
    assert importers == [owner]

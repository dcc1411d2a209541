"""The architecture's rules, in one place: what each room of the house may import.

- Pure modules stay pure: they import only the standard library's pure parts, cryptography
  and other pure modules; they never read a clock; importing them loads no IO library.
- One importer per vendor library (``serial``, ``RPi.GPIO``), and the heavy libraries stay
  in their rooms (the door never loads the server's or the kiosk's web stack).
- Direction: every room imports only the rooms below it (``ALLOWED``): the drivers import
  nothing above them, the server imports only the door's codec, production code imports
  nothing from the simulator (the CLI names its group lazily, as a string), and the
  benchmarks import nothing from the tests.
- Every package opens with a docstring that says what it owns and what it must not import.

Checked on the source (the imports each file states) and, for purity, at run time too.
"""

from __future__ import annotations

import ast
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
PRODUCTION = ("daemon", "drivers", "enrol", "server")
PACKAGES = (*PRODUCTION, "sim")

PURE = [
    "drivers/errors.py",
    "drivers/gpio/pins.py",
    "drivers/r30x/protocol.py",
    "drivers/r30x/results.py",
    "drivers/r30x/codes.py",
    "drivers/r30x/blocks.py",
    "daemon/errors.py",
    *(f"daemon/codec/{name}.py" for name in ("alarms", "bundle", "snapshot", "payload", "policy",
                                             "schedule")),
    *(f"daemon/access/{name}.py" for name in ("claim", "decision", "state")),
    *(f"daemon/door/{name}.py" for name in ("machine", "types", "timers", "debounce", "indicators")),
    "daemon/library/slotmap.py",
    "daemon/library/plan.py",
    "daemon/sync/incidents.py",
    "daemon/journal/loss.py",
    "enrol/strings.py",
]
PURE_STDLIB = {
    "__future__", "dataclasses", "enum", "struct", "typing", "collections", "functools",
    "datetime", "zoneinfo", "math", "re", "hashlib", "base64", "binascii", "json", "itertools",
    "heapq", "abc", "cryptography",
}  # fmt: skip
IO_MODULES = ("serial", "RPi", "sqlite3", "sqlite_utils", "http", "urllib", "socket",
              "fastapi", "httpx", "uvicorn", "select", "termios", "threading", "subprocess")  # fmt: skip
CLOCK_METHODS = {"now", "utcnow", "today"}  # datetime.now(), date.today()
TIME_FUNCTIONS = {"time", "monotonic", "perf_counter", "time_ns", "monotonic_ns"}

# room -> the rooms it may import (besides itself). A room is a top folder, or a sub-package
# of daemon/ (daemon/errors.py and daemon/cli.py are rooms of their own).
ALLOWED: dict[str, set[str]] = {
    "drivers": set(),
    "daemon": set(),  # the package itself imports nothing
    "daemon.errors": {"drivers"},
    "daemon.codec": {"daemon.errors", "drivers"},
    "daemon.access": {"daemon.codec", "daemon.errors"},
    "daemon.door": {"daemon.access", "daemon.codec", "daemon.errors"},
    "daemon.library": {"daemon.access", "daemon.codec", "daemon.errors", "drivers"},
    "daemon.config": {"daemon.codec", "daemon.errors", "daemon.relocation", "drivers"},
    "daemon.controller": {"daemon.access", "daemon.door", "daemon.codec", "daemon.errors", "drivers"},
    "daemon.storage": {"daemon.access", "daemon.library", "daemon.codec", "daemon.errors", "drivers"},
    "daemon.journal": {"daemon.storage", "daemon.codec", "daemon.errors"},
    "daemon.reader": {"daemon.access", "daemon.library", "daemon.storage", "daemon.codec",
                      "daemon.errors", "drivers"},
    "daemon.sync": {"daemon.config", "daemon.journal", "daemon.library", "daemon.storage",
                    "daemon.codec", "daemon.errors", "drivers"},
    "daemon.runtime": {"daemon.access", "daemon.codec", "daemon.config", "daemon.controller",
                       "daemon.door", "daemon.errors", "daemon.journal", "daemon.library",
                       "daemon.reader", "daemon.storage", "daemon.sync", "drivers"},
    "daemon.commands": {"daemon.access", "daemon.codec", "daemon.config", "daemon.controller",
                        "daemon.errors", "daemon.journal", "daemon.library", "daemon.reader",
                        "daemon.runtime", "daemon.storage", "daemon.sync", "daemon.relocation", "drivers"},
    "daemon.dispatch": set(),  # the subcommand dispatch every group uses: imports nothing
    "daemon.relocation": set(),  # the tests' path relocation, read by door and server configs
    "daemon.cli": {"daemon.dispatch"},  # groups and commands are named as strings, loaded lazily
    "enrol": {"daemon.access", "daemon.codec", "daemon.config", "daemon.errors", "daemon.library",
              "daemon.reader", "daemon.storage", "daemon.sync", "daemon.commands", "daemon.dispatch",
              "drivers"},
    "server": {"daemon.codec", "daemon.errors", "daemon.dispatch", "daemon.relocation"},
}
VENDOR_OWNERS = {
    "serial": {"drivers/r30x/transport.py"},
    "RPi": {"drivers/gpio/rpi.py"},
    "paho": {"server/integrations/mqtt_link.py"},  # tests/support/mqtt.py is outside PACKAGES
    "prometheus_client": {"server/integrations/metrics.py", "server/integrations/metrics_route.py"},
}
WEB_STACK = ("fastapi", "uvicorn", "starlette", "argon2")
WEB_ROOMS = ("server", "enrol/kiosk")  # only these may import the web stack


def python_files(*folders: str) -> list[pathlib.Path]:
    return sorted(p for folder in folders for p in (ROOT / folder).rglob("*.py"))


def rel(path: pathlib.Path) -> str:
    return str(path.relative_to(ROOT))


def imports_of(path: pathlib.Path) -> set[str]:
    """Every module the file imports by name (``from a import b`` gives ``a`` and ``a.b``)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Call) and ast.unparse(node.func).endswith("import_module"):
            if node.args and isinstance(node.args[0], ast.Constant):
                names.add(str(node.args[0].value))
    return names


def room_of_module(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "doorward" or len(parts) < 2:
        return None
    if parts[1] == "daemon" and len(parts) > 2:
        return f"daemon.{parts[2]}"
    return parts[1]


def room_of_path(path: pathlib.Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return room_of_module("doorward." + ".".join(parts))


def project_module_exists(module: str) -> bool:
    parts = module.split(".")[1:]
    base = ROOT.joinpath(*parts)
    return base.with_suffix(".py").exists() or (base / "__init__.py").exists()


@pytest.mark.parametrize("relative", PURE)
def test_pure_modules_import_only_pure_things(relative: str) -> None:
    modules = {m for m in imports_of(ROOT / relative)
               if not m.startswith("doorward.") or project_module_exists(m)}
    outside = {m for m in modules if m.split(".")[0] not in PURE_STDLIB | {"doorward"}}
    if relative == "daemon/codec/bundle.py":
        outside -= {"os"}  # os.urandom for keys and nonces, nothing else
    assert not outside, f"{relative} imports {sorted(outside)}"
    impure = {m for m in modules if m.startswith("doorward.")
              and "/".join(m.split(".")[1:]) + ".py" not in PURE}
    assert not impure, f"{relative} imports project modules that are not pure: {sorted(impure)}"


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
    modules = ["doorward." + p.removesuffix(".py").replace("/", ".") for p in PURE]
    code = (  # compared with what the interpreter had loaded before (site hooks load urllib)
        f"import sys\nbefore = set(sys.modules)\nfor m in {modules!r}: __import__(m)\n"
        f"bad = sorted(m for m in set(sys.modules) - before if m.split('.')[0] in {IO_MODULES!r})\n"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_access_path_loads_no_cryptography_either() -> None:
    """Deciding needs no cryptography: only the codec's sealing and signing do."""
    modules = [f"doorward.daemon.{name}" for name in (
        "access.claim", "access.decision", "access.state", "door.machine", "door.types",
        "codec.policy", "codec.schedule", "codec.snapshot", "codec.payload")]
    code = (f"import sys\nfor m in {modules!r}: __import__(m)\n"
            "sys.exit(1 if 'cryptography' in sys.modules else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/")
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_room_imports_only_the_rooms_below_it() -> None:
    wrong = []
    for path in python_files(*PRODUCTION):
        room = room_of_path(path)
        allowed = ALLOWED[room] | {room}
        for module in imports_of(path):
            other = room_of_module(module)
            if other is not None and other not in allowed:
                wrong.append(f"{rel(path)} ({room}) imports {module} ({other})")
    assert wrong == []


def test_production_code_imports_nothing_from_the_simulator_or_the_tests() -> None:
    wrong = [f"{rel(path)}: {module}" for path in python_files(*PRODUCTION)
             for module in imports_of(path)
             if module.split(".")[:2] == ["doorward", "sim"] or module.split(".")[0] == "tests"]
    assert wrong == []


# The benchmarks drive the harness in sim/ (doors, hub, server in this process, the Pi in
# memory), never a test module. No file owes anything here.
BENCH_DEBT: dict[str, set[str]] = {}


def test_the_benchmarks_import_nothing_from_the_tests() -> None:
    wrong = [f"{rel(path)}: {module}" for path in python_files("bench")
             for module in imports_of(path) if module.split(".")[0] == "tests"
             and not any(module == owed or module.startswith(owed + ".")
                         for owed in BENCH_DEBT.get(rel(path), ()))]
    assert wrong == []


def test_nothing_imports_the_old_top_level_names() -> None:
    """Everything lives under one import package, ``doorward``."""
    tops = set(PACKAGES)
    wrong = [f"{rel(path)}: {module}" for path in python_files(*PACKAGES, "tests", "bench")
             for module in imports_of(path) if module.split(".")[0] in tops]
    assert wrong == []


@pytest.mark.parametrize("library", sorted(VENDOR_OWNERS))
def test_one_importer_per_vendor_library(library: str) -> None:
    pattern = re.compile(rf"^\s*(import|from)\s+{library}\b|import_module\(\s*[\"']{library}", re.M)
    importers = {rel(path) for path in python_files(*PACKAGES) if pattern.search(path.read_text())}
    assert importers == VENDOR_OWNERS[library]


def test_the_web_stack_stays_in_the_server_and_the_kiosk_page() -> None:
    wrong = [f"{rel(path)}: {module}" for path in python_files(*PRODUCTION)
             for module in imports_of(path)
             if module.split(".")[0] in WEB_STACK and not rel(path).startswith(WEB_ROOMS)]
    assert wrong == []


def test_every_package_says_what_it_owns() -> None:
    silent = [rel(init) for init in python_files(*PACKAGES) if init.name == "__init__.py"
              and not (ast.get_docstring(ast.parse(init.read_text())) or "").strip()]
    assert silent == []


def test_no_folder_holds_more_than_fifteen_modules() -> None:
    crowded = {}
    for folder in {p.parent for p in python_files(*PACKAGES)}:
        count = len([p for p in folder.glob("*.py") if p.name != "__init__.py"])
        if count > 15:
            crowded[rel(folder)] = count
    assert crowded == {}


# Helpers the demo, the tests and the benchmarks share: one definition each, in the harness.
ONE_OF_EACH = {"wait_until": "sim/rig/processes.py", "wait_for": None, "free_port": "sim/rig/processes.py",
               "_free_port": None}


def test_the_shared_helpers_are_defined_once() -> None:
    """A second polling wait or port probe drifts from the first (timeouts, error types)."""
    found: dict[str, list[str]] = {name: [] for name in ONE_OF_EACH}
    for path in python_files(*PACKAGES, "tests", "bench"):
        for node in ast.parse(path.read_text()).body:  # module level: methods may delegate
            if isinstance(node, ast.FunctionDef) and node.name in ONE_OF_EACH:
                found[node.name].append(rel(path))
    assert found == {name: [home] if home else [] for name, home in ONE_OF_EACH.items()}


def test_one_subcommand_dispatch() -> None:
    """Every command group chooses its command and reports an unknown one through
    daemon/dispatch.py: one help layout, one error, one exit code."""
    copies = [rel(path) for path in python_files(*PRODUCTION, "sim")
              if "unknown command" in path.read_text()
              and rel(path) not in ("daemon/dispatch.py", "sim/demo/prompt.py")]  # the demo's prompt
    assert copies == []

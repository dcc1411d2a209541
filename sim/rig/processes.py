"""The demo's processes: each started as a real program, logged to a file, always stopped.

Owns ``ProcessGroup`` (start by name, stop by name or all, last lines of a log), the argv of
the ``doorward`` command and its groups, ``run_doorward`` for one-shot commands, and the
small waits every part of the demo shares. Every child gets ``PR_SET_PDEATHSIG``, so even a
demo killed with SIGKILL leaves no orphan; the normal ways out (return, exception, Ctrl-C,
SIGTERM) stop them through ``ProcessGroup.stop_all`` in a ``finally``.
"""

from __future__ import annotations

import ctypes
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

STOP_TIMEOUT_S = 5.0
PR_SET_PDEATHSIG = 1
_LIBC = ctypes.CDLL(None, use_errno=True)  # loaded before any fork: the child only calls it

# `python -c` runners for the groups not yet registered in daemon/cli.py's GROUPS.
GROUP_MODULES = {"enrol": "doorward.enrol.cli", "kiosk": "doorward.enrol.kiosk.cli", "server": "doorward.server.cli.main"}


def _die_with_parent() -> None:
    """Runs in the child between fork and exec: the kernel sends SIGTERM when the thread that
    started it ends, so processes are started from the main thread only."""
    _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def doorward_argv(*args: str) -> list[str]:
    """The ``doorward`` command (``python -m doorward.daemon.cli``), so a venv need not be on PATH."""
    if args and args[0] in GROUP_MODULES and not _registered(args[0]):
        module = GROUP_MODULES[args[0]]
        runner = f"import sys; from {module} import main; sys.exit(main(sys.argv[1:]))"
        return [sys.executable, "-c", runner, *args[1:]]
    return [sys.executable, "-m", "doorward.daemon.cli", *args]


def _registered(group: str) -> bool:
    from doorward.daemon.cli import GROUPS

    return group in GROUPS


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    # Loopback only: no proxy may capture the demo's HTTP.
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    return {**env, "PYTHONUNBUFFERED": "1", **(extra or {})}


def run_doorward(*args: str, stdin: str | None = None, env: dict[str, str] | None = None,
                 timeout_s: float = 60.0) -> subprocess.CompletedProcess:
    """A one-shot ``doorward`` command; the caller checks ``returncode``."""
    return subprocess.run(doorward_argv(*args), input=stdin, capture_output=True,
                          text=True, timeout=timeout_s, env=child_env(env),
                          preexec_fn=_die_with_parent)  # fmt: skip


def checked(result: subprocess.CompletedProcess) -> str:
    if result.returncode != 0:
        raise DemoError(f"{' '.join(result.args[-6:])} failed ({result.returncode}):\n"
                        f"{result.stdout}{result.stderr}")
    return result.stdout


class DemoError(RuntimeError):
    """A step of the demo did not happen as scripted."""


class ProcessGroup:
    """Child processes and what they leave behind, stopped and removed together: the one
    process harness of the demo, the tests and the benchmarks.

    Named children (``start``) log to ``directory``; ``adopt`` takes a child started
    elsewhere (killed at ``close``), ``on_close`` a stop step (a hub's), ``remove_at_close``
    a scratch directory. Without a ``directory`` the group makes a temporary one of its own."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or Path(tempfile.mkdtemp(prefix="dw-"))
        self.children: dict[str, subprocess.Popen] = {}
        self.logs: dict[str, Path] = {}
        self.adopted: list[subprocess.Popen] = []
        self._closers: list[Callable[[], None]] = []
        self._scratch: list[Path] = [] if directory else [self.directory]

    def adopt(self, process: subprocess.Popen) -> subprocess.Popen:
        self.adopted.append(process)
        return process

    def on_close(self, stop: Callable[[], None]) -> None:
        self._closers.append(stop)

    def remove_at_close(self, path: Path) -> Path:
        self._scratch.append(path)
        return path

    def close(self) -> None:
        """Adopted children killed, named ones stopped newest first, then the stop steps,
        then the scratch directories."""
        for process in reversed(self.adopted):
            if process.poll() is None:
                process.kill()
            process.wait()
        self.adopted.clear()
        self.stop_all()
        while self._closers:
            self._closers.pop()()
        while self._scratch:
            shutil.rmtree(self._scratch.pop(), ignore_errors=True)

    def start(self, name: str, argv: list[str], env: dict[str, str] | None = None,
              pipe_stdout: bool = False) -> subprocess.Popen:  # fmt: skip
        self.stop(name)
        log = self.directory / f"{name}.log"
        self.logs[name] = log
        with open(log, "ab") as output:
            process = subprocess.Popen(
                argv, env=child_env(env), preexec_fn=_die_with_parent,
                stdout=subprocess.PIPE if pipe_stdout else output,
                stderr=output, text=pipe_stdout or None)  # fmt: skip
        self.children[name] = process
        return process

    def alive(self, name: str) -> bool:
        process = self.children.get(name)
        return process is not None and process.poll() is None

    def check_alive(self, name: str) -> None:
        if not self.alive(name):
            raise DemoError(f"{name} exited:\n{self.tail(name)}")

    def stop(self, name: str, sig: int = signal.SIGTERM) -> int | None:
        process = self.children.pop(name, None)
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(sig)
            try:
                process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stdout is not None:
            process.stdout.close()
        return process.returncode

    def stop_all(self) -> None:
        """Newest first: the daemons before the hubs and modules they use."""
        for name in reversed(list(self.children)):
            self.stop(name)

    def tail(self, name: str, lines: int = 30) -> str:
        log = self.logs.get(name)
        if log is None or not log.exists():
            return ""
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


class WaitTimeout(DemoError):
    """A condition that did not come true in time (the demo's, a test's, a benchmark's)."""


def wait_until(predicate: Callable[[], Any], timeout_s: float = 10.0, what: str = "the condition",
               interval_s: float = 0.02) -> Any:  # fmt: skip
    """The predicate's first truthy value, polled every ``interval_s``; ``WaitTimeout`` naming
    ``what`` if it stays false for ``timeout_s``. The one polling wait of the demo, the tests
    and the benchmarks."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise WaitTimeout(f"{what}: not within {timeout_s} s")
        time.sleep(interval_s)


class OutputLines:
    """A child's output lines, read on a thread for its whole life: waiting for a line has a
    real deadline, and a pipe nobody reads can never fill up and block the child."""

    def __init__(self, stream: Any) -> None:
        self.seen: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream: Any) -> None:
        for line in stream:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for_line(self, pattern: str, timeout_s: float) -> re.Match[str]:
        """The first new line that ``pattern`` (a regular expression) is found in."""
        deadline = time.monotonic() + timeout_s
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._queue.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                raise WaitTimeout(f"output ended before {pattern!r}:\n" + "\n".join(self.seen))
            self.seen.append(line)
            if found := re.search(pattern, line):
                return found
        raise WaitTimeout(f"no {pattern!r} within {timeout_s} s:\n" + "\n".join(self.seen))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


_INTERRUPTED = threading.Event()


def raise_on_sigterm() -> None:
    """SIGTERM unwinds like Ctrl-C, so every ``finally`` stops its processes.

    Ctrl-C is also remembered: a KeyboardInterrupt that lands inside a finaliser is
    swallowed by Python ("Exception ignored in ..."), so ``interrupt_checkpoint`` raises it
    again at the next step of the demo."""
    def on_term(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    def on_int(signum: int, _frame: object) -> None:
        _INTERRUPTED.set()
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_int)


def interrupt_checkpoint() -> None:
    if _INTERRUPTED.is_set():
        raise KeyboardInterrupt

"""Links between a host and the simulated module: in memory, or on a real pty.

Owns the serving threads, the pacing of the module's output at the configured baud (realtime
mode), and where the line faults of sim/module/faults.py are applied: bytes from the host pass
``faults.to_module`` before the module sees them, every packet the module sends passes
``faults.to_host``. ``MemoryLink.host`` satisfies doorward.drivers.r30x.transport.Transport;
``PtyBridge`` makes a path that real pyserial opens. Every thread waits on a stop event or a
condition, so ``close()`` returns in milliseconds.
"""

from __future__ import annotations

import collections
import errno
import os
import select
import threading
import time
import tty
from pathlib import Path
from typing import Callable

from doorward.drivers.r30x.errors import PortLost
from doorward.sim.module.r30x import Emission, SimulatedR30x

EIO_BACKOFF_S = 0.05
WRITE_STALL_LIMIT_S = 2.0  # nobody reads the pty: drop output instead of blocking forever


class _Pump:
    """The module's transmitter: hands each emission to ``deliver`` when it is due."""

    def __init__(self, module: SimulatedR30x, deliver: Callable[[bytes], None], name: str) -> None:
        self._module = module
        self._deliver = deliver
        self._queue: collections.deque[Emission] = collections.deque()
        self._ready = threading.Condition()
        self._stop = threading.Event()
        self._line_free_at = 0.0
        module.attach(self.put)
        self._thread = threading.Thread(target=self._run, name=f"sim-tx {name}", daemon=True)
        self._thread.start()

    def put(self, emission: Emission) -> None:
        with self._ready:
            self._queue.append(emission)
            self._ready.notify()

    def _next(self) -> Emission | None:
        with self._ready:
            while not self._queue and not self._stop.is_set():
                self._ready.wait()
            return None if self._stop.is_set() else self._queue.popleft()

    def _due(self, emission: Emission) -> float:
        """Half-duplex line: a packet starts when the previous one has left the wire, and
        arrives whole at the end of its own wire time."""
        start = max(emission.not_before, self._line_free_at)
        self._line_free_at = start + len(emission.data) * emission.byte_time_s
        return self._line_free_at

    def _run(self) -> None:
        while (emission := self._next()) is not None:
            wait_s = self._due(emission) - time.monotonic()
            if wait_s > 0 and self._stop.wait(wait_s):
                return
            if emission.generation != self._module.generation:
                continue  # the module lost power after producing it
            data = self._module.faults.to_host(emission.data, time.monotonic())
            if data:
                self._deliver(data)

    def close(self) -> None:
        self._stop.set()
        with self._ready:
            self._ready.notify_all()
        self._thread.join(timeout=2.0)
        self._module.attach(None)


class MemoryHostEnd:
    """The host's end of a MemoryLink: a Transport (write/read/close/reopen)."""

    def __init__(self, module: SimulatedR30x, name: str) -> None:
        self.name = name
        self._module = module
        self._buffer = bytearray()
        self._changed = threading.Condition()
        self._lost = False
        self._closed = False

    def _check(self) -> None:
        if self._module.faults.unplugged(time.monotonic()):
            self._lost = True  # stays lost until reopen(), like a vanished USB adapter
        if self._lost:
            raise PortLost(f"{self.name}: unplugged")
        if self._closed:
            raise PortLost(f"{self.name} is closed")

    def write(self, data: bytes) -> None:
        self._check()
        damaged = self._module.faults.to_module(bytes(data), time.monotonic())
        if damaged:
            self._module.receive(damaged)

    def read(self, max_bytes: int, timeout_s: float) -> bytes:
        deadline = time.monotonic() + max(timeout_s, 0.0)
        with self._changed:
            while True:
                self._check()
                if self._buffer:
                    out = bytes(self._buffer[:max_bytes])
                    del self._buffer[:max_bytes]
                    return out
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return b""
                self._changed.wait(remaining)

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._buffer.clear()
            self._changed.notify_all()

    def reopen(self) -> None:
        with self._changed:
            if self._module.faults.unplugged(time.monotonic()):
                raise PortLost(f"{self.name}: still unplugged")
            self._lost = self._closed = False
            self._buffer.clear()

    def deliver(self, data: bytes) -> None:
        with self._changed:
            if not (self._lost or self._closed):
                self._buffer += data
            self._changed.notify_all()

    def wake(self) -> None:
        with self._changed:
            self._changed.notify_all()  # a reader blocked in read() sees an unplug at once


class MemoryLink:
    """An in-memory duplex link serving ``module``; ``link.host`` is the Transport."""

    def __init__(self, module: SimulatedR30x, name: str = "sim:memory") -> None:
        self.module = module
        self.host = MemoryHostEnd(module, name)
        module.faults.add_listener(self.host.wake)
        self._pump = _Pump(module, self.host.deliver, name)

    def close(self) -> None:
        self._pump.close()
        self.module.faults.remove_listener(self.host.wake)
        self.host.close()

    def __enter__(self) -> MemoryLink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PtyBridge:
    """Serves ``module`` on a pty; ``path`` is a symlink to the slave device for pyserial.

    The bridge keeps its own descriptor of the slave open: otherwise, on Linux, the master
    reports readable and read() fails with EIO whenever no client holds the slave (between
    two clients), which would make the serving loop spin. pyserial flushes input on open,
    so bytes left in the slave by an earlier client never reach the next one.
    """

    def __init__(self, module: SimulatedR30x, path: str | Path) -> None:
        self.module = module
        self.path = Path(path)
        self._lock = threading.Lock()
        self._master: int | None = None
        self._slave: int | None = None
        self._stop = threading.Event()
        self._wakeup = threading.Event()
        self._wake_r, self._wake_w = os.pipe()
        self._open_pty()
        self._pump = _Pump(module, self._write_master, str(self.path))
        module.faults.add_listener(self._wake)
        self._thread = threading.Thread(target=self._serve, name=f"sim-pty {path}", daemon=True)
        self._thread.start()

    # ---- pty lifecycle ----

    def _open_pty(self) -> None:
        master, slave = os.openpty()
        tty.setraw(slave)  # no echo, no line editing: bytes pass untouched
        os.set_blocking(master, False)
        with self._lock:
            self._master, self._slave = master, slave
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.new")
        temporary.unlink(missing_ok=True)
        os.symlink(os.ttyname(slave), temporary)
        os.replace(temporary, self.path)  # re-point atomically: a client never sees no path

    def _close_pty(self) -> None:
        with self._lock:
            for fd in (self._master, self._slave):
                if fd is not None:
                    os.close(fd)
            self._master = self._slave = None
        self.path.unlink(missing_ok=True)

    def _wake(self) -> None:
        self._wakeup.set()
        try:
            os.write(self._wake_w, b"!")
        except OSError:
            pass  # already closed

    # ---- serving ----

    def _serve(self) -> None:
        while not self._stop.is_set():
            if self.module.faults.unplugged(time.monotonic()):
                self._unplug()
                continue
            master = self._master
            if master is None:
                return
            ready, _, _ = select.select([master, self._wake_r], [], [])
            if self._wake_r in ready:
                os.read(self._wake_r, 512)
            if master in ready:
                self._read_master(master)

    def _read_master(self, master: int) -> None:
        try:
            data = os.read(master, 4096)
        except BlockingIOError:
            return
        except OSError as error:
            if error.errno != errno.EIO:
                raise
            self._stop.wait(EIO_BACKOFF_S)  # no client holds the slave: back off, no spin
            return
        damaged = self.module.faults.to_module(data, time.monotonic())
        if damaged:
            self.module.receive(damaged)

    def _unplug(self) -> None:
        """Close the pty and remove the path; after the fault ends, a new pty at the path."""
        self._close_pty()
        while not self._stop.is_set() and self.module.faults.unplugged(time.monotonic()):
            self._wakeup.clear()
            self._wakeup.wait(self.module.faults.unplug_remaining_s(time.monotonic()))
        if not self._stop.is_set():
            self._open_pty()

    def _write_master(self, data: bytes) -> None:
        deadline = time.monotonic() + WRITE_STALL_LIMIT_S
        view = memoryview(data)
        while view and not self._stop.is_set():
            with self._lock:
                master = self._master
                if master is None:
                    return  # unplugged: the bytes are lost on the floor
                try:
                    view = view[os.write(master, view) :]
                    continue
                except BlockingIOError:
                    pass
            if time.monotonic() >= deadline:
                return  # no reader for a long time: drop, as a UART would
            try:
                select.select([], [master], [], 0.05)
            except (OSError, ValueError):
                return  # the pty was closed by an unplug meanwhile

    def close(self) -> None:
        self._stop.set()
        self._wake()
        self._pump.close()
        self._thread.join(timeout=2.0)
        self.module.faults.remove_listener(self._wake)
        self._close_pty()
        os.close(self._wake_r)
        os.close(self._wake_w)

    def __enter__(self) -> PtyBridge:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

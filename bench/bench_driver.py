"""Driver figures: CPU against pyfingerprint, and time above the floor per exchange.

The simulated module runs in its own process on a pty (``python -m doorward.sim.module.r30x``), the client
in another (``bench/driver_client.py``), so each side's CPU is its own.

- ``driver.cpu_ratio_vs_pyfingerprint``: client CPU (user + system) for the same wire traffic,
  pacing off, median of 5 runs each, ours / pyfingerprint's.
- ``driver.overhead_ms_median``: with pacing on, per exchange, measured wall time minus the
  floor (wire time of every byte exchanged at the baud + the profile's modelled processing
  time of every command sent), median over 50 exchanges each of GenImg with a finger, Search,
  UpChar and DownChar (+ the Match that proves the module holds the data).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from doorward.drivers.gpio.hubwire import HubConnection  # the JSON-lines client of every sim socket
from doorward.drivers.r30x.protocol import Command
from doorward.sim.module.profiles import get_profile, wire_time_s

ROOT = Path(__file__).resolve().parents[1]
RUNS = 5
MODEL = "r307"
PACKET_SIZE = 128


class SimulatorProcess:
    """``python -m doorward.sim.module.r30x`` serving a pty, with its control socket."""

    def __init__(self, workdir: Path, realtime: bool) -> None:
        self.link = workdir / "module"
        self.control_path = workdir / "control.sock"
        argv = [sys.executable, "-m", "doorward.sim.module.r30x", "--model", MODEL, "--link", str(self.link)]
        argv += ["--control", str(self.control_path), "--seed", "1"]
        argv += ["--realtime"] if realtime else []
        self.process = subprocess.Popen(argv, cwd=ROOT)
        deadline = time.monotonic() + 10
        while not (self.link.exists() and self.control_path.exists()):
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError("the simulator did not start")
            time.sleep(0.02)

        self._control = HubConnection(str(self.control_path), "control", "bench", 5.0)

    def control(self, request: dict) -> dict:
        return self._control.request(request)

    def close(self) -> None:
        self._control.close()
        self.process.terminate()
        self.process.wait(timeout=10)


def enrol_page_zero(port: str, sim: SimulatorProcess) -> None:
    from doorward.drivers.r30x.sensor import R30xSensor

    with R30xSensor.from_url(port) as sensor:
        sensor.open()
        sim.control({"place": "bench/right-index"})
        for buffer_id in (1, 2):
            sensor.gen_img()
            sensor.img2tz(buffer_id)
        if not sensor.reg_model():
            raise RuntimeError("the simulator refused to merge two captures of one finger")
        sensor.store(1, 0)


def client(port: str, *args: str) -> object:
    argv = [sys.executable, "-m", "bench.driver_client", "--port", port, *args]
    result = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def cpu_figures(workdir: Path) -> dict[str, float]:
    sim = SimulatorProcess(workdir / "cpu", realtime=False)
    try:
        enrol_page_zero(str(sim.link), sim)
        sim.control({"lift": True})
        runs = {impl: [] for impl in ("ours", "pyfingerprint")}
        for _ in range(RUNS):
            for impl in runs:  # interleaved, so machine noise hits both alike
                runs[impl].append(client(str(sim.link), "--impl", impl)["cpu_s"])
    finally:
        sim.close()
    ours, theirs = statistics.median(runs["ours"]), statistics.median(runs["pyfingerprint"])
    print(f"{'client':<16}{'median CPU s':>14}{'runs':>40}")
    for impl, values in runs.items():
        print(f"{impl:<16}{statistics.median(values):>14.3f}   {[round(v, 3) for v in values]}")
    return {
        "driver.cpu_s_median_ours": round(ours, 4),
        "driver.cpu_s_median_pyfingerprint": round(theirs, 4),
        "driver.cpu_ratio_vs_pyfingerprint": round(ours / theirs, 4),
    }


def floors_s() -> dict[str, float]:
    """Wire time of the bytes each measured exchange moves, plus modelled processing."""
    profile = get_profile(MODEL)
    processing = profile.processing_s
    packets = -(-profile.template_size // PACKET_SIZE)
    data_bytes = packets * (11 + PACKET_SIZE)
    return {
        "gen_img": wire_time_s(12 + 12) + processing[Command.GEN_IMG],
        "search": wire_time_s(17 + 16) + processing[Command.SEARCH],
        "up_char": wire_time_s(13 + 12 + data_bytes) + processing[Command.UP_CHAR],
        "down_char": wire_time_s(13 + 12 + data_bytes + 12 + 14)
        + processing[Command.DOWN_CHAR]
        + processing[Command.MATCH],
    }


def overhead_figures(workdir: Path) -> dict[str, float]:
    sim = SimulatorProcess(workdir / "overhead", realtime=True)
    try:
        enrol_page_zero(str(sim.link), sim)
        samples = client(str(sim.link), "--workload", "overhead", "--count", "50")
    finally:
        sim.close()
    floors = floors_s()
    overheads_ms: list[float] = []
    print(f"{'exchange':<12}{'floor ms':>10}{'median ms':>11}{'overhead ms':>13}")
    figures: dict[str, float] = {}
    for name, values in samples.items():  # type: ignore[union-attr]
        extra = [1000 * (v - floors[name]) for v in values]
        overheads_ms += extra
        median_ms = 1000 * statistics.median(values)
        print(f"{name:<12}{1000 * floors[name]:>10.2f}{median_ms:>11.2f}{statistics.median(extra):>13.2f}")
        figures[f"driver.overhead_ms_median_{name}"] = round(statistics.median(extra), 3)
    figures["driver.overhead_ms_median"] = round(statistics.median(overheads_ms), 3)
    return figures


def run() -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="doorward-bench-") as tmp:
        workdir = Path(tmp)
        for sub in ("cpu", "overhead"):
            os.mkdir(workdir / sub)
        figures = cpu_figures(workdir)
        figures.update(overhead_figures(workdir))
    return figures


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))

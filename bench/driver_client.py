"""The client side of the driver benchmarks, run as its own process.

``python -m bench.driver_client --impl ours|pyfingerprint --port PATH --workload cpu`` opens the
module, then measures its own CPU time (user + system, ``getrusage``) over the workload only,
and prints one JSON line. ``--workload overhead`` (ours only) prints per-exchange wall times.

The CPU workload is the same traffic on the wire for both clients: 1,000 GenImg polls with no
finger, then 100 template round trips. pyfingerprint's round trip is downloadCharacteristics
(UpChar) + uploadCharacteristics, which itself sends ReadSysPara, DownChar and a verifying
UpChar; ours sends exactly those four exchanges too.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time

POLLS = 1000
ROUND_TRIPS = 100


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_ours(port: str, polls: int, trips: int) -> dict[str, float]:
    from doorward.drivers.r30x.sensor import R30xSensor

    with R30xSensor.from_url(port) as sensor:
        sensor.open()
        sensor.load_char(1, 0)
        start_cpu, start_wall = cpu_s(), time.perf_counter()
        for _ in range(polls):
            sensor.gen_img()
        for _ in range(trips):
            template = sensor.up_char(1)
            sensor.read_system_parameters()
            sensor.down_char(1, template)
            if sensor.up_char(1) != template:
                raise SystemExit("template changed in a round trip")
        return {"cpu_s": cpu_s() - start_cpu, "wall_s": time.perf_counter() - start_wall}


def run_pyfingerprint(port: str, polls: int, trips: int) -> dict[str, float]:
    from pyfingerprint.pyfingerprint import PyFingerprint

    sensor = PyFingerprint(port, 57600, 0xFFFFFFFF, 0x00000000)
    if not sensor.verifyPassword():
        raise SystemExit("pyfingerprint: password rejected")
    sensor.loadTemplate(0, 0x01)
    start_cpu, start_wall = cpu_s(), time.perf_counter()
    for _ in range(polls):
        sensor.readImage()
    for _ in range(trips):
        characteristics = sensor.downloadCharacteristics(0x01)
        if not sensor.uploadCharacteristics(0x01, characteristics):
            raise SystemExit("pyfingerprint: template changed in a round trip")
    return {"cpu_s": cpu_s() - start_cpu, "wall_s": time.perf_counter() - start_wall}


def timed(samples: dict[str, list[float]], name: str, call) -> None:  # noqa: ANN001
    start = time.perf_counter()
    call()
    samples[name].append(time.perf_counter() - start)


def run_overhead(port: str, count: int) -> dict[str, list[float]]:
    """Wall time of single exchanges, pacing on; the finger is on the sensor throughout."""
    from doorward.drivers.r30x.sensor import R30xSensor

    samples: dict[str, list[float]] = {"gen_img": [], "search": [], "up_char": [], "down_char": []}
    with R30xSensor.from_url(port) as sensor:
        sensor.open()
        sensor.gen_img()
        sensor.img2tz(1)
        sensor.load_char(2, 0)
        template = sensor.up_char(2)
        for _ in range(count):
            timed(samples, "gen_img", sensor.gen_img)
            timed(samples, "search", lambda: sensor.search(1))
            timed(samples, "up_char", lambda: sensor.up_char(2))
            # DownChar's data gets no ack: the following Match shows the module has it all.
            timed(samples, "down_char", lambda: (sensor.down_char(2, template), sensor.match()))
    return samples


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.driver_client")
    parser.add_argument("--impl", choices=("ours", "pyfingerprint"), default="ours")
    parser.add_argument("--port", required=True)
    parser.add_argument("--workload", choices=("cpu", "overhead"), default="cpu")
    parser.add_argument("--polls", type=int, default=POLLS)
    parser.add_argument("--trips", type=int, default=ROUND_TRIPS)
    parser.add_argument("--count", type=int, default=50)
    args = parser.parse_args(argv)
    if args.workload == "overhead":
        result: object = run_overhead(args.port, args.count)
    elif args.impl == "ours":
        result = run_ours(args.port, args.polls, args.trips)
    else:
        result = run_pyfingerprint(args.port, args.polls, args.trips)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Kiosk figures: one finger's enrolment against its floor, and the page's update latency.

- ``enrol.floor_ratio_r503``: ``FingerEnrolment`` of one finger on the paced simulated R503
  (``SimulatedR30x("r503", realtime=True)`` on a ``MemoryLink``, 57,600 bps, 128-byte
  packets), wall time over the floor of the exact command sequence sent: the wire time of
  every byte exchanged plus the profile's processing time of every command (GenImg or
  GetImageEx answering "no finger": ``no_finger_s``). The person is scripted: the finger is
  placed or lifted by a control message when the page would ask; the time spent inside
  those control calls (timestamped on each side) is the person's, so it is left out.
- ``kiosk.update_p95_ms``: 250 progress events published by the kiosk (each stamped with the
  wall clock when made) to a page open in headless Chromium; the page records, in the
  animation frame after it has written the instruction, how long ago the event was stamped.
  95th percentile.
"""

from __future__ import annotations

import statistics
import threading
import time

from bench.bench_reconcile import CountingTransport
from doorward.sim.rig.processes import free_port
from doorward.drivers.r30x.protocol import Command, Confirmation, Deframer, PacketType
from doorward.drivers.r30x.sensor import R30xSensor
from doorward.enrol.plan import plan_for
from doorward.enrol.progress import Progress
from doorward.enrol.workflow import EnrolSettings, FingerEnrolment
from doorward.sim.module.link import MemoryLink
from doorward.sim.module.profiles import get_profile, wire_time_s
from doorward.sim.module.r30x import SimulatedR30x

RUNS = 5
EVENTS = 250
# Debian's Chromium, never a downloaded one (`playwright install` fails on these machines).
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
CAPTURES = (Command.GEN_IMG, Command.GET_IMAGE_EX)


class ReplyCounting(CountingTransport):
    """Also notes each acknowledgement's confirmation code, in order."""

    def __init__(self, inner) -> None:  # noqa: ANN001
        super().__init__(inner)
        self.codes: list[int] = []
        self._replies = Deframer()

    def read(self, max_bytes: int, timeout_s: float) -> bytes:
        data = super().read(max_bytes, timeout_s)
        self._replies.feed(data)
        while (packet := self._replies.next_packet()) is not None:
            if packet.kind == PacketType.ACK:
                self.codes.append(packet.code)
        return data


def floor_s(wire: ReplyCounting, baud: int = 57_600) -> float:
    profile = get_profile("r503")
    processing = sum(profile.no_finger_s if c in CAPTURES and code == Confirmation.NO_FINGER
                     else profile.processing_s[Command(c)]
                     for c, code in zip(wire.commands, wire.codes, strict=True))  # fmt: skip
    return wire_time_s(wire.bytes_sent + wire.bytes_received, baud) + processing


def enrol_once(seed: int) -> tuple[float, float]:
    module = SimulatedR30x("r503", seed=seed, realtime=True)
    with MemoryLink(module) as link:
        wire = ReplyCounting(link.host)
        sensor = R30xSensor(wire)
        sensor.open()
        identity = sensor.module_identity()
        person_s = [0.0]

        def person(progress: Progress) -> None:
            request = {"place": "bench/right-index"} if progress.key in ("place", "confirm") else (
                {"lift": True} if progress.key in ("lift", "lift_again") else None)
            if request is not None:
                sent = time.perf_counter()
                module.control(request)
                person_s[0] += time.perf_counter() - sent

        job = FingerEnrolment("right-index", plan_for(identity), identity, lambda page: None, person,
                              threading.Event(), settings=EnrolSettings())  # fmt: skip
        wire.reset()
        wire.codes.clear()
        started = time.perf_counter()
        job.run(sensor)
        wall = time.perf_counter() - started - person_s[0]
        return wall, floor_s(wire)


def enrolment_figures() -> dict[str, float]:
    samples = [enrol_once(seed) for seed in range(1, RUNS + 1)]
    wall = statistics.median(s[0] for s in samples)
    floor = statistics.median(s[1] for s in samples)
    ratio = statistics.median(s[0] / s[1] for s in samples)
    print(f"one R503 finger: wall {wall:.3f} s, floor {floor:.3f} s, ratio {ratio:.3f}")
    return {"enrol.floor_ratio_r503": round(ratio, 3), "enrol.wall_s_r503": round(wall, 3),
            "enrol.floor_s_r503": round(floor, 3)}


def update_figures() -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    from doorward.enrol.kiosk.app import KioskSettings, create_app
    from doorward.server.api.embedded import serve_in_thread
    port = free_port()
    app = create_app(None, KioskSettings(port, "http://127.0.0.1:9", "k_bench"))  # type: ignore[arg-type]
    with serve_in_thread(app, port=port) as (url, _), sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(f"{url}/")
        page.wait_for_selector("body[data-live=yes]")
        (session,) = app.state.book._sessions.values()  # noqa: SLF001 - the one open page
        for step in range(EVENTS):
            session.report(Progress("place", {}, step % 5 + 1, 5, "right-index"))
            time.sleep(0.01)
        # Polled from Python: wait_for_function evaluates a string, which the page's CSP (no
        # unsafe-eval) rightly forbids; evaluate() goes through the debugging protocol.
        deadline = time.monotonic() + 10.0
        while page.evaluate("window.kioskLatenciesMs.length") < EVENTS:
            if time.monotonic() > deadline:
                raise RuntimeError("the page did not show every progress event within 10 s")
            time.sleep(0.05)
        latencies = sorted(page.evaluate("window.kioskLatenciesMs"))
        browser.close()
    p95 = latencies[int(0.95 * (len(latencies) - 1))]
    print(f"page updates: {len(latencies)} events, p50 {statistics.median(latencies):.1f} ms, "
          f"p95 {p95:.1f} ms")
    return {"kiosk.update_p95_ms": round(p95, 1), "kiosk.update_p50_ms": round(statistics.median(latencies), 1)}


def run() -> dict[str, float]:
    return {**enrolment_figures(), **update_figures()}


if __name__ == "__main__":
    print(run())

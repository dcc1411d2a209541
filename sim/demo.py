"""`make demo`: a walk-through on simulated hardware, printed step by step.

A simulated R503 serves a real pty with realistic timing (bytes paced at 57 600 bps, module
processing modelled); doorward's driver opens the pty like a UART, enrols a finger, finds it
again with a 1:1 confirmation, and turns away a finger it does not know.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from drivers.r30x.results import Features, Image
from drivers.r30x.sensor import R30xSensor
from sim.link import PtyBridge
from sim.r30x import SimulatedR30x


class Narrator:
    def __init__(self) -> None:
        self.start = time.monotonic()

    def step(self, text: str, call=None):  # noqa: ANN001, ANN201
        begin = time.monotonic()
        result = call() if call else None
        took_ms = 1000 * (time.monotonic() - begin)
        shown = "" if result is None else f" -> {_show(result)}"
        print(f"[{time.monotonic() - self.start:6.2f} s] {text}{shown}  ({took_ms:.0f} ms)")
        return result


def _show(value: object) -> str:
    return value.name if isinstance(value, (Image, Features)) else str(value)


def capture(narrator: Narrator, sensor: R30xSensor, buffer_id: int) -> None:
    while narrator.step("GenImg: capture an image", sensor.gen_img) is not Image.TAKEN:
        time.sleep(0.05)
    if narrator.step(f"Img2Tz: features into buffer {buffer_id}",
                     lambda: sensor.img2tz(buffer_id)) is not Features.OK:
        raise SystemExit("poor image: the kiosk would ask for another scan")


def enrol(narrator: Narrator, module: SimulatedR30x, sensor: R30xSensor, page: int) -> None:
    print("\n== enrol alice/right-index ==")
    for buffer_id in (1, 2):
        module.place("alice/right-index")
        narrator.step(f"finger placed (scan {buffer_id} of 2)")
        capture(narrator, sensor, buffer_id)
        module.lift()
        narrator.step("finger lifted")
    if not narrator.step("RegModel: merge the two scans", sensor.reg_model):
        raise SystemExit("the two scans did not merge")
    narrator.step(f"Store: template into slot {page}", lambda: sensor.store(1, page))


def identify(narrator: Narrator, module: SimulatedR30x, sensor: R30xSensor, finger: str) -> None:
    print(f"\n== identify {finger} ==")
    module.place(finger)
    capture(narrator, sensor, 1)
    hit = narrator.step("Search: 1:N over the library", lambda: sensor.search(1))
    if hit.found:
        narrator.step(f"LoadChar: slot {hit.page} into buffer 2", lambda: sensor.load_char(2, hit.page))
        narrator.step("Match: 1:1 confirmation of the hit", sensor.match)
    module.lift()


def main() -> int:
    narrator = Narrator()
    with tempfile.TemporaryDirectory(prefix="doorward-demo-") as tmp:
        link = Path(tmp) / "fingerprint-module"
        module = SimulatedR30x("r503", seed=1, realtime=True)
        bridge = PtyBridge(module, link)
        try:
            print(f"simulated R503 on {link} -> {link.resolve()}")
            with R30xSensor.from_url(str(link)) as sensor:
                narrator.step("open: VfyPwd, ReadSysPara", sensor.open)
                narrator.step("module identity", sensor.module_identity)
                enrol(narrator, module, sensor, page=0)
                identify(narrator, module, sensor, "alice/right-index")
                identify(narrator, module, sensor, "mallory/right-index")
                narrator.step("templates in the library", sensor.template_count)
        finally:
            bridge.close()
    print("\nThe full door demo (server, door daemon, kiosk) arrives with the later issues.")
    return 0


if __name__ == "__main__":
    sys.exit(main())

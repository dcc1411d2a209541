"""Reconcile figures: loading and verifying templates against the floor, and full first loads.

- ``reconcile.floor_ratio_20``: wall time of a reconcile pass that loads and verifies 20 R503
  templates (index read, DownChar + Store, LoadChar + UpChar + SHA-256 per page, final index
  read) on the paced simulated module (``SimulatedR30x("r503", realtime=True)`` on a
  ``MemoryLink``), over its floor: the wire time of every byte exchanged at the module's baud
  plus the modelled processing time of every command sent (``sim/module/profiles.py``). Bytes and
  commands are counted on the wire by a transport wrapper, so the floor is exact.
- ``reconcile.full_load_<model>_<baud>_s``: the modelled time of a first load of a full
  library (R307: 1,000 templates of 512 B; R503: 200 of 1,536 B) at 57,600 and 115,200 bps
  with 128-byte data packets: the same exchanges, counted from the framing (protocol sheet
  8.1-8.2). Installers need these: a new door is biometric-ready only after its first load.
"""

from __future__ import annotations

import json
import time

from doorward.daemon.codec.bundle import template_sha256
from doorward.daemon.access.claim import SlotState
from doorward.daemon.library.reconcile import MemorySlotStore, Reconciler
from doorward.daemon.library.slotmap import Slot, SlotMap
from doorward.drivers.r30x.protocol import Command, Deframer, PacketType
from doorward.drivers.r30x.sensor import R30xSensor
from doorward.sim.module.link import MemoryLink
from doorward.sim.module.profiles import get_profile, wire_time_s
from doorward.sim.module.r30x import SimulatedR30x

TEMPLATES = 20
PACKET_SIZE = 128
BAUDS = (57_600, 115_200)
FULL_LIBRARY = {"r307": 1000, "r503": 200}
INDEX_READS_PER_PASS = 2  # the plan, and the re-check that finds nothing left to do


class CountingTransport:
    """Wraps the host end of a link: counts bytes both ways and the commands sent."""

    def __init__(self, inner) -> None:  # noqa: ANN001 - any Transport
        self.inner, self.name = inner, inner.name
        self.bytes_sent = self.bytes_received = 0
        self.commands: list[int] = []
        self._deframer = Deframer()

    def write(self, data: bytes) -> None:
        self.bytes_sent += len(data)
        self._deframer.feed(data)
        while (packet := self._deframer.next_packet()) is not None:
            if packet.kind == PacketType.COMMAND:
                self.commands.append(packet.code)
        self.inner.write(data)

    def read(self, max_bytes: int, timeout_s: float) -> bytes:
        data = self.inner.read(max_bytes, timeout_s)
        self.bytes_received += len(data)
        return data

    def close(self) -> None:
        self.inner.close()

    def reopen(self) -> None:
        self.inner.reopen()

    def reset(self) -> None:
        self.bytes_sent = self.bytes_received = 0
        self.commands.clear()


def make_templates(model: str, count: int) -> list[bytes]:
    """Enrol ``count`` virtual fingers on an unpaced module of the same firmware."""
    module = SimulatedR30x(model, seed=5)
    with MemoryLink(module) as link:
        sensor = R30xSensor(link.host)
        sensor.open()
        templates = []
        for n in range(count):
            module.place(f"bench-{n}/right-index")
            for buffer_id in (1, 2):
                sensor.gen_img()
                sensor.img2tz(buffer_id)
            if not sensor.reg_model():
                raise RuntimeError("the simulator refused to merge two captures of one finger")
            templates.append(sensor.up_char(1))
    return templates


def measured_pass(templates: list[bytes]) -> tuple[float, float]:
    """(wall seconds, floor seconds) of one reconcile pass loading ``templates``."""
    module = SimulatedR30x("r503", seed=1, realtime=True)
    with MemoryLink(module) as link:
        wire = CountingTransport(link.host)
        sensor = R30xSensor(wire)
        sensor.open()
        by_id = {f"f-{n}": template for n, template in enumerate(templates)}
        slots = [Slot(n, f"f-{n}", template_sha256(t), SlotState.PENDING_LOAD)
                 for n, t in enumerate(templates)]  # fmt: skip
        store = MemorySlotStore(SlotMap.of(slots))
        reconciler = Reconciler(sensor, store, by_id.__getitem__, _refuse_alarm)
        wire.reset()
        started = time.perf_counter()
        reconciler.start(1)
        while reconciler.step():
            pass
        wall_s = time.perf_counter() - started
        if store.reconciled_version != 1:
            raise RuntimeError("the benchmark pass did not reconcile")
        return wall_s, floor_s(wire, module.baud)


def _refuse_alarm(kind: str, detail: str) -> None:
    raise RuntimeError(f"alarm during the benchmark: {kind}: {detail}")


def floor_s(wire: CountingTransport, baud: int) -> float:
    processing = get_profile("r503").processing_s
    exchanged = wire.bytes_sent + wire.bytes_received
    return wire_time_s(exchanged, baud) + sum(processing[Command(c)] for c in wire.commands)


def modelled_full_load_s(model: str, baud: int, templates: int | None = None) -> float:
    """Wire time plus modelled processing of a first load, counted from the framing."""
    profile = get_profile(model)
    count = FULL_LIBRARY[model] if templates is None else templates
    data = -(-profile.template_size // PACKET_SIZE) * (11 + PACKET_SIZE)
    per_template_bytes = (13 + 12 + data) + (15 + 12) + (15 + 12) + (13 + 12 + data)
    steps = (Command.DOWN_CHAR, Command.STORE, Command.LOAD_CHAR, Command.UP_CHAR)
    processing_s = sum(profile.processing_s[command] for command in steps)
    per_template_s = wire_time_s(per_template_bytes, baud) + processing_s
    index_pages = INDEX_READS_PER_PASS * -(-profile.capacity // 256)
    index_read_s = wire_time_s(13 + 44, baud) + profile.processing_s[Command.READ_INDEX_TABLE]
    index_s = index_pages * index_read_s
    return count * per_template_s + index_s


def run() -> dict[str, float]:
    wall_s, floor = measured_pass(make_templates("r503", TEMPLATES))
    figures = {"reconcile.floor_ratio_20": round(wall_s / floor, 4),
               "reconcile.wall_s_20": round(wall_s, 3), "reconcile.floor_s_20": round(floor, 3)}
    print(f"{TEMPLATES} R503 templates: wall {wall_s:.3f} s, floor {floor:.3f} s, "
          f"modelled {modelled_full_load_s('r503', 57_600, TEMPLATES):.3f} s, "
          f"ratio {wall_s / floor:.4f}")
    print(f"\n{'modelled first full load':<26}{'57,600 bps':>12}{'115,200 bps':>13}")
    for model, count in FULL_LIBRARY.items():
        row = [modelled_full_load_s(model, baud) for baud in BAUDS]
        label = f"{model.upper()} ({count:,} templates)"
        print(f"{label:<26}{row[0]:>10.1f} s{row[1]:>11.1f} s")
        for baud, seconds in zip(BAUDS, row, strict=True):
            figures[f"reconcile.full_load_{model}_{baud}_s"] = round(seconds, 1)
    return figures


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))

"""Shared rig of the reader, library and binding tests (no tests of its own).

A simulated module on a ``MemoryLink`` with our client (``timeout_s`` 0.2), an in-memory slot
store, templates made by enrolling virtual fingers on a scratch module of the same profile
and firmware (so they match live captures on the module under test), and a snapshot whose
templates are sealed to a fresh door key.
"""

from __future__ import annotations

import queue
import time
from typing import Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from doorward.daemon.codec.alarms import Alarm
from doorward.daemon.codec.bundle import generate_door_keys, seal_template, template_sha256
from doorward.daemon.access.claim import SlotState
from doorward.daemon.library.slotmap import Slot, SlotMap
from doorward.daemon.codec.snapshot import Snapshot
from doorward.drivers.r30x.sensor import R30xSensor
from doorward.sim.module.link import MemoryLink
from doorward.sim.module.r30x import SimulatedR30x
from doorward.sim.module.templates import enrolled_template, sim_finger  # noqa: F401 (re-exported)
from doorward.sim.rig import access as ab

TIMEOUT_S = 0.2
DOOR_ID = "door-1"


def templates_of(model: str, *finger_ids: str) -> dict[str, bytes]:
    return {finger_id: enrolled_template(model, finger_id) for finger_id in finger_ids}


def slot(page: int, finger_id: str, template: bytes, state: SlotState = SlotState.ACTIVE) -> Slot:
    return Slot(page, finger_id, template_sha256(template), state)


def slot_map(model: str, pages: dict[int, tuple[str, SlotState]]) -> SlotMap:
    return SlotMap.of(slot(page, fid, enrolled_template(model, fid), state)
                      for page, (fid, state) in pages.items())  # fmt: skip


def sealed_snapshot(templates: dict[str, bytes], door_key: X25519PrivateKey,
                    module_identity: str, version: int = 7) -> Snapshot:  # fmt: skip
    users = []
    for finger_id, template in templates.items():
        finger = ab.finger(finger_id, module=module_identity)
        finger["template_sha256"] = template_sha256(template)
        finger["sealed_template"] = seal_template(
            template, door_key.public_key(), door_id=DOOR_ID, finger_id=finger_id
        )
        users.append(ab.user(f"u-{finger_id}", finger))
    return Snapshot.from_payload(ab.payload(*users, door=DOOR_ID, version=version))


class Rig:
    """A simulated module, the link and our client."""

    def __init__(self, model: str = "r503", *, seed: int = 7, firmware: str | None = None,
                 realtime: bool = False) -> None:  # fmt: skip
        self.model = model
        self.module = SimulatedR30x(model, seed=seed, firmware=firmware, realtime=realtime)
        self.link = MemoryLink(self.module)
        self.sensor = R30xSensor(self.link.host, timeout_s=TIMEOUT_S)
        self.door_key = generate_door_keys()

    def control(self, request: dict[str, Any]) -> None:
        reply = self.module.control(request)
        assert reply["ok"], reply

    def store_raw(self, page: int, template: bytes) -> None:
        """Put bytes straight into the module's flash (a module that was tampered with)."""
        self.module.flash.library[page] = template

    def occupied(self) -> set[int]:
        return set(self.module.flash.library)

    def close(self) -> None:
        self.sensor.close()
        self.link.close()


class Recorder:
    """Collects the reader's callbacks, one queue per kind, so tests wait without sleeping."""

    KINDS = ("claim", "lift", "status", "alarm")

    def __init__(self) -> None:
        self.queues: dict[str, queue.Queue[Any]] = {kind: queue.Queue() for kind in self.KINDS}
        self.alarms: list[tuple[str, str]] = []

    def on_claim(self, claim: Any) -> None:
        self.queues["claim"].put(claim)

    def on_lift(self) -> None:
        self.queues["lift"].put(None)

    def on_status(self, status: Any) -> None:
        self.queues["status"].put(status)

    def on_alarm(self, alarm: Alarm) -> None:
        self.alarms.append((alarm.kind.value, alarm.detail))
        self.queues["alarm"].put((alarm.kind.value, alarm.detail))

    def callbacks(self) -> dict[str, Any]:
        return {"on_claim": self.on_claim, "on_lift": self.on_lift,
                "on_status": self.on_status, "on_alarm": self.on_alarm}  # fmt: skip

    def next(self, kind: str, timeout_s: float = 3.0, where=lambda value: True) -> Any:
        """The next event of ``kind`` that satisfies ``where``; earlier ones are dropped."""
        deadline = time.monotonic() + timeout_s
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                value = self.queues[kind].get(timeout=remaining)
            except queue.Empty:
                break
            if where(value):
                return value
        raise AssertionError(f"no {kind} event within {timeout_s} s")

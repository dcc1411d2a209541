"""Virtual fingers and their templates: what a test or the demo enrols at the server so that a
later live capture on a simulated module of the same profile matches it.

Owns ``sim_finger`` (a finger id to the simulator's virtual finger: ``"f-alice"`` ->
``"alice/right-index"``) and ``enrolled_template`` (enrol that finger on a scratch module of
the model and firmware and upload its template; cached, as enrolment is deterministic).
"""

from __future__ import annotations

import functools

from doorward.drivers.r30x.results import Features, Image
from doorward.drivers.r30x.sensor import R30xSensor
from doorward.sim.module.link import MemoryLink
from doorward.sim.module.r30x import SimulatedR30x

SCRATCH_TIMEOUT_S = 0.2


def sim_finger(finger_id: str) -> str:
    """The virtual finger behind a finger id: "f-alice" -> "alice/right-index"."""
    return f"{finger_id.removeprefix('f-')}/right-index"


@functools.lru_cache(maxsize=None)
def enrolled_template(model: str, finger_id: str, firmware: str | None = None) -> bytes:
    """Enrol a virtual finger on a scratch module and upload its template."""
    module = SimulatedR30x(model, firmware=firmware, seed=11)
    with MemoryLink(module) as link:
        sensor = R30xSensor(link.host, timeout_s=SCRATCH_TIMEOUT_S)
        sensor.open()
        module.place(sim_finger(finger_id))
        for buffer_id in (1, 2):
            if sensor.gen_img() is not Image.TAKEN or sensor.img2tz(buffer_id) is not Features.OK:
                raise RuntimeError(f"the scratch module did not take {finger_id}")
        if not sensor.reg_model():
            raise RuntimeError(f"the scratch module could not merge {finger_id}")
        return sensor.up_char(1)

"""``make soak``: 10,000 scans of unenrolled fingers over a line flipping one bit in a thousand
(promise 8) yield no grant. The production access path in-process: the reader's
``scan_once`` (capture, search, the slot map, the 1:1 confirmation) against the simulated
R503 on a faulty ``MemoryLink``, then ``decide()`` on each claim with a fresh state (no
lockout to hide a grant). Line errors are retried until 10,000 scans reached a decision.
The module answers at once (no pacing), so the client's deadlines are cut to 50 ms: a
reply lost to the noise costs 50 ms, not the 1.5 s a real Search may take."""

from __future__ import annotations

from collections import Counter

import pytest

from doorward.daemon.access.decision import decide
from doorward.daemon.access.state import DecisionState
from doorward.daemon.reader.scan import scan_once
from doorward.drivers.r30x import sensor as sensor_module
from doorward.drivers.r30x.errors import SensorError
from doorward.sim.rig import access as ab
from tests.unit.test_reader_rig import Rig, enrolled_template, sealed_snapshot, slot_map

ENROLLED = ("f-alice", "f-bob", "f-carol", "f-dave", "f-erin")
BIT_ERROR_RATE = 1e-3
FAST_TIMEOUT_S = 0.05
MAX_ATTEMPTS_PER_DECISION = 4  # a run that stops deciding fails instead of hanging


def scan_strangers(decisions: int) -> Counter:
    rig = Rig("r503", seed=3)
    rig.sensor.timeout_s = FAST_TIMEOUT_S
    try:
        rig.sensor.open()
        identity = rig.sensor.module_identity()
        templates = {finger_id: enrolled_template("r503", finger_id) for finger_id in ENROLLED}
        for page, finger_id in enumerate(ENROLLED):
            rig.store_raw(page, templates[finger_id])
        slots = slot_map("r503", {page: (finger_id, ab.SlotState.ACTIVE)
                                  for page, finger_id in enumerate(ENROLLED)})
        snapshot = sealed_snapshot(templates, rig.door_key, identity)
        # Replies only: a flipped command can, rarely, pass the 16-bit sum as another valid
        # command (SetAddr, SetPwd) and leave the module deaf for the rest of the run.
        rig.control({"fault": {"kind": "bitflip", "rate": BIT_ERROR_RATE,
                               "direction": "to_host"}})
        return _scan_loop(rig, slots, snapshot, identity, decisions)
    finally:
        rig.close()


def _scan_loop(rig: Rig, slots, snapshot, identity: str, decisions: int) -> Counter:  # noqa: ANN001
    outcomes: Counter = Counter()
    n = 0
    while outcomes["decided"] < decisions and n < MAX_ATTEMPTS_PER_DECISION * decisions:
        n += 1
        rig.control({"place": f"stranger-{n % 997}/right-index"})
        try:
            claim = scan_once(rig.sensor, slots, identity)
        except SensorError as error:
            outcomes[f"line error {type(error).__name__}"] += 1
            continue
        if claim is None:
            outcomes["no finger"] += 1
            continue
        decision, _ = decide(claim, snapshot, DecisionState.initial(), ab.ISSUED_AT + 60,
                             float(n), True)
        outcomes["granted" if decision.granted else decision.reason.value] += 1
        outcomes["decided"] += 1
    return outcomes


@pytest.mark.soak
def test_ten_thousand_noisy_scans_of_strangers_grant_nobody(monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(sensor_module, "SLOW_COMMAND_TIMEOUT_S", {})
    outcomes = scan_strangers(10_000)
    assert outcomes["granted"] == 0, outcomes
    assert outcomes["decided"] == 10_000

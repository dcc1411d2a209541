"""Promise 8 across processes: a module is bound only by pairing or an explicit recovery.

``doorward run``, ``doorward pair`` and ``doorward bind-module`` run as their own processes
against the module simulator (its own process, on a pty), the simulated Pi's hub and a server
on loopback. A factory-fresh module found at start is a tamper alarm and gets no password and
no template; ``doorward bind-module`` lets the running door bind it once; ``doorward pair``
with the port held leaves a one-shot request that the restarted door honours.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from doorward.daemon.storage.module_record import BIND_REQUEST, MODULE_RECORD
from doorward.drivers.r30x.sensor import R30xSensor
from doorward.server.clock import ManualClock
from tests.support.daemon import (
    SimulatedDoor, door_factory, module_identity, wait_until,  # noqa: F401 (fixture)
)
from tests.support.server import running_server

pytestmark = pytest.mark.serial_timing


@pytest.fixture
def site(tmp_path: Path):
    with running_server(tmp_path, clock=ManualClock(time.time() - 5)) as server:
        yield server


def scan(door: SimulatedDoor, finger_id: str) -> dict:
    before = len(door.status()["last_decisions"])
    door.place(finger_id)
    status = door.wait_status(lambda s: len(s["last_decisions"]) > before, 10, "a decision")
    door.lift()
    return status["last_decisions"][-1]


def journal(door: SimulatedDoor) -> str:
    result = door.doorward("events")
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_a_fresh_module_found_at_start_gets_nothing_until_bind_module(
        door_factory, site) -> None:  # noqa: F811
    door = door_factory()
    door.pair_in_process(site)
    door.enrol("f-alice")
    door.start_daemon()
    door.wait_ready(30)
    door.stop_daemon()
    # The Pi is off; someone swaps in a factory-fresh module of the same model and firmware.
    assert door.module({"factory_new": True})["ok"]
    door.start_daemon()
    held = door.wait_status(lambda s: s["reader"]["online"] and "unbound" in s["reader"]["detail"],
                            20, "the tamper hold")  # fmt: skip
    assert not held["reader"]["biometric_ready"]
    assert "doorward bind-module" in held["reader"]["detail"]
    wait_until(lambda: 'alarm="tamper"' in journal(door), 10, "the tamper alarm journalled")
    module = door.module({"state": True})
    assert module["library"]["occupied"] == [] and module["password_set"] is False
    assert not {"DOWN_CHAR", "STORE", "SET_PWD", "WRITE_NOTEPAD"} & set(module["commands_received"])
    # The operator says this is the door's new module, with the identity the alarm names.
    bound = door.doorward("bind-module", "--module-identity", module_identity())
    assert bound.returncode == 0 and "running door binds it" in bound.stdout, bound.stderr
    door.wait_ready(30)
    module = door.module({"state": True})
    assert module["password_set"] is True and len(module["library"]["occupied"]) == 1
    assert not (door.state_dir / BIND_REQUEST).exists()  # used up
    assert module_identity() in (door.state_dir / MODULE_RECORD).read_text()
    assert scan(door, "f-alice")["reason"] == "granted"
    assert "module_bound" in journal(door)


def test_pairing_while_the_port_is_held_leaves_a_one_shot_request_for_the_restart(
        door_factory, site) -> None:  # noqa: F811
    door = door_factory()
    code = door.pairing_code(site)
    holder = R30xSensor.from_url(str(door.link), timeout_s=1.0)  # the port's owner
    try:
        paired = door.doorward("pair", "--server", site.url, "--code", code,
                               "--fingerprint", site.keys.fingerprint,
                               "--module-identity", module_identity())  # fmt: skip
    finally:
        holder.close()
    assert paired.returncode == 0, paired.stdout + paired.stderr
    assert "bind request" in paired.stdout and (door.state_dir / BIND_REQUEST).exists()
    assert door.module({"state": True})["password_set"] is False  # nothing bound yet
    door.enrol("f-alice")
    door.start_daemon()
    door.wait_ready(30)
    assert not (door.state_dir / BIND_REQUEST).exists()
    assert door.module({"state": True})["password_set"] is True
    assert scan(door, "f-alice")["reason"] == "granted"
    door.stop_daemon()
    assert door.module({"factory_new": True})["ok"]  # a later swap: the request is gone
    door.start_daemon()
    door.wait_status(lambda s: s["reader"]["online"] and "unbound" in s["reader"]["detail"],
                     20, "the tamper hold")  # fmt: skip
    assert door.module({"state": True})["library"]["occupied"] == []

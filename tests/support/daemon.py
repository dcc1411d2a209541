"""The harness's simulated door for the daemon tests (``doorward.sim.rig.door``), as a fixture.

- ``door_factory``: ``door = door_factory(mode="strict")`` gives ``lab_door``: a hub (the relay
  held safe from boot with ``gpio=17=op,dl``, the module's supply on with ``gpio=16=op,dh``,
  every input at its quiet level), a simulated R503 on a pty wired to the hub (touch line 5,
  power 16) and a config; everything is stopped at teardown.
- The door pairs with a running test server in this process (``pair_in_process(server)``),
  enrols and grants virtual fingers (``enrol(finger_id)``), and runs ``doorward run``
  (``start_daemon``), read through its status file.

Timed assertions use the hub's own timeline timestamps and the status file's
``updated_mono`` (CLOCK_MONOTONIC is system-wide), never test sleeps.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

import pytest

from doorward.sim.rig.door import (  # noqa: F401 (re-exported for the tests)
    CONTACT, EXIT, FIRE, POWER, RELAY, TOUCH, UNLOCK_S, SimulatedDoor, lab_door, module_identity,
    start_module,
)
from doorward.sim.rig.processes import ProcessGroup, wait_until  # noqa: F401 (re-exported)

LED, BUZZER = 12, 13


@pytest.fixture
def door_factory() -> Iterator[Callable[..., SimulatedDoor]]:
    processes = ProcessGroup()

    def factory(**kwargs: Any) -> SimulatedDoor:
        return lab_door(processes, **kwargs)

    yield factory
    processes.close()

"""The driver against a real R30x module. Skipped unless DOORWARD_TEST_SERIAL names it.

    DOORWARD_TEST_SERIAL=/dev/serial0 [DOORWARD_TEST_PASSWORD=0x...] [DOORWARD_TEST_FINGER=1] \\
        .venv/bin/python -m pytest tests/hardware -v

Non-destructive: it reads parameters and the library, and uses only notepad page 15 and the
char buffers. With DOORWARD_TEST_FINGER=1 it asks for a finger on the glass. The same checks
run against the simulator in tests/integration/test_driver_sim.py on every `make test`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest

from doorward.drivers.r30x.errors import Timeout
from doorward.drivers.r30x.results import Features, Image
from doorward.drivers.r30x.sensor import R30xSensor

PORT = os.environ.get("DOORWARD_TEST_SERIAL")
pytestmark = pytest.mark.skipif(not PORT, reason="set DOORWARD_TEST_SERIAL to a real module")


@pytest.fixture
def sensor() -> Iterator[R30xSensor]:
    password = int(os.environ.get("DOORWARD_TEST_PASSWORD", "0"), 0)
    with R30xSensor.from_url(PORT or "", password=password) as sensor:
        sensor.open()
        yield sensor


def test_parameters_and_identity_are_stable(sensor: R30xSensor) -> None:
    assert sensor.params is not None and sensor.params.capacity > 0
    assert sensor.module_identity() == sensor.module_identity()


def test_library_views_agree(sensor: R30xSensor) -> None:
    assert len(sensor.occupied_slots()) == sensor.template_count()


def test_notepad_round_trip(sensor: R30xSensor) -> None:
    original = sensor.read_notepad(15)
    try:
        sensor.write_notepad(15, b"doorward hardware test")
        assert sensor.read_notepad(15).rstrip(b"\x00") == b"doorward hardware test"
    finally:
        sensor.write_notepad(15, original)


def test_no_finger_poll_is_fast_and_typed(sensor: R30xSensor) -> None:
    start = time.monotonic()
    result = sensor.gen_img()
    assert result in (Image.NO_FINGER, Image.TAKEN, Image.POOR)
    assert time.monotonic() - start < 1.5


@pytest.mark.skipif(not os.environ.get("DOORWARD_TEST_FINGER"), reason="needs a person")
def test_a_finger_gives_features(sensor: R30xSensor) -> None:
    print("\nplace a finger on the sensor")
    deadline = time.monotonic() + 15
    while sensor.gen_img() is not Image.TAKEN:
        if time.monotonic() > deadline:
            raise Timeout("no finger within 15 s")
    assert isinstance(sensor.img2tz(1), Features)

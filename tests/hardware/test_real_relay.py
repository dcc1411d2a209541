"""The relay on a real Pi. Skipped unless DOORWARD_TEST_RELAY_PIN names the BCM pin.

    DOORWARD_TEST_RELAY_PIN=17 .venv/bin/python -m pytest tests/hardware/test_real_relay.py -v

Needs the `pi` extra (rpi-lgpio). It pulses the relay once for 0.2 s: only run it with the
lock's power disconnected or a technician at the door. The simulated-Pi tests
(tests/integration/test_hub_process.py) check the same behaviour on every `make test`.
"""

from __future__ import annotations

import os
import time

import pytest

PIN = os.environ.get("DOORWARD_TEST_RELAY_PIN")
pytestmark = pytest.mark.skipif(not PIN, reason="set DOORWARD_TEST_RELAY_PIN on a real Pi")


def test_relay_starts_safe_pulses_and_returns_safe() -> None:
    from doorward.drivers.gpio.rpi import RpiGpio  # imports RPi.GPIO (rpi-lgpio) lazily

    pin = int(PIN or "0")
    gpio = RpiGpio()
    try:
        gpio.setup_output(pin, 0)
        assert gpio.read(pin) == 0
        gpio.write(pin, 1)
        time.sleep(0.2)
        assert gpio.read(pin) == 1
        gpio.write(pin, 0)
        assert gpio.read(pin) == 0
    finally:
        gpio.write(pin, 0)
        gpio.close()

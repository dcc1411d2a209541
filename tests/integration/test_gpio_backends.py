"""The GPIO edge without a hub: the rpi backend over a fake RPi.GPIO module (tests never
import the real one), DoorHardware over a recording fake, and the factory."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest

from doorward.daemon.config.loader import load_config
from doorward.drivers.gpio import DoorHardware, DoorInput, GpioError, open_gpio
from doorward.drivers.gpio import rpi as rpi_backend
from doorward.drivers.gpio.rpi import RpiGpio

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "docs" / "doorward.example.toml"


class FakeRpiGpio(SimpleNamespace):
    """Records RPi.GPIO calls as (name, args, kwargs)."""

    BCM, OUT, IN, HIGH, LOW, BOTH = "BCM", "OUT", "IN", 1, 0, "BOTH"
    PUD_UP, PUD_DOWN, PUD_OFF = "PUD_UP", "PUD_DOWN", "PUD_OFF"

    def __init__(self) -> None:
        super().__init__(calls=[], levels={})
        for name in ("setwarnings", "setmode", "setup", "output", "add_event_detect",
                     "remove_event_detect", "cleanup"):
            setattr(self, name, self._recorder(name))

    def _recorder(self, name: str):
        def record(*args, **kwargs):
            self.calls.append((name, args, kwargs))
        record.__name__ = name
        return record

    def input(self, pin: int) -> int:
        return self.levels.get(pin, 0)


def test_importing_the_gpio_edge_never_imports_rpi_gpio():
    code = ("import sys, doorward.drivers.gpio, doorward.drivers.gpio.rpi, doorward.drivers.gpio.sim, doorward.daemon.commands.hardware;"
            "bad = [m for m in sys.modules if m == 'RPi' or m.startswith('RPi.')];"
            "print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_rpi_backend_makes_an_output_at_its_initial_level_in_one_call():
    fake = FakeRpiGpio()
    gpio = RpiGpio(fake)
    gpio.setup_output(17, 0)
    gpio.setup_input(22, "up")
    assert fake.calls == [
        ("setwarnings", (False,), {}),
        ("setmode", ("BCM",), {}),
        ("setup", (17, "OUT"), {"initial": 0}),
        ("setup", (22, "IN"), {"pull_up_down": "PUD_UP"}),
    ]


def test_rpi_backend_edge_detection_has_no_bouncetime_and_close_does_not_cleanup():
    fake = FakeRpiGpio()
    gpio = RpiGpio(fake)
    gpio.setup_input(22, "up")
    heard = []
    gpio.add_edge_callback(22, heard.append)
    name, args, kwargs = fake.calls[-1]
    assert (name, args, sorted(kwargs)) == ("add_event_detect", (22, "BOTH"), ["callback"])
    kwargs["callback"](22)
    assert heard == [22]
    gpio.close()
    assert [call[0] for call in fake.calls[-1:]] == ["remove_event_detect"]
    gpio.cleanup()
    assert fake.calls[-1] == ("cleanup", ([22],), {})


def test_rpi_backend_without_rpi_gpio_says_what_to_install(monkeypatch):
    def missing(name):
        raise ImportError(f"No module named {name!r}")

    monkeypatch.setattr(rpi_backend.importlib, "import_module", missing)
    with pytest.raises(GpioError, match="rpi-lgpio"):
        RpiGpio()


class RecordingGpio:
    def __init__(self, levels: dict[int, int] | None = None) -> None:
        self.calls: list[tuple] = []
        self.levels = dict(levels or {})
        self.callbacks: dict[int, object] = {}

    def setup_output(self, pin, initial_level):
        self.calls.append(("out", pin, initial_level))
        self.levels[pin] = initial_level

    def setup_input(self, pin, pull):
        self.calls.append(("in", pin, pull))

    def write(self, pin, level):
        self.calls.append(("write", pin, level))
        self.levels[pin] = level

    def read(self, pin):
        return self.levels.get(pin, 0)

    def add_edge_callback(self, pin, callback):
        self.callbacks[pin] = callback

    def cleanup(self):
        self.calls.append(("cleanup",))

    def close(self):
        self.calls.append(("close",))


@pytest.fixture
def hardware():
    return load_config(EXAMPLE).hardware


def test_door_setup_configures_the_relay_first_at_its_safe_level(hardware):
    gpio = RecordingGpio()
    DoorHardware(gpio, hardware.door_pins()).setup()
    assert gpio.calls[0] == ("out", 17, 0)
    assert ("out", 16, 1) in gpio.calls  # module power on
    assert ("out", 12, 0) in gpio.calls and ("out", 13, 0) in gpio.calls  # LED, buzzer off
    assert ("in", 25, "up") in gpio.calls


def test_door_applies_each_pins_polarity(hardware):
    gpio = RecordingGpio({27: 1, 22: 0, 23: 1, 24: 1, 25: 0, 5: 0})
    door = DoorHardware(gpio, hardware.door_pins())
    assert (door.contact_open(), door.exit_pressed(), door.fire_alarm(), door.lockdown_key(),
            door.tamper(), door.finger_touching()) == (True, True, True, False, False, True)
    door.set_relay(True)
    door.set_led(True)
    assert gpio.calls[-2:] == [("write", 17, 1), ("write", 12, 1)]
    assert door.relay_energised()


def test_door_close_de_energises_the_relay_and_never_cleans_up(hardware):
    gpio = RecordingGpio()
    door = DoorHardware(gpio, hardware.door_pins())
    door.set_relay(True)
    door.close()
    assert gpio.calls[-2:] == [("write", 17, 0), ("close",)]


def test_door_edge_callbacks_name_the_input(hardware):
    gpio = RecordingGpio()
    door = DoorHardware(gpio, hardware.door_pins())
    heard = []
    door.on_input_change(heard.append)
    gpio.callbacks[23](23)
    assert heard == [DoorInput.FIRE_ALARM]
    assert set(door.fitted_inputs()) == set(DoorInput)


def test_open_gpio_with_rpi_backend_uses_the_rpi_backend(hardware, monkeypatch):
    fake = FakeRpiGpio()
    monkeypatch.setattr(rpi_backend, "import_rpi_gpio", lambda: fake)
    assert isinstance(open_gpio(replace(hardware, gpio_backend="rpi").backend()), RpiGpio)

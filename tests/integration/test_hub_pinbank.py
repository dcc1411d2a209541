"""The simulated Pi's pin model (sim/pi/pinbank.py) in-process: boot defaults, firmware lines,
release rules, external drives. The hub process itself is tested in test_hub_process.py."""

from __future__ import annotations

import itertools

import pytest

from doorward.sim.pi.pinbank import FirmwareLine, PinBank, PinError, parse_firmware_line


def make_bank(mode: str = "strict", *lines: str) -> PinBank:
    ticks = itertools.count(1)
    return PinBank(mode, tuple(parse_firmware_line(line) for line in lines),
                   clock=lambda: float(next(ticks)))


def test_power_on_defaults_are_inputs_pulled_up_0_to_8_and_down_9_to_27():
    bank = make_bank()
    assert [bank.read(pin) for pin in range(28)] == [1] * 9 + [0] * 19
    assert {state.direction for state in bank.pins.values()} == {"in"}


@pytest.mark.parametrize("text, expected", [
    ("gpio=17=op,dl", FirmwareLine((17,), "out", 0, None)),
    ("gpio=4=op,dh", FirmwareLine((4,), "out", 1, None)),
    ("gpio=2-4,7=ip,pd", FirmwareLine((2, 3, 4, 7), "in", None, "down")),
    ("gpio=20=pu", FirmwareLine((20,), "in", None, "up")),
])
def test_firmware_lines_parse_as_config_txt_writes_them(text, expected):
    assert parse_firmware_line(text) == expected


@pytest.mark.parametrize("text", ["gpio=17", "gpio=28=op,dl", "gpio=x=op", "gpio=17=op,dl,dh",
                                  "gpio=17=a3"])
def test_bad_firmware_lines_are_refused(text):
    with pytest.raises(PinError):
        parse_firmware_line(text)


def test_firmware_lines_apply_after_the_power_on_defaults_as_a_second_step():
    # An active-high relay on a pulled-up pin: the boot glitch is visible in the timeline.
    bank = make_bank("strict", "gpio=4=op,dl", "gpio=17=op,dl")
    assert bank.timelines[4] == [(1.0, 1), (2.0, 0)]
    assert bank.timelines[17] == [(1.0, 0)]
    assert (bank.pins[17].direction, bank.read(17)) == ("out", 0)


def test_strict_release_returns_an_output_to_an_input_with_its_boot_pull():
    bank = make_bank("strict")
    bank.setup_output("daemon", 17, 1)
    bank.release("daemon")
    assert (bank.pins[17].direction, bank.read(17)) == ("in", 0)
    assert [level for _, level in bank.timelines[17]] == [0, 1, 0]


def test_persist_release_keeps_the_last_level_and_drops_ownership():
    bank = make_bank("persist")
    bank.setup_output("daemon", 17, 1)
    bank.release("daemon")
    assert (bank.pins[17].direction, bank.read(17), bank.pins[17].owner) == ("out", 1, None)


def test_release_touches_only_the_lines_the_connection_still_owns():
    bank = make_bank("strict")
    bank.setup_output("old", 17, 1)
    bank.setup_output("new", 17, 0)  # a new claimant (relay-safe) takes the line over
    bank.release("old")
    assert (bank.pins[17].direction, bank.pins[17].owner) == ("out", "new")


def test_only_the_owner_may_write_an_output():
    bank = make_bank()
    bank.setup_output("daemon", 17, 0)
    with pytest.raises(PinError):
        bank.write("intruder", 17, 1)
    with pytest.raises(PinError):
        bank.write("daemon", 18, 1)  # not an output


def test_a_driven_input_reads_the_drive_and_falls_back_to_its_pull():
    bank = make_bank()
    bank.setup_input("daemon", 22, "up")
    bank.drive(22, 0)
    assert bank.read(22) == 0
    bank.undrive(22)
    assert bank.read(22) == 1
    bank.setup_input("daemon", 22, "off")
    assert bank.read(22) == 0


def test_listeners_hear_every_level_change_once():
    bank = make_bank()
    heard: list[tuple[int, int]] = []
    bank.listeners.append(lambda pin, level, t: heard.append((pin, level)))
    bank.setup_input("daemon", 22, "up")
    bank.drive(22, 1)  # already high: no change
    bank.drive(22, 0)
    assert heard == [(22, 1), (22, 0)]


@pytest.mark.parametrize("pin", [-1, 28, True, "17"])
def test_bad_pins_are_refused(pin):
    with pytest.raises(PinError):
        make_bank().drive(pin, 1)

"""The fingerprint module's supply for the commands that talk to the module without the
daemon: ``doorward pair``, ``doorward identity`` and ``doorward doctor``.

When ``[hardware.module_power]`` is wired, the module is powered only while some process
drives that pin: the firmware line (``gpio=16=op,dh``, install.sh) at boot, then the daemon.
Under ``dtparam=strict_gpiod`` a stopped daemon's lines fall back to their pulls, so the
module is off after ``systemctl stop doorward``. These commands switch it on themselves for
as long as they run (``module_supply``) and say when they had to. Without the section (a
kiosk, a module on a fixed supply) there is nothing to switch. The GPIO library is imported
only when there is a pin to drive.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from doorward.daemon.config.loader import load_config
from doorward.daemon.errors import ConfigError, DoorwardError

POWER_UP_S = 0.5  # an R30x answers within about 200 ms of its supply coming up


@dataclass(frozen=True)
class Supply:
    """What ``module_supply`` did: the pin, and whether the module was off before."""

    pin: int | None  # None: [hardware.module_power] is not wired
    was_off: bool | None = None  # None: could not be read

    def describe(self) -> str:
        if self.pin is None:
            return "the module's supply is not switched ([hardware.module_power] not wired)"
        before = {True: "it was off (a stopped daemon's line falls back to its pull-down)",
                  False: "it was already on", None: "its level before could not be read"}
        return f"module_power (BCM {self.pin}) switched on: {before[self.was_off]}"


def hardware_of(config_path: Path) -> Any:
    """The ``[hardware]`` section, or None when the file has none (a kiosk) or it is wrong
    (``check-config`` reports that; a command that only needs the module goes on)."""
    try:
        return load_config(config_path, sections=("hardware",)).hardware
    except ConfigError:
        return None


def _open_gpio(hardware: Any) -> Any:
    from doorward.drivers.gpio import open_gpio

    return open_gpio(hardware.backend(), client="doorward-module-power")


@contextlib.contextmanager
def module_supply(hardware: Any, open_gpio: Callable[[Any], Any] = _open_gpio,
                  sleep: Callable[[float], None] = time.sleep) -> Iterator[Supply]:
    """The module powered through ``hardware.module_power`` while the block runs; released
    at the end as the daemon's stop releases it. Raises DoorwardError when the pin cannot be
    driven: the module is then unpowered, and the caller says so."""
    power = getattr(hardware, "module_power", None)
    if power is None:
        yield Supply(None)
        return
    try:
        gpio = open_gpio(hardware)
    except (DoorwardError, OSError) as error:
        raise DoorwardError(f"cannot switch the module's supply on (module_power, BCM "
                            f"{power.pin}): {error}") from error
    try:
        try:
            was_off: bool | None = gpio.read(power.pin) != power.level(True)
        except (DoorwardError, OSError, RuntimeError):
            was_off = None  # RPi.GPIO reads only a line it set up
        try:
            gpio.setup_output(power.pin, power.level(True))
        except (DoorwardError, OSError, RuntimeError) as error:
            raise DoorwardError(f"cannot switch the module's supply on (module_power, BCM "
                                f"{power.pin}): {error}") from error
        if was_off is not False:
            sleep(POWER_UP_S)
        yield Supply(power.pin, was_off)
    finally:
        gpio.close()  # no cleanup(): the kernel's release rule, as after the daemon

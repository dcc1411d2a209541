"""The ``[clock]`` section: what the door may assume about its wall clock.

``rtc = true`` declares a fitted real-time clock, which counts as synchronised (it keeps time
across power loss). ``assume_synchronised = true`` makes the clock count as synchronised
whatever the kernel says: for labs and CI only, unsafe in production, since a stepped clock
then shifts every schedule. Both default to false; the section may be left out. Every key is
documented in ``docs/configuration.md``. Imports no IO library.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from doorward.daemon.config.loader import TableReader


@dataclass(frozen=True)
class ClockConfig:
    rtc: bool = False
    assume_synchronised: bool = False


def read_clock(table: TableReader) -> ClockConfig:
    return ClockConfig(
        rtc=table.value("rtc", bool, False),
        assume_synchronised=table.value("assume_synchronised", bool, False),
    )

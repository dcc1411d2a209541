"""What IO threads put on the controller's queue, and what the controller reports back.

Owns the event types ``Controller.post`` accepts and ``ControllerStatus``:

- ``ModuleClaim``: the reader's checked claim for one scan (``doorward.daemon.access.claim.Claim``), and when
  the finger lifted if the reader already knows (``lifted_at_mono``, ``time.monotonic()``);
- ``FingerLifted``: the finger left the glass after the last claim (lockout strikes count
  on the lift, so one finger left on the glass cannot lock the door by itself);
- ``InputEdge``: an undebounced edge of a door input, from ``DoorHardware.on_input_change``;
- ``SnapshotApplied``: sync applied a newer permission snapshot;
- ``SnapshotConfirmed``: the server's signed statement, answering this poll's nonce, that
  the snapshot of ``version`` is still current as of no earlier than ``at_mono``;
- ``ClockTrustChanged``: the kernel's synchronised flag (or the clock) changed; the
  controller re-reads its ``ClockEdge`` and anchors the decision state's trusted reading.

Pure: standard library and the access and GPIO vocabulary types only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from doorward.daemon.access.claim import Claim
from doorward.daemon.codec.snapshot import Snapshot
from doorward.drivers.gpio.door import DoorInput


@dataclass(frozen=True)
class ModuleClaim:
    claim: Claim
    lifted_at_mono: float | None = None  # None: a FingerLifted follows when it lifts


@dataclass(frozen=True)
class FingerLifted:
    at_mono: float | None = None  # None: when the controller takes the event


@dataclass(frozen=True)
class InputEdge:
    door_input: DoorInput


@dataclass(frozen=True)
class SnapshotApplied:
    snapshot: Snapshot


@dataclass(frozen=True)
class SnapshotConfirmed:
    version: int
    at_mono: float


@dataclass(frozen=True)
class ClockTrustChanged:
    pass


@dataclass(frozen=True)
class ReaderAvailability:
    """The module went silent or answers again (from supervision): the controller owns the
    status LED and buzzer, so it shows this too, between and after the door's own patterns."""

    online: bool


ControllerEvent = Union[ModuleClaim, FingerLifted, InputEdge, SnapshotApplied,
                        SnapshotConfirmed, ClockTrustChanged, ReaderAvailability]


@dataclass(frozen=True)
class ControllerStatus:
    """A point-in-time view for ``doorward status`` and the watchdog."""

    running: bool
    door: str  # "locked", "unlocked" or "fire_release"
    relay_energised: bool  # as last driven by the controller
    contact_open: bool
    lockdown: bool
    forced: bool
    held: str  # "none", "prealarm" or "alarm"
    tamper: bool
    last_reason: str | None  # the last decision's reason code
    snapshot_version: int | None
    queue_depth: int
    faults: int  # event handlers that failed since start
    alive_at_mono: float | None  # the loop's last wake-up (the watchdog pings only if recent)

"""The reader's settings, what it reports, and the credential it checks the module against.

Owns ``ReaderSettings`` (every cadence, with the source it follows), ``ReaderStatus`` and
``ModuleCredential``. Plain frozen dataclasses; no IO.
"""

from __future__ import annotations

from dataclasses import dataclass

from doorward.daemon.reader.binding import BindingStatus

# Alarm kinds the reader raises itself (reconcile's own are in daemon/library/reconcile.py).
# Journal records the reader asks for (stable strings).
EVENT_MODULE_BOUND = "module_bound"  # {module_identity, by}: a module became this door's


@dataclass(frozen=True)
class ReaderSettings:
    # GenImg cadence without a touch line: drivers poll every 100-500 ms (protocol sheet 9.2;
    # esp-idf-r503 150 ms, Leopard-C 100 ms). 120 ms keeps the wait for a scan short while
    # leaving the UART free more than 90 % of the time for reconcile steps.
    poll_interval_s: float = 0.12
    # Touch edges wake the reader at once (Reader.touch_changed); this poll only catches an
    # edge that was missed, so it can be slow and keep the idle CPU down.
    touch_poll_s: float = 0.25
    lift_poll_s: float = 0.2  # FPM polls GenImg every 200 ms while waiting for removal
    health_interval_s: float = 0.5  # a ReadSysPara after this long without an exchange
    offline_retry_s: float = 0.25  # silent module: try again this often
    reopen_backoff_s: float = 0.1  # lost port: first wait before reopening, doubling
    reopen_backoff_max_s: float = 2.0
    module_check_interval_s: float = 60.0  # binding (password, notepad) and module identity
    # While held (tamper): how soon a module swapped back, or a bind request, is noticed.
    held_check_interval_s: float = 5.0
    verify_interval_s: float = 86_400.0  # read back every active page (altered slots)


@dataclass(frozen=True)
class ModuleCredential:
    """The door's module password and notepad token, from the credential file (read-only)."""

    password: int
    token: bytes

    def __repr__(self) -> str:
        return "ModuleCredential(...)"  # no secrets in logs


@dataclass(frozen=True)
class ReaderStatus:
    online: bool  # the module answers
    detail: str  # "ready", "reader offline: ...", "module binding: ...", "reconciling ..."
    biometric_ready: bool  # scans are answered (online, ours, not held after tamper)
    binding: BindingStatus | None = None
    module_identity: str | None = None
    reconciling: bool = False

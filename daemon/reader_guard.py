"""Is the connected module ours? The reader's binding and identity check, and the hold.

Owns ``ModuleGuard``: it reads the binding from the module (``daemon/binding.py``) and its
``module_identity()``, raises a tamper alarm once per distinct problem (a module not bound to
this door, or one whose identity changed), and holds biometric access from then on until the
reader reports a reconcile pass that made a bound module match the slot map.

Runs on the reader thread only; module errors propagate to it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from daemon.binding import BindingStatus, bind_module, check_binding
from daemon.reader_types import ALARM_TAMPER, ModuleCredential
from drivers.r30x.sensor import R30xSensor

log = logging.getLogger(__name__)


class ModuleGuard:
    def __init__(self, credential: ModuleCredential, on_alarm: Callable[[str, str], None],
                 expected_identity: str | None = None) -> None:  # fmt: skip
        self._credential, self._on_alarm = credential, on_alarm
        self._bind_pending = credential.bind_if_unbound
        self.binding: BindingStatus | None = None
        self.identity = expected_identity
        self.held = False  # biometric access waits (tamper seen, not yet reconciled since)
        self.tamper: str | None = None  # the current problem, alarmed once

    @property
    def bound(self) -> bool:
        return self.binding is BindingStatus.BOUND

    def check(self, sensor: R30xSensor) -> None:
        """Binding (binding it when pairing left that pending, at the first check only, so a
        fresh module swapped in later never learns our password), then identity."""
        password, token = self._credential.password, self._credential.token
        binding = check_binding(sensor, password, token)
        if binding is BindingStatus.UNBOUND and self._bind_pending:
            log.info("binding pending from pairing: binding the module now")
            binding = bind_module(sensor, password, token)
        self._bind_pending = False
        identity = None
        if binding is not BindingStatus.WRONG_PASSWORD:  # such a module answers only VfyPwd
            sensor.params = sensor.read_parameters()
            identity = sensor.module_identity()
        self._adopt(binding, identity)

    def release(self, reconciled: bool) -> None:
        """A reconcile pass finished; a bound module that now matches the map is usable."""
        if self.held and reconciled and self.bound and self.tamper is None:
            log.info("module bound and reconciled: biometric access resumes")
            self.held = False

    def _adopt(self, binding: BindingStatus, identity: str | None) -> None:
        problem = self._problem(binding, identity)
        self.binding = binding
        if binding is BindingStatus.BOUND:
            self.identity = identity  # a new identity is alarmed once, then reconciled to
        if problem is not None and problem != self.tamper:
            log.error("tamper: %s", problem)
            self._on_alarm(ALARM_TAMPER, problem)
        if problem is not None:
            self.held = True
        self.tamper = problem if binding is not BindingStatus.BOUND else None

    def _problem(self, binding: BindingStatus, identity: str | None) -> str | None:
        if binding is not BindingStatus.BOUND:
            return f"module binding: {binding.value}"
        if self.identity is not None and identity != self.identity:
            return f"module swapped: identity {self.identity!r} became {identity!r}"
        return None

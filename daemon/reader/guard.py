"""Is the connected module ours? The reader's binding and identity check, and the hold.

Owns ``ModuleGuard`` and the rule it follows, ``judge``. The guard reads the binding from the
module (``daemon/reader/binding.py``) and its ``module_identity()``, and compares them with what the
door expects (``daemon/storage/module_record.py``): the identity recorded when the module was bound.
Binding happens only with an explicit, one-shot permission: a bind request made by
``doorward pair`` or ``doorward bind-module`` for a module reporting the identity it names,
at a door and at a kiosk station alike. Everything else that is not
this door's module — factory-fresh, holding another token, refusing the password, or bound
but reporting another identity — is a tamper alarm, once per distinct problem, and holds
biometric access: the reader scans nothing and loads no template into it. The hold ends
when the module is ours again and a reconcile pass has made it match the slot map.

Runs on the reader thread only; module errors propagate to it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from doorward.daemon.reader.binding import BindingStatus, bind_module, check_binding
from doorward.daemon.storage.module_record import BindingStore, BindRequest, MemoryBindingStore
from doorward.daemon.codec.alarms import Alarm, AlarmKind
from doorward.daemon.reader.types import EVENT_MODULE_BOUND, ModuleCredential
from doorward.drivers.r30x.sensor import R30xSensor

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Verdict:
    bind: bool  # make the module ours now (SetPwd if still factory-fresh, the token)
    problem: str | None  # the tamper to report; None: the module is this door's


def judge(binding: BindingStatus, found: str | None, expected: str | None,
          request: BindRequest | None) -> Verdict:
    """What a module check finds, as a decision (pure)."""
    if binding is BindingStatus.WRONG_PASSWORD:
        return Verdict(False, "module binding: wrong_password (it takes neither this door's "
                       "password nor the factory one: another door's module, or tampered)")
    if request is not None and found == request.module_identity:
        return Verdict(binding is not BindingStatus.BOUND, None)  # the operator's explicit word
    swapped = None if expected is None or found == expected else \
        f"module swapped: identity {expected!r} became {found!r}"  # fmt: skip
    if binding is not BindingStatus.BOUND:
        return Verdict(False, _not_bound(binding, found, request))
    return Verdict(False, swapped)


def _not_bound(binding: BindingStatus, found: str | None, request: BindRequest | None) -> str:
    why = f"module binding: {binding.value} (the module reports {found!r}"
    if request is not None:
        why += f"; the bind request names {request.module_identity!r}"
    return why + "): no template goes into it; if it is this door's new module, run " \
        f"`doorward bind-module --module-identity '{found}'`"


class ModuleGuard:
    def __init__(self, credential: ModuleCredential, on_alarm: Callable[[Alarm], None],
                 store: BindingStore | None = None, expected_identity: str | None = None,
                 on_event: Callable[[str, dict], None] = lambda kind, detail: None) -> None:  # fmt: skip
        self._credential, self._on_alarm, self._on_event = credential, on_alarm, on_event
        self._store = store if store is not None else MemoryBindingStore(expected_identity)
        self.binding: BindingStatus | None = None
        self.identity = self._store.expected_identity()  # the module this door expects
        self.held = False  # biometric access waits (tamper seen, not yet reconciled since)
        self.tamper: str | None = None  # the current problem, alarmed once

    @property
    def ours(self) -> bool:
        """Bound to this door and the identity it expects: scans and templates may go in."""
        return self.binding is BindingStatus.BOUND and self.tamper is None

    def check(self, sensor: R30xSensor) -> None:
        """Binding, then identity; a bind only with a permission, so a module swapped in
        while the door was off or running never learns the password."""
        password, token = self._credential.password, self._credential.token
        binding = check_binding(sensor, password, token)
        found = self._identity_of(sensor, binding)
        request = self._store.bind_request() if binding is not BindingStatus.WRONG_PASSWORD \
            else None  # fmt: skip
        verdict = judge(binding, found, self._store.expected_identity(), request)
        problem = verdict.problem
        if verdict.bind:
            log.info("binding the module %r (%s)", found, request.by if request else "pairing")
            binding = bind_module(sensor, password, token)
            if binding is not BindingStatus.BOUND:
                problem = f"module binding: still {binding.value} after binding it"
        if problem is None and binding is BindingStatus.BOUND and found is not None:
            self._adopt(found, request, verdict.bind)
        self._report(binding, problem)

    def release(self, reconciled: bool) -> None:
        """A reconcile pass finished; a module of ours that now matches the map is usable."""
        if self.held and reconciled and self.ours:
            log.info("module bound and reconciled: biometric access resumes")
            self.held = False

    def _identity_of(self, sensor: R30xSensor, binding: BindingStatus) -> str | None:
        if binding is BindingStatus.WRONG_PASSWORD:
            return None  # such a module answers only VfyPwd
        sensor.params = sensor.read_parameters()
        return sensor.module_identity()

    def _adopt(self, found: str, request: BindRequest | None, bound_now: bool) -> None:
        """The module is this door's: record its identity when that is news (a bind, a
        request used up, or a door without a record that adopts its bound module)."""
        self.identity = found
        if request is None and not bound_now and self._store.expected_identity() == found:
            return
        self._store.bound(found, request)
        by = request.by if request else ("pairing" if bound_now else "adopted: no module record")
        log.warning("module %r is now this door's (%s)", found, by)
        self._on_event(EVENT_MODULE_BOUND, {"module_identity": found, "by": by})

    def _report(self, binding: BindingStatus, problem: str | None) -> None:
        self.binding = binding
        if problem is not None and problem != self.tamper:
            log.error("tamper: %s", problem)
            self._on_alarm(Alarm(AlarmKind.TAMPER, problem))
        if problem is not None:
            self.held = True
        self.tamper = problem

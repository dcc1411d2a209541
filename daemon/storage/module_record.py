"""What the door knows about its module on disk: the identity it is bound to, and bind requests.

Owns ``ModuleRecordStore`` (the daemon's ``BindingStore`` over the state directory),
``MemoryBindingStore`` (the same in memory, for tests and tools), ``BindRequest`` and the
writers the commands use. Two files in the state directory, each mode 0600, written
atomically and owned by the service user (the commands run under sudo):

- ``module.json``: the ``module_identity()`` of the module this door is bound to. Written by
  ``doorward pair`` and ``doorward bind-module`` when they bind the module themselves, and by
  the daemon when it honours a bind request. At start the daemon expects this identity; it
  never learns it from whichever module answers (a door without the file, from a release
  before it, adopts a module that already holds its password and token, and records it).
- ``module-bind-request.json``: a one-shot permission to bind the module with the identity
  it names, made by ``doorward pair`` or ``doorward bind-module`` when the daemon holds the
  module's port. The daemon honours it once, for a module reporting that identity, and
  removes it; a request older than ``BIND_REQUEST_TTL_S`` is dropped, so a permission left
  behind cannot bind a module swapped in later. Without one, a fresh, foreign or
  other-identity module is a tamper alarm and gets no template (promise 8).

A request file that others could have written (group or other mode bits, another owner, not
a regular file) is refused with a message naming the file.
"""

from __future__ import annotations

import json
import logging
import os
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from doorward.daemon.storage.cache_crypto import fsync_directory
from doorward.daemon.storage.credentials import service_owner
from doorward.daemon.errors import DoorwardError

log = logging.getLogger(__name__)

MODULE_RECORD = "module.json"
BIND_REQUEST = "module-bind-request.json"
BIND_REQUEST_TTL_S = 3600.0  # a permission an operator gave at the door, not a standing one
RECORD_FORMAT, REQUEST_FORMAT = "doorward-module/1", "doorward-bind-request/1"


class BindRequestError(DoorwardError, ValueError):
    """A bind request file is unsafe or malformed; it is not honoured."""


@dataclass(frozen=True)
class BindRequest:
    module_identity: str
    requested_at: float  # wall-clock seconds
    by: str  # the command that made it


class BindingStore(Protocol):
    def expected_identity(self) -> str | None: ...

    def bind_request(self) -> BindRequest | None: ...

    def bound(self, identity: str, request: BindRequest | None) -> None:
        """The module with ``identity`` is this door's now; ``request`` is used up."""
        ...


class MemoryBindingStore:
    def __init__(self, expected: str | None = None, request: BindRequest | None = None) -> None:
        self.expected, self.request = expected, request

    def expected_identity(self) -> str | None:
        return self.expected

    def bind_request(self) -> BindRequest | None:
        return self.request

    def bound(self, identity: str, request: BindRequest | None) -> None:
        self.expected = identity
        if request is not None and request == self.request:
            self.request = None


class ModuleRecordStore:
    """The state directory's module record and bind request, read on every module check."""

    def __init__(self, state_dir: Path, wall_clock: Callable[[], float] = time.time) -> None:
        self._dir, self._wall_clock = Path(state_dir), wall_clock

    def expected_identity(self) -> str | None:
        try:
            fields = _read_json(self._dir / MODULE_RECORD, RECORD_FORMAT)
        except FileNotFoundError:
            return None
        except BindRequestError as error:
            log.error("%s; the module record is ignored", error)
            return None
        identity = fields.get("module_identity")
        return identity if isinstance(identity, str) and identity else None

    def bind_request(self) -> BindRequest | None:
        path = self._dir / BIND_REQUEST
        try:
            request = read_bind_request(path)
        except FileNotFoundError:
            return None
        except BindRequestError as error:
            log.error("%s: not honoured", error)
            return None
        age_s = self._wall_clock() - request.requested_at
        if abs(age_s) > BIND_REQUEST_TTL_S:
            log.warning("%s is %.0f s old (limit %.0f s): dropped; run `doorward bind-module` "
                        "again", path, age_s, BIND_REQUEST_TTL_S)
            path.unlink(missing_ok=True)
            return None
        return request

    def bound(self, identity: str, request: BindRequest | None) -> None:
        record_bound(self._dir, identity, self._wall_clock(), request is not None)


def read_bind_request(path: Path) -> BindRequest:
    fields = _read_json(path, REQUEST_FORMAT, private=True)
    try:
        identity, at, by = fields["module_identity"], fields["requested_at"], fields["by"]
    except KeyError as missing:
        raise BindRequestError(f"{path}: no {missing} field") from None
    if not (isinstance(identity, str) and identity and isinstance(at, (int, float))):
        raise BindRequestError(f"{path}: module_identity must be text, requested_at a number")
    return BindRequest(identity, float(at), str(by))


def write_bind_request(state_dir: Path, identity: str, by: str, wall_now: float) -> Path:
    body = {"format": REQUEST_FORMAT, "module_identity": identity, "requested_at": wall_now,
            "by": by}
    return _write_private(Path(state_dir) / BIND_REQUEST, body)


def record_bound(state_dir: Path, identity: str, wall_now: float,
                 used_request: bool = True) -> Path:
    """The module with ``identity`` is bound to this door: record it, and let no bind request
    outlive the bind it asked for."""
    path = write_module_record(state_dir, identity, wall_now)
    if used_request:
        (Path(state_dir) / BIND_REQUEST).unlink(missing_ok=True)
        fsync_directory(Path(state_dir))
    return path


def write_module_record(state_dir: Path, identity: str, wall_now: float) -> Path:
    body = {"format": RECORD_FORMAT, "module_identity": identity, "bound_at": wall_now}
    return _write_private(Path(state_dir) / MODULE_RECORD, body)


def _read_json(path: Path, expected_format: str, private: bool = False) -> dict:
    if private:
        _check_private(path)
    try:
        fields = json.loads(path.read_bytes())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BindRequestError(f"{path}: not JSON ({error})") from None
    except IsADirectoryError:
        raise BindRequestError(f"{path}: not a regular file") from None
    if not isinstance(fields, dict) or fields.get("format") != expected_format:
        raise BindRequestError(f"{path}: not a {expected_format} file")
    return fields


def _check_private(path: Path) -> None:
    """Only root or the service itself may have written it (raises FileNotFoundError)."""
    info = path.lstat()
    if not stat.S_ISREG(info.st_mode):
        raise BindRequestError(f"{path}: not a regular file")
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise BindRequestError(f"{path}: mode {stat.S_IMODE(info.st_mode):04o} lets others "
                               f"write it; it must be 0600")
    if info.st_uid not in (0, os.geteuid()):
        raise BindRequestError(f"{path}: owned by uid {info.st_uid}, not by root or the service")


def _write_private(path: Path, body: dict) -> Path:
    """Atomically, mode 0600 from the first byte, fsynced, owned by the service user."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(f".{path.name}.new")
    temporary.unlink(missing_ok=True)
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(descriptor, json.dumps(body, indent=1, sort_keys=True).encode())
        os.fsync(descriptor)
        owner = service_owner() if os.geteuid() == 0 else None
        if owner is not None:
            os.fchown(descriptor, *owner)
    finally:
        os.close(descriptor)
    os.replace(temporary, path)
    fsync_directory(path.parent)
    return path

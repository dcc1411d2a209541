"""The module binding, read from the module itself (password and notepad page 0); what the
door expects of its module, and the one-shot bind request that alone lets it bind one."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from doorward.daemon.reader.binding import BindingError, BindingStatus, bind_module, check_binding, new_binding
from doorward.daemon.storage.module_record import (
    BIND_REQUEST, BIND_REQUEST_TTL_S, MODULE_RECORD, BindRequest, BindRequestError,
    ModuleRecordStore, read_bind_request, write_bind_request,
)
from doorward.daemon.commands.bind_module import main as bind_module_command
from doorward.daemon.reader.guard import judge
from doorward.drivers.r30x.sensor import R30xSensor
from doorward.sim.module.link import PtyBridge
from doorward.sim.module.r30x import SimulatedR30x
from doorward.drivers.r30x.protocol import DEFAULT_PASSWORD
from tests.unit.test_reader_rig import Rig

PASSWORD, TOKEN = 0x1234_5678, b"\x07" * 32


@pytest.fixture
def rig() -> Iterator[Rig]:
    rig = Rig("r307")
    yield rig
    rig.close()


def test_bind_then_check_is_bound_and_the_module_keeps_it_across_power(rig: Rig) -> None:
    assert bind_module(rig.sensor, PASSWORD, TOKEN) is BindingStatus.BOUND
    assert rig.module.flash.password == PASSWORD
    rig.control({"power_cycle": True})
    assert check_binding(rig.sensor, PASSWORD, TOKEN) is BindingStatus.BOUND
    assert rig.sensor.password == PASSWORD  # a reset re-verifies with the right password


def test_a_fresh_module_is_unbound(rig: Rig) -> None:
    assert check_binding(rig.sensor, PASSWORD, TOKEN) is BindingStatus.UNBOUND
    assert rig.sensor.password == DEFAULT_PASSWORD


def test_another_token_is_foreign_and_a_rebind_makes_it_ours(rig: Rig) -> None:
    bind_module(rig.sensor, PASSWORD, b"another pairing")
    assert check_binding(rig.sensor, PASSWORD, TOKEN) is BindingStatus.FOREIGN
    assert bind_module(rig.sensor, PASSWORD, TOKEN) is BindingStatus.BOUND


def test_another_password_is_wrong_password_and_cannot_be_bound(rig: Rig) -> None:
    bind_module(rig.sensor, 0xCAFE_F00D, TOKEN)
    assert check_binding(rig.sensor, PASSWORD, TOKEN) is BindingStatus.WRONG_PASSWORD
    with pytest.raises(BindingError):
        bind_module(rig.sensor, PASSWORD, TOKEN)
    assert rig.module.flash.password == 0xCAFE_F00D


def test_new_bindings_are_random_and_never_default() -> None:
    bindings = {new_binding() for _ in range(20)}
    assert len(bindings) == 20
    assert all(password != DEFAULT_PASSWORD and len(token) == 32 for password, token in bindings)


def test_an_all_zero_token_is_refused_it_would_match_every_fresh_module(rig: Rig) -> None:
    with pytest.raises(ValueError):
        bind_module(rig.sensor, PASSWORD, bytes(32))
    assert rig.module.flash.password == DEFAULT_PASSWORD  # refused before anything changed


# ---- what the door expects, and the one-shot bind request (daemon/storage/module_record.py) ----

R503, OTHER = "model=R503;fw=1.2;capacity=200", "model=R503;fw=2.0;capacity=200"
NOW = 1_800_000_000.0


def test_a_bind_request_is_read_back_used_up_and_recorded(tmp_path: Path) -> None:
    store = ModuleRecordStore(tmp_path, wall_clock=lambda: NOW + 60)
    assert store.expected_identity() is None and store.bind_request() is None
    path = write_bind_request(tmp_path, R503, "doorward bind-module", NOW)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    request = store.bind_request()
    assert request == BindRequest(R503, NOW, "doorward bind-module")
    store.bound(R503, request)
    assert not path.exists() and store.bind_request() is None
    assert store.expected_identity() == R503
    assert stat.S_IMODE((tmp_path / MODULE_RECORD).stat().st_mode) == 0o600


@pytest.mark.parametrize("age_s", [BIND_REQUEST_TTL_S + 1, -BIND_REQUEST_TTL_S - 1])
def test_a_stale_bind_request_is_dropped_not_honoured(tmp_path: Path, age_s: float) -> None:
    path = write_bind_request(tmp_path, R503, "doorward pair", NOW)
    assert ModuleRecordStore(tmp_path, wall_clock=lambda: NOW + age_s).bind_request() is None
    assert not path.exists()


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o620, 0o602, 0o660])
def test_a_bind_request_others_could_write_is_refused(tmp_path: Path, mode: int, caplog) -> None:
    path = write_bind_request(tmp_path, R503, "doorward pair", NOW)
    os.chmod(path, mode)
    assert ModuleRecordStore(tmp_path, wall_clock=lambda: NOW).bind_request() is None
    assert f"mode {mode:04o}" in caplog.text and path.exists()


def test_a_bind_request_through_a_symlink_or_malformed_is_refused(tmp_path: Path) -> None:
    elsewhere = write_bind_request(tmp_path / "elsewhere", R503, "doorward pair", NOW)
    (tmp_path / BIND_REQUEST).symlink_to(elsewhere)
    store = ModuleRecordStore(tmp_path, wall_clock=lambda: NOW)
    assert store.bind_request() is None
    (tmp_path / BIND_REQUEST).unlink()
    descriptor = os.open(tmp_path / BIND_REQUEST, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(descriptor, b'{"format": "doorward-bind-request/1", "by": "x"}')
    os.close(descriptor)
    with pytest.raises(BindRequestError, match="module_identity"):
        read_bind_request(tmp_path / BIND_REQUEST)
    assert store.bind_request() is None


def request(identity: str = R503) -> BindRequest:
    return BindRequest(identity, NOW, "doorward bind-module")


UNBOUND, FOREIGN, WRONG = BindingStatus.UNBOUND, BindingStatus.FOREIGN, BindingStatus.WRONG_PASSWORD
BOUND = BindingStatus.BOUND


@pytest.mark.parametrize(("binding", "found", "expected", "bind_request", "bind", "problem"), [
    (BOUND, R503, R503, None, False, None),  # the normal case
    (BOUND, R503, None, None, False, None),  # no record yet: adopted (holds our secret)
    (BOUND, OTHER, R503, None, False, "module swapped"),  # never adopted silently
    (BOUND, OTHER, R503, request(OTHER), False, None),  # the operator's word
    (UNBOUND, R503, R503, None, False, "unbound"),  # fresh, even of the same identity
    (UNBOUND, R503, None, None, False, "unbound"),
    (UNBOUND, R503, R503, request(R503), True, None),  # the one-shot permission
    (UNBOUND, R503, R503, request(OTHER), False, "the bind request names"),
    (FOREIGN, R503, R503, None, False, "foreign"),
    (FOREIGN, R503, R503, request(R503), True, None),  # finishes a bind cut short
    (WRONG, None, R503, request(R503), False, "wrong_password"),
])  # fmt: skip
def test_the_guard_binds_only_on_an_explicit_permission(binding, found, expected, bind_request,
                                                        bind, problem) -> None:  # fmt: skip
    verdict = judge(binding, found, expected, bind_request)
    assert verdict.bind is bind
    if problem is None:
        assert verdict.problem is None
    else:
        assert verdict.problem is not None and problem in verdict.problem


# ---- `doorward bind-module`, and what `doorward pair` leaves when the port is held ----


@pytest.fixture
def pty_door(tmp_path: Path) -> Iterator[tuple[SimulatedR30x, Path]]:
    module = SimulatedR30x("r503", seed=3)
    tty, config = tmp_path / "tty", tmp_path / "doorward.toml"
    config.write_text(f'[module]\nurl = "{tty}"\ntimeout_s = 1.0\n'
                      f'[storage]\nstate_dir = "{tmp_path / "state"}"\n')
    with PtyBridge(module, tty):
        yield module, config


def test_bind_module_reads_a_fresh_modules_identity_and_writes_the_request(pty_door, capsys) -> None:
    module, config = pty_door
    assert bind_module_command(["--config", str(config)]) == 0
    request = read_bind_request(config.parent / "state" / BIND_REQUEST)
    assert request.module_identity.startswith("model=R503") and request.by == "doorward bind-module"
    assert "binds it when it starts" in capsys.readouterr().out  # no daemon runs
    assert module.flash.password == DEFAULT_PASSWORD  # the command itself binds nothing


def test_bind_module_needs_the_identity_while_the_port_is_held(pty_door, capsys) -> None:
    _, config = pty_door
    holder = R30xSensor.from_url(str(config.parent / "tty"))
    try:
        assert bind_module_command(["--config", str(config)]) == 2
    finally:
        holder.close()
    assert "--module-identity" in capsys.readouterr().err
    assert not (config.parent / "state" / BIND_REQUEST).exists()
    assert bind_module_command(["--config", str(config), "--module-identity", R503]) == 0
    assert read_bind_request(config.parent / "state" / BIND_REQUEST).module_identity == R503


def test_bind_module_refuses_to_guess_the_identity_of_a_bound_module(pty_door, capsys) -> None:
    module, config = pty_door
    module.flash.password = 0x1234_5678
    assert bind_module_command(["--config", str(config)]) == 2
    assert "bound already" in capsys.readouterr().err

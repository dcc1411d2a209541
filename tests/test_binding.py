"""The module binding, read from the module itself (password and notepad page 0)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from daemon.binding import BindingError, BindingStatus, bind_module, check_binding, new_binding
from drivers.r30x.protocol import DEFAULT_PASSWORD
from tests.test_reader_rig import Rig

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

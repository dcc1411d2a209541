"""Login throttling cannot be turned against the real admin: failures are counted per name
and address, per address and per name, and only a trusted proxy names the client address."""

from __future__ import annotations

import pytest

from doorward.server.api.throttle import LoginThrottle, TooManyAttempts
from tests.support.server import ADMIN_PASSWORD, running_server

NOW = 1_800_000_000.0
WRONG = {"name": "root", "password": "a wrong guess"}
RIGHT = {"name": "root", "password": ADMIN_PASSWORD}


def refused(throttle: LoginThrottle, name: str, address: str, now: float = NOW) -> bool:
    try:
        throttle.check(name, address, now)
    except TooManyAttempts:
        return True
    return False


def guess(throttle: LoginThrottle, name: str, address: str, times: int = 1, now: float = NOW) -> None:
    for _ in range(times):
        assert not refused(throttle, name, address, now)
        throttle.failed(name, address, now)


def test_failures_lock_the_name_only_at_the_guessers_address() -> None:
    throttle = LoginThrottle()
    guess(throttle, "root", "attacker", 5)
    assert refused(throttle, "root", "attacker")
    assert not refused(throttle, "root", "elsewhere")  # the admin, elsewhere
    assert not refused(throttle, "ann", "attacker")  # another account at the attacker's address
    assert not refused(throttle, "root", "attacker", NOW + 300)  # the window has passed


def spray(throttle: LoginThrottle, address: str, now: float) -> None:
    for n in range(20):
        guess(throttle, f"name-{n}", address, now=now)


def test_spraying_names_from_one_address_locks_it_except_for_names_at_home_there() -> None:
    throttle = LoginThrottle()
    throttle.succeeded("ann", "office", NOW - 86400)  # Ann logged in from the office yesterday
    spray(throttle, "office", NOW)
    assert refused(throttle, "bo", "office")
    assert not refused(throttle, "ann", "office")
    later = NOW + 30 * 86400  # a month after Ann's last login there, the office is not her home
    spray(throttle, "office", later)
    assert refused(throttle, "ann", "office", later)


def test_a_name_attacked_from_everywhere_is_braked_not_locked() -> None:
    throttle = LoginThrottle()
    throttle.succeeded("root", "home", NOW - 3600)
    for n in range(10):
        guess(throttle, "root", f"bot-{n}", 5)
    assert not refused(throttle, "root", "new-place")  # admitted: the one attempt of this second
    assert refused(throttle, "root", "bot-99")  # a second attempt in the same second waits
    assert not refused(throttle, "root", "home")  # where root logs in is never braked
    assert not refused(throttle, "root", "bot-99", NOW + 1)
    assert not refused(throttle, "ann", "bot-99")  # other names are not braked


def test_a_login_forgets_the_failures_of_its_name_and_address() -> None:
    throttle = LoginThrottle()
    guess(throttle, "root", "home", 4)
    throttle.succeeded("root", "home", NOW)
    guess(throttle, "root", "home", 4)
    assert not refused(throttle, "root", "home")


def login(server, body: dict, client_address: str):
    with server.client() as anonymous:
        return anonymous.post("/api/v1/sessions", json=body, headers={"X-Forwarded-For": client_address})


def test_behind_a_trusted_proxy_a_guesser_cannot_lock_out_the_admin_elsewhere(tmp_path) -> None:
    with running_server(tmp_path, trusted_proxies=("127.0.0.1",)) as server:
        server.add_admin("root")
        server.add_admin("ann")
        assert [login(server, WRONG, "127.0.0.2").status_code for _ in range(6)] == [401] * 5 + [429]
        assert login(server, RIGHT, "127.0.0.3").status_code == 201  # the admin, elsewhere
        locked = login(server, RIGHT, "127.0.0.2")  # even the right password, from the guesser
        assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 0
        ann = {"name": "ann", "password": ADMIN_PASSWORD}
        assert login(server, ann, "127.0.0.2").status_code == 201  # another account, same address
        refusals = [row for row in server.add_admin("auditor").get("/api/v1/audit", params={"limit": 50}).json()
                    if row["action"] == "session.refused"]
        assert {row["detail"] for row in refusals} == {'{"address": "127.0.0.2"}'}


def test_a_name_under_attack_from_many_addresses_still_lets_its_admin_in(tmp_path) -> None:
    with running_server(tmp_path, trusted_proxies=("127.0.0.0/8",)) as server:
        server.add_admin("root")  # logs in once from 127.0.0.1 (no header): root's home
        for n in range(10):
            assert [login(server, WRONG, f"127.0.1.{n}").status_code for _ in range(5)] == [401] * 5
        with server.client() as home:
            assert home.post("/api/v1/sessions", json=RIGHT).status_code == 201
        assert login(server, WRONG, "127.0.2.1").status_code == 401  # the one attempt this second
        braked = login(server, RIGHT, "127.0.2.2")
        assert braked.status_code == 429 and "braked" in braked.json()["detail"]
        server.clock.advance(1.0)
        assert login(server, RIGHT, "127.0.2.2").status_code == 201  # slowed, not locked out


@pytest.mark.parametrize("trusted", [(), ("192.0.2.7",)])
def test_x_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy(tmp_path, trusted) -> None:
    with running_server(tmp_path, trusted_proxies=trusted) as server:
        server.add_admin("root")
        answers = [login(server, WRONG, f"127.0.3.{n}").status_code for n in range(6)]
        assert answers == [401] * 5 + [429]  # a forged header does not make a new address

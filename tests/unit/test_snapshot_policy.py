"""Policy: defaults, Policy.from_mapping round trip, and ConfigError naming the bad key."""

from __future__ import annotations

import pytest

from doorward.daemon.errors import ConfigError
from doorward.daemon.codec.policy import LockoutPolicy, OfflinePolicy, Policy


def test_defaults() -> None:
    assert Policy() == Policy(
        unlock_s=5.0, held_open_s=30.0, prealarm_s=10.0, relock_on_close=True,
        lockout=LockoutPolicy(3, 5.0, 60.0), two_person_window_s=30.0,
        offline=OfflinePolicy(86400.0, "deny", ()), untrusted_clock="deny_windowed",
        sync_interval_s=30.0, max_clock_skew_s=300.0,
    )
    assert Policy.from_mapping({}) == Policy()


def test_from_mapping_reads_every_key_and_round_trips() -> None:
    mapping = {
        "unlock_s": 3, "held_open_s": 45, "prealarm_s": 15, "relock_on_close": False,
        "lockout": {"strikes": 5, "first_s": 2, "max_s": 30}, "two_person_window_s": 20,
        "offline": {"grace_s": 600, "then": "allow_list", "allow_list": ["u-1", "u-2"]},
        "untrusted_clock": "ignore_windows", "sync_interval_s": 10, "max_clock_skew_s": 60,
    }
    policy = Policy.from_mapping(mapping)
    assert policy == Policy(3.0, 45.0, 15.0, False, LockoutPolicy(5, 2.0, 30.0), 20.0,
                            OfflinePolicy(600.0, "allow_list", ("u-1", "u-2")),
                            "ignore_windows", 10.0, 60.0)
    assert Policy.from_mapping(policy.to_mapping()) == policy


BAD = [
    ({"unlock_s": 0}, "policy.unlock_s: must be > 0"),
    ({"unlock_s": True}, "policy.unlock_s: expected a number of seconds"),
    ({"held_open_s": float("nan")}, "policy.held_open_s: expected a finite number"),
    ({"prealarm_s": -1}, "policy.prealarm_s: must be >= 0"),
    ({"prealarm_s": 40}, "policy.prealarm_s: 40.0 is longer than held_open_s"),
    ({"relock_on_close": "yes"}, "policy.relock_on_close: expected true or false"),
    ({"unlok_s": 5}, "policy.unlok_s: unknown key"),
    ({"lockout": 3}, "policy.lockout: expected a table"),
    ({"lockout": {"strikes": 0}}, "policy.lockout.strikes: expected a whole number >= 1"),
    ({"lockout": {"first_s": 10, "max_s": 5}}, "policy.lockout.max_s: 5.0 is shorter"),
    ({"lockout": {"tries": 3}}, "policy.lockout.tries: unknown key"),
    ({"offline": {"then": "allow"}}, "policy.offline.then: expected one of allow_list, deny"),
    ({"offline": {"allow_list": "u-1"}}, "policy.offline.allow_list: expected a list"),
    ({"offline": {"allow_list": ["u-1", ""]}}, r"policy.offline.allow_list\[1\]: expected a user id"),
    ({"untrusted_clock": "allow"}, "policy.untrusted_clock: expected one of deny_windowed"),
    ({"boot_untrusted": "allow"}, "policy.boot_untrusted: expected one of grace, deny"),
]


@pytest.mark.parametrize(("mapping", "message"), BAD, ids=[m for _, m in BAD])
def test_bad_keys_are_named(mapping: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Policy.from_mapping(mapping)


def test_the_error_prefix_follows_the_caller() -> None:
    with pytest.raises(ConfigError, match=r"^defaults\.policy\.unlock_s: "):
        Policy.from_mapping({"unlock_s": -2}, where="defaults.policy")


def test_lockout_durations_double_up_to_the_cap() -> None:
    lockout = LockoutPolicy()
    assert [lockout.duration_s(n) for n in range(7)] == [5, 10, 20, 40, 60, 60, 60]
    assert lockout.duration_s(10_000) == 60


def test_the_boot_policy_defaults_to_grace_and_round_trips() -> None:
    assert Policy().boot_untrusted == "grace"
    deny = Policy.from_mapping({"boot_untrusted": "deny"})
    assert deny.boot_untrusted == "deny"
    assert Policy.from_mapping(deny.to_mapping()) == deny


def test_a_key_added_later_is_written_only_when_it_is_not_its_default() -> None:
    """Doors that predate ``boot_untrusted`` refuse unknown policy keys: a server must not
    send it unless an admin set it, and the golden vector must re-encode unchanged."""
    assert "boot_untrusted" not in Policy().to_mapping()
    assert Policy(boot_untrusted="deny").to_mapping()["boot_untrusted"] == "deny"

"""The [policy] section: the defaults a door uses before its first bundle."""

from __future__ import annotations

from pathlib import Path

import pytest

from doorward.daemon.config.loader import load_config
from doorward.daemon.codec.policy import Policy
from tests.unit.test_config_hardware import MINIMAL, problems_of, write


def test_policy_defaults_when_the_section_is_absent(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, MINIMAL)).policy == Policy()


def test_policy_values_are_read_with_the_bundles_meaning(tmp_path: Path) -> None:
    text = MINIMAL + "[policy]\nunlock_s = 3\n[policy.offline]\nthen = 'allow_list'\nallow_list = ['u-1']\n"
    policy = load_config(write(tmp_path, text)).policy
    assert policy.unlock_s == 3.0 and policy.offline.then == "allow_list"
    assert policy.offline.allow_list == ("u-1",)


def test_the_boot_policy_is_read_from_the_section(tmp_path: Path) -> None:
    policy = load_config(write(tmp_path, MINIMAL + "[policy]\nboot_untrusted = 'deny'\n")).policy
    assert policy.boot_untrusted == "deny"


@pytest.mark.parametrize(("extra", "words"), [
    ("[policy]\nunlock_s = 'five'\n", "policy.unlock_s: must be a number"),
    ("[policy]\nprealarm_s = 40\n", "policy.prealarm_s: 40.0 is longer than held_open_s"),
    ("[policy.offline]\nthen = 'open'\n", "policy.offline.then"),
    ("[policy.lockout]\nstrikes = 2\nburst = 1\n", "policy.lockout.burst: unknown key"),
    ("[policy]\nunlock = 5\n", "policy.unlock: unknown key (did you mean 'unlock_s'?)"),
])
def test_bad_policy_values_name_their_key(tmp_path: Path, extra: str, words: str) -> None:
    assert words in problems_of(tmp_path, MINIMAL + extra)

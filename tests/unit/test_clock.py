"""Time trust through the replaceable clock edge (promise 5): steps, 1970, 60 days ahead, a
sync that restores trust at once, an unreadable sync status, and the ``[clock]`` section."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from doorward.daemon.controller.clock import FakeClock, SystemClock, TimeTrust, Untrusted
from doorward.daemon.config.loader import parse_config
from tests.support.sync import door_snapshot

SNAPSHOT = door_snapshot(7)
TRUE_NOW = SNAPSHOT.issued_at + 3600
DAY = 86400.0


def trust(clock: FakeClock, **declared: bool) -> TimeTrust:
    time_trust = TimeTrust(clock, **declared)
    time_trust.note_snapshot(SNAPSHOT)
    return time_trust


def test_a_synchronised_clock_after_the_bundle_is_trusted() -> None:
    reading = trust(FakeClock(TRUE_NOW)).read()
    assert reading.trusted and reading.untrusted_reason is None and reading.wall_now == TRUE_NOW


@pytest.mark.parametrize("step_s", [3600.0, -3600.0], ids=["plus-1h", "minus-1h"])
def test_a_one_hour_step_is_untrusted_until_the_next_sync(step_s: float) -> None:
    clock = FakeClock(TRUE_NOW)
    time_trust = trust(clock)
    clock.step(TRUE_NOW + step_s)
    assert time_trust.read().untrusted_reason == Untrusted.KERNEL_UNSYNCHRONISED
    clock.advance(600)
    assert not time_trust.read().trusted  # time passing does not restore trust
    clock.sync(TRUE_NOW + 600)
    assert time_trust.read().trusted


def test_a_clock_in_1970_is_untrusted_even_if_called_synchronised() -> None:
    clock = FakeClock(TRUE_NOW)
    time_trust = trust(clock)
    clock.step(0.0)
    assert not time_trust.read().trusted
    clock.synchronised = True  # a lying or broken time source: the bundle bounds it
    reading = time_trust.read()
    assert not reading.trusted and reading.untrusted_reason == Untrusted.BEFORE_BUNDLE


def test_sixty_days_ahead_is_untrusted_and_a_sync_restores_trust_at_once() -> None:
    clock = FakeClock(TRUE_NOW)
    time_trust = trust(clock)
    clock.step(TRUE_NOW + 60 * DAY)
    assert not time_trust.read().trusted
    clock.sync(TRUE_NOW + 5)
    assert time_trust.read().trusted


def test_the_allowed_skew_before_issued_at() -> None:
    skew_s = SNAPSHOT.policy.max_clock_skew_s
    assert trust(FakeClock(SNAPSHOT.issued_at - skew_s)).read().trusted
    assert not trust(FakeClock(SNAPSHOT.issued_at - skew_s - 1)).read().trusted


def test_no_bundle_means_the_kernel_alone_decides() -> None:
    assert TimeTrust(FakeClock(0.0)).read().trusted
    assert not TimeTrust(FakeClock(TRUE_NOW, synchronised=False)).read().trusted


def test_the_newest_snapshot_bounds_the_clock() -> None:
    time_trust = trust(FakeClock(SNAPSHOT.issued_at + 10 * DAY))
    time_trust.note_snapshot(door_snapshot(8, issued_at=SNAPSHOT.issued_at + 20 * DAY,
                                           expires_at=SNAPSHOT.issued_at + 30 * DAY))
    time_trust.note_snapshot(SNAPSHOT)  # an older one never lowers the bound
    assert time_trust.read().untrusted_reason == Untrusted.BEFORE_BUNDLE


def test_an_unreadable_sync_status_is_untrusted_with_an_alarm() -> None:
    def blocked() -> int:
        raise OSError(errno.EPERM, "Operation not permitted")

    time_trust = TimeTrust(SystemClock(adjtimex=blocked))
    reading = time_trust.read()
    assert not reading.trusted
    assert reading.untrusted_reason == Untrusted.SYNC_STATUS_UNKNOWN
    assert "adjtimex failed" in reading.alarm and "Operation not permitted" in reading.alarm


def test_adjtimex_state_time_error_means_unsynchronised() -> None:
    assert not SystemClock(adjtimex=lambda: 5).kernel_synchronised()
    assert SystemClock(adjtimex=lambda: 0).kernel_synchronised()
    assert SystemClock(adjtimex=lambda: 1).kernel_synchronised()  # TIME_INS: leap second ahead


def test_the_real_system_clock_answers() -> None:
    clock = SystemClock()
    synced = clock.kernel_synchronised()
    assert isinstance(synced, bool) and clock.wall_now() > 1.7e9
    assert synced or clock.sync_problem() is None or "adjtimex" in clock.sync_problem()


@pytest.mark.parametrize("declared", ["rtc", "assume_synchronised"])
def test_a_declared_clock_counts_as_synchronised(declared: str) -> None:
    clock = FakeClock(TRUE_NOW, synchronised=False)
    clock.adjtimex_error = "blocked by the sandbox"
    assert trust(clock, **{declared: True}).read().trusted
    clock.step(0.0)
    assert not trust(clock, **{declared: True}).read().trusted  # the bundle still bounds it


HARDWARE = """
[hardware]
gpio_backend = "sim"
hub_socket = "hub.sock"
lock_type = "fail_secure"
[hardware.relay]
pin = 17
"""


def test_the_clock_and_storage_sections_are_optional_with_safe_defaults(tmp_path: Path) -> None:
    config = parse_config(HARDWARE, tmp_path / "doorward.toml")
    assert (config.clock.rtc, config.clock.assume_synchronised) == (False, False)
    assert config.storage.journal_retention_s == 120 * 3600
    assert config.storage.journal_max_acknowledged_rows == 500_000


def test_storage_paths_are_relative_to_the_file(tmp_path: Path) -> None:
    text = HARDWARE + '[clock]\nrtc = true\n[storage]\nstate_dir = "state"\n'
    config = parse_config(text, tmp_path / "doorward.toml")
    assert config.clock.rtc
    assert config.storage.cache_path == tmp_path / "state" / "cache.db"


@pytest.mark.parametrize("line, complaint", [
    ("[clock]\nrtc = 1", "clock.rtc: must be true or false"),
    ("[clock]\nassume_synchronized = true", "did you mean 'assume_synchronised'"),
    ("[storage]\njournal_retention_h = 24",
     "storage.journal_retention_h: 24 is below the floor of 120 hours"),
    ("[storage]\njournal_max_acknowledged_rows = 1000", "below the floor of 500000 rows"),
])
def test_bad_clock_and_storage_keys_are_named(tmp_path: Path, line: str,
                                              complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        parse_config(HARDWARE + line + "\n", tmp_path / "doorward.toml")


def test_every_clock_and_storage_key_is_documented(tmp_path: Path) -> None:
    seen: set[str] = set()
    parse_config(HARDWARE, tmp_path / "doorward.toml", seen_keys=seen)
    ours = sorted(k for k in seen if k.split(".")[0] in ("clock", "storage"))
    assert len(ours) == 9
    docs = (Path(__file__).resolve().parents[2] / "docs" / "configuration.md").read_text()
    assert [k for k in ours if f"`{k}`" not in docs] == []

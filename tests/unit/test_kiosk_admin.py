"""What only an admin sets at the kiosk: the validity window's checks (pure, no kiosk)."""

from __future__ import annotations

import math

import pytest

from doorward.enrol.kiosk.admin import AdminOnly, Window, is_admin, requested_window, validity_window
from doorward.enrol.progress import EnrolmentFailed
from doorward.enrol.strings import say

NOW = 1_800_000_000.0


def refusal(valid_from: object, valid_until: object) -> EnrolmentFailed:
    with pytest.raises(EnrolmentFailed) as refused:
        validity_window(valid_from, valid_until, NOW)
    return refused.value


def test_empty_fields_are_no_window_and_either_end_may_stay_open() -> None:
    assert validity_window(None, None, NOW) is None
    assert validity_window("", "", NOW) is None
    assert validity_window(NOW - 10, "", NOW) == Window(NOW - 10, None)
    assert validity_window(None, NOW + 10, NOW) == Window(None, NOW + 10)
    assert validity_window(int(NOW), NOW + 3600, NOW) == Window(NOW, NOW + 3600)


@pytest.mark.parametrize("bad", ["2030-01-01T09:00", True, math.nan, math.inf, -1, 4e10, [1], {}])
def test_anything_but_an_instant_is_refused_naming_the_field(bad: object) -> None:
    failed = refusal(bad, NOW + 60)
    assert failed.key == "window_invalid" and say(failed.key, **failed.fields).startswith("Valid from")
    failed = refusal(NOW, bad)
    assert failed.key == "window_invalid" and say(failed.key, **failed.fields).startswith("Valid until")


def test_an_end_before_the_start_or_already_past_is_refused() -> None:
    assert refusal(NOW + 7200, NOW + 3600).key == "window_order"
    assert refusal(NOW + 60, NOW + 60).key == "window_order"
    assert refusal(NOW - 7200, NOW - 3600).key == "window_over"
    assert refusal(None, NOW).key == "window_over"


def test_a_stored_window_shown_unchanged_is_kept_even_when_it_has_ended() -> None:
    ended = Window(NOW - 7200, NOW - 3600)
    assert requested_window(NOW - 7200, NOW - 3600, ended, NOW) is ended
    with pytest.raises(EnrolmentFailed):
        requested_window(NOW - 7200, NOW - 1800, ended, NOW)  # changed: checked again
    assert requested_window(None, None, ended, NOW) is None  # cleared
    assert requested_window(NOW, NOW + 60, None, NOW) == Window(NOW, NOW + 60)


def test_only_the_admin_role_is_admin_and_the_refusal_names_what() -> None:
    assert is_admin("admin") and not is_admin("enroller") and not is_admin("auditor")
    assert not is_admin("Admin") and not is_admin("")
    assert AdminOnly("duress").key == "admin_only_duress"
    assert "duress" in say(AdminOnly("duress").key) and "window" in say(AdminOnly("window").key)

"""The console's pure pieces: words for times, links, versions and reasons; page cursors;
cookie, origin and CSRF decisions."""

from __future__ import annotations

import pytest

from doorward.server.console import formatting as fmt
from doorward.server.console import guard


@pytest.mark.parametrize(("seconds", "text"), [
    (None, "never"), (-3, "0 s ago"), (0, "0 s ago"), (59.9, "59 s ago"), (60, "1 min ago"),
    (3599, "59 min ago"), (3600, "1 h ago"), (86399, "23 h ago"), (86400 * 3 + 5, "3 d ago")])
def test_ages(seconds, text) -> None:
    assert fmt.ago_text(seconds) == text


def test_the_offline_rule_is_the_door_offline_alarms() -> None:
    assert fmt.connection_state(False, 100.0, 100.0, 90.0) == "not paired"
    assert fmt.connection_state(True, 10.0, 100.0, 90.0) == "online"  # exactly 90 s: not yet missed
    assert fmt.connection_state(True, 9.9, 100.0, 90.0) == "offline"
    assert fmt.connection_state(True, None, 100.0, 90.0) == "offline"


def test_versions() -> None:
    assert fmt.version_text(None, None, None) == "no bundle yet"
    assert fmt.version_text(None, None, 3) == "none yet (server has 3)"
    assert fmt.version_text(3, 3, 3) == "3 (module 3)"
    assert fmt.version_text(3, 2, 5) == "3 (module 2), server has 5"
    assert fmt.version_text(3, None, 3) == "3 (module ?)"


def test_reasons_and_alarms_in_words() -> None:
    assert fmt.reason_text("outside_schedule") == "outside the grant's schedule"
    assert fmt.reason_text("forced_open") == "the door was forced open"
    assert fmt.reason_text("made_up") == "made_up (no words for this code)"
    assert fmt.reason_text(None) == ""
    assert fmt.outcome_text("access_denied") == "denied" and fmt.outcome_text("door_open") == "door open"


def test_a_doors_time_unreadable_is_shown_as_sent() -> None:
    assert fmt.at_text("yesterday-ish") == "yesterday-ish" and fmt.at_text(None) == "-"
    assert fmt.at_text("2027-01-15T08:00:00.000000Z", zone=None).startswith("2027-01-1")


def test_cursors_round_trip_and_refuse_anything_else() -> None:
    cursor = (2461000.5000001, 1_800_000_000.25, "d_0123456789abcdef", "j|odd\"id", 7)
    assert fmt.decode_cursor(fmt.encode_cursor(cursor)) == cursor
    assert fmt.encode_cursor(None) == ""
    for bad in ("", "!!!", fmt.encode_cursor((1.0, 2.0, "d", "j", 1))[:-3], "WzEsMiwzXQ",
                "WzEsIDIsICJkIiwgImoiLCB0cnVlXQ", "WyJ4IiwgMiwgImQiLCAiaiIsIDFd"):
        with pytest.raises(ValueError, match="not a page position"):
            fmt.decode_cursor(bad)


def test_cookie_secure_except_plain_http_on_loopback() -> None:
    assert not guard.cookie_secure("http", "127.0.0.1")
    assert not guard.cookie_secure("http", "localhost") and not guard.cookie_secure("http", "[::1]")
    assert guard.cookie_secure("https", "127.0.0.1")
    assert guard.cookie_secure("http", "console.example") and guard.cookie_secure("http", "10.0.0.5")
    assert guard.cookie_secure("http", None)


def test_same_origin() -> None:
    assert guard.same_origin(None, "127.0.0.1:8443")
    assert guard.same_origin("http://127.0.0.1:8443", "127.0.0.1:8443")
    assert guard.same_origin("https://Console.Example", "console.example")
    assert not guard.same_origin("https://evil.example", "console.example")
    assert not guard.same_origin("http://127.0.0.1:9999", "127.0.0.1:8443")
    assert not guard.same_origin("null", "console.example")


def test_csrf_tokens_are_bound_to_the_session() -> None:
    token = guard.csrf_token("session-a")
    assert guard.csrf_matches("session-a", token)
    assert not guard.csrf_matches("session-b", token)
    assert not guard.csrf_matches("session-a", "") and not guard.csrf_matches("session-a", None)
    assert len(token) == 64 and "session-a" not in token


@pytest.mark.parametrize(("given", "goes"), [
    (None, "/console/"), ("/console/events?door=x", "/console/events?door=x"),
    ("https://evil.example/", "/console/"), ("//evil.example/console/", "/console/"),
    ("/console/\\evil", "/console/"), ("/api/v1/people", "/console/")])
def test_after_sign_in_only_console_paths(given, goes) -> None:
    assert guard.safe_next(given) == goes


def test_visitor_windows() -> None:
    utc = __import__("datetime").timezone.utc
    assert fmt.window_text(None, None, 0) == "-"
    assert fmt.window_text(100, 200, 50, utc) == "1970-01-01 00:01:40 to 1970-01-01 00:03:20 (not yet valid)"
    assert fmt.window_text(100, 200, 150, utc).endswith("(valid now)")
    assert fmt.window_text(100, 200, 200, utc).endswith("(expired)")  # the end is exclusive
    assert fmt.window_text(None, 200, 0, utc).startswith("always to ")
    assert fmt.window_text(100, None, 500, utc).endswith("to open-ended (valid now)")


def test_lockdown_words() -> None:
    assert fmt.lockdown_text([], True) == "off"
    assert fmt.lockdown_text([], False) == "off, waiting for the door"
    assert fmt.lockdown_text(["zone"], True) == "on (zone), confirmed"
    assert fmt.lockdown_text(["door", "zone"], False) == "on (door, zone), waiting for the door"

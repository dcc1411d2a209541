"""The server CLI's text: times read and printed, tables, the --json form, CSV cells."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from doorward.server.cli.table import Column, compact, machine, printable, record, spreadsheet_safe, table
from doorward.server.cli.times import MomentError, local_text, parse_moment, utc_text

BERLIN = ZoneInfo("Europe/Berlin")
MOMENT = 1796278337.0268552  # 2026-12-03T06:12:17.026855Z


def test_times_print_as_local_time_for_people_and_iso_utc_for_machines() -> None:
    assert local_text(MOMENT, BERLIN) == "2026-12-03 07:12:17"
    assert local_text(MOMENT, dt.timezone.utc) == "2026-12-03 06:12:17"
    assert local_text(None) == "-"
    assert utc_text(MOMENT) == "2026-12-03T06:12:17.026855Z"


@pytest.mark.parametrize("text, expected", [
    ("2026-12-03", "2026-12-02T23:00:00.000000Z"),  # local midnight in Berlin (UTC+1 in December)
    ("2026-12-03 14:05", "2026-12-03T13:05:00.000000Z"),
    ("2026-12-03T14:05:09", "2026-12-03T13:05:09.000000Z"),
    ("2026-12-03T14:05:09Z", "2026-12-03T14:05:09.000000Z"),
    ("2026-12-03T14:05:09+05:30", "2026-12-03T08:35:09.000000Z"),
    ("2026-07-01 12:00", "2026-07-01T10:00:00.000000Z"),  # summer time: UTC+2
])
def test_typed_times_are_local_unless_they_carry_an_offset(text, expected) -> None:
    assert utc_text(parse_moment(text, "--since", now_s=0, zone=BERLIN)) == expected


@pytest.mark.parametrize("text, seconds", [("30m", 1800), ("12h", 43200), ("7d", 604800), ("2w", 1209600),
                                           ("1.5h", 5400)])
def test_an_age_counts_back_from_now_where_allowed(text, seconds) -> None:
    assert parse_moment(text, "--since", now_s=MOMENT, relative=True) == MOMENT - seconds
    with pytest.raises(MomentError):
        parse_moment(text, "--valid-from", now_s=MOMENT)  # a visitor's window takes real times


@pytest.mark.parametrize("text, expected", [
    ("2026-12-05", "2026-12-05T23:00:00.000000Z"),  # the 5th is inside: the window ends at the 6th's midnight
    ("2026-03-29", "2026-03-29T22:00:00.000000Z"),  # a summer-time day is 23 hours long, and whole
    ("2026-12-05 17:00", "2026-12-05T16:00:00.000000Z"),  # a time is taken as it is
])
def test_a_date_alone_as_an_end_includes_the_whole_day(text, expected) -> None:
    assert utc_text(parse_moment(text, "--valid-until", now_s=0, zone=BERLIN, end_of_day=True)) == expected
    assert utc_text(parse_moment(text, "--valid-from", now_s=0, zone=BERLIN)) <= expected


@pytest.mark.parametrize("text", ["yesterday", "2026-13-01", "03.12.2026", ""])
def test_an_unreadable_time_names_the_option_and_the_forms_it_takes(text) -> None:
    with pytest.raises(MomentError) as refused:
        parse_moment(text, "--until", now_s=MOMENT, relative=True)
    assert str(refused.value).startswith(f"--until: cannot read {text!r}") and "2026-12-03" in str(refused.value)


def test_a_table_aligns_columns_under_their_headers() -> None:
    columns = (Column("ID", lambda r: r["id"]), Column("NAME", lambda r: r["name"]))
    assert table(columns, [{"id": "u_1", "name": "Ann"}, {"id": "u_22", "name": None}]) == [
        "ID    NAME", "u_1   Ann", "u_22  -"]
    assert table(columns, [], empty="(nobody)") == ["(nobody)"]


def test_wide_characters_take_two_columns() -> None:
    columns = (Column("NAME", lambda r: r["name"]), Column("X", lambda r: "x"))
    assert table(columns, [{"name": "山田"}, {"name": "Ann"}]) == ["NAME  X", "山田  x", "Ann   x"]


def test_control_characters_in_names_never_reach_the_terminal_raw() -> None:
    hostile = "Eve\x1b[2J\x1b]0;owned\x07\nroot\u202e"
    shown = printable(hostile)
    assert shown.isprintable() and "\\x1b[2J" in shown and "\\n" in shown and "\\u202e" in shown
    lines = table((Column("NAME", lambda r: r["name"]),), [{"name": hostile}]) + record([("Name", hostile)])
    assert all(line.isprintable() for line in lines)


def test_the_machine_form_has_one_type_per_field() -> None:
    value = {"consent_at": MOMENT, "valid_until": None, "valid_from": 0.0, "active": True,
             "fingers": [{"enrolled_at": MOMENT, "duress": False, "capacity": 7}],
             "detail": {"at": "2026-12-03T06:12:17.026855Z", "seq": 3}, "bundle_version": 1764300000000000}
    assert machine(value) == {
        "consent_at": "2026-12-03T06:12:17.026855Z", "valid_until": None,
        "valid_from": "1970-01-01T00:00:00.000000Z", "active": True,
        "fingers": [{"enrolled_at": "2026-12-03T06:12:17.026855Z", "duress": False, "capacity": 7}],
        "detail": {"at": "2026-12-03T06:12:17.026855Z", "seq": 3}, "bundle_version": 1764300000000000}


@pytest.mark.parametrize("text, cell", [("=HYPERLINK(\"x\")", "'=HYPERLINK(\"x\")"), ("+1", "'+1"),
                                        ("-2", "'-2"), ("@SUM(A1)", "'@SUM(A1)"), ("Ann", "Ann"),
                                        (None, ""), (7, "7")])
def test_csv_cells_a_spreadsheet_would_run_are_quoted(text, cell) -> None:
    assert spreadsheet_safe(text) == cell


def test_nested_values_read_as_people_read_them() -> None:
    assert compact({"unlock_s": 5.0, "relock_on_close": True, "page": None,
                    "lockout": {"strikes": 3, "max_s": 60.0}, "allow_list": []}) == (
        "unlock_s=5.0 relock_on_close=yes page=- lockout={strikes=3 max_s=60.0} allow_list=[]")
    assert compact({}) == "-" and compact("text") == "text"

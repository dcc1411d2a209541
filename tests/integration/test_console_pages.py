"""What the console's pages show: the doors board from heartbeats (and the offline rule),
the event log's filters, keyset pages and CSV export (the CLI's rows), new events on the
live rows, and alarms open first."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest

from doorward.server.cli.events import CSV_FIELDS, csv_row
from doorward.server.domain import event_log
from tests.support.console import HOSTILE_NAMES, console_site, signed_in
from tests.support.server import iso, running_server, wait_until

BASE_AT = 1_800_000_000.0


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("console-pages")) as running:
        yield running


@pytest.fixture(scope="module")
def site(server):
    return console_site(server)


@pytest.fixture(scope="module")
def admin(server, site):
    browser = signed_in(server, "pages-admin", "admin")
    yield browser
    browser.close()


def cells(page: str) -> list[list[str]]:
    """The text of each table body row's cells."""
    body = page.split("<tbody", 1)[1].split("</tbody>", 1)[0] if "<tbody" in page else page  # a poll's rows
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", body, flags=re.S)
    return [[re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
            for row in rows]


def test_the_board_shows_what_the_heartbeat_reported(server, site, admin) -> None:
    site.site.door.heartbeat(applied_version=1, reconciled_version=0, clock_trusted=False,
                             reader_state="offline", backlog=17)
    row = cells(admin.get("/console/board").text)[0]
    assert row[1:5] == ["door", "Lab", "online", "0 s ago"]
    assert row[5:10] == ["offline", row[6], "-", "NOT trusted", "17"]
    assert row[6].startswith("1 (module 0)")
    assert row[10] == "off, waiting for the door"  # the rename made a bundle the door has not applied
    assert "denied" in row[11] and HOSTILE_NAMES[1].replace("<", "&lt;") not in row[11]


def test_the_board_says_offline_by_the_alarms_rule_and_shows_a_zone_lockdown(server, site, admin) -> None:
    offline_after_s = server.config.heartbeat_interval_s * server.config.missed_heartbeats
    site.site.door.heartbeat(applied_version=1, reconciled_version=1, clock_trusted=True, reader_state="ok")
    server.clock.advance(offline_after_s)
    assert cells(admin.get("/console/board/rows").text)[0][3] == "online"
    server.clock.advance(1)
    assert cells(admin.get("/console/board/rows").text)[0][3] == "offline"
    with server.ctx.db.transaction() as conn:
        conn.execute("UPDATE zones SET lockdown = 1 WHERE id = ?", (site.site.zone_id,))
    try:
        assert cells(admin.get("/console/board/rows").text)[0][10].startswith("on (zone), ")
    finally:
        with server.ctx.db.transaction() as conn:
            conn.execute("UPDATE zones SET lockdown = 0 WHERE id = ?", (site.site.zone_id,))
        site.site.door.heartbeat(applied_version=1, reconciled_version=1, clock_trusted=True, reader_state="ok")


def test_events_show_names_zone_and_reasons_in_words(site, admin) -> None:
    rows = cells(admin.get("/console/events").text)
    assert rows[0][3:5] == ["alarm", ""] and "forced open" in rows[0][6]
    denied = next(row for row in rows if row[3] == "denied")
    assert denied[2] == "Lab" and denied[4] == HOSTILE_NAMES[1].replace("&", "&amp;").replace("<", "&lt;") \
        .replace(">", "&gt;").replace('"', "&#34;").replace("'", "&#39;")
    assert "outside the grant&#39;s schedule" in denied[6] and "outside_schedule" in denied[6]
    assert denied[5] == "finger 0"


@pytest.mark.parametrize(("params", "expected"), [
    ({"outcome": "granted"}, {"granted"}),
    ({"outcome": "denied"}, {"denied"}),
    ({"reason": "outside_schedule"}, {"denied"}),
    ({"outcome": "access"}, {"granted", "denied"}),
])
def test_filters_by_outcome_and_reason(admin, params, expected) -> None:
    rows = cells(admin.get("/console/events", params=params).text)
    assert {row[3] for row in rows} == expected and len(rows) == 2 * len(expected)


def test_filters_by_person_door_and_time(site, admin) -> None:
    person = admin.get("/console/events", params={"person": site.people[HOSTILE_NAMES[0]]})
    assert len(cells(person.text)) == 2
    door = admin.get("/console/events", params={"door": site.site.door_id})
    assert len(cells(door.text)) == 5
    window = admin.get("/console/events", params={"since": iso(BASE_AT + 5), "until": iso(BASE_AT + 65)})
    assert [row[3] for row in cells(window.text)] == ["granted", "denied"]  # newest first


@pytest.mark.parametrize(("params", "field"), [
    ({"since": "last tuesday"}, "since"), ({"door": "d_nope"}, "door"), ({"outcome": "maybe"}, "outcome"),
    ({"reason": "because"}, "reason"), ({"before": "garbage"}, "before"), ({"person": "nobody at all"}, "person")])
def test_a_bad_filter_is_named_and_nothing_is_listed(admin, params, field) -> None:
    answer = admin.get("/console/events", params=params)
    assert answer.status_code == 422 and f"{field}: " in answer.text
    assert admin.get("/console/events.csv", params=params).status_code == 422


@pytest.fixture(scope="module")
def many(tmp_path_factory):
    """A second server with 230 events, a quarter of them at the same instant (ties in ``at``)."""
    with running_server(tmp_path_factory.mktemp("console-many")) as running:
        built = console_site(running)
        rows = [(built.site.door_id, "j-many", seq, iso(BASE_AT + 1000 + (seq // 4 if seq % 4 else seq)),
                 "access_denied" if seq % 3 else "access_granted",
                 json.dumps({"reason": "no_grant" if seq % 3 else "granted"}), "0" * 64, "0" * 64, 1,
                 BASE_AT + seq % 7) for seq in range(1, 231)]
        with running.ctx.db.transaction() as conn:
            conn.executemany("INSERT INTO events VALUES (?,?,?,?,?,?,?,?,?,?)", rows)
        browser = signed_in(running, "many-admin", "auditor")
        yield running, browser
        browser.close()


def test_keyset_pages_walk_every_event_once_newest_first(many) -> None:
    server, browser = many
    expected = list(reversed(list(event_log.select(server.ctx.read(), event_log.EventQuery()))))
    seen, link, pages = [], "/console/events", 0
    while link:
        page = browser.get(link).text
        seen += cells(page)
        found = re.search(r'<a rel="next" href="([^"]+)"', page)
        link = found.group(1).replace("&amp;", "&") if found else ""
        pages += 1
    assert pages == -(-len(expected) // 50)
    assert [row[0] for row in seen] == [row[0] for row in (cells_of(expected))]
    assert len(seen) == len(expected) == 230 + 5


def cells_of(events):
    from doorward.server.console.views import event_view
    return [[event_view(event, {})["at"]] for event in events]


def test_keyset_pages_keep_the_filter(many) -> None:
    server, browser = many
    first = browser.get("/console/events", params={"outcome": "granted"}).text
    link = re.search(r'<a rel="next" href="([^"]+)"', first).group(1).replace("&amp;", "&")
    assert "outcome=granted" in link
    second = cells(browser.get(link).text)
    assert {row[3] for row in second} == {"granted"}
    assert len(cells(first)) + len(second) == 76 + 2  # seq divisible by 3, and the site's two


def test_the_csv_export_is_the_clis_rows_for_the_filter(many) -> None:
    server, browser = many
    answer = browser.get("/console/events.csv", params={"outcome": "denied"})
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    assert "attachment" in answer.headers["content-disposition"]
    got = list(csv.reader(io.StringIO(answer.text)))
    query = event_log.EventQuery(kinds=("access_denied",))
    wanted = [list(CSV_FIELDS)] + [csv_row(event) for event in event_log.select(server.ctx.read(), query)]
    assert got == wanted and len(got) == 1 + 154 + 2


def test_the_live_rows_show_a_new_event_without_reloading(server, site, admin) -> None:
    before = cells(admin.get("/console/events/rows").text)
    door = site.site.door
    assert door.post_events([door.event("access_granted", {"reason": "granted",
                                                           "user": site.people[HOSTILE_NAMES[0]]},
                                        at=BASE_AT + 900)]).status_code == 200
    after = cells(admin.get("/console/events/rows").text)
    assert len(after) == len(before) + 1 and after[0][3] == "granted"


def test_alarms_open_first_and_by_state(server, site, admin) -> None:
    door = site.site.door
    door.post_events([door.event("alarm", {"alarm": "held_open"}, at=BASE_AT + 950)])
    rows = cells(admin.get("/console/alarms").text)
    states = [row[4] for row in rows]
    assert states == sorted(states, key=lambda s: {"open": 0, "acknowledged": 1, "cleared": 2}[s])
    assert any("held open" in row[1] for row in rows)
    only_open = cells(admin.get("/console/alarms", params={"state": "open"}).text)
    assert {row[4] for row in only_open} == {"open"}
    assert admin.get("/console/alarms", params={"state": "sideways"}).status_code == 422


def test_event_log_pages_are_the_newest_first_order_exactly_with_ties(many) -> None:
    server, _ = many
    conn = server.ctx.read()
    key = lambda event: (event["device_id"], event["journal_id"], event["seq"])  # noqa: E731
    for query in (event_log.EventQuery(), event_log.EventQuery(device_ids=(many_door(conn),)),
                  event_log.EventQuery(kinds=("access_denied",), reasons=("no_grant",))):
        expected = [key(event) for event in reversed(list(event_log.select(conn, query)))]
        walked, cursor = [], None
        while True:
            events, cursor = event_log.page(conn, query, 7, cursor)
            walked += [key(event) for event in events]
            if cursor is None:
                break
        assert walked == expected and len(set(walked)) == len(walked) > 100


def many_door(conn) -> str:
    return conn.execute("SELECT device_id FROM events WHERE journal_id = 'j-many' LIMIT 1").fetchone()[0]


def test_the_first_filtered_page_uses_an_index(many) -> None:
    """By door, by person (named, or through a finger) and unfiltered: no scan of every row."""
    server, _ = many
    conn = server.ctx.read()
    where, params = event_log._where(event_log.EventQuery(device_ids=(many_door(conn),)))
    plan = conn.execute("EXPLAIN QUERY PLAN " + event_log.SORTED + where + event_log.ORDER.format("DESC")
                        + " LIMIT 51", params).fetchall()
    text = " ".join(str(row[-1]) for row in plan)
    assert "events_by_door_time" in text and "TEMP B-TREE" not in text
    where, params = event_log._where(event_log.EventQuery(user_ids=("u_0000000000000001", "u_0000000000000002")),
                                     fingers=("f_0000000000000001", "f_0000000000000002"))
    plan = conn.execute("EXPLAIN QUERY PLAN " + event_log.SORTED + where + event_log.ORDER.format("DESC")
                        + " LIMIT 51", params).fetchall()
    text = " ".join(str(row[-1]) for row in plan)
    assert "events_by_person" in text and "events_by_finger" in text and "SCAN e" not in text
    plan = conn.execute("EXPLAIN QUERY PLAN " + event_log.SORTED + event_log.ORDER.format("DESC") + " LIMIT 51")
    text = " ".join(str(row[-1]) for row in plan.fetchall())
    assert "events_by_time" in text and "TEMP B-TREE" not in text


def test_security_locks_a_zone_down_after_a_confirmation_and_the_door_confirms(server, site) -> None:
    security = signed_in(server, "pages-security", "security")
    door = site.site.door
    target = f"zone:{site.site.zone_id}"
    listing = security.get("/console/lockdown").text
    assert f"/console/lockdown/confirm?target={target.replace(':', '%3A')}" in listing or \
        f"/console/lockdown/confirm?target=zone:{site.site.zone_id}" in listing
    confirm = security.get("/console/lockdown/confirm", params={"target": target, "state": "on"})
    assert confirm.status_code == 200 and "Lock down the zone Lab?" in confirm.text
    assert "1 door:" in confirm.text
    unconfirmed = security.post("/console/lockdown", {"target": target, "state": "on"})
    assert unconfirmed.status_code == 422
    assert server.ctx.read().execute("SELECT lockdown FROM zones WHERE id = ?", (site.site.zone_id,)).fetchone()[0] == 0
    done = security.post("/console/lockdown", {"target": target, "state": "on", "confirm": "yes"})
    assert done.status_code == 303
    conn = server.ctx.read()
    assert conn.execute("SELECT lockdown FROM zones WHERE id = ?", (site.site.zone_id,)).fetchone()[0] == 1
    audit = conn.execute("SELECT actor, action, detail FROM audit_log ORDER BY id DESC LIMIT 1").fetchone()
    assert tuple(audit) == ("security:pages-security", "zone.update", '{"lockdown": true}')
    assert "on (zone), waiting for the door" in cells(security.get("/console/board/rows").text)[0][10]

    def door_runs_the_lockdown() -> bool:
        snapshot = door.fetch()
        door.heartbeat(applied_version=snapshot.version, reconciled_version=snapshot.version)
        return snapshot.lockdown and "confirmed" in cells(security.get("/console/board/rows").text)[0][10]
    wait_until(door_runs_the_lockdown, timeout_s=10)
    assert "Lab&lt;/b&gt; &amp; door: locked down, confirmed" in security.get("/console/lockdown").text

    site_wide = security.post("/console/lockdown", {"target": f"site:{site.site.site_id}", "state": "off",
                                                     "confirm": "yes"})
    assert site_wide.status_code == 303
    assert conn.execute("SELECT COUNT(*) FROM zones WHERE lockdown = 1").fetchone()[0] == 0
    assert security.post("/console/lockdown", {"target": "zone:z_nope", "state": "on", "confirm": "yes"}).status_code == 422
    security.close()


def test_a_site_wide_lockdown_reaches_every_zone(server, site, admin) -> None:
    with server.ctx.write() as conn:
        second = conn.execute("INSERT INTO zones (id, site_id, name) VALUES ('z_second00000000', ?, 'Store')",
                              (site.site.site_id,))
    assert second.rowcount == 1
    target = f"site:{site.site.site_id}"
    page = admin.get("/console/lockdown/confirm", params={"target": target, "state": "on"}).text
    assert "Lock down the site HQ?" in page
    assert admin.post("/console/lockdown", {"target": target, "state": "on", "confirm": "yes"}).status_code == 303
    conn = server.ctx.read()
    assert tuple(conn.execute("SELECT COUNT(*), SUM(lockdown) FROM zones").fetchone()) == (2, 2)
    assert "End the site-wide lockdown" in admin.get("/console/lockdown").text
    assert admin.post("/console/lockdown", {"target": target, "state": "off", "confirm": "yes"}).status_code == 303
    assert conn.execute("SELECT SUM(lockdown) FROM zones").fetchone()[0] == 0


def test_the_audit_log_filters_and_pages(server, site, admin) -> None:
    page = admin.get("/console/audit", params={"action": "zone.update"}).text
    rows = cells(page)
    assert rows and {row[2] for row in rows} == {"zone.update"}
    assert any(row[1] == "security:pages-security" for row in rows)
    logins = cells(admin.get("/console/audit", params={"action": "session.", "actor": "pages-admin"}).text)
    assert logins and all(row[2] == "session.open" and row[4] == "127.0.0.1" for row in logins)
    everything = cells(admin.get("/console/audit").text)
    assert len(everything) == 50 or "Older actions" not in admin.get("/console/audit").text
    assert admin.get("/console/audit", params={"before": "x1"}).status_code == 422
    assert admin.get("/console/audit", params={"since": "whenever"}).status_code == 422


def test_audit_pages_walk_every_row_once(server, site) -> None:
    from doorward.server.domain import audit_log
    conn = server.ctx.read()
    expected = [row[0] for row in conn.execute("SELECT id FROM audit_log ORDER BY id DESC")]
    walked, before = [], None
    while True:
        rows, before = audit_log.page(conn, audit_log.AuditQuery(), 4, before)
        walked += [row["id"] for row in rows]
        if before is None:
            break
    assert walked == expected and len(expected) > 8
    literal = audit_log.page(conn, audit_log.AuditQuery(actor="%"), 100)[0]
    assert literal == []  # a typed % is a character, not a wildcard


def test_an_admin_adds_a_visitor_with_a_validity_window(server, admin) -> None:
    answer = admin.post("/console/people", {"name": "Vera Visitor", "valid_from": "2027-01-15 09:00",
                                            "valid_until": "2027-01-16"})
    assert answer.status_code == 303 and answer.headers["location"] == "/console/people?q=Vera%20Visitor"
    row = server.ctx.read().execute("SELECT valid_from, valid_until, roles FROM users WHERE name = 'Vera Visitor'").fetchone()
    from doorward.server.cli.times import parse_moment
    assert row["valid_from"] == parse_moment("2027-01-15 09:00", "x", now_s=0)
    assert row["valid_until"] == parse_moment("2027-01-17", "x", now_s=0)  # the whole 16th is inside
    listed = cells(admin.get("/console/people", params={"q": "vera"}).text)
    assert len(listed) == 1 and listed[0][0] == "Vera Visitor" and "to" in listed[0][3]
    assert listed[0][3].endswith("(not yet valid)")  # the test clock is in January 2027
    bad = admin.post("/console/people", {"name": "Val", "valid_from": "2027-01-16", "valid_until": "2027-01-15"})
    assert bad.status_code == 422 and "valid_until: must be after valid_from" in bad.text
    assert admin.post("/console/people", {"name": "  "}).status_code == 422
    assert admin.post("/console/people", {"name": "T", "valid_until": "soonish"}).status_code == 422


def test_an_enroller_adds_a_person_but_no_window_and_no_security_role(server) -> None:
    enroller = signed_in(server, "pages-enroller", "enroller")
    page = enroller.get("/console/people").text
    assert "Visitor from" not in page and 'name="name"' in page
    assert enroller.post("/console/people", {"name": "Staff Sam"}).status_code == 303
    for extra in ({"valid_until": "2027-02-01"}, {"security": "yes"}):
        refused = enroller.post("/console/people", {"name": "Sneaky", **extra})
        assert refused.status_code == 403
    conn = server.ctx.read()
    assert conn.execute("SELECT COUNT(*) FROM users WHERE name = 'Sneaky'").fetchone()[0] == 0
    assert conn.execute("SELECT COUNT(*) FROM users WHERE name = 'Staff Sam'").fetchone()[0] == 1
    assert enroller.get("/console/board").status_code == 403 and enroller.get("/console/events").status_code == 403
    enroller.close()


def test_people_search_treats_wildcards_as_characters(server, admin) -> None:
    assert cells(admin.get("/console/people", params={"q": "%"}).text) == [["No one matches."]]
    assert len(cells(admin.get("/console/people", params={"q": "vIsItOr"}).text)) == 1


def test_a_person_is_found_by_name_or_through_a_finger_as_the_cli_resolves_them(server, site) -> None:
    """The indexed person filter keeps the old meaning: the person the record names, else
    the owner of the finger it names (never the finger's owner when a person is named)."""
    conn = server.ctx.read()
    first, second = (site.people[name] for name in HOSTILE_NAMES)
    finger_of_second = conn.execute("SELECT id FROM fingers WHERE user_id = ?", (second,)).fetchone()[0]
    door = site.site.door
    assert door.post_events([
        door.event("access_denied", {"reason": "no_grant", "finger": finger_of_second}, at=BASE_AT + 2000),
        door.event("access_denied", {"reason": "no_grant", "user": first, "finger": finger_of_second},
                   at=BASE_AT + 2001)]).status_code == 200
    def reasons_for(person: str) -> list[tuple[str, str | None]]:
        events, _ = event_log.page(conn, event_log.EventQuery(user_ids=(person,), reasons=("no_grant",)), 10)
        return [(event["at"], event["user_id"]) for event in events]
    assert reasons_for(second) == [(iso(BASE_AT + 2000), second)]
    assert reasons_for(first) == [(iso(BASE_AT + 2001), first)]


@pytest.mark.parametrize(("query", "index"), [
    (event_log.EventQuery(kinds=("scan_ignored",)), "events_by_kind"),
    (event_log.EventQuery(reasons=("holiday",)), "events_by_reason"),
    (event_log.EventQuery(kinds=("access_granted", "access_denied")), "events_by_time"),
    (event_log.EventQuery(since="2027-01-01T00:00:00Z"), "events_by_time"),
    (event_log.EventQuery(device_ids=("d_0000000000000001",), kinds=("access_denied",)), "events_by_"),
])
def test_every_filter_reads_an_index_in_the_page_order(many, query, index) -> None:
    """A page of a rare outcome or reason must not read the whole log; several values of one
    filter must not sort every match (they follow the time order)."""
    server, _ = many
    where, params = event_log._where(query)
    plan = server.ctx.read().execute("EXPLAIN QUERY PLAN " + event_log.SORTED + where
                                     + event_log.ORDER.format("DESC") + " LIMIT 51", params).fetchall()
    text = " ".join(str(row[-1]) for row in plan)
    assert index in text and "TEMP B-TREE" not in text, text


def test_alarm_history_filters_by_kind_and_door(server, site, admin) -> None:
    door = site.site.door
    door.post_events([door.event("alarm", {"alarm": "forced_open"}, at=BASE_AT + 3000)])
    forced = cells(admin.get("/console/alarms", params={"kind": "forced"}).text)
    assert forced and all("forced open" in row[1] for row in forced)
    at_door = cells(admin.get("/console/alarms", params={"door": site.site.door_id}).text)
    assert at_door and all("Lab" in row[2] for row in at_door)
    live = cells(admin.get("/console/alarms/rows", params={"kind": "forced", "state": "open"}).text)
    assert live and {row[4] for row in live} == {"open"}
    assert admin.get("/console/alarms", params={"door": "d_nope"}).status_code == 422
    page = admin.get("/console/alarms", params={"kind": "forced"}).text
    assert 'data-refresh="/console/alarms/rows?kind=forced"' in page

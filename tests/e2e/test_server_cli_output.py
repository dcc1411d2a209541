"""What `doorward server` prints, run as its own process against a server's database: tables
for people (local time, yes/no, names beside ids), --json for machines (one type per field),
`server events` filtered by time, door and person with names resolved, CSV streamed, a
visitor's window from `person add`, plain-text help, and a closed pipe that ends quietly.

The server runs in this process (``running_server``, loopback) so that a door can send real
hash-chained events; every CLI call is a separate process reading the same SQLite file.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from doorward.server.cli import main as server_cli
from tests.support.server import R307, TestDoor, b64, enrol, make_site, running_server, template

ROOT = Path(__file__).resolve().parents[2]
T0 = dt.datetime(2026, 11, 30, 8, 0, tzinfo=dt.timezone.utc).timestamp()
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
BOOLEANS = {"active", "lockdown", "two_person", "duress", "chain_ok", "paired", "online", "module_mismatch"}


def run_cli(config: Path, *args: str, tz: str = "UTC", check: bool = True) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "doorward.daemon.cli", "server", *args, "--config", str(config)]
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=60,
                            env={**os.environ, "TZ": tz})
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def as_json(config: Path, *args: str) -> object:
    return json.loads(run_cli(config, *args, "--json").stdout)


def write_config(tmp: Path) -> Path:
    config = tmp / "cli.toml"
    config.write_text(f'[server]\ndatabase = "{tmp / "doorward.server.store.db"}"\nkeys_dir = "{tmp / "keys"}"\n'
                      "[clock]\nassume_synchronised = true\n")
    return config


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """Two doors, Alice and Bob with a finger each, and events from both doors."""
    tmp = tmp_path_factory.mktemp("cli")
    with running_server(tmp) as server:
        lab = make_site(server)
        alice, bob = enrol(lab.admin, "Alice"), enrol(lab.admin, "Bob", start=10)
        for person in (alice, bob):
            assert lab.admin.post("/api/v1/grants", json={"person_id": person["person_id"],
                                                          "zone_id": lab.zone_id}).status_code == 201
        store_id = lab.admin.post("/api/v1/doors", json={
            "name": "Store door", "site_id": lab.site_id, "zone_id": lab.zone_id,
            "module_identity": R307, "capacity": 100}).json()["id"]
        store = TestDoor(server, journal_id="j-store")
        assert store.pair(lab.admin.post(f"/api/v1/doors/{store_id}/pairing-codes").json()["code"]).status_code == 201
        ids = {"alice": alice["person_id"], "bob": bob["person_id"], "alice_finger": alice["finger_ids"][0],
               "lab": lab.door_id, "store": store_id, "zone": lab.zone_id}
        post(lab.door, [("access_granted", granted(ids, "alice"), 0),
                        ("access_denied", {"reason": "unknown_finger", "user": None, "finger": None}, 3600),
                        ("access_granted", granted(ids, "bob"), 7200),
                        ("alarm", {"alarm": "forced_open", "detail": "door contact"}, 10800)])
        post(store, [("access_granted", granted(ids, "alice"), 5400)])
        assert lab.door.heartbeat(applied_version=1).status_code == 200
        yield write_config(tmp), ids


def granted(ids: dict, who: str) -> dict:
    finger = ids["alice_finger"] if who == "alice" else None
    return {"reason": "granted", "user": ids[who], "finger": finger, "wall_trusted": True}


def post(door: TestDoor, events: list[tuple[str, dict, float]]) -> None:
    answer = door.post_events([door.event(kind, detail, at=T0 + offset) for kind, detail, offset in events])
    assert answer.status_code == 200 and answer.json()["accepted"] == len(events), answer.text


def walk(value, key: str = ""):
    if isinstance(value, dict):
        for k, item in value.items():
            yield from walk(item, k)
    elif isinstance(value, list):
        for item in value:
            yield from walk(item, key)
    else:
        yield key, value


# ---- tables and --json ----

def test_lists_and_shows_print_tables_with_yes_no_and_names(site) -> None:
    config, ids = site
    zones = run_cli(config, "zone", "list").stdout
    assert zones.splitlines()[0].split() == ["ID", "NAME", "SITE", "TWO-PERSON", "LOCKDOWN"]
    assert zones.splitlines()[1].split() == [ids["zone"], "Lab", "HQ", "no", "no"]
    doors = {line.split()[0]: line for line in run_cli(config, "door", "list").stdout.splitlines()[1:]}
    assert re.search(r"Lab door\s+HQ\s+Lab\s+yes\s+yes\s+no", doors[ids["lab"]])  # paired, online, no lockdown
    shown = run_cli(config, "door", "show", ids["lab"]).stdout
    assert "Zone:" in shown and f"Lab ({ids['zone']})" in shown and "Paired:" in shown
    person = run_cli(config, "person", "show", ids["alice"]).stdout
    assert re.search(rf"Active:\s+yes", person) and f"Lab ({ids['zone']})" in person and "finger 0" in person
    alarms = run_cli(config, "alarms", "list").stdout
    assert re.search(r"forced\s+Lab door\s+open", alarms), alarms
    for output in (zones, shown, person, alarms):  # no Python booleans, no JSON
        assert not re.search(r"\b(True|False)\b|^\s*[\[{]", output, re.M), output


def test_times_in_tables_are_the_machines_local_time(site) -> None:
    config, ids = site
    consent_at = as_json(config, "person", "show", ids["alice"])["consent_at"]
    utc = dt.datetime.fromisoformat(consent_at.replace("Z", "+00:00"))
    for zone in ("Asia/Kolkata", "America/New_York"):
        expected = utc.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M:%S")
        assert re.search(rf"Consent:\s+{expected} by ", run_cli(config, "person", "show", ids["alice"], tz=zone).stdout)
        listed = run_cli(config, "person", "list", tz=zone).stdout
        assert expected in next(line for line in listed.splitlines() if line.startswith(ids["alice"]))


def test_json_gives_one_type_per_field_in_every_list(site) -> None:
    config, ids = site
    outputs = [as_json(config, *args) for args in (
        ("site", "list"), ("zone", "list"), ("door", "list"), ("door", "show", ids["lab"]),
        ("person", "list"), ("person", "show", ids["alice"]), ("alarms", "list"), ("events",))]
    seen_bool = set()
    for key, value in (pair for output in outputs for pair in walk(output)):
        if key in BOOLEANS:
            assert isinstance(value, bool), (key, value)
            seen_bool.add(key)
        if key.endswith("_at") or key in ("valid_from", "valid_until"):
            assert value is None or (isinstance(value, str) and ISO_UTC.match(value)), (key, value)
    assert {"lockdown", "active", "two_person", "paired", "chain_ok"} <= seen_bool
    zone, door = outputs[1][0], next(d for d in outputs[2] if d["id"] == ids["lab"])
    assert zone["lockdown"] is False and door["lockdown"] is False  # once 0, once false
    assert door["site_name"] == "HQ" and door["zone_name"] == "Lab"


# ---- server events ----

def event_summary(events: list[dict]) -> list[tuple]:
    return [(e["device_name"], e["kind"], e["user_name"], e["at"][11:16]) for e in events]


def test_events_list_oldest_first_with_names_resolved_on_the_server(site) -> None:
    config, ids = site
    events = as_json(config, "events")
    assert event_summary(events) == [
        ("Lab door", "access_granted", "Alice", "08:00"), ("Lab door", "access_denied", None, "09:00"),
        ("Store door", "access_granted", "Alice", "09:30"), ("Lab door", "access_granted", "Bob", "10:00"),
        ("Lab door", "alarm", None, "11:00")]
    assert events[0]["finger_name"] == "finger 0" and events[0]["user_id"] == ids["alice"]
    assert all(ISO_UTC.match(e["received_at"]) and e["chain_ok"] is True for e in events)
    table = run_cli(config, "events", tz="Asia/Kolkata").stdout.splitlines()
    assert table[0].split()[:5] == ["AT", "(local)", "DOOR", "KIND", "REASON"]
    assert re.match(r"2026-11-30 13:30:00\s+Lab door\s+access_granted\s+granted\s+Alice\s+finger 0", table[1])


@pytest.mark.parametrize("options, expected", [
    (("--door", "Lab door", "--person", "Alice"), [("Lab door", "access_granted", "Alice", "08:00")]),
    (("--person", "alice"), [("Lab door", "access_granted", "Alice", "08:00"),
                             ("Store door", "access_granted", "Alice", "09:30")]),
    (("--door", "STORE DOOR"), [("Store door", "access_granted", "Alice", "09:30")]),
    (("--since", "2026-11-30T09:00:00Z", "--until", "2026-11-30T10:00:00Z"),
     [("Lab door", "access_denied", None, "09:00"), ("Store door", "access_granted", "Alice", "09:30")]),
    (("--since", "2026-11-30 10:00"), [("Lab door", "access_granted", "Bob", "10:00"),
                                       ("Lab door", "alarm", None, "11:00")]),
    (("--until", "2026-11-30T08:00:00Z"), []),
    (("--limit", "2"), [("Lab door", "access_granted", "Bob", "10:00"), ("Lab door", "alarm", None, "11:00")]),
    (("--since", "100000d", "--door", "Lab door", "--door", "Store door", "--person", "Bob"),
     [("Lab door", "access_granted", "Bob", "10:00")]),
])
def test_events_filter_by_time_door_and_person(site, options, expected) -> None:
    config, _ = site
    assert event_summary(as_json(config, "events", *options)) == expected


def test_events_filter_by_ids_too(site) -> None:
    config, ids = site
    by_ids = as_json(config, "events", "--door", ids["store"], "--person", ids["alice"])
    assert event_summary(by_ids) == [("Store door", "access_granted", "Alice", "09:30")]


def test_events_csv_streams_every_matching_event(site) -> None:
    config, ids = site
    rows = list(csv.DictReader(io.StringIO(run_cli(config, "events", "--csv", "--door", "Lab door").stdout)))
    assert [(r["door"], r["kind"], r["reason"], r["person"]) for r in rows] == [
        ("Lab door", "access_granted", "granted", "Alice"), ("Lab door", "access_denied", "unknown_finger", ""),
        ("Lab door", "access_granted", "granted", "Bob"), ("Lab door", "alarm", "forced_open", "")]
    first = rows[0]
    assert first["at"] == "2026-11-30T08:00:00.000000Z" and first["door_id"] == ids["lab"]
    assert first["person_id"] == ids["alice"] and first["finger"] == "finger 0"
    assert first["chain_ok"] == "true" and first["clock_trusted"] == "true" and ISO_UTC.match(first["received_at"])
    assert json.loads(first["detail"])["user"] == ids["alice"]


@pytest.mark.parametrize("options, says", [
    (("--since", "yesterday"), "--since: cannot read 'yesterday' as a time"),
    (("--until", "2026-02-30"), "--until: cannot read '2026-02-30'"),
    (("--door", "Back door"), "--door: no door or station has the id or name 'Back door'"),
    (("--person", "Mallory"), "--person: no person has the id or name 'Mallory'"),
    (("--json", "--csv"), "not allowed with argument"),
    (("--limit", "0"), "not a whole number of 1 or more"),
])
def test_a_bad_events_filter_is_one_line_naming_the_option(site, options, says) -> None:
    config, _ = site
    refused = run_cli(config, "events", *options, check=False)
    assert refused.returncode in (1, 2) and says in refused.stderr and "Traceback" not in refused.stderr
    assert refused.stdout == ""


# ---- a visitor's window ----

def test_person_add_sets_a_visitors_window_in_local_time(tmp_path) -> None:
    with running_server(tmp_path) as server:
        lab = make_site(server)
        config = write_config(tmp_path)
        added = run_cli(config, "person", "add", "Visitor", "--valid-from", "2027-01-15 09:00",
                        "--valid-until", "2027-01-20T17:00:00+01:00", tz="Europe/Berlin")
        visitor = added.stdout.strip()
        assert re.fullmatch(r"u_[0-9a-f]{16}", visitor)
        shown = as_json(config, "person", "show", visitor)
        assert (shown["valid_from"], shown["valid_until"]) == ("2027-01-15T08:00:00.000000Z",
                                                               "2027-01-20T16:00:00.000000Z")
        run_cli(config, "person", "consent", visitor, "visitor form")
        finger = {"name": "index", "module_identity": R307, "template": b64(template(7))}
        assert lab.admin.post(f"/api/v1/people/{visitor}/fingers", json=finger).status_code == 201
        run_cli(config, "grant", visitor, lab.zone_id)
        carried = next(u for u in lab.door.fetch().users if u.user_id == visitor)  # the door's bundle
        assert (carried.valid_from, carried.valid_until) == (
            dt.datetime(2027, 1, 15, 8, tzinfo=dt.timezone.utc).timestamp(),
            dt.datetime(2027, 1, 20, 16, tzinfo=dt.timezone.utc).timestamp())
        backwards = run_cli(config, "person", "add", "Late", "--valid-from", "2026-12-04",
                            "--valid-until", "2026-12-03", check=False)
        assert backwards.returncode == 1 and "valid_until: must be after valid_from" in backwards.stderr
        unreadable = run_cli(config, "person", "add", "Soon", "--valid-until", "tomorrow", check=False)
        assert unreadable.returncode == 1 and "--valid-until: cannot read 'tomorrow'" in unreadable.stderr
        assert [p["name"] for p in as_json(config, "person", "list")] == ["Visitor"]  # nothing half-added


# ---- help and pipes ----

def test_help_texts_are_plain_text() -> None:
    for name, (module_name, _) in server_cli.COMMANDS.items():
        module = __import__(module_name, fromlist=["parser"])
        for parser in parsers(module.parser(name, "doorward server")):
            text = parser.format_help()
            assert "`" not in text, (parser.prog, text)


def parsers(parser):
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from parsers(sub)


@pytest.mark.parametrize("args", [("person", "list"), ("events", "--csv"), ("door", "list", "--json"),
                                  ("--help",)])
def test_a_closed_pipe_ends_quietly(site, args) -> None:
    """`doorward server ... | head`: the reader is gone before the first write."""
    config, _ = site
    reader, writer = os.pipe()
    os.close(reader)
    command = [sys.executable, "-m", "doorward.daemon.cli", "server", *args]
    if args != ("--help",):
        command += ["--config", str(config)]
    result = subprocess.run(command, stdout=writer, stderr=subprocess.PIPE, text=True, cwd=ROOT, timeout=60)
    os.close(writer)
    assert result.stderr == "" and result.returncode == 0, result.stderr

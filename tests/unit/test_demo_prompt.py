"""The interactive demo's command parser and its words: pure, no site started.

Every command in every well-formed shape, every malformed shape answered with what was
expected, and the printed lines: decisions in words with their reason code, versions with
the time the server issued them, alarms with the device's name.
"""

from __future__ import annotations

import datetime as dt

import pytest

from doorward.daemon.access.decision import Reason
from doorward.sim.demo.prompt import COMMANDS, BadCommand, Command, help_text, parse
from doorward.sim.demo.words import REASON_WORDS, alarm_text, decision_text, door_text, versions_text

DOORS = ("lobby", "tent")
UTC = dt.timezone.utc


@pytest.mark.parametrize(("line", "command"), [
    ("scan lobby alice", Command("scan", "lobby", "alice")),
    ("  SCAN   Tent  Bob ", Command("scan", "tent", "bob")),
    ("scan lobby alice-duress", Command("scan", "lobby", "alice-duress")),
    ("scan tent mallory_2", Command("scan", "tent", "mallory_2")),
    ("place tent carol", Command("place", "tent", "carol")),
    ("lift lobby", Command("lift", "lobby")),
    ("open tent", Command("open", "tent")),
    ("close tent", Command("close", "tent")),
    ("status", Command("status")),
    ("alarms", Command("alarms")),
    ("help", Command("help")),
    ("?", Command("help")),
    ("quit", Command("quit")),
    ("exit", Command("quit")),
    ('scan lobby "alice"', Command("scan", "lobby", "alice")),
])  # fmt: skip
def test_every_command_parses(line: str, command: Command) -> None:
    assert parse(line, DOORS) == command


def test_an_empty_line_is_nothing_to_do() -> None:
    assert parse("", DOORS) is None and parse("   \t", DOORS) is None


@pytest.mark.parametrize(("line", "says"), [
    ("foo", "unknown command 'foo': expected one of scan, place, lift, open, close, status, alarms, help, quit"),
    ("scan", "scan needs a door and a person: `scan DOOR WHO` (DOOR is lobby or tent)"),
    ("scan lobby", "scan needs a person: `scan DOOR WHO` (WHO is a name, e.g. alice)"),
    ("place tent", "place needs a person: `place DOOR WHO`"),
    ("lift", "lift needs a door: `lift DOOR` (DOOR is lobby or tent)"),
    ("open", "open needs a door: `open DOOR`"),
    ("close", "close needs a door: `close DOOR`"),
    ("scan hall alice", "unknown door 'hall': expected lobby or tent (`scan DOOR WHO`)"),
    ("lift hall", "unknown door 'hall': expected lobby or tent (`lift DOOR`)"),
    ("scan lobby alice bob", "scan takes two words, not 'bob': `scan DOOR WHO`"),
    ("lift lobby now", "lift takes one word, not 'now': `lift DOOR`"),
    ("status lobby", "status takes nothing, not 'lobby': `status`"),
    ("quit now", "quit takes nothing, not 'now': `quit`"),
    ("help scan", "help takes nothing, not 'scan': `help`"),
    ("scan lobby alice/left-little", "'alice/left-little' is not a person's name: expected one word"),
    ("scan lobby -x", "'-x' is not a person's name"),
    ('scan lobby "alice', "cannot read that line (No closing quotation): type `help`"),
])  # fmt: skip
def test_every_malformed_line_says_what_was_expected(line: str, says: str) -> None:
    with pytest.raises(BadCommand) as refused:
        parse(line, DOORS)
    assert says in str(refused.value)
    assert "index" not in str(refused.value)  # never a Python error's words


def test_help_lists_every_command_with_its_arguments() -> None:
    text = help_text(DOORS, ["alice", "bob"])
    assert "DOOR is lobby or tent; WHO is alice, bob, or any other name" in text
    for verb, (arguments, _) in COMMANDS.items():
        assert f"  {' '.join([verb, *arguments])} " in text


def test_every_reason_code_has_words() -> None:
    assert set(REASON_WORDS) == {reason.value for reason in Reason}


def test_a_decision_reads_as_words_with_its_reason_code_and_local_time() -> None:
    decision = {"at": "2026-03-12T08:03:04.500000Z", "kind": "access_granted", "reason": "granted",
                "claim": "match"}
    assert decision_text("Lobby door", "alice", decision, UTC) == \
        "Lobby door, alice: GRANTED, may enter [granted] at 08:03:04"
    denied = {"kind": "access_denied", "reason": "waiting_second_person"}
    assert decision_text("Tent door", "bob", denied) == ("Tent door, bob: DENIED, waiting for a second "
                                                         "person (two-person rule); the lock stays shut"
                                                         " [waiting_second_person]")
    strange = decision_text("Tent door", None, {"kind": "access_denied", "reason": "new_code"})
    assert strange.endswith("[new_code]") and "reasons.md" in strange


def test_versions_read_as_a_version_with_the_time_it_was_issued() -> None:
    issued = dt.datetime(2026, 3, 12, 9, 15, 0, tzinfo=UTC).timestamp()
    record = {"bundle_version": 7, "bundle_issued_at": issued}
    assert versions_text({"applied": 7, "reconciled": 7}, record, UTC) == \
        "version 7 (issued 09:15:00), module reconciled"
    assert versions_text({"applied": 6, "reconciled": 5}, record, UTC) == \
        "version 6, module still at 5; the server has version 7 waiting"
    assert versions_text({"applied": 7, "reconciled": 7}, None) == "version 7, module reconciled"
    assert versions_text({"applied": None}, record) == "no bundle applied yet"


def test_a_door_and_an_alarm_read_as_words_naming_the_device() -> None:
    door = {"state": "locked", "relay_energised": False, "contact_open": True, "forced": True}
    assert door_text(door) == "locked, relay at rest, contact open, forced"
    assert alarm_text(4, "door_offline", "Lobby door", 12.4) == \
        "#4 door_offline from Lobby door: no heartbeat for three intervals (12 s ago)"
    assert alarm_text(5, "brand_new", "the server", 0).startswith("#5 brand_new from the server: ")

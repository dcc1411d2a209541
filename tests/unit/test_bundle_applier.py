"""The service's bundle applier (items 4 and 6 of issue 12): what each envelope's outcome
tells the poller, and what reaches the journal when the same refusal or failure repeats."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from doorward.daemon.codec import bundle
from doorward.daemon.sync.apply import ApplyResult
from doorward.daemon.sync.incidents import Incident, IncidentLedger
from doorward.daemon.storage.cache import PermissionCache
from doorward.daemon.controller.clock import FakeClock, TimeTrust
from doorward.daemon.runtime.applier import BundleApplier, FreshnessConfirmer
from doorward.daemon.sync.client import ApplyOutcome
from doorward.sim.rig.access import ISSUED_AT, MODULE
from tests.support.sync import DOOR, signed_version, signing_key, trusted

KEY = bytes(range(32))
SERVER = signing_key()
NOW = ISSUED_AT + 3600


@dataclass
class FakeCredentials:
    device_id: str = DOOR

    def trusted_keys(self) -> dict:
        return trusted(SERVER)


@dataclass
class Recorder:
    records: list[tuple[str, dict]] = field(default_factory=list)

    def append(self, kind: str, detail: dict) -> None:
        self.records.append((kind, detail))

    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.records]


class Rig:
    def __init__(self, cache: PermissionCache, module_known: bool = True) -> None:
        self.cache, self.journal, self.applied = cache, Recorder(), []
        self.mono = 1000.0
        self.module_known, self.woken = module_known, 0
        self.applier = BundleApplier(
            cache, FakeCredentials(), TimeTrust(FakeClock(NOW)), self.journal,  # type: ignore[arg-type]
            lambda: (MODULE, 1000) if self.module_known else None, self.applied.append,
            monotonic=lambda: self.mono)
        self.applier.on_waiting_applied = self.wake

    def wake(self) -> None:
        self.woken += 1


@pytest.fixture
def rig(tmp_path: Path) -> Rig:
    return Rig(PermissionCache(tmp_path / "cache.db", KEY))


def test_outcomes_applied_unchanged_refused(rig: Rig) -> None:
    assert rig.applier(signed_version(7)) is ApplyOutcome.APPLIED
    assert rig.applier(signed_version(7)) is ApplyOutcome.UNCHANGED
    assert rig.applier(signed_version(6)) is ApplyOutcome.REFUSED  # a rollback
    assert [r.version for r in rig.applied] == [7]


class FullDiskCache(PermissionCache):
    """A cache whose next write fails as SQLite fails on a full disk."""

    full = False

    def apply(self, snapshot, slot_map) -> None:  # noqa: ANN001
        if self.full:
            raise sqlite3.OperationalError("database or disk is full")
        super().apply(snapshot, slot_map)


def test_a_failed_write_is_a_retry_and_the_next_fetch_applies_it(tmp_path: Path) -> None:
    rig = Rig(FullDiskCache(tmp_path / "cache.db", KEY))
    rig.applier(signed_version(7))
    rig.cache.full = True
    revocation = signed_version(8)  # the server stores the envelope: each fetch is the same
    for _ in range(20):
        assert rig.applier(revocation) is ApplyOutcome.RETRY
    assert rig.cache.applied_version() == 7 and "disk is full" in rig.applier.apply_error
    assert rig.journal.kinds().count("bundle_apply_failed") == 1  # not one per retry
    rig.cache.full = False
    assert rig.applier(revocation) is ApplyOutcome.APPLIED
    assert [r.version for r in rig.applied] == [7, 8] and rig.applier.apply_error is None
    repeats = [d for k, d in rig.journal.records if k == "bundle_incident_repeats"]
    assert repeats == [{"kind": "bundle_apply_failed", "reason": "OperationalError", "repeats": 19}]


def test_a_failure_after_the_commit_still_puts_the_snapshot_in_force(rig: Rig, tmp_path: Path) -> None:
    """The database commits, then the backstop write fails: the door is told all the same."""
    rig.applier(signed_version(7))
    (tmp_path / "cache.db.version.tmp").mkdir()  # the backstop's temporary file cannot be made
    assert rig.applier(signed_version(8)) is ApplyOutcome.RETRY
    assert rig.cache.applied_version() == 8
    assert [r.version for r in rig.applied] == [7, 8]
    assert rig.journal.kinds().count("bundle_apply_failed") == 1


def test_without_the_module_identity_it_waits_and_the_poller_is_woken_once_applied(tmp_path: Path) -> None:
    rig = Rig(PermissionCache(tmp_path / "cache.db", KEY), module_known=False)
    assert rig.applier(signed_version(7)) is ApplyOutcome.RETRY
    assert rig.applier.waiting and rig.applied == []
    rig.applier.retry()
    assert rig.woken == 0
    rig.module_known = True
    rig.applier.retry()
    assert [r.version for r in rig.applied] == [7] and rig.woken == 1 and not rig.applier.waiting


def test_the_same_refusal_on_every_poll_is_journalled_and_alarmed_once(rig: Rig) -> None:
    forged = signed_version(9, key=signing_key(bytes(32)))  # another key: an alarm-worthy refusal
    for _ in range(82):
        assert rig.applier(forged) is ApplyOutcome.REFUSED
        rig.mono += 0.06
    assert rig.journal.kinds() == ["bundle_refused", "alarm"]
    assert rig.journal.records[1][1]["alarm"] == "bundle_unknown_key"
    rig.applier(signed_version(7))  # a good bundle ends the incident: the count is journalled
    repeats = [d for k, d in rig.journal.records if k == "bundle_incident_repeats"]
    assert repeats == [{"kind": "bundle_refused", "reason": "bundle_unknown_key", "repeats": 81}]


def test_a_different_refusal_is_journalled_again(rig: Rig) -> None:
    rig.applier(signed_version(7))
    rig.applier(signed_version(6))  # rollback
    rig.applier(signed_version(9, key=signing_key(bytes(32))))  # unknown key
    rig.applier(signed_version(5))  # another rollback envelope
    refused = [d["reason"] for k, d in rig.journal.records if k == "bundle_refused"]
    assert refused == ["bundle_rollback", "bundle_unknown_key", "bundle_rollback"]
    alarms = [d["alarm"] for k, d in rig.journal.records if k == "alarm"]
    assert alarms == ["bundle_rollback", "bundle_unknown_key"]  # one per reason


def test_an_attacker_cannot_grow_the_journal_with_distinct_garbage(rig: Rig) -> None:
    for n in range(2000):  # a different malformed envelope on every poll, for 2000 polls
        rig.applier(b'{"garbage": %d}' % n)
        rig.mono += 1.0
    per_hour = len(rig.journal.records) / (2000 / 3600)
    assert len(rig.journal.records) <= 12, rig.journal.kinds()
    assert per_hour <= 24
    counted = sum(d.get("not_journalled_since_last", 0) for _, d in rig.journal.records)
    assert counted == 0  # within the first hour nothing was let out again yet
    for n in range(3700):  # the next hour: the first record says how many went uncounted
        rig.applier(b'{"more": %d}' % n)
        rig.mono += 1.0
    counts = [d["not_journalled_since_last"] for _, d in rig.journal.records
              if "not_journalled_since_last" in d]
    assert counts and counts[0] >= 2000 - 12


def test_the_ledger_reminds_once_an_hour_while_an_incident_goes_on() -> None:
    ledger = IncidentLedger()
    incident = Incident("bundle_apply_failed", "OperationalError", "abc", {"error": "x"})
    records = []
    for second in range(0, 3 * 3600 + 1, 10):
        records += ledger.note(incident, float(second))
    assert [k for k, _ in records] == ["bundle_apply_failed"] + ["bundle_incident_repeats"] * 3
    assert [d.get("repeats") for _, d in records[1:]] == [360, 360, 360]


def test_applied_results_reach_the_door(rig: Rig) -> None:
    rig.applier(signed_version(7))
    assert isinstance(rig.applied[0], ApplyResult) and rig.applied[0].snapshot.version == 7
    assert ("bundle_applied", {"version": 7, "previous_version": None,
                               "expires_at": rig.applied[0].snapshot.expires_at}) in rig.journal.records


# ---- the server's freshness statement (item 7) ----


def statement(version: int, nonce: str, door: str = DOOR, key=SERVER) -> str:  # noqa: ANN001
    return bundle.sign_freshness(bundle.FreshnessStatement(door, nonce, version, NOW), key)


def confirmer_rig(rig: Rig) -> tuple[FreshnessConfirmer, list[tuple[int, float]]]:
    confirmed: list[tuple[int, float]] = []
    return FreshnessConfirmer(rig.cache, FakeCredentials(),  # type: ignore[arg-type]
                              lambda version, at: confirmed.append((version, at))), confirmed


def test_a_statement_for_this_poll_and_the_version_in_force_confirms_it(rig: Rig) -> None:
    rig.applier(signed_version(7))
    confirm, confirmed = confirmer_rig(rig)
    nonce = bundle.new_nonce()
    confirm(statement(7, nonce), nonce, 123.0)
    assert confirmed == [(7, 123.0)]


@pytest.mark.parametrize("why", ["replayed", "another version", "another door", "another key"])
def test_anything_else_confirms_nothing(rig: Rig, why: str, caplog) -> None:
    rig.applier(signed_version(7))
    confirm, confirmed = confirmer_rig(rig)
    nonce, old_nonce = bundle.new_nonce(), bundle.new_nonce()
    header = {"replayed": statement(7, old_nonce), "another version": statement(8, nonce),
              "another door": statement(7, nonce, door="door-2"),
              "another key": statement(7, nonce, key=signing_key(bytes(32)))}[why]
    for _ in range(3):
        confirm(header, nonce, 123.0)
    assert confirmed == []
    if why != "another version":  # a door behind is not a problem to log
        assert caplog.text.count("freshness statement ignored") == 1  # once, not per poll

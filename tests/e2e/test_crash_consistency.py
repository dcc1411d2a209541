"""Promise 3: a process killed with SIGKILL at a random moment corrupts nothing.

A child process applies signed bundles (each version different in users and templates) and
appends journal events in a loop, printing ``applied N`` after each apply and ``seq N``
after each append returned. The parent kills it at a random moment, then checks, on the
same files the next child reuses: ``PRAGMA integrity_check`` passes on both databases; the
cache opens and holds exactly one whole version, the last one reported or the one after
(committed just before the kill), content and all; every reported append is present, the
sequence has no gaps and the chain verifies. 50 kills in ``make test``, 1,000 in ``make soak``.

Run as ``python -m tests.e2e.test_crash_consistency DIR SEED`` it is the child.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
KEY = bytes(range(32))
DOOR = "door-1"


def users_of(version: int) -> int:
    return 5 + (version * 7) % 40  # 5..44 users, 10..88 fingers: applies of varying length


# ---- the child ----


def erased_and_loaded(slot_map):
    """What reconcile does to the map, so pages are freed and the map is saved under kills too."""
    from doorward.daemon.access.claim import SlotState
    from doorward.daemon.library.slotmap import SlotMap

    return SlotMap.of(replace(slot, state=SlotState.ACTIVE) for slot in slot_map.slots
                      if slot.state != SlotState.PENDING_DELETE)


def child_main(directory: Path, seed: int) -> None:
    from doorward.daemon.sync.apply import apply_bundle
    from doorward.daemon.storage.cache import PermissionCache
    from doorward.daemon.journal.store import EventJournal
    from doorward.sim.rig.access import ISSUED_AT, MODULE
    from tests.support.sync import signed_version, signing_key, trusted

    rng = random.Random(seed)
    cache = PermissionCache(directory / "cache.db", KEY)
    journal = EventJournal(directory / "journal.db", DOOR)
    keys = trusted(signing_key())
    print("ready", flush=True)
    while True:
        version = (cache.stored_version() or 0) + 1
        envelope = signed_version(version, users=users_of(version))
        print(f"applying {version}", flush=True)  # so a kill's moment can be told afterwards
        apply_bundle(envelope, cache=cache, trusted_keys=keys, door_id=DOOR,
                     module_identity=MODULE, capacity=1000, wall_now=ISSUED_AT + 60,
                     clock_trusted=True, max_clock_skew_s=300.0)
        print(f"applied {version}", flush=True)
        cache.save_slot_map(erased_and_loaded(cache.slot_map()))
        for _ in range(rng.randint(1, 6)):
            print("appending", flush=True)
            event = journal.append("granted", {"user": f"u-{rng.randrange(5)}", "score": 99},
                                   wall_now=ISSUED_AT + 60, wall_trusted=True,
                                   mono_now=time.monotonic(), boot_id=f"boot-{seed}")
            print(f"seq {event.seq}", flush=True)


# ---- the parent ----


@dataclass
class Reported:
    applied: int = 0  # the newest version the child said was applied
    seqs: set[int] = field(default_factory=set)

    def take(self, lines: list[str]) -> None:
        for line in lines:
            word, _, number = line.partition(" ")
            if word == "applied":
                self.applied = max(self.applied, int(number))
            elif word == "seq":
                self.seqs.add(int(number))


def run_and_kill(directory: Path, seed: int, rng: random.Random) -> list[str]:
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.e2e.test_crash_consistency", str(directory), str(seed)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        for line in child.stdout:
            lines.append(line.strip())
            ready.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert ready.wait(30), f"child never became ready: {child.stderr.read()}"
    time.sleep(rng.uniform(0.0, 0.15))
    os.kill(child.pid, signal.SIGKILL)
    child.wait(10)
    reader.join(10)
    errors = child.stderr.read()
    assert child.returncode == -signal.SIGKILL, f"child died by itself: {errors}"
    return lines


def check_integrity(path: Path) -> None:
    connection = sqlite3.connect(path)
    try:
        assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)], path
    finally:
        connection.close()


def check_cache_holds_one_whole_version(directory: Path, reported: Reported) -> int:
    from doorward.daemon.codec import bundle
    from doorward.daemon.storage.cache import PermissionCache
    from tests.support.sync import door_key, template_bytes

    cache = PermissionCache(directory / "cache.db", KEY)
    try:
        snapshot = cache.snapshot()
        version = 0 if snapshot is None else snapshot.version
        assert version in (reported.applied, reported.applied + 1)
        assert cache.stored_version() == (version or None)
        if snapshot is None:
            return 0
        assert [u.user_id for u in snapshot.users] == [f"u-{n}" for n in range(users_of(version))]
        for finger in (f for u in snapshot.users for f in u.fingers):
            template = bundle.open_template(finger.sealed_template, door_key(), door_id=DOOR,
                                            finger_id=finger.finger_id)
            assert template == template_bytes(finger.finger_id, version // 3)
            slot = cache.slot_map().of_finger(finger.finger_id)
            assert slot is not None and slot.template_sha256 == finger.template_sha256
        return version
    finally:
        cache.close()


def check_journal_keeps_every_returned_append(directory: Path, reported: Reported) -> int:
    from doorward.daemon.codec.bundle import verify_chain
    from doorward.daemon.journal.store import EventJournal

    journal = EventJournal(directory / "journal.db", DOOR)
    try:
        events = journal.events()
        seqs = [event.seq for event in events]
        assert seqs == list(range(1, len(seqs) + 1))  # no gaps, nothing pruned
        assert reported.seqs <= set(seqs), sorted(reported.seqs - set(seqs))[:5]
        assert verify_chain(events) is None
        return len(seqs)
    finally:
        journal.close()


def kill_loop(directory: Path, kills: int) -> tuple[int, int]:
    rng = random.Random(20261102)
    reported = Reported()
    version = appended = 0
    for seed in range(kills):
        reported.take(run_and_kill(directory, seed, rng))
        check_integrity(directory / "cache.db")
        check_integrity(directory / "journal.db")
        version = check_cache_holds_one_whole_version(directory, reported)
        reported.applied = max(reported.applied, version)
        appended = check_journal_keeps_every_returned_append(directory, reported)
    return version, appended


def test_fifty_kills_during_applies_and_appends_corrupt_nothing(tmp_path: Path) -> None:
    version, appended = kill_loop(tmp_path, kills=50)
    assert version > 0 and appended > 0


@pytest.mark.soak
def test_a_thousand_kills_corrupt_nothing(tmp_path: Path) -> None:
    version, appended = kill_loop(tmp_path, kills=1000)
    assert version > 0 and appended > 0


if __name__ == "__main__":
    child_main(Path(sys.argv[1]), int(sys.argv[2]))

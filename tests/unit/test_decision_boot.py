"""decide() after a start without a trusted clock: the boot policy (docs/reasons.md, "Boot").

What a door knows after a reboot: the last trusted wall time it stored, the snapshot's
``issued_at`` (both lower bounds on now) and the monotonic time since it started, but not
how long it was off. A restart within one boot knows everything its earlier run knew, and a
signed confirmation from the server makes the snapshot fresh again.
"""

from __future__ import annotations

import pytest

from doorward.daemon.access.decision import DecisionState, Reason, decide
from doorward.daemon.codec.alarms import AlarmKind
from doorward.daemon.access.state import BootKnowledge, knowledge_restored, snapshot_confirmed
from doorward.daemon.codec.snapshot import Snapshot
from doorward.sim.rig.access import finger, hit, snapshot, user

PEOPLE = (
    user("u-staff", finger("f-staff")),
    user("u-office", schedule="office"),
    user("u-sec", roles=["security"]),
)
GRACE_S = 3600.0
DENY_AFTER = snapshot(*PEOPLE, policy={"offline": {"grace_s": GRACE_S, "then": "deny"}})
LISTED = snapshot(*PEOPLE, policy={"offline": {"grace_s": GRACE_S, "then": "allow_list",
                                               "allow_list": ["u-staff"]}})
IGNORE_WINDOWS = snapshot(*PEOPLE, policy={"offline": {"grace_s": GRACE_S},
                                           "untrusted_clock": "ignore_windows"})
BOOT_DENY = snapshot(*PEOPLE, policy={"offline": {"grace_s": GRACE_S, "then": "allow_list",
                                                  "allow_list": ["u-staff"]},
                                      "boot_untrusted": "deny"})
EXPIRES = DENY_AFTER.expires_at
VALIDITY_S = DENY_AFTER.validity_s
START = 100.0  # the daemon's first start in this boot, on the monotonic clock
REBOOTED = DecisionState.initial(started_mono=START)
BOOT = AlarmKind.BOOT_GRACE
UNTRUSTED_WALL = 0.0  # an unsynchronised clock after a reboot without an RTC reads anything


def restarted(**knowledge: object) -> DecisionState:
    """A daemon that started at ``START + 500`` and read its anchor file."""
    return knowledge_restored(DecisionState.initial(started_mono=START + 500),
                              BootKnowledge(**knowledge), snapshot_version=7)  # type: ignore[arg-type]


def reasons(snap: Snapshot, state: DecisionState, scans: list[tuple[str, float, float, bool]]
            ) -> list[tuple[Reason, tuple[AlarmKind, ...]]]:
    seen = []
    for finger_id, wall, mono, trusted in scans:
        decision, state = decide(hit(finger_id), snap, state, wall, mono, trusted)
        seen.append((decision.reason, tuple(alarm.kind for alarm in decision.alarms)))
    return seen


def untrusted(finger_id: str, mono: float) -> tuple[str, float, float, bool]:
    return (finger_id, UNTRUSTED_WALL, mono, False)


BOOT_POLICY = [
    ("reboot: a grant that needs no clock works, one alarm", DENY_AFTER, REBOOTED,
     [untrusted("f-staff", START + 5), untrusted("f-u-sec", START + 6)],
     [(Reason.BOOT_GRACE, (BOOT,)), (Reason.BOOT_GRACE, ())]),
    ("reboot: a scheduled grant needs the clock", DENY_AFTER, REBOOTED,
     [untrusted("f-u-office", START + 5)], [(Reason.CLOCK_UNTRUSTED, ())]),
    ("reboot: ignore_windows lets the scheduled grant count", IGNORE_WINDOWS, REBOOTED,
     [untrusted("f-u-office", START + 5)], [(Reason.BOOT_GRACE, (BOOT,))]),
    ("reboot: the boot grace ends after grace_s on the monotonic clock", DENY_AFTER, REBOOTED,
     [untrusted("f-staff", START + GRACE_S - 1), untrusted("f-staff", START + GRACE_S)],
     [(Reason.BOOT_GRACE, (BOOT,)), (Reason.BOOT_GRACE_OVER, ())]),
    ("after the boot grace only the allow-list", LISTED, REBOOTED,
     [untrusted("f-staff", START + GRACE_S), untrusted("f-u-sec", START + GRACE_S)],
     [(Reason.BOOT_ALLOW_LIST, ()), (Reason.BOOT_GRACE_OVER, ())]),
    ("boot_untrusted = deny: only the allow-list, at once", BOOT_DENY, REBOOTED,
     [untrusted("f-staff", START + 1), untrusted("f-u-sec", START + 1)],
     [(Reason.BOOT_ALLOW_LIST, ()), (Reason.BOOT_UNTRUSTED_DENIED, ())]),
    ("a stored trusted time that proves the grace over: honestly expired", DENY_AFTER,
     DecisionState(boot_started_mono=START, wall_floor=EXPIRES + GRACE_S),
     [untrusted("f-staff", START)], [(Reason.SNAPSHOT_EXPIRED_DENIED, ())]),
    ("the proven part of the grace shortens the boot grace", DENY_AFTER,
     DecisionState(boot_started_mono=START, wall_floor=EXPIRES + GRACE_S / 2),
     [untrusted("f-staff", START + GRACE_S / 2 - 1), untrusted("f-staff", START + GRACE_S / 2)],
     [(Reason.BOOT_GRACE, (BOOT,)), (Reason.SNAPSHOT_EXPIRED_DENIED, ())]),
    ("issued_at alone is a lower bound too", DENY_AFTER, REBOOTED,
     [untrusted("f-staff", START + VALIDITY_S + GRACE_S)], [(Reason.SNAPSHOT_EXPIRED_DENIED, ())]),
    ("a trusted clock decides at once", DENY_AFTER, REBOOTED,
     [("f-staff", EXPIRES - 1, START + 1, True), ("f-staff", EXPIRES, START + 2, True)],
     [(Reason.GRANTED, ()), (Reason.SNAPSHOT_EXPIRED_GRACE, (AlarmKind.OFFLINE_GRACE,))]),
    ("restart in one boot: the apply anchor keeps it fresh", DENY_AFTER,
     restarted(started_mono=START, fresh=(7, START + 50)),
     [untrusted("f-staff", START + 600), untrusted("f-staff", START + 50 + VALIDITY_S)],
     [(Reason.GRANTED, ()), (Reason.SNAPSHOT_EXPIRED_GRACE, (AlarmKind.OFFLINE_GRACE,))]),
    ("restart in one boot: the trusted anchor times it on", DENY_AFTER,
     restarted(started_mono=START, last_trusted=(EXPIRES - 100, START + 400)),
     [untrusted("f-staff", START + 499), untrusted("f-staff", START + 500)],
     [(Reason.GRANTED, ()), (Reason.SNAPSHOT_EXPIRED_GRACE, (AlarmKind.OFFLINE_GRACE,))]),
    ("restart in one boot: the boot grace keeps its first start", DENY_AFTER,
     restarted(started_mono=START), [untrusted("f-staff", START + GRACE_S)],
     [(Reason.BOOT_GRACE_OVER, ())]),
    ("another version's anchor says nothing about this snapshot", DENY_AFTER,
     restarted(started_mono=START, fresh=(6, START + 50)), [untrusted("f-staff", START + 600)],
     [(Reason.BOOT_GRACE, (BOOT,))]),
    ("the server's confirmation makes it fresh, validity counted from then", DENY_AFTER,
     snapshot_confirmed(REBOOTED, at_mono=START + 10),
     [untrusted("f-staff", START + 11), untrusted("f-staff", START + 10 + VALIDITY_S)],
     [(Reason.GRANTED, ()), (Reason.SNAPSHOT_EXPIRED_GRACE, (AlarmKind.OFFLINE_GRACE,))]),
    ("no known start: no boot grace", DENY_AFTER, DecisionState.initial(),
     [untrusted("f-staff", START)], [(Reason.BOOT_GRACE_OVER, ())]),
]


@pytest.mark.parametrize(("snap", "state", "scans", "expected"), [r[1:] for r in BOOT_POLICY],
                         ids=[r[0] for r in BOOT_POLICY])
def test_boot_policy(snap: Snapshot, state: DecisionState, scans: list, expected: list) -> None:
    assert reasons(snap, state, scans) == expected


def test_a_confirmation_never_moves_the_anchor_back() -> None:
    state = snapshot_confirmed(REBOOTED, at_mono=START + 50)
    assert snapshot_confirmed(state, at_mono=START + 10) is state
    assert snapshot_confirmed(state, at_mono=START + 60).snapshot_applied_mono == START + 60


def test_a_confirmation_keeps_a_half_done_two_person_entry() -> None:
    tent = snapshot(*PEOPLE, zone={"id": "tent-apollo", "two_person": True})
    _, waiting = decide(hit("f-staff"), tent, snapshot_confirmed(REBOOTED, START + 1), 0.0,
                        START + 2, False)
    assert waiting.pending_first is not None
    assert snapshot_confirmed(waiting, START + 3).pending_first == waiting.pending_first


def test_an_unknown_age_is_never_called_expired() -> None:
    """Promise 5: the reason code says the snapshot expired only when it did."""
    for mono in (START, START + 1, START + GRACE_S - 1, START + GRACE_S, START + 10 * GRACE_S):
        decision, _ = decide(hit("f-staff"), DENY_AFTER, REBOOTED, UNTRUSTED_WALL, mono, False)
        assert not decision.reason.value.startswith("snapshot_expired"), (mono, decision.reason)

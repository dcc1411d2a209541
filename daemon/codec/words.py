"""The words people read for the stable codes doors journal: every access decision's reason
code (the text of docs/reasons.md, one line each), the decision kinds and the alarm kinds.

Shared by everything that shows a decision to a person: the demo's narration
(``doorward.sim.demo.words``) and the server's admin console. Pure data; imports nothing.
``tests/unit/test_decision_reasons_doc.py`` keeps the reason codes equal to ``Reason``.
"""

from __future__ import annotations

KIND_WORDS = {"access_granted": "GRANTED", "access_denied": "DENIED", "scan_ignored": "IGNORED"}
REASON_WORDS = {
    "granted": "may enter",
    "granted_duress": "opens as usual; a silent duress alarm goes out",
    "snapshot_expired_grace": "may enter on an expired bundle (grace period, with an alarm)",
    "snapshot_expired_allow_list": "may enter on an expired bundle (on the allow-list)",
    "no_snapshot": "the door has no bundle yet",
    "tamper_switch": "the reader's tamper switch is open",
    "tamper_empty_slot": "the module named a slot that should be empty (tamper alarm)",
    "tamper_unconfirmed": "the 1:1 match did not confirm the module's hit (tamper alarm)",
    "locked_out": "too many unknown fingers in a row: scans are ignored for a while",
    "poor_image": "the image was too poor to read",
    "unknown_finger": "a finger this door does not hold",
    "revoked": "the finger was revoked; the module is removing it",
    "not_yet_loaded": "the finger is still being loaded into the module",
    "finger_not_in_snapshot": "the finger is not in the door's bundle",
    "module_mismatch": "the finger was enrolled on another module model",
    "finger_inactive": "the finger is switched off",
    "user_inactive": "the person is switched off",
    "snapshot_expired_denied": "the bundle has expired and the offline policy denies",
    "snapshot_expired_not_listed": "the bundle has expired and the person is not on the allow-list",
    "clock_untrusted": "the clock is not trusted and the grant is time-limited",
    "user_not_yet_valid": "before the person's validity window",
    "user_expired": "after the person's validity window",
    "lockdown": "the door is in lockdown",
    "no_grant": "no grant for this door's zone",
    "outside_schedule": "outside the grant's schedule",
    "holiday": "a holiday: the schedule does not apply",
    "waiting_second_person": "waiting for a second person (two-person rule); the lock stays shut",
    "same_person_twice": "the same person again: a different second person must scan",
    "boot_grace": "may enter: the door started without a trusted clock (boot grace, with an alarm)",
    "boot_allow_list": "may enter on the allow-list: the clock is not trusted since the start",
    "boot_grace_over": "the clock is not trusted since the start and the boot grace is over",
    "boot_untrusted_denied": "the clock is not trusted since the start and the policy denies",
}
ALARM_WORDS = {
    "forced": "the door was forced open", "forced_open": "the door was forced open",
    "held": "the door was held open", "held_open": "the door was held open",
    "duress": "a duress finger was used", "granted_duress": "a duress finger was used",
    "tamper": "tamper", "tamper_switch": "the reader's tamper switch opened",
    "tamper_empty_slot": "the module named an empty slot",
    "tamper_unconfirmed": "the module's hit did not confirm",
    "reader_offline": "the reader stopped answering", "door_offline": "no heartbeat for three intervals",
    "rollback": "the door was offered an older bundle", "chain_break": "the event chain broke",
    "server_clock": "the server's clock is not synchronised",
    "offline_grace": "the door grants on an expired bundle",
    "boot_grace": "the door grants without a trusted clock since its start",
    "journal_loss": "journal records were lost", "door_storage": "the door's disk is full or failing",
}

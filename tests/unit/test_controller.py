"""The controller core with a fake GPIO and injected clocks: no threads, no sleeps.

``Rig`` plays the controller thread's part exactly: it delivers input edges as the GPIO
callback would and fires every timer at its own deadline. The fake GPIO records each pin's
history as (monotonic time, level), so assertions compare whole timelines.
"""

from __future__ import annotations

from doorward.daemon.access.claim import Claim
from doorward.daemon.controller.core import ControllerCore
from doorward.daemon.controller.events import (
    ClockTrustChanged, FingerLifted, InputEdge, ModuleClaim, SnapshotApplied,
)
from doorward.daemon.door.types import LedPattern, TimerName
from doorward.daemon.codec.policy import Policy
from doorward.daemon.controller.clock import FakeClock
from doorward.daemon.controller.sinks import MemoryAlarms, MemoryJournal
from doorward.daemon.door.timers import TimerHeap
from doorward.drivers.gpio.door import DoorHardware
from doorward.sim.pi.memory import (  # noqa: F401 (the wiring, for the tests that share this rig)
    BUZZER, CONTACT, EXIT, FIRE, KEY, LED, QUIET_INPUTS, RELAY, TAMPER, TOUCH, MemoryGpio, wired_door,
)
from doorward.sim.rig.access import ISSUED_AT, hit, snapshot, user

WALL = ISSUED_AT + 3600.0
START = 1000.0
POLICY = {"unlock_s": 0.3, "held_open_s": 0.6, "prealarm_s": 0.3}



class Rig:
    def __init__(self, policy: dict | None = None, debounce_ms: int = 50, journal=None,
                 with_snapshot: bool = True, lockdown: bool = False, ring=None,
                 **inputs: int) -> None:
        self.mono = START
        self.gpio = MemoryGpio(lambda: self.mono)
        self.gpio.levels.update({int(pin[1:]): level for pin, level in inputs.items()})
        self.hardware = DoorHardware(self.gpio, wired_door(debounce_ms).door_pins())
        self.journal = journal or MemoryJournal(observe=self.hardware.relay_energised)
        self.alarms = MemoryAlarms(lambda: self.mono)
        self.clock = FakeClock(WALL)
        access = access_snapshot(policy or POLICY, lockdown) if with_snapshot else None
        self.core = ControllerCore(self.hardware, self.journal, self.alarms, self.clock,
                                   Policy.from_mapping(policy or POLICY), access,
                                   monotonic=lambda: self.mono, ring=ring)
        self.edges: list = []
        self.hardware.setup()
        self.hardware.on_input_change(self.edges.append)
        self.core.begin(self.mono)

    def post(self, event) -> None:
        self.core.handle(event, self.mono)
        self.core.fire_due(self.mono)

    def drive(self, pin: int, level: int) -> None:
        self.gpio.drive(pin, level)
        while self.edges:
            self.post(InputEdge(self.edges.pop(0)))

    def advance(self, seconds: float) -> None:
        """Let time pass, firing each timer at its own deadline."""
        target = self.mono + seconds
        while (due := self.core.timers.next_due_mono()) is not None and due <= target:
            self.mono = max(self.mono, due)
            self.core.fire_due(self.mono)
        self.mono = target

    def grant(self) -> None:
        self.post(ModuleClaim(hit("f-alice")))

    def timeline(self, pin: int) -> list[tuple[float, int]]:
        """The pin's history with times relative to START, rounded to the microsecond."""
        return [(round(t - START, 6), level) for t, level in self.gpio.history.get(pin, [])]


def access_snapshot(policy: dict, lockdown: bool = False):
    return snapshot(user("alice"), user("sam", roles=["security"]), policy=policy,
                    lockdown=lockdown)


# ---- start ------------------------------------------------------------------------------


def test_start_leaves_the_relay_de_energised_and_reads_the_inputs():
    rig = Rig()
    assert rig.timeline(RELAY) == [(0.0, 0)]
    assert (rig.core.door.contact_open, rig.core.door.fire, rig.core.door.lockdown) == (
        False, False, False)
    assert rig.journal.entries == [] and rig.alarms.raised == []


def test_inputs_active_at_start_become_door_state_at_once():
    rig = Rig(p23=1, p24=0, p25=1, p27=1)  # fire, keyswitch, tamper, door open
    assert rig.timeline(RELAY) == [(0.0, 0), (0.0, 1)]  # fire release
    assert (rig.core.door.contact_open, rig.core.door.lockdown) == (True, True)
    assert rig.alarms.kinds() == ["tamper"]
    assert rig.core.decision.keyswitch_lockdown and rig.core.decision.tamper_switch


# ---- the access path --------------------------------------------------------------------


def test_a_grant_is_journalled_before_the_relay_moves():
    rig = Rig()
    rig.grant()
    kinds_and_relay = [(kind, relay) for kind, _, relay in rig.journal.entries]
    assert kinds_and_relay == [("access_granted", False), ("unlocked", True)]
    detail = rig.journal.entries[0][1]
    assert (detail["reason"], detail["user"], detail["finger"]) == ("granted", "alice", "f-alice")


def test_a_grant_energises_the_relay_for_unlock_s():
    rig = Rig()
    rig.advance(1.0)
    rig.grant()
    rig.advance(1.0)
    assert rig.timeline(RELAY) == [(0.0, 0), (1.0, 1), (1.3, 0)]
    assert rig.core.last_decision.reason.value == "granted"


class SlowJournal(MemoryJournal):
    """Every append takes 50 ms of the rig's monotonic time (an fsync on an SD card)."""

    def __init__(self) -> None:
        super().__init__()
        self.rig: Rig | None = None

    def append(self, kind: str, detail: dict) -> None:
        super().append(kind, detail)
        self.rig.mono += 0.05


def test_a_slow_journal_delays_the_grant_but_never_shortens_the_unlock():
    journal = SlowJournal()
    rig = Rig(journal=journal)
    journal.rig = rig
    rig.grant()
    rig.advance(1.0)
    assert rig.timeline(RELAY) == [(0.0, 0), (0.05, 1), (0.35, 0)]


def test_a_wall_clock_jump_during_an_unlock_stretches_nothing():
    for jump_s in (3600.0, -3600.0):
        rig = Rig()
        rig.grant()
        rig.advance(0.1)
        rig.clock.advance(jump_s)
        rig.advance(1.0)
        assert rig.timeline(RELAY) == [(0.0, 0), (0.0, 1), (0.3, 0)]


def test_every_action_type_is_carried_out():
    rig = Rig()
    rig.grant()  # SetRelay, Led, Buzzer, StartTimer, Journal
    assert rig.core.timers.pending() == {TimerName.RELOCK: START + 0.3,
                                         **_indicator_timers(rig)}
    rig.advance(0.05)
    rig.drive(CONTACT, 1)  # opened within the window: supervision timers start
    rig.advance(0.1)
    rig.drive(CONTACT, 0)  # closed: relock on close cancels RELOCK and the held timers
    rig.advance(0.1)
    assert TimerName.RELOCK not in rig.core.timers.pending()
    assert TimerName.HELD_OPEN not in rig.core.timers.pending()
    assert rig.timeline(RELAY) == [(0.0, 0), (0.0, 1), (0.2, 0)]  # closed at 0.15 + debounce
    assert rig.timeline(LED) == [(0.0, 0), (0.0, 1), (0.2, 0)]
    assert rig.timeline(BUZZER) == [(0.0, 0), (0.0, 1), (0.2, 0)]
    assert rig.journal.kinds() == ["access_granted", "unlocked", "door_opened",
                                   "door_closed", "relocked"]
    rig.drive(CONTACT, 1)  # opened while locked: RaiseAlarm
    rig.advance(0.1)
    assert rig.alarms.raised == [(START + 0.25 + 0.05, "forced_open", "opened while locked")]


def _indicator_timers(rig: Rig) -> dict:
    return {key: at for key, at in rig.core.timers.pending().items()
            if not isinstance(key, TimerName)}


def test_denied_and_waiting_feedback_blink_and_stop():
    rig = Rig()
    rig.post(ModuleClaim(Claim.unknown()))
    rig.advance(2.0)
    assert [level for _, level in rig.timeline(LED)] == [0, 1, 0, 1, 0, 1, 0]
    assert [level for _, level in rig.timeline(BUZZER)] == [0, 1, 0, 1, 0, 1, 0]
    assert rig.timeline(RELAY) == [(0.0, 0)]
    assert rig.core.timers.pending() == {}
    assert rig.journal.kinds() == ["access_denied"]


def test_held_open_prealarm_then_alarm_at_the_configured_times():
    rig = Rig()
    rig.post(ModuleClaim(hit("f-alice")))
    rig.drive(CONTACT, 1)
    rig.advance(1.0)
    opened = 0.05  # the debounced opening
    buzzer = rig.timeline(BUZZER)
    assert buzzer[:3] == [(0.0, 0), (0.0, 1), (0.2, 0)]  # the grant's beep
    assert buzzer[3:] == [(opened + 0.3, 1), (opened + 0.4, 0), (opened + 0.6, 1)]
    assert rig.alarms.raised == [(START + opened + 0.6, "held_open", "open 0.6 s")]
    rig.drive(CONTACT, 0)
    rig.advance(0.1)
    assert rig.timeline(BUZZER)[-1] == (1.05, 0)


# ---- sinks failing, handlers failing ----------------------------------------------------


class FailingJournal:
    def __init__(self) -> None:
        self.attempts: list[str] = []

    def append(self, kind: str, detail: dict) -> None:
        self.attempts.append(kind)
        raise OSError("disk full")


def test_a_failing_journal_still_grants_raises_an_alarm_and_leaves_no_relay_energised():
    rig = Rig(journal=FailingJournal())
    rig.grant()
    rig.advance(1.0)
    assert rig.timeline(RELAY) == [(0.0, 0), (0.0, 1), (0.3, 0)]
    assert rig.alarms.kinds() == ["journal_failed"] * 3  # access_granted, unlocked, relocked
    assert rig.journal.attempts == ["access_granted", "unlocked", "relocked"]
    assert rig.core.faults == 0


def test_an_exception_in_a_handler_makes_the_relay_safe_raises_an_alarm_and_carries_on():
    rig = Rig()
    rig.gpio.failing_pins.add(LED)
    rig.grant()  # the relay moves first, then the LED write fails
    assert rig.timeline(RELAY) == [(0.0, 0), (0.0, 1), (0.0, 0)]
    assert rig.alarms.kinds() == ["controller_fault"]
    assert rig.core.faults == 1 and not rig.core.door.relay_energised
    rig.gpio.failing_pins.clear()
    rig.advance(1.0)
    rig.grant()  # still running
    rig.advance(1.0)
    assert rig.timeline(RELAY)[3:] == [(1.0, 1), (1.3, 0)]


def test_after_a_fault_a_fire_input_still_active_releases_the_door_again():
    rig = Rig()
    rig.drive(FIRE, 1)
    rig.advance(0.1)
    rig.gpio.failing_pins.add(BUZZER)
    rig.grant()  # the buzzer write fails
    rig.gpio.failing_pins.clear()
    rig.advance(1.0)  # the re-sync after the back-off reads the fire input again
    assert rig.timeline(RELAY) == [(0.0, 0), (0.05, 1), (0.1, 0), (0.6, 1)]
    assert rig.core.door.fire


def test_a_relay_that_cannot_be_made_safe_is_reported_and_retried():
    rig = Rig()
    rig.grant()
    rig.gpio.failing_pins.add(RELAY)
    rig.advance(1.0)  # the relock at 0.3 fails, so does de-energising; the retry at 0.8 too
    assert rig.alarms.kinds() == ["controller_fault", "relay_unsafe"] * 2
    rig.gpio.failing_pins.clear()
    rig.advance(5.0)  # the next retry, backed off to 1.8, succeeds
    assert rig.timeline(RELAY) == [(0.0, 0), (0.0, 1), (1.8, 0)]
    assert rig.core.timers.pending() == {}


# ---- debounce ---------------------------------------------------------------------------


def test_a_contact_glitch_shorter_than_the_debounce_is_ignored():
    rig = Rig()
    rig.drive(CONTACT, 1)
    rig.advance(0.02)
    rig.drive(CONTACT, 0)
    rig.advance(0.5)
    assert rig.alarms.raised == [] and rig.journal.entries == []
    assert not rig.core.door.contact_open


def test_a_contact_change_longer_than_the_debounce_is_accepted_after_it():
    rig = Rig()
    rig.drive(CONTACT, 1)
    rig.advance(0.5)
    assert rig.alarms.raised == [(START + 0.05, "forced_open", "opened while locked")]


def test_a_bouncing_contact_is_read_once_quiet_but_never_later_than_twice_the_debounce():
    rig = Rig()
    for _ in range(10):  # bouncing every 20 ms for 200 ms, ending open
        rig.drive(CONTACT, 1)
        rig.advance(0.01)
        rig.drive(CONTACT, 0)
        rig.advance(0.01)
    rig.drive(CONTACT, 1)
    rig.advance(0.5)
    opened = [at - START for at, kind, _ in rig.alarms.raised if kind == "forced_open"]
    assert opened and opened[0] <= 0.1 + 1e-9  # read at the cap, 2 x 50 ms after the first edge


def test_the_exit_button_unlocks_on_press_only():
    rig = Rig()
    rig.drive(EXIT, 0)
    rig.advance(0.2)
    rig.drive(EXIT, 1)
    rig.advance(1.0)
    assert rig.timeline(RELAY) == [(0.0, 0), (0.05, 1), (0.35, 0)]
    # The exit never waits for the journal: the relay had moved when each entry was written.
    assert [(kind, relay) for kind, _, relay in rig.journal.entries] == [
        ("unlocked", True), ("relocked", False)]


def test_fire_release_energises_the_relay_before_journalling_and_holds_it():
    rig = Rig()
    rig.drive(FIRE, 1)
    rig.advance(10.0)
    rig.drive(FIRE, 0)
    rig.advance(0.1)
    assert rig.timeline(RELAY) == [(0.0, 0), (0.05, 1), (10.05, 0)]
    assert [(kind, relay) for kind, _, relay in rig.journal.entries] == [
        ("fire_release", True), ("fire_release", False)]


def test_module_touch_edges_are_left_to_the_reader():
    rig = Rig()
    rig.drive(TOUCH, 0)
    rig.advance(0.5)
    assert rig.core.timers.pending() == {} and rig.journal.entries == []


# ---- lockdown, tamper, lockout, snapshot, clock -----------------------------------------


def test_the_keyswitch_locks_down_entry_and_the_exit_button_still_opens():
    rig = Rig()
    rig.drive(KEY, 0)
    rig.advance(0.1)
    rig.grant()  # alice is not security: denied by decide()
    assert rig.core.last_decision.reason.value == "lockdown"
    rig.post(ModuleClaim(hit("f-sam")))  # security: granted under lockdown
    rig.advance(1.0)
    rig.drive(EXIT, 0)
    rig.advance(1.0)
    assert [level for _, level in rig.timeline(RELAY)] == [0, 1, 0, 1, 0]
    assert rig.journal.kinds()[0] == "lockdown"


def test_the_snapshot_lockdown_flag_or_the_keyswitch_holds_the_lockdown():
    rig = Rig()
    rig.post(SnapshotApplied(access_snapshot(POLICY, lockdown=True)))
    assert rig.core.door.lockdown
    rig.drive(KEY, 0)
    rig.advance(0.1)
    rig.post(SnapshotApplied(access_snapshot(POLICY, lockdown=False)))
    assert rig.core.door.lockdown  # the key is still turned
    rig.drive(KEY, 1)
    rig.advance(0.1)
    assert not rig.core.door.lockdown
    assert rig.journal.kinds() == ["lockdown", "lockdown"]


def test_the_tamper_switch_alarms_and_denies_scans_while_open():
    rig = Rig()
    rig.drive(TAMPER, 1)
    rig.advance(0.1)
    rig.grant()
    assert rig.alarms.kinds() == ["tamper"]
    assert rig.core.last_decision.reason.value == "tamper_switch"
    rig.drive(TAMPER, 0)
    rig.advance(0.1)
    rig.grant()
    assert rig.core.last_decision.reason.value == "granted"


def test_unknown_fingers_count_when_they_lift_and_start_a_lockout():
    rig = Rig()
    for _ in range(3):
        rig.post(ModuleClaim(Claim.unknown()))
        rig.advance(0.5)
        rig.post(FingerLifted())
    assert rig.journal.kinds()[-1] == "lockout"
    rig.grant()
    assert rig.core.last_decision.reason.value == "locked_out"
    rig.advance(5.0)
    rig.post(ModuleClaim(hit("f-alice"), lifted_at_mono=rig.mono))
    assert rig.core.last_decision.reason.value == "granted"


def test_a_snapshot_applied_rebuilds_the_door_timings():
    rig = Rig(with_snapshot=False)
    rig.grant()
    assert rig.core.last_decision.reason.value == "no_snapshot"
    rig.post(SnapshotApplied(access_snapshot({**POLICY, "unlock_s": 0.5})))
    rig.advance(1.0)
    rig.grant()
    rig.advance(1.0)
    assert rig.timeline(RELAY) == [(0.0, 0), (1.0, 1), (1.5, 0)]
    assert rig.core.decision.snapshot_applied_mono == START


def test_clock_trust_changes_are_observed_and_journalled():
    rig = Rig()
    rig.post(ClockTrustChanged())
    rig.clock.synchronised = False
    rig.post(ClockTrustChanged())
    rig.post(ClockTrustChanged())
    assert rig.journal.kinds() == ["clock", "clock"]
    assert [detail for _, detail, _ in rig.journal.entries] == [{"trusted": True},
                                                                {"trusted": False}]
    assert rig.core.decision.last_trusted_wall == WALL


# ---- the timer heap ---------------------------------------------------------------------


def test_timers_replace_by_name_cancel_and_fire_earliest_first():
    timers = TimerHeap()
    assert timers.seconds_until_next(5.0) is None
    timers.start("relock", 10.0)
    timers.start("held", 8.0)
    timers.start("relock", 12.0)  # replaces the 10.0 one
    timers.start("beep", 9.0)
    timers.cancel("beep")
    assert timers.seconds_until_next(5.0) == 3.0
    assert timers.pop_due(11.0) == ["held"]
    assert timers.pop_due(20.0) == ["relock"]
    assert timers.pending() == {} and timers.next_due_mono() is None


class RingRecorder:
    """The module's ring LED as the controller drives it: (time from START, pattern)."""

    def __init__(self) -> None:
        self.shown: list[tuple[float, str]] = []
        self.rig: Rig | None = None

    def show(self, pattern: LedPattern) -> None:
        self.shown.append((round(self.rig.mono - START, 6), pattern.value))


def test_the_ring_led_is_a_state_machine_action_beside_the_status_led():
    """Green until the relock, red for its hold, then idle: the same moments as the status
    LED, timed by the controller's own timers (the ring was a journal listener matching
    decision strings, with a clock of its own)."""
    ring = RingRecorder()
    rig = ring.rig = Rig(ring=ring)
    rig.grant()
    rig.advance(0.5)  # unlock_s is 0.3: the relock shows idle
    rig.post(ModuleClaim(Claim.unknown()))
    rig.advance(2.0)
    assert ring.shown == [(0.0, "green"), (0.3, "idle"), (0.5, "red"), (2.0, "idle")]
    assert rig.timeline(LED)[:3] == [(0.0, 0), (0.0, 1), (0.3, 0)]  # the status LED beside it


def test_without_a_ring_the_door_shows_the_same_and_nothing_breaks():
    rig = Rig()
    rig.grant()
    rig.advance(0.5)
    assert rig.timeline(LED) == [(0.0, 0), (0.0, 1), (0.3, 0)]

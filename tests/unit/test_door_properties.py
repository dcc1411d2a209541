"""Properties of the door state machine over random event sequences (hypothesis).

A small harness plays the controller's part: it keeps the timers the machine asks for and
delivers each ``Timer`` event exactly when due, and follows the relay through ``SetRelay``.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from doorward.daemon.access.decision import Decision, Feedback, Reason
from doorward.daemon.door.machine import DoorState, transition
from doorward.daemon.door.types import (
    CancelTimer, ContactClosed, ContactOpened, DoorConfig, ExitPressed, FireOff, FireOn, Grant,
    LockdownOff, LockdownOn, SetRelay, StartTimer, TamperOff, TamperOn, Timer,
)

# ~200 examples keep the suite well under a minute; the soak profile's larger count still wins.
PROPERTY_SETTINGS = settings(max_examples=max(200, settings.default.max_examples))

GRANTED = Grant(Decision(True, Reason.GRANTED, Feedback.GRANTED, "u-1", "f-1"))
LOCKDOWN_GRANT = Grant(Decision(True, Reason.GRANTED, Feedback.GRANTED, "u-s", "f-s",
                                under_lockdown=True))
DENIED = Grant(Decision(False, Reason.NO_GRANT, Feedback.DENIED, "u-2", "f-2"))
INPUTS = [GRANTED, LOCKDOWN_GRANT, DENIED, ExitPressed(), ContactOpened(), ContactClosed(),
          FireOn(), FireOff(), LockdownOn(), LockdownOff(), TamperOn(), TamperOff()]

configs = st.builds(
    DoorConfig,
    unlock_s=st.sampled_from([1.0, 5.0, 7.5]),
    held_open_s=st.sampled_from([10.0, 30.0]),
    prealarm_s=st.sampled_from([0.0, 5.0, 10.0]),
    relock_on_close=st.booleans(),
    exit_without_rex_is_forced=st.booleans(),
)
sequences = st.lists(
    st.tuples(st.sampled_from([0.0, 0.5, 1.0, 3.0, 5.0, 7.5, 12.0, 40.0]), st.sampled_from(INPUTS)),
    max_size=30,
)


class Controller:
    """The controller's duties, done exactly: timers on time, the relay as told."""

    def __init__(self, config: DoorConfig) -> None:
        self.state = DoorState.initial(config)
        self.now = 0.0
        self.timers: dict[object, float] = {}
        self.relay = False
        self.fire_input = False
        self.last_unlock_request: float | None = None

    def send(self, event: object) -> list:
        if event in (GRANTED, LOCKDOWN_GRANT, ExitPressed()):
            self.last_unlock_request = self.now
        if isinstance(event, (FireOn, FireOff)):
            self.fire_input = isinstance(event, FireOn)
        self.state, actions = transition(self.state, event, self.now)
        for action in actions:
            self._carry_out(action)
        assert self.relay == self.state.relay_energised
        return actions

    def _carry_out(self, action: object) -> None:
        if isinstance(action, SetRelay):
            assert action.energised != self.relay  # only changes are sent
            self.relay = action.energised
        elif isinstance(action, StartTimer):
            assert action.at_mono >= self.now
            self.timers[action.name] = action.at_mono
        elif isinstance(action, CancelTimer):
            self.timers.pop(action.name, None)

    def advance(self, seconds: float) -> None:
        until = self.now + seconds
        while self.timers and min(self.timers.values()) <= until:
            name = min(self.timers, key=self.timers.__getitem__)
            self.now = self.timers.pop(name)
            self.send(Timer(name))
            self.check_relay_bound()
        self.now = until
        self.check_relay_bound()

    def check_relay_bound(self) -> None:
        """Energised only under fire release or within unlock_s of a grant or exit press."""
        if not self.relay or self.fire_input:
            return
        assert self.last_unlock_request is not None
        assert self.now - self.last_unlock_request <= self.state.config.unlock_s


@PROPERTY_SETTINGS
@given(configs, sequences)
def test_relay_never_stays_energised_past_the_unlock_time_except_fire(config, steps) -> None:
    controller = Controller(config)
    for gap_s, event in steps:
        controller.advance(gap_s)
        controller.send(event)
        controller.check_relay_bound()
    controller.advance(1000.0)
    assert controller.relay == controller.fire_input


@PROPERTY_SETTINGS
@given(configs, sequences, st.booleans(), st.booleans())
def test_exit_button_always_frees_the_door_in_lockdown(config, steps, tamper, open_door) -> None:
    controller = Controller(config)
    for gap_s, event in steps:
        controller.advance(gap_s)
        controller.send(event)
    for event in [LockdownOn()] + [TamperOn()] * tamper + [ContactOpened()] * open_door:
        controller.send(event)
    controller.send(ExitPressed())
    assert controller.relay is True
    controller.advance(config.unlock_s - 0.01)
    assert controller.relay is True  # for the whole unlock time, door open or not


@PROPERTY_SETTINGS
@given(configs, sequences)
def test_under_lockdown_an_ordinary_grant_never_energises_the_relay(config, steps) -> None:
    controller = Controller(config)
    for gap_s, event in steps:
        controller.advance(gap_s)
        controller.send(event)
    controller.send(LockdownOn())
    was_energised = controller.relay  # fire release, or a lockdown grant's window still open
    actions = controller.send(GRANTED)
    assert controller.relay == was_energised
    assert not any(isinstance(a, (SetRelay, StartTimer)) for a in actions)

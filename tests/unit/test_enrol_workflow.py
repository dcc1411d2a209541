"""The enrolment workflow against the simulated module, for the r307 and r503 profiles."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from doorward.drivers.r30x.protocol import Command
from doorward.drivers.r30x.sensor import R30xSensor
from doorward.enrol.plan import R307_PLAN, R503_PLAN, plan_for
from doorward.enrol.progress import DuplicateFinger, EnrolmentFailed
from doorward.enrol.workflow import EnrolSettings, FingerEnrolment
from doorward.sim.module.link import MemoryLink
from doorward.sim.module.r30x import SimulatedR30x
from tests.support.kiosk import FAST, ScriptedFinger, capture_template

ALICE, BOB = "alice/right-index", "bob/right-index"


class Bench:
    """A simulated module on a memory link with an opened client."""

    def __init__(self, model: str) -> None:
        self.module = SimulatedR30x(model, seed=5)
        self.link = MemoryLink(self.module)
        self.sensor = R30xSensor(self.link.host)
        self.sensor.open()
        self.identity = self.sensor.module_identity()

    def enrol(self, script: list[str], owners: dict[int, str] | None = None,
              settings: EnrolSettings = FAST, **kwargs) -> tuple:  # fmt: skip
        robot = ScriptedFinger(self.module.control, script)
        job = FingerEnrolment("right-index", plan_for(self.identity), self.identity,
                              (owners or {}).get, robot, threading.Event(), settings=settings,
                              **kwargs)  # fmt: skip
        try:
            return job.run(self.sensor), robot
        except EnrolmentFailed as failed:
            return failed, robot

    def close(self) -> None:
        self.sensor.close()
        self.link.close()


@pytest.fixture(params=["r307", "r503"])
def bench(request) -> Iterator[Bench]:
    bench = Bench(request.param)
    yield bench
    bench.close()


def test_the_plan_follows_the_module_model(bench: Bench) -> None:
    assert plan_for(bench.identity) == (R503_PLAN if bench.module.profile.name == "r503" else R307_PLAN)


def test_one_finger_enrols_and_nothing_is_stored_in_the_module(bench: Bench) -> None:
    finger, robot = bench.enrol([ALICE])
    assert finger.template and len(finger.template) == bench.module.profile.template_size
    assert finger.module_identity == bench.identity and finger.confirm_score > 0
    touches = plan_for(bench.identity).touches
    assert robot.placements == touches and robot.keys()[-1] == "finger_done"
    assert robot.keys().count("captured") == touches
    assert bench.sensor.occupied_slots() == set()  # the library belongs to reconcile


def test_the_template_matches_the_finger_later(bench: Bench) -> None:
    finger, _ = bench.enrol([ALICE])
    bench.sensor.down_char(2, finger.template)
    bench.module.control({"place": ALICE})
    bench.sensor.gen_img()
    bench.sensor.img2tz(1)
    assert bench.sensor.match().matched


def test_a_messy_capture_is_retried_in_place(bench: Bench) -> None:
    bench.module.control({"messy_rate": 1.0})
    robot = ScriptedFinger(bench.module.control, [ALICE])
    robot.on_key["poor_messy"] = lambda: bench.module.control({"messy_rate": 0.0})
    job = FingerEnrolment("right-index", plan_for(bench.identity), bench.identity, {}.get, robot,
                          threading.Event(), settings=FAST)
    assert job.run(bench.sensor).template
    keys = robot.keys()
    assert keys.index("poor_messy") < keys.index("captured")
    assert "lift_again" in keys


def test_captures_of_two_different_fingers_are_refused(bench: Bench) -> None:
    merged = len(plan_for(bench.identity).merge_buffers)
    script = [ALICE] * (merged - 1) + [BOB]  # the last merge capture is someone else's
    finger, robot = bench.enrol(script + [ALICE] * 10)
    assert "different_fingers" in robot.keys()
    assert finger.template  # the second round, all of one finger, succeeds
    failed, robot = bench.enrol([ALICE, BOB] * 20)
    assert isinstance(failed, EnrolmentFailed) and failed.key == "finger_failed"
    assert robot.keys().count("different_fingers") == FAST.merge_rounds


ONE_ROUND = EnrolSettings(wait=FAST.wait, merge_rounds=1)


@pytest.fixture
def clone() -> Iterator[Bench]:
    """An R307 clone whose RegModel merges any two captures: only our guards refuse them."""
    bench = Bench("r307")
    bench.module.control({"merge_any": True})
    yield bench
    bench.close()


def test_on_a_clone_two_fingers_are_refused_by_the_match_before_the_merge(clone: Bench) -> None:
    # Alice, Bob into the buffers; Alice at the check and the confirmation. The clone merges
    # Alice and Bob into one template (its bits are Alice's where they differ, ties going to
    # the first capture), so the check and the confirmation both pass: only the Match of the
    # two captures before RegModel can see two fingers.
    failed, robot = clone.enrol([ALICE, BOB, ALICE, ALICE], settings=ONE_ROUND)
    assert isinstance(failed, EnrolmentFailed) and failed.key == "finger_failed", failed
    assert robot.keys().count("different_fingers") == 1 and "confirm" not in robot.keys()


def test_on_a_clone_another_finger_at_the_check_capture_starts_the_finger_over(
        clone: Bench) -> None:  # fmt: skip
    # Alice twice, then Bob at the check after the merge, then Alice again: the check capture
    # is the guard that says "different fingers" (the confirmation alone would pass Alice).
    failed, robot = clone.enrol([ALICE, ALICE, BOB, ALICE], settings=ONE_ROUND)
    assert isinstance(failed, EnrolmentFailed) and failed.key == "finger_failed", failed
    assert robot.keys().count("different_fingers") == 1 and "confirm" not in robot.keys()


def test_a_duplicate_is_refused_and_named_to_the_operator_only(bench: Bench) -> None:
    template = capture_template(bench.sensor, bench.module.control, BOB)
    bench.sensor.down_char(1, template)
    bench.sensor.store(1, 3)
    failed, robot = bench.enrol([BOB], owners={3: "Bob, right index finger"})
    assert isinstance(failed, DuplicateFinger) and failed.page == 3
    assert "Bob" in failed.operator_note
    assert all("Bob" not in event.text() for event in robot.events)  # the person sees no name
    assert robot.keys()[-1] == "duplicate" and "confirm" not in robot.keys()
    finger, _ = bench.enrol([ALICE], owners={3: "Bob"})
    assert finger.template  # someone else passes the same check
    finger, _ = bench.enrol([BOB], owners={3: "Bob"}, allowed_pages={3}, replaces="f-bob")
    assert finger.replaces == "f-bob"  # re-enrolling Bob's own finger is allowed


def test_a_lying_module_cannot_block_an_enrolment(bench: Bench) -> None:
    bench.module.control({"lie": {"page": 7, "score": 200}})
    finger, _ = bench.enrol([ALICE])
    assert finger.template  # page 7 is empty: LoadChar refuses, so no duplicate


def test_a_confirmation_that_does_not_match_fails_the_finger(bench: Bench) -> None:
    touches = plan_for(bench.identity).touches
    failed, robot = bench.enrol([ALICE] * (touches - 1) + [BOB])
    assert isinstance(failed, EnrolmentFailed) and failed.key == "finger_failed"
    assert robot.keys().count("confirm_failed") == FAST.confirm_attempts
    assert bench.sensor.occupied_slots() == set()


def test_a_cancel_stops_the_wait_for_a_finger(bench: Bench) -> None:
    stop = threading.Event()
    robot = ScriptedFinger(lambda request: stop.set() if "place" in request else None, [ALICE])
    job = FingerEnrolment("right-index", plan_for(bench.identity), bench.identity, {}.get, robot,
                          stop, settings=FAST)
    with pytest.raises(EnrolmentFailed) as failed:
        job.run(bench.sensor)
    assert failed.value.key == "cancelled"


def test_the_r503_checks_image_quality_with_get_image_ex() -> None:
    bench = Bench("r503")
    try:
        sent: list[int] = []
        original = bench.sensor._call  # noqa: SLF001 - counting commands on the wire
        bench.sensor._call = lambda command, *a, **k: (sent.append(command), original(command, *a, **k))[1]
        finger, _ = bench.enrol([ALICE])
        assert finger.template
        assert Command.GET_IMAGE_EX in sent and sent.count(Command.REG_MODEL) == 1
        assert Command.STORE not in sent
    finally:
        bench.close()

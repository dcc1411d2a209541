"""One finger's enrolment on the module: the step machine the kiosk and the terminal share.

Owns ``FingerEnrolment``. ``run(sensor)`` walks the plan of ``enrol/plan.py``:

1. captures into the merge buffers, each checked (the image: GetImageEx's quality verdict on
   the R503; the features: Img2Tz must succeed), the finger lifted between two captures, a
   poor capture retried in place;
2. on two-buffer modules a Match of the two captures (two different fingers are refused
   before the merge), then RegModel (a failed merge also means different fingers: the finger
   starts over), then a check capture matched against the new template;
3. the duplicate check: Search of the template over the station's library (reconcile filled
   it from the station's bundle), a hit confirmed by LoadChar and a 1:1 Match so a module that
   names a page it does not hold cannot block anyone; the finger being re-enrolled is allowed;
4. the confirmation: one more capture matched 1:1 against the template;
5. UpChar of the template, which never leaves buffer 2 from the merge to here.

Nothing is stored in the module's library. Progress goes to ``report`` as ``Progress``
values; a finger that cannot be enrolled raises ``EnrolmentFailed`` with the reason. Runs as
one reader job (``daemon/reader/thread.py``), so the reader's own scans never touch the buffers
between two steps. Imports no serial or HTTP library; the module arrives as an argument.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass

from doorward.drivers.r30x.errors import ModuleRejected
from doorward.drivers.r30x.results import Features, Image
from doorward.drivers.r30x.sensor import R30xSensor
from doorward.enrol.fingerwait import FingerWaiter, WaitSettings
from doorward.enrol.plan import LIVE_BUFFER, TEMPLATE_BUFFER, CapturePlan
from doorward.enrol.progress import DuplicateFinger, EnrolledFinger, EnrolmentFailed, Progress, Reporter
from doorward.enrol.strings import say

# page -> how the operator should read its owner ("Alice (right index finger)"), or None
OwnerOf = Callable[[int], str | None]


@dataclass(frozen=True)
class EnrolSettings:
    wait: WaitSettings = WaitSettings()
    poor_retries: int = 5  # poor captures in a row before the finger is given up
    merge_rounds: int = 3  # "two different fingers" before the finger is given up
    confirm_attempts: int = 2


class FingerEnrolment:
    def __init__(self, finger: str, plan: CapturePlan, module_identity: str, owner_of: OwnerOf,
                 report: Reporter, stop: threading.Event, *, allowed_pages: Collection[int] = (),
                 replaces: str | None = None, settings: EnrolSettings = EnrolSettings()) -> None:  # fmt: skip
        self.finger, self.plan, self.identity = finger, plan, module_identity
        self._owner_of, self._report, self._settings = owner_of, report, settings
        self._allowed, self._replaces = frozenset(allowed_pages), replaces
        self._waiter = FingerWaiter(stop, settings.wait)
        self._step = 0
        self._sensor: R30xSensor | None = None

    def run(self, sensor: R30xSensor) -> EnrolledFinger:
        self._sensor = sensor
        for round_number in range(1, self._settings.merge_rounds + 1):
            if self._merge_round():
                break
            if round_number == self._settings.merge_rounds:
                raise EnrolmentFailed("finger_failed", "captures of different fingers, every round")
        self._say("checking")
        self._check_duplicate()
        score = self._confirm()
        template = sensor.up_char(TEMPLATE_BUFFER)
        self._say("finger_done", tone="ok")
        return EnrolledFinger(self.finger, template, self.identity, score, self._replaces)

    # ---- captures and the merge ----

    def _merge_round(self) -> bool:
        """Captures into the merge buffers, Match (two buffers), RegModel, check capture.
        False when the captures were of different fingers (the person starts over)."""
        self._step = 0
        for buffer_id in self.plan.merge_buffers:
            self._capture(buffer_id, "place")
        sensor = self._module()
        if self.plan.match_before_merge and not sensor.match().matched:
            return self._different_fingers()
        if not sensor.reg_model():
            return self._different_fingers()
        if self.plan.check_after_merge:
            self._capture(LIVE_BUFFER, "place")
            if not sensor.match().matched:
                return self._different_fingers()
        return True

    def _different_fingers(self) -> bool:
        self._say("different_fingers", tone="warn")
        return False

    def _capture(self, buffer_id: int, instruction: str) -> None:
        """One good capture into ``buffer_id``; poor ones are retried; the finger lifts after."""
        for _ in range(self._settings.poor_retries):
            self._say(instruction, step=self._step + 1)
            image = self._waiter.capture(self._take_image)
            poor = "poor_image" if image is Image.POOR else None
            if poor is None:
                features = self._module().img2tz(buffer_id)
                poor = f"poor_{features.value}" if features.poor else None
            if poor is None:
                self._step += 1
                self._say("captured", tone="ok")
                self._wait_lift("lift")
                return
            self._say(poor, tone="warn")
            self._wait_lift("lift_again")
        raise EnrolmentFailed("finger_failed", say("operator.too_many_retries",
                                                   attempts=self._settings.poor_retries))

    def _take_image(self) -> Image:
        sensor = self._module()
        return sensor.get_image_ex() if self.plan.quality_gate else sensor.gen_img()

    def _wait_lift(self, key: str) -> None:
        self._say(key)
        self._waiter.lifted(self._module().gen_img)

    # ---- duplicate check and confirmation ----

    def _check_duplicate(self) -> None:
        sensor = self._module()
        hit = sensor.search(TEMPLATE_BUFFER)
        if not hit.found or hit.page in self._allowed or not self._confirmed(hit.page):
            return
        owner = self._owner_of(hit.page) or f"an unknown finger on page {hit.page}"
        self._say("duplicate", tone="error")
        raise DuplicateFinger(hit.page, say("operator.duplicate", name=owner, finger=self.finger,
                                            page=hit.page))

    def _confirmed(self, page: int) -> bool:
        """LoadChar the hit into buffer 1 (the template stays in 2) and Match 1:1."""
        sensor = self._module()
        try:
            sensor.load_char(LIVE_BUFFER, page)
        except ModuleRejected:
            return False  # the module named a page it cannot load: not a duplicate
        return sensor.match().matched

    def _confirm(self) -> int:
        for _ in range(self._settings.confirm_attempts):
            self._capture(LIVE_BUFFER, "confirm")
            result = self._module().match()
            if result.matched:
                return result.score
            self._step -= 1
            self._say("confirm_failed", tone="warn")
        raise EnrolmentFailed("finger_failed", "the confirmation did not match the new template")

    # ---- plumbing ----

    def _module(self) -> R30xSensor:
        assert self._sensor is not None, "run() sets the module"
        return self._sensor

    def _say(self, key: str, *, tone: str = "info", step: int | None = None) -> None:
        self._report(Progress(key, {}, self._step if step is None else step, self.plan.touches,
                              self.finger, tone))  # fmt: skip

"""One operator's enrolment of one person: person, consent, fingers, one atomic send.

Owns ``EnrolmentSession``, shared by the kiosk page and ``doorward enrol``. The order is the
one the issue and security promise 13 ask for: a person is found or named, a consent
reference is taken before any capture (``consent_missing`` otherwise), each finger is
captured by ``FingerEnrolment`` as one job on the station's module thread, and the fingers
go to the server with the person and the consent in ONE ``POST /api/v1/enrolments``: a
failure anywhere stores nothing, and the module's library is never written. Templates live
only in this object's memory until sent, and are dropped on sign-out, idle timeout or an
expired server session.

A re-enrolment enrols the new finger first (the old one's page is allowed in the duplicate
check) and deletes the old finger only once the new one is stored.

A visitor's validity window (``window``) goes with a new person inside the same atomic
enrolment. An existing person's window is changed (``PATCH``, an admin's session) just
before the fingers are sent, never after: a person never holds new fingers without the
window the operator set. The caller decides who may set a window or a duress finger (the
kiosk allows an admin only, ``enrol/kiosk/admin.py``); the server checks its roles again.
"""

from __future__ import annotations

import dataclasses
import threading
from concurrent.futures import Future
from typing import Protocol

from doorward.enrol.kiosk.admin import Window
from doorward.enrol.plan import plan_for
from doorward.enrol.progress import Coverage, EnrolledFinger, EnrolmentFailed, Progress, Reporter
from doorward.enrol.server_api import ApiError, OperatorApi, SessionExpired
from doorward.enrol.strings import FINGERS, say
from doorward.enrol.workflow import EnrolSettings, FingerEnrolment


class StationLike(Protocol):
    @property
    def module_identity(self) -> str: ...
    def run(self, job, name: str = "enrol") -> Future: ...  # noqa: ANN001
    def owner_at(self, page: int) -> tuple[str, str] | None: ...
    def pages_of(self, finger_id: str) -> set[int]: ...
    def active_pages(self) -> int: ...


class EnrolmentSession:
    def __init__(self, station: StationLike, station_id: str, api: OperatorApi, report: Reporter,
                 settings: EnrolSettings = EnrolSettings()) -> None:  # fmt: skip
        self.station, self.station_id, self.api = station, station_id, api
        self._report, self._settings = report, settings
        self.person: dict | None = None  # {"id", "name"} existing, or {"name"} new
        self.consent_reference: str | None = None
        self.fingers: list[EnrolledFinger] = []
        self.enrolled: list[dict] = []  # the person's fingers on the server: id, name, duress
        self.stored_window: Window | None = None  # the person's window on the server
        self.window: Window | None = None  # the window the person has once sent
        self.coverage: Coverage | None = None
        self._stop = threading.Event()
        self._busy: Future | None = None

    # ---- person and consent ----

    def choose_person(self, person_id: str) -> dict:
        person = self.api.person(person_id)
        self._reset({"id": person["id"], "name": person["name"]})
        self.enrolled = [{"id": f["id"], "name": f["name"], "duress": f["duress"]}
                         for f in person["fingers"]]  # fmt: skip
        if person.get("valid_from") is not None or person.get("valid_until") is not None:
            self.stored_window = self.window = Window(person["valid_from"], person["valid_until"])
        return person

    def new_person(self, name: str) -> None:
        if not name.strip():
            raise EnrolmentFailed("need_person")
        self._reset({"name": name.strip()})

    def record_consent(self, reference: str) -> None:
        if self.person is None:
            raise EnrolmentFailed("need_person")
        if not reference.strip():
            raise EnrolmentFailed("consent_missing")
        self.consent_reference = reference.strip()

    def set_window(self, window: Window | None) -> None:
        """The person's validity window after the send (None: no window at all)."""
        if self.person is None:
            raise EnrolmentFailed("need_person")
        self.window = window

    def _reset(self, person: dict | None) -> None:
        self.cancel()
        self.person, self.consent_reference, self.fingers = person, None, []
        self.enrolled, self.stored_window, self.window = [], None, None

    # ---- fingers ----

    @property
    def capturing(self) -> bool:
        return self._busy is not None and not self._busy.done()

    def start_finger(self, finger: str, replaces: str | None = None, duress: bool = False) -> Future:
        """Queue one finger's enrolment on the module thread; the future holds the result.
        ``duress`` makes it the person's duress finger (see ``mark_duress``)."""
        if self.person is None:
            raise EnrolmentFailed("need_person")
        if self.consent_reference is None:
            raise EnrolmentFailed("consent_missing")  # no capture before consent (promise 13)
        if finger not in FINGERS:
            raise EnrolmentFailed("choose_finger")
        if self.capturing:
            raise EnrolmentFailed("module_busy")
        self._note_coverage()
        self._stop = threading.Event()
        allowed = self.station.pages_of(replaces) if replaces else set()
        job = FingerEnrolment(finger, plan_for(self.station.module_identity),
                              self.station.module_identity, self._owner_of, self._report,
                              self._stop, allowed_pages=allowed, replaces=replaces,
                              settings=self._settings)  # fmt: skip
        self._busy = self.station.run(lambda sensor: self._keep(job.run(sensor), duress))
        return self._busy

    def _keep(self, finger: EnrolledFinger, duress: bool = False) -> EnrolledFinger:
        finger = dataclasses.replace(finger, duress=duress)
        self.fingers = [f for f in self.fingers if f.finger != finger.finger] + [finger]
        return finger

    def cancel(self) -> None:
        self._stop.set()

    def _owner_of(self, page: int) -> str:
        """Whose finger holds ``page``, in the operator's words ("Bob's right index finger")."""
        owner = self.station.owner_at(page)
        if owner is None:
            return say("operator.unknown_owner")
        person_id, finger_id = owner
        try:
            person = self.api.person(person_id)
        except ApiError:
            return say("operator.owner", name=person_id, finger=finger_id)
        names = [f["name"] for f in person["fingers"] if f["id"] == finger_id]
        return say("operator.owner", name=person["name"], finger=names[0] if names else finger_id)

    def _note_coverage(self) -> None:
        try:
            report = self.api.station_capacity(self.station_id)
        except SessionExpired:
            raise
        except ApiError:
            return  # advisory only: the send will tell whether the server is there
        self.coverage = Coverage(self.station.active_pages(), report["templates_used"],
                                 report["capacity"])  # fmt: skip
        if self.coverage.total > self.coverage.capacity:
            self._operator("operator.coverage", checked=self.coverage.checked,
                           total=self.coverage.total, capacity=self.coverage.capacity)
        elif self.coverage.partial:
            self._operator("operator.syncing", checked=self.coverage.checked,
                           total=self.coverage.total)

    def _operator(self, key: str, **fields: object) -> None:
        self._report(Progress(key, fields, tone="warn"))

    # ---- sending ----

    def mark_duress(self, finger: str) -> None:
        """Make an enrolled (not yet sent) finger the person's duress finger: told to the
        person and the operator only, never shown at a door."""
        matches = [f for f in self.fingers if f.finger == finger]
        if not matches:
            raise EnrolmentFailed("choose_finger")
        self.fingers = [dataclasses.replace(f, duress=True) if f.finger == finger else f
                        for f in self.fingers]  # fmt: skip

    def finish(self) -> dict:
        """ONE atomic enrolment; then the fingers being replaced are deleted."""
        if self.person is None or not self.fingers:
            raise EnrolmentFailed("choose_finger")
        if self.consent_reference is None:
            raise EnrolmentFailed("consent_missing")
        try:
            if "id" in self.person and self.window != self.stored_window:
                self.api.set_window(self.person["id"], self.window)
                self.stored_window = self.window
            answer = self.api.enrol(self.person, self.consent_reference, self.fingers, self.window)
        except SessionExpired:
            self.forget()
            raise
        for finger in self.fingers:
            if finger.replaces:
                self.api.delete_finger(finger.replaces)
        self._sent(answer)
        return answer

    def _sent(self, answer: dict) -> None:
        """The fingers are on the server now: they count as enrolled, the replaced ones not."""
        replaced = {f.replaces for f in self.fingers}
        self.enrolled = [f for f in self.enrolled if f["id"] not in replaced] + [
            {"id": ident, "name": f.finger, "duress": f.duress}
            for ident, f in zip(answer.get("finger_ids", []), self.fingers)]  # fmt: skip
        sent, self.fingers, self.stored_window = len(self.fingers), [], self.window
        self.person = {"id": answer["person_id"], "name": self.person["name"]}
        self._report(Progress("sent", {"name": self.person["name"], "count": sent}, tone="ok"))

    def delete_finger(self, finger_id: str) -> None:
        """Delete one of the person's stored fingers (the server allows an admin only)."""
        self.api.delete_finger(finger_id)
        self.enrolled = [f for f in self.enrolled if f["id"] != finger_id]

    def record_unable(self) -> str:
        if self.person is None:
            raise EnrolmentFailed("need_person")
        person_id = self.api.record_unable(self.person)
        self._report(Progress("unable_recorded", {"name": self.person["name"]}, tone="ok"))
        self.person = {"id": person_id, "name": self.person["name"]}
        return person_id

    def forget(self) -> None:
        """Drop every template and the person (sign-out, idle timeout, expired session)."""
        self._reset(None)

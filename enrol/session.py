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
"""

from __future__ import annotations

import dataclasses

import threading
from concurrent.futures import Future
from typing import Protocol

from enrol.plan import plan_for
from enrol.progress import Coverage, EnrolledFinger, EnrolmentFailed, Progress, Reporter
from enrol.server_api import ApiError, OperatorApi, SessionExpired
from enrol.strings import FINGERS
from enrol.workflow import EnrolSettings, FingerEnrolment


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
        self.coverage: Coverage | None = None
        self._stop = threading.Event()
        self._busy: Future | None = None

    # ---- person and consent ----

    def choose_person(self, person_id: str) -> dict:
        person = self.api.person(person_id)
        self._reset({"id": person["id"], "name": person["name"]})
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

    def _reset(self, person: dict | None) -> None:
        self.cancel()
        self.person, self.consent_reference, self.fingers = person, None, []

    # ---- fingers ----

    @property
    def capturing(self) -> bool:
        return self._busy is not None and not self._busy.done()

    def start_finger(self, finger: str, replaces: str | None = None) -> Future:
        """Queue one finger's enrolment on the module thread; the future holds the result."""
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
        self._busy = self.station.run(lambda sensor: self._keep(job.run(sensor)))
        return self._busy

    def _keep(self, finger: EnrolledFinger) -> EnrolledFinger:
        self.fingers = [f for f in self.fingers if f.finger != finger.finger] + [finger]
        return finger

    def cancel(self) -> None:
        self._stop.set()

    def _owner_of(self, page: int) -> str | None:
        owner = self.station.owner_at(page)
        if owner is None:
            return None
        person_id, finger_id = owner
        try:
            person = self.api.person(person_id)
        except ApiError:
            return f"person {person_id}"
        names = [f["name"] for f in person["fingers"] if f["id"] == finger_id]
        return f"{person['name']}, {FINGERS.get(names[0], names[0]) if names else finger_id}"

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
            answer = self.api.enrol(self.person, self.consent_reference, self.fingers)
        except SessionExpired:
            self.forget()
            raise
        for finger in self.fingers:
            if finger.replaces:
                self.api.delete_finger(finger.replaces)
        sent = len(self.fingers)
        self.person = {"id": answer["person_id"], "name": self.person["name"]}
        self.fingers = []
        self._report(Progress("sent", {"name": self.person["name"], "count": sent}, tone="ok"))
        return answer

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

"""The kiosk page's POST actions: what each one does, and how its failures are told.

Owns ``actions`` (action name -> handler) and ``run_action``. A handler takes the browser's
``KioskSession`` and the JSON body and returns extra fields for the answer, or None. An
expected failure (a refused sign-in, a server refusal, a finger that cannot be enrolled)
becomes the session's notice, never an exception in the page; an enroller posting what only
an admin may set (a duress finger, a validity window: ``enrol/kiosk/admin.py``) is refused
with 403 and changes nothing. Server calls use the operator's session.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from fastapi import HTTPException

from doorward.drivers.r30x.errors import SensorError
from doorward.enrol.kiosk.admin import AdminOnly, is_admin, requested_window
from doorward.enrol.kiosk.state import KioskSession
from doorward.enrol.progress import EnrolmentFailed
from doorward.enrol.server_api import ApiError, OperatorApi, SessionExpired, sign_in
from doorward.enrol.session import EnrolmentSession, StationLike
from doorward.enrol.workflow import EnrolSettings

log = logging.getLogger(__name__)
Handler = Callable[[KioskSession, dict], "dict | None"]
WINDOW_FIELDS = frozenset({"valid_from", "valid_until"})


def actions(station: StationLike, server_url: str, station_id: str, ca_file: str | None,
            enrol: EnrolSettings) -> dict[str, Handler]:  # fmt: skip
    def signing_in(s: KioskSession, body: dict) -> None:
        try:
            operator = sign_in(server_url, str(body.get("name", "")),
                               str(body.get("password", "")), ca_file)  # fmt: skip
        except SessionExpired:
            s.tell("sign_in_failed", "error")
            return
        s.api, s.notice = OperatorApi(server_url, operator, ca_file=ca_file), None
        s.enrolment = EnrolmentSession(station, station_id, s.api, s.report, enrol)

    return {
        "sign-in": signing_in, "sign-out": lambda s, b: s.sign_out(),
        "search": lambda s, b: {"results": _api(s).find_people(str(b.get("query", "")))},
        "person": _person, "show-person": lambda s, b: {
            "person": _api(s).person(str(b.get("person_id", "")))},
        "consent": _consent, "finger": _finger,
        "unable": lambda s, b: _enrolment(s).record_unable(),
        "cancel": lambda s, b: _enrolment(s).cancel(),
        "finish": lambda s, b: _enrolment(s).finish(),
        "delete-finger": lambda s, b: _enrolment(s).delete_finger(str(b.get("finger_id", ""))),
        "next": lambda s, b: _enrolment(s).forget(),
    }  # fmt: skip


def _person(s: KioskSession, body: dict) -> dict:
    if body.get("person_id"):
        return {"person": _enrolment(s).choose_person(str(body["person_id"]))}
    _enrolment(s).new_person(str(body.get("name", "")))
    return {"person": None}


def _consent(s: KioskSession, body: dict) -> None:
    """The consent reference and, from an admin, the validity window: both or neither."""
    enrolment = _enrolment(s)
    window = enrolment.window
    if WINDOW_FIELDS & body.keys():  # the page sends them only for an admin
        _require_admin(s, "window")
        window = requested_window(body.get("valid_from"), body.get("valid_until"),
                                  enrolment.stored_window, time.time())  # fmt: skip
    enrolment.record_consent(str(body.get("reference", "")))
    enrolment.set_window(window)


def _finger(s: KioskSession, body: dict) -> None:
    if body.get("duress") not in (None, False):  # any mark at all is an admin's to make
        _require_admin(s, "duress")
    duress = body.get("duress") is True
    future = _enrolment(s).start_finger(str(body.get("finger", "")), body.get("replaces"),
                                        duress=duress)  # fmt: skip
    s.instruction, s.notice = None, None
    future.add_done_callback(lambda done: _finger_done(s, done))


def _finger_done(s: KioskSession, future: Future) -> None:
    try:
        finger = future.result()
        s.tell("finger_done", "ok", finger=finger.finger)
    except EnrolmentFailed as failed:
        s.tell(failed.key, "error", failed.operator_note, **failed.fields)
    except SensorError as error:
        s.tell("module_error", "error", detail=str(error))
    except Exception as error:  # noqa: BLE001 - a cancelled future, a server error in a lookup
        log.exception("finger enrolment failed")
        s.tell("module_error", "error", detail=str(error) or type(error).__name__)


def _require_admin(s: KioskSession, what: str) -> None:
    if not is_admin(_api(s).operator.role):
        raise AdminOnly(what)


def _api(s: KioskSession) -> OperatorApi:
    if s.api is None:
        raise HTTPException(401, "sign in first")
    return s.api


def _enrolment(s: KioskSession) -> EnrolmentSession:
    _api(s)
    assert s.enrolment is not None
    return s.enrolment


def run_action(session: KioskSession, handler: Handler, body: dict[str, Any]) -> tuple[dict | None, int]:
    """The handler's extra fields and the HTTP status; an expected failure becomes the notice."""
    try:
        session.notice = None
        return handler(session, body), 200
    except SessionExpired:
        session.sign_out("session_expired")
    except ApiError as error:
        session.tell(error.key, "error", detail=error.detail)
    except AdminOnly as refused:
        session.tell(refused.key, "error")
        return None, 403
    except EnrolmentFailed as failed:
        session.tell(failed.key, "error", failed.operator_note, **failed.fields)
    return None, 200

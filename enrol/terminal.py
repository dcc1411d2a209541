"""``doorward enrol``: the kiosk's workflow on a terminal, for headless use and scripts.

Owns ``enrol_fingers``, ``show_person``, ``record_unable`` and ``delete_finger``: each signs
the operator in (password from ``$DOORWARD_OPERATOR_PASSWORD`` for scripts, else asked
without echo), does one thing, and signs out. Progress lines go to ``out`` as the kiosk page
would show them; operator-only notes are prefixed ``operator:``. The exit code is 0 on
success, 1 when a finger or the enrolment was refused, 2 on a usage or setup error.
"""

from __future__ import annotations

import contextlib
import getpass
import os
from collections.abc import Iterator
from typing import TextIO

from doorward.enrol.progress import EnrolmentFailed, Progress
from doorward.enrol.server_api import ApiError, OperatorApi, sign_in
from doorward.enrol.session import EnrolmentSession, StationLike
from doorward.enrol.strings import FINGERS, operator_only, say
from doorward.enrol.workflow import EnrolSettings

PASSWORD_ENV = "DOORWARD_OPERATOR_PASSWORD"


@contextlib.contextmanager
def operator_api(server_url: str, name: str, ca_file: str | None = None) -> Iterator[OperatorApi]:
    password = os.environ.get(PASSWORD_ENV) or getpass.getpass(f"password for {name}: ")
    api = OperatorApi(server_url, sign_in(server_url, name, password, ca_file), ca_file=ca_file)
    try:
        yield api
    finally:
        with contextlib.suppress(ApiError):
            api.sign_out()


def printer(out: TextIO):  # noqa: ANN201 - a Reporter
    def report(progress: Progress) -> None:
        prefix = "operator: " if operator_only(progress.key) else ""
        print(f"{prefix}{progress.text()}", file=out, flush=True)

    return report


def enrol_fingers(station: StationLike, station_id: str, api: OperatorApi, person: dict,
                  consent: str, fingers: list[str], out: TextIO,
                  settings: EnrolSettings = EnrolSettings(), duress: str | None = None) -> int:  # fmt: skip
    """Capture each finger, then send them all in one atomic enrolment; ``duress`` names
    the finger (one of ``fingers``) that opens the door and silently raises an alarm."""
    session = EnrolmentSession(station, station_id, api, printer(out), settings)
    try:
        _choose(session, person)
        session.record_consent(consent)
        for finger in fingers:
            session.start_finger(finger).result()
        if duress is not None:
            session.mark_duress(duress)
        session.finish()
    except EnrolmentFailed as failed:
        return _refused(out, say(failed.key, **failed.fields), failed.operator_note)
    except ApiError as error:
        return _refused(out, say(error.key, detail=error.detail))
    finally:
        session.forget()
    return 0


def _choose(session: EnrolmentSession, person: dict) -> None:
    if person.get("id"):
        session.choose_person(person["id"])
    else:
        session.new_person(person.get("name", ""))


def _refused(out: TextIO, text: str, note: str = "") -> int:
    print(text, file=out, flush=True)
    if note:
        print(f"operator: {note}", file=out, flush=True)
    return 1


def show_person(api: OperatorApi, person_id: str, out: TextIO) -> int:
    person = api.person(person_id)
    print(f"{person['name']} ({person['id']})", file=out)
    if "fingerprint-exempt" in person["roles"]:
        print(f"  {say('page.exempt')}", file=out)
    zones = ", ".join(g["zone_name"] for g in person["grants"]) or say("page.no_zones")
    print(f"  {say('page.zones')}: {zones}", file=out)
    for finger in person["fingers"]:
        name = FINGERS.get(finger["name"], finger["name"])
        print(f"  {finger['id']}  {name}  {finger['module_identity']}", file=out)
    return 0


def record_unable(api: OperatorApi, person: dict, out: TextIO) -> int:
    person_id = api.record_unable(person)
    print(say("unable_recorded", name=person.get("name") or person_id), file=out)
    return 0


def delete_finger(api: OperatorApi, finger_id: str, out: TextIO) -> int:
    api.delete_finger(finger_id)
    print(say("finger_deleted"), file=out)
    return 0

"""The operator's calls to the central server, on the operator's own session.

Owns ``OperatorApi`` and the errors the kiosk and the terminal tell apart
(``SessionExpired``, ``Unreachable``, ``Refused``). Every write the kiosk makes (the atomic
enrolment, deleting a finger, recording that someone cannot be enrolled) carries the
operator's session token: the server's ``ENROL`` role check (admin or enroller) refuses a
station's device token for people and templates, so the kiosk's own pairing could not write
them even if it tried. Each request has an overall deadline (``daemon/sync/http.py``).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from doorward.daemon.errors import DoorwardError
from doorward.daemon.sync.http import ServerConnection, ServerRefused, SyncError
from doorward.enrol.kiosk.admin import Window
from doorward.enrol.progress import EnrolledFinger

EXEMPT_ROLE = "fingerprint-exempt"  # recorded for a person who cannot be enrolled


class ApiError(DoorwardError):
    """A server call failed; ``key`` is the message to show (doorward.enrol.strings)."""

    key = "server_refused"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class SessionExpired(ApiError):
    key = "session_expired"


class Unreachable(ApiError):
    key = "server_unreachable"


class Forbidden(ApiError):
    key = "forbidden"


class Refused(ApiError):
    key = "server_refused"


@dataclass(frozen=True)
class Operator:
    name: str
    role: str
    token: str  # the server session; never sent to the browser

    def __repr__(self) -> str:
        return f"Operator({self.name!r}, {self.role!r})"


def sign_in(server_url: str, name: str, password: str, ca_file: str | None = None,
            deadline_s: float = 10.0) -> Operator:  # fmt: skip
    """Open the operator's server session (``POST /api/v1/sessions``)."""
    connection = ServerConnection(server_url, ca_file=ca_file, deadline_s=deadline_s)
    try:
        answer = _call(connection, "POST", "/api/v1/sessions", json={"name": name, "password": password})
    finally:
        connection.close()
    return Operator(answer.get("name", name), answer.get("role", ""), answer["token"])


def _call(connection: ServerConnection, method: str, path: str, **kwargs: Any) -> Any:
    try:
        return connection.call_json(method, path, **kwargs)
    except ServerRefused as refused:
        raise _refusal(refused) from refused
    except SyncError as error:
        raise Unreachable(str(error)) from error


def _refusal(refused: ServerRefused) -> ApiError:
    if refused.status == 401:
        return SessionExpired(refused.body.get("detail", "session expired"))
    if refused.status == 403:
        return Forbidden(str(refused.body.get("detail", "forbidden")))
    return Refused(str(refused.body.get("detail", f"status {refused.status}")))


class OperatorApi:
    def __init__(self, server_url: str, operator: Operator, *, ca_file: str | None = None,
                 deadline_s: float = 10.0) -> None:  # fmt: skip
        self.operator = operator
        self._connection = ServerConnection(server_url, token=operator.token, ca_file=ca_file,
                                            deadline_s=deadline_s)  # fmt: skip

    def close(self) -> None:
        self._connection.close()

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        return _call(self._connection, method, path, **kwargs)

    def sign_out(self) -> None:
        try:
            reply = self._connection.request("DELETE", "/api/v1/sessions/current")
            if reply.status not in (204, 401):
                raise Refused(f"status {reply.status}")
        finally:
            self.close()

    # ---- reading ----

    def find_people(self, query: str, limit: int = 20) -> list[dict]:
        wanted = query.strip().casefold()
        people = self.call("GET", "/api/v1/people", params={"limit": 100000})
        return [p for p in people if wanted in p["name"].casefold()][:limit]

    def person(self, person_id: str) -> dict:
        """The person with fingers and grants; each grant carries its zone's name."""
        person = self.call("GET", f"/api/v1/people/{quote(person_id, safe='')}")
        zones = {zone["id"]: zone["name"] for zone in self.call("GET", "/api/v1/zones")}
        for grant in person["grants"]:
            grant["zone_name"] = zones.get(grant["zone_id"], grant["zone_id"])
        return person

    def station_capacity(self, station_id: str) -> dict:
        return self.call("GET", f"/api/v1/stations/{quote(station_id, safe='')}/capacity")

    # ---- writing: one request each, so nothing is ever half done on the server ----

    def enrol(self, person: dict, consent_reference: str, fingers: list[EnrolledFinger],
              window: Window | None = None) -> dict:  # fmt: skip
        """``person`` is ``{"id": ...}`` for an existing person or ``{"name": ...}``; a new
        person's validity ``window`` goes in the same request (an existing person's is
        ``set_window``)."""
        body: dict[str, Any] = {"consent": {"reference": consent_reference},
                                "fingers": [_finger_body(f) for f in fingers]}
        if "id" in person:
            body["person_id"] = person["id"]
        else:
            body["person"] = {"name": person["name"], **(window.as_json() if window else {})}
        return self.call("POST", "/api/v1/enrolments", json=body)

    def set_window(self, person_id: str, window: Window | None) -> None:
        """An existing person's validity window (None clears it); the server allows an admin."""
        body = window.as_json() if window else {"valid_from": None, "valid_until": None}
        self.call("PATCH", f"/api/v1/people/{quote(person_id, safe='')}", json=body)

    def delete_finger(self, finger_id: str) -> None:
        self.call("DELETE", f"/api/v1/fingers/{quote(finger_id, safe='')}")

    def record_unable(self, person: dict) -> str:
        """Mark a person as one who cannot be enrolled (the fallback applies to them)."""
        if "id" not in person:
            return self.call("POST", "/api/v1/people",
                             json={"name": person["name"], "roles": [EXEMPT_ROLE]})["id"]
        current = self.person(person["id"])
        roles = sorted(set(current["roles"]) | {EXEMPT_ROLE})
        self.call("PATCH", f"/api/v1/people/{quote(person['id'], safe='')}", json={"roles": roles})
        return person["id"]


def _finger_body(finger: EnrolledFinger) -> dict:
    return {"name": finger.finger, "module_identity": finger.module_identity,
            "template": base64.b64encode(finger.template).decode("ascii"),
            "duress": finger.duress}

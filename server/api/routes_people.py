"""API: people, consent, fingers, the kiosk's atomic enrolment, grants, retention, removals.

Enrollers may create people and add their fingers, but two things change who a door lets in
beyond "this person, this finger" and stay an admin's: a duress finger (it opens the door and
raises a silent alarm) and a person's validity window (a visitor's dates). The kiosk hides
them from enrollers; the server refuses them (403) whoever calls.
"""

from __future__ import annotations

from fastapi import APIRouter, Query

from doorward.server.domain import devices
from doorward.server.domain import directory
from doorward.server.domain import people
from doorward.server.api.deps import AdminCaller, Ctx, EnrolCaller, PeopleReader, ReadCaller
from doorward.server.errors import Forbidden, Invalid
from doorward.server.api.models import (ConsentBody, EnrolmentBody, FingerBody, GrantBody, PersonBody, PersonPatch,
                           changes_of)

router = APIRouter(prefix="/api/v1", tags=["people"])


def _finger(body: FingerBody) -> people.NewFinger:
    return people.NewFinger(body.name, body.module_identity, body.template, body.duress)


def _admin_only(who, *, duress: bool = False, window: bool = False) -> None:  # noqa: ANN001
    """Refuse a duress finger or a validity window from anyone but an admin."""
    if who.role == "admin":
        return
    if duress:
        raise Forbidden("only an admin may mark a duress finger")
    if window:
        raise Forbidden("only an admin may set a person's validity window (valid_from, valid_until)")


def _has_window(person: PersonBody | None) -> bool:
    return person is not None and (person.valid_from is not None or person.valid_until is not None)


@router.post("/people", status_code=201)
def create_person(body: PersonBody, who: EnrolCaller, ctx: Ctx) -> dict:
    _admin_only(who, window=_has_window(body))
    with ctx.write() as conn:
        return {"id": people.create_person(conn, ctx.clock.now(), who.actor, **body.model_dump())}


@router.get("/people")
def list_people(who: PeopleReader, ctx: Ctx, limit: int = Query(1000, ge=1, le=100000),
                offset: int = Query(0, ge=0, le=2**62)) -> list[dict]:
    return directory.list_rows(ctx.read(), "SELECT id, name, active, valid_from, valid_until, consent_at"
                               " FROM users ORDER BY name, id LIMIT ? OFFSET ?", (limit, offset))


@router.get("/people/{person_id}")
def show_person(person_id: str, who: PeopleReader,
                ctx: Ctx) -> dict:
    return people.person_view(ctx.read(), person_id)


@router.patch("/people/{person_id}")
def update_person(person_id: str, body: PersonPatch, who: AdminCaller,
                  ctx: Ctx) -> dict:
    with ctx.write() as conn:
        people.update_person(conn, ctx.clock.now(), who.actor, person_id,
                             changes_of(body, nullable=("valid_from", "valid_until")), ledger=ctx.ledger)
    return {"id": person_id}


@router.delete("/people/{person_id}", status_code=202)
def delete_person(person_id: str, who: AdminCaller, ctx: Ctx) -> dict:
    """Erase a person. Doors confirm removal later: see ``GET /people/{id}/removals``."""
    with ctx.write() as conn:
        people.delete_person(conn, ctx.clock.now(), who.actor, person_id, ledger=ctx.ledger)
    return {"id": person_id, "removals": f"/api/v1/people/{person_id}/removals"}


@router.get("/people/{person_id}/removals")
def person_removals(person_id: str, who: ReadCaller, ctx: Ctx) -> list[dict]:
    return devices.removals(ctx.read(), "user_id = ?", (person_id,))


@router.post("/people/{person_id}/consent", status_code=201)
def record_consent(person_id: str, body: ConsentBody, who: EnrolCaller,
                   ctx: Ctx) -> dict:
    with ctx.write() as conn:
        people.record_consent(conn, ctx.clock.now(), who.actor, person_id, body.reference)
    return {"id": person_id}


@router.post("/people/{person_id}/fingers", status_code=201)
def add_finger(person_id: str, body: FingerBody, who: EnrolCaller,
               ctx: Ctx) -> dict:
    _admin_only(who, duress=body.duress)
    with ctx.write() as conn:
        finger = people.add_finger(conn, ctx.clock.now(), who.actor, ctx.keys.data, person_id, _finger(body))
        return {"id": finger}


@router.delete("/fingers/{finger_id}", status_code=202)
def delete_finger(finger_id: str, who: AdminCaller, ctx: Ctx) -> dict:
    with ctx.write() as conn:
        people.delete_finger(conn, ctx.clock.now(), who.actor, finger_id, ledger=ctx.ledger)
    return {"id": finger_id}


@router.post("/enrolments", status_code=201)
def enrol(body: EnrolmentBody, who: EnrolCaller, ctx: Ctx) -> dict:
    """The kiosk's one call: person (new or existing), consent and fingers; all or nothing."""
    if (body.person is None) == (body.person_id is None):
        raise Invalid("person", "give exactly one of person and person_id")
    _admin_only(who, duress=any(f.duress for f in body.fingers), window=_has_window(body.person))
    person = {"id": body.person_id} if body.person_id else body.person.model_dump()
    with ctx.write() as conn:
        return people.enrol(conn, ctx.clock.now(), who.actor, ctx.keys.data, person=person,
                            consent_reference=body.consent.reference,
                            fingers=[_finger(f) for f in body.fingers])


@router.post("/grants", status_code=201)
def create_grant(body: GrantBody, who: AdminCaller, ctx: Ctx) -> dict:
    with ctx.write() as conn:
        return {"id": people.add_grant(conn, ctx.clock.now(), who.actor, body.person_id, body.zone_id,
                                       body.schedule_id)}


@router.delete("/grants/{grant_id}", status_code=204)
def revoke_grant(grant_id: str, who: AdminCaller, ctx: Ctx) -> None:
    with ctx.write() as conn:
        people.revoke_grant(conn, ctx.clock.now(), who.actor, grant_id, ledger=ctx.ledger)


@router.get("/retention")
def retention(who: ReadCaller, ctx: Ctx) -> list[dict]:
    """Fingers warned for deletion: unused for nearly the retention period."""
    return directory.list_rows(
        ctx.read(), "SELECT id, user_id, name, enrolled_at, last_used_at, retention_warned_at FROM fingers"
        " WHERE retention_warned_at IS NOT NULL ORDER BY retention_warned_at")

"""API: sessions, admins, audit log, sites, zones, schedules, holidays."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request

from doorward.server.domain import auth
from doorward.server.domain import directory
from doorward.server.domain.auth import Principal
from doorward.server.context import audit
from doorward.server.api.signin import sign_in
from doorward.server.api.deps import AdminCaller, Ctx, PeopleReader, ReadCaller, bearer, caller
from doorward.server.api.models import (AdminBody, HolidayBody, LoginBody, ScheduleBody, SchedulePatch, SiteBody,
                           SitePatch, ZoneBody, ZonePatch, changes_of)

router = APIRouter(prefix="/api/v1")


@router.post("/sessions", status_code=201, tags=["auth"])
def login(body: LoginBody, request: Request, ctx: Ctx) -> dict:
    """Exchange an admin name and password for a bearer token. Failures are braked per name
    and address (5 in 5 minutes), per address (20) and per name from everywhere (past 50, one
    attempt a second for addresses the name has not logged in from): then 429."""
    opened = sign_in(request, ctx, body.name, body.password, ctx.config.session_s)
    token, principal, expires_at = opened
    return {"token": token, "role": principal.role, "expires_at": expires_at}


@router.delete("/sessions/current", status_code=204, tags=["auth"])
def logout(who: PeopleReader, ctx: Ctx, credentials=Depends(bearer)) -> None:
    with ctx.db.transaction() as conn:
        auth.close_session(conn, credentials.credentials)


@router.get("/me", tags=["auth"])
def me(who: Principal = Depends(caller)) -> dict:
    return {"kind": who.kind, "id": who.ident, "name": who.name, "role": who.role}


@router.post("/admins", status_code=201, tags=["auth"])
def create_admin(body: AdminBody, who: AdminCaller, ctx: Ctx) -> dict:
    now = ctx.clock.now()
    with ctx.write() as conn:
        ident = auth.create_admin(conn, ctx.passwords, body.name, body.role, body.password, now)
        audit(conn, now, who.actor, "admin.create", ident, name=body.name, role=body.role)
    return {"id": ident}


@router.get("/admins", tags=["auth"])
def list_admins(who: ReadCaller, ctx: Ctx) -> list[dict]:
    return directory.list_rows(ctx.read(), "SELECT id, name, role, created_at FROM admins ORDER BY name")


@router.get("/audit", tags=["auth"])
def audit_log(who: ReadCaller, ctx: Ctx, limit: int = Query(100, ge=1, le=10000)) -> list[dict]:
    return directory.list_rows(ctx.read(), "SELECT * FROM audit_log ORDER BY id DESC LIMIT ?", (limit,))


@router.post("/sites", status_code=201, tags=["sites"])
def create_site(body: SiteBody, who: AdminCaller, ctx: Ctx) -> dict:
    with ctx.write() as conn:
        return {"id": directory.create_site(conn, ctx.clock.now(), who.actor, body.name, body.time_zone)}


@router.patch("/sites/{site_id}", tags=["sites"])
def update_site(site_id: str, body: SitePatch, who: AdminCaller,
                ctx: Ctx) -> dict:
    with ctx.write() as conn:
        directory.update_site(conn, ctx.clock.now(), who.actor, site_id, body.time_zone)
    return {"id": site_id}


@router.get("/sites", tags=["sites"])
def list_sites(who: PeopleReader, ctx: Ctx) -> list[dict]:
    return directory.list_rows(ctx.read(), "SELECT * FROM sites ORDER BY name")


@router.post("/zones", status_code=201, tags=["sites"])
def create_zone(body: ZoneBody, who: AdminCaller, ctx: Ctx) -> dict:
    with ctx.write() as conn:
        return {"id": directory.create_zone(conn, ctx.clock.now(), who.actor, body.site_id, body.name,
                                            body.two_person, body.two_person_window_s)}


@router.patch("/zones/{zone_id}", tags=["sites"])
def update_zone(zone_id: str, body: ZonePatch, who: AdminCaller,
                ctx: Ctx) -> dict:
    with ctx.write() as conn:
        directory.update_zone(conn, ctx.clock.now(), who.actor, zone_id,
                              changes_of(body, nullable=("two_person_window_s",)), ledger=ctx.ledger)
    return {"id": zone_id}


@router.delete("/zones/{zone_id}", status_code=204, tags=["sites"])
def delete_zone(zone_id: str, who: AdminCaller, ctx: Ctx) -> None:
    with ctx.write() as conn:
        directory.delete_zone(conn, ctx.clock.now(), who.actor, zone_id)


@router.get("/zones", tags=["sites"])
def list_zones(who: PeopleReader, ctx: Ctx) -> list[dict]:
    return directory.list_rows(ctx.read(), "SELECT * FROM zones ORDER BY site_id, name")


@router.post("/schedules", status_code=201, tags=["sites"])
def create_schedule(body: ScheduleBody, who: AdminCaller,
                    ctx: Ctx) -> dict:
    with ctx.write() as conn:
        return {"id": directory.create_schedule(conn, ctx.clock.now(), who.actor, body.site_id, body.name,
                                                body.weekly, body.holiday)}


@router.put("/schedules/{schedule_id}", tags=["sites"])
def update_schedule(schedule_id: str, body: SchedulePatch, who: AdminCaller,
                    ctx: Ctx) -> dict:
    with ctx.write() as conn:
        directory.update_schedule(conn, ctx.clock.now(), who.actor, schedule_id, body.weekly, body.holiday)
    return {"id": schedule_id}


@router.delete("/schedules/{schedule_id}", status_code=204, tags=["sites"])
def delete_schedule(schedule_id: str, who: AdminCaller, ctx: Ctx) -> None:
    with ctx.write() as conn:
        directory.delete_schedule(conn, ctx.clock.now(), who.actor, schedule_id)


@router.get("/schedules", tags=["sites"])
def list_schedules(who: PeopleReader, ctx: Ctx) -> list[dict]:
    rows = ctx.read().execute("SELECT * FROM schedules ORDER BY site_id, name")
    return [directory.schedule_view(row) for row in rows]


@router.put("/sites/{site_id}/holidays", status_code=201, tags=["sites"])
def set_holiday(site_id: str, body: HolidayBody, who: AdminCaller,
                ctx: Ctx) -> dict:
    with ctx.write() as conn:
        directory.set_holiday(conn, ctx.clock.now(), who.actor, site_id, body.day, body.name)
    return {"site_id": site_id, "day": body.day}


@router.delete("/sites/{site_id}/holidays/{day}", status_code=204, tags=["sites"])
def delete_holiday(site_id: str, day: str, who: AdminCaller,
                   ctx: Ctx) -> None:
    with ctx.write() as conn:
        directory.delete_holiday(conn, ctx.clock.now(), who.actor, site_id, day)


@router.get("/sites/{site_id}/holidays", tags=["sites"])
def list_holidays(site_id: str, who: PeopleReader,
                  ctx: Ctx) -> list[dict]:
    return directory.list_rows(ctx.read(), "SELECT day, name FROM holidays WHERE site_id = ? ORDER BY day",
                               (site_id,))

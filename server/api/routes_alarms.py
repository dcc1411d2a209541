"""API: alarms (list, acknowledge, clear, delivery status) and the received events."""

from __future__ import annotations

from fastapi import APIRouter, Path, Query

from doorward.server.domain import alarms
from doorward.server.domain import events
from doorward.server.api.deps import Ctx, ReadCaller, Responder
from doorward.server.domain.directory import fetch

router = APIRouter(prefix="/api/v1", tags=["alarms"])
ALARM_ID = Path(ge=1, le=2**62)


@router.get("/alarms")
def list_alarms(who: ReadCaller, ctx: Ctx,
                state: str | None = Query(None, pattern="^(open|acknowledged|cleared)$"),
                limit: int = Query(100, ge=1, le=10000)) -> list[dict]:
    return alarms.list_alarms(ctx.read(), state, limit)


@router.get("/alarms/{alarm_id}")
def show_alarm(who: ReadCaller, ctx: Ctx, alarm_id: int = ALARM_ID) -> dict:
    conn = ctx.read()
    return {**alarms.alarm_view(fetch(conn, "alarms", alarm_id, "alarm")),
            "delivery": alarms.delivery_status(conn, alarm_id)}


@router.post("/alarms/{alarm_id}/acknowledge")
def acknowledge(who: Responder, ctx: Ctx, alarm_id: int = ALARM_ID) -> dict:
    with ctx.write() as conn:
        alarms.acknowledge(conn, ctx.clock.now(), who.actor, alarm_id)
    return {"id": alarm_id, "state": "acknowledged"}


@router.post("/alarms/{alarm_id}/clear")
def clear(who: Responder, ctx: Ctx, alarm_id: int = ALARM_ID) -> dict:
    with ctx.write() as conn:
        alarms.clear(conn, ctx.clock.now(), who.actor, alarm_id)
    return {"id": alarm_id, "state": "cleared"}


@router.get("/events")
def list_events(who: ReadCaller, ctx: Ctx, device_id: str | None = Query(None, max_length=64),
                limit: int = Query(100, ge=1, le=10000)) -> list[dict]:
    return events.list_events(ctx.read(), device_id, limit)
